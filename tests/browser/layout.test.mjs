// Every page and admin section, with data in it, at phone width (390 px):
// nothing scrolls sideways and the console stays free of errors. Pages are
// served with their content types and a Content-Security-Policy without
// 'unsafe-inline', and run under it (a blocked inline script or style would
// show up as a console error).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { PROMPTS, classCsv, essay, gradedEssaysCsv, promptsCsv } from "./fixtures.mjs";
import { ADMIN_TOKEN, LONG, adminApi, launchBrowser, newPage, snapshot, startServer, waitForText, withArtifacts } from "./harness.mjs";

const PHONE = { width: 390, height: 844 };

async function noSidewaysScroll(page, where) {
  const [scrollWidth, innerWidth] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  if (scrollWidth > innerWidth) {
    // Name the elements that stick out, to say what to fix.
    const culprits = await page.evaluate(() => [...document.querySelectorAll("body *")]
      .filter((n) => n.getBoundingClientRect().right > window.innerWidth + 0.5 && !(n.parentElement && n.parentElement.closest(".table-wrap")))
      .slice(0, 8)
      .map((n) => `<${n.tagName.toLowerCase()}${n.id ? ` id=${n.id}` : ""}${n.className ? ` class="${n.className}"` : ""}> ${Math.round(n.getBoundingClientRect().width)} px`));
    assert.fail(`${where}: the page is ${scrollWidth} px wide in a ${innerWidth} px window; too wide: ${culprits.join(", ")}`);
  }
}

// Every visible control has a name a screen reader announces: a <label>, an
// aria-label or aria-labelledby, or (for buttons and links) its own text.
async function everyControlLabelled(page, where) {
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll("input:not([type=hidden]), select, textarea, button, a[href]")]
    .filter((n) => n.offsetParent !== null || n.getClientRects().length > 0)
    .filter((n) => !((n.labels && n.labels.length) || n.getAttribute("aria-label") || n.getAttribute("aria-labelledby")
      || ((n.tagName === "BUTTON" || n.tagName === "A") && (n.textContent.trim() || n.querySelector("img[alt]:not([alt=''])")))))
    .map((n) => n.outerHTML.slice(0, 120)));
  assert.deepEqual(unlabelled, [], `${where}: controls without a label`);
}

describe("every page at phone width", { timeout: LONG * 3 }, () => {
  let server;
  let browser;
  let runId;

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    // Data for every table: a saved prompt, a dataset, and a finished train job.
    const prompt = await fetch(`${server.url}/api/v1/prompts`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify(PROMPTS[0]),
    });
    assert.equal(prompt.status, 201);
    const form = new FormData();
    form.append("name", "phone fixture");
    form.append("essays", new Blob([gradedEssaysCsv(8)], { type: "text/csv" }), "essays.csv");
    form.append("prompts", new Blob([promptsCsv()], { type: "text/csv" }), "prompts.csv");
    form.append("mapping", JSON.stringify({ targets: ["overall"], score_grid: "1:5:0.5" }));
    const upload = await fetch(`${server.url}/api/v1/datasets`, { method: "POST", headers: { Authorization: `Bearer ${ADMIN_TOKEN}` }, body: form });
    assert.equal(upload.status, 201, await upload.clone().text());
    const dataset = await upload.json();
    const job = await adminApi(server, "POST", "/api/v1/jobs", {
      kind: "train",
      dataset_id: dataset.id,
      config: { network: { layers: [{ units: 4, activation: "relu" }] }, epochs: 3, ensemble: 1, batch_size: 8 },
    });
    assert.equal(job.status, 202);
    runId = job.body.run_id;
    const deadline = Date.now() + LONG;
    let status = "queued";
    while (!["succeeded", "failed", "cancelled"].includes(status) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      status = (await adminApi(server, "GET", `/api/v1/jobs/${job.body.id}`)).body.status;
    }
    assert.equal(status, "succeeded");
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test("pages and their files are served with their types and a CSP without inline code", async () => {
    for (const route of ["/", "/batch", "/admin"]) {
      const response = await fetch(`${server.url}${route}`);
      assert.match(response.headers.get("content-type"), /^text\/html/);
      const csp = response.headers.get("content-security-policy");
      assert.match(csp, /script-src 'self'/);
      assert.match(csp, /style-src 'self'/);
      assert.ok(!csp.includes("unsafe-inline"), csp);
    }
    assert.match((await fetch(`${server.url}/static/app.css`)).headers.get("content-type"), /^text\/css/);
    assert.match((await fetch(`${server.url}/static/grade.js`)).headers.get("content-type"), /^text\/javascript/);
    const missing = await fetch(`${server.url}/static/nothing.js`);
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).error.code, "not_found");
  });

  test("/ with a grade fits a phone", async () => {
    const page = await newPage(browser, PHONE);
    await withArtifacts("phone grade", page, async () => {
      await page.goto(`${server.url}/`);
      await page.locator("#prompt-id option[value=rivers]").waitFor({ state: "attached" });
      await noSidewaysScroll(page, "/");
      await page.fill("#essay", `${essay(0, 11).text} ${essay(0, 2).text}`);
      await page.click("#grade-button");
      await page.locator(".score-card").first().waitFor();
      await noSidewaysScroll(page, "/ with a grade");
      await everyControlLabelled(page, "/ with a grade");
      await snapshot(page, "phone-grade");
      assert.deepEqual(page.errors, []);
    });
  });

  test("/batch with results fits a phone", async () => {
    const page = await newPage(browser, PHONE);
    await withArtifacts("phone batch", page, async () => {
      await page.goto(`${server.url}/batch`);
      await page.locator("#prompt-id option[value=rivers]").waitFor({ state: "attached" });
      await noSidewaysScroll(page, "/batch");
      await page.setInputFiles("#csv-file", { name: "class.csv", mimeType: "text/csv", buffer: Buffer.from(classCsv(30, 4)) });
      await page.click("#start-button");
      await waitForText(page.locator("#progress-text"), /Finished\./, LONG);
      await noSidewaysScroll(page, "/batch with results");
      await everyControlLabelled(page, "/batch with results");
      await snapshot(page, "phone-batch");
      assert.deepEqual(page.errors, []);
    });
  });

  test("/admin, signed out and in every section, fits a phone", async () => {
    const page = await newPage(browser, PHONE);
    await withArtifacts("phone admin", page, async () => {
      await page.goto(`${server.url}/admin`);
      await page.locator("#sign-in-form").waitFor();
      await noSidewaysScroll(page, "/admin signed out");
      await everyControlLabelled(page, "/admin signed out");
      await page.fill("#admin-token", ADMIN_TOKEN);
      await page.click("#sign-in-button");
      const sections = [
        ["#datasets", "#datasets-table"],
        ["#jobs", "#jobs-table"],
        ["#runs", "#runs-table"],
        [`#run/${runId}`, "#run-metrics"],
        ["#models", "#models-table"],
      ];
      for (const [hash, ready] of sections) {
        await page.goto(`${server.url}/admin${hash}`);
        await page.locator(ready).waitFor({ timeout: LONG });
        await noSidewaysScroll(page, `/admin${hash}`);
        await everyControlLabelled(page, `/admin${hash}`);
        await snapshot(page, `phone-admin-${hash.slice(1).split("/")[0]}`);
      }
      assert.deepEqual(page.errors, []);
    });
  });

  test("/admin#prompts, which shows each prompt's calibration, fits a phone", async () => {
    const page = await newPage(browser, PHONE);
    await withArtifacts("phone admin prompts", page, async () => {
      await page.goto(`${server.url}/admin#prompts`);
      await page.fill("#admin-token", ADMIN_TOKEN);
      await page.click("#sign-in-button");
      await page.locator("#prompts-table").waitFor({ timeout: LONG });
      await noSidewaysScroll(page, "/admin#prompts");
      await everyControlLabelled(page, "/admin#prompts");
      await snapshot(page, "phone-admin-prompts");
      assert.deepEqual(page.errors, []);
    });
  });
});
