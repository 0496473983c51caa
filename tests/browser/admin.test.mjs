// /admin in a real browser, as an admin runs the grader: sign in, upload a
// small fixture dataset (a bad mapping first, refused beside its field),
// launch a training job (a bad epoch count first, refused beside its field),
// watch its progress bar reach "succeeded", open its run and see the curves
// and metrics, activate the new model, grade on / and see its version and
// its score grid, roll back, and sign out, after which the admin API
// refuses the old session.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { essay, gradedEssaysCsv, promptsCsv } from "./fixtures.mjs";
import { ADMIN_TOKEN, LONG, SHORT, launchBrowser, newPage, snapshot, startServer, waitForText, withArtifacts } from "./harness.mjs";

describe("running the grader from /admin", { timeout: LONG * 4 }, () => {
  let server;
  let browser;

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function confirmDialog(page, button) {
    const dialog = page.locator("dialog[open]");
    await dialog.waitFor();
    await dialog.locator("button", { hasText: button }).click();
    await dialog.waitFor({ state: "detached" });
  }

  test("sign in, upload, train, watch, inspect, activate, grade, roll back, sign out", async () => {
    const page = await newPage(browser);
    await withArtifacts("admin scenario", page, async () => {
      // Sign in: a wrong token is refused beside the field, the right one opens the sections.
      await page.goto(`${server.url}/admin`);
      await page.locator("#admin-token").waitFor();
      await page.fill("#admin-token", "not-the-token");
      await page.click("#sign-in-button");
      await waitForText(page.locator("#admin-token ~ .field-error"), /not the admin token/);
      await page.fill("#admin-token", ADMIN_TOKEN);
      await page.click("#sign-in-button");
      await page.locator("#upload-form").waitFor();
      assert.equal(await page.inputValue("#admin-token"), "", "the token does not stay in the page");
      const storage = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
      assert.ok(!storage.includes(ADMIN_TOKEN), "the token is not stored in the browser");

      // Upload: a score column the file lacks is named beside the essays file.
      await page.setInputFiles("#dataset-essays", { name: "essays.csv", mimeType: "text/csv", buffer: Buffer.from(gradedEssaysCsv(16)) });
      await page.setInputFiles("#dataset-prompts", { name: "prompts.csv", mimeType: "text/csv", buffer: Buffer.from(promptsCsv()) });
      await waitForText(page.locator("#essay-columns-found"), /student_id, prompt_id, text, overall/);
      assert.equal(await page.inputValue("#mapping-targets"), "overall");
      await page.fill("#mapping-targets", "overall, style");
      await page.fill("#mapping-grid", "1:5:0.5");
      await page.fill("#dataset-name", "fixture essays");
      await page.click("#upload-button");
      await waitForText(page.locator("#dataset-essays ~ .field-error"), /style/);
      await page.fill("#mapping-targets", "overall");
      await page.click("#upload-button");
      await waitForText(page.locator("#upload-status"), /Uploaded “fixture essays”: 48 essays/);
      await waitForText(page.locator("#datasets-table"), /fixture essays\s+48\s+overall \(1:5:0\.5\)\s+3/);
      await snapshot(page, "admin-datasets");

      // A job: a bad epoch count is refused beside the field; then a small real one.
      await page.click(".tabs a[data-tab=jobs]");
      await page.locator("#job-form").waitFor();
      // The form is there before the train options arrive and fill it with
      // the default config; edits made before that would be overwritten.
      await page.waitForFunction(() => document.querySelector("#job-ensemble").value !== "", null, { timeout: SHORT });
      await page.selectOption("#job-kind", "train");
      while ((await page.locator(".layer-row").count()) > 1) await page.locator(".layer-row .remove").last().click();
      await page.fill("#layer-0-units", "8");
      await page.selectOption("#layer-0-activation", "relu");
      await page.fill("#job-lr", "0.01");
      await page.fill("#job-batch", "16");
      await page.fill("#job-ensemble", "2");
      await page.fill("#job-epochs", "0");
      await page.check("#job-cv-first");
      const sent = JSON.parse(await page.inputValue("#job-json"));
      assert.deepEqual(sent.config.network.layers, [{ units: 8, activation: "relu" }]);
      assert.equal(sent.config.optimizer.lr, 0.01);
      assert.equal(sent.cv, true);
      await page.click("#launch-job");
      await waitForText(page.locator("#job-epochs ~ .field-error"), /whole number from 1/);
      assert.equal(await page.getAttribute("#job-epochs", "aria-invalid"), "true");
      await page.fill("#job-epochs", "6");
      await page.click("#launch-job");
      await waitForText(page.locator("#launch-status"), /Queued train job/);

      // Its progress bar reaches "succeeded", followed live.
      const row = page.locator("#jobs-table tbody tr").first();
      await waitForText(row.locator("td.status"), /succeeded/, LONG);
      assert.equal(await row.locator("progress").evaluate((bar) => bar.value), 1);
      await waitForText(row.locator(".progress-line"), /100%/);
      await snapshot(page, "admin-jobs");

      // Its run: the metrics (cross-validated too) and the loss curves.
      await row.locator("a", { hasText: "Open run" }).click();
      await page.locator("#run-title").waitFor();
      await waitForText(page.locator("#run-status"), /succeeded/);
      await waitForText(page.locator("#run-metrics"), /cross-validated, pooled/);
      const curves = page.locator("#run-curves");
      await page.waitForFunction(() => {
        const img = document.getElementById("run-curves");
        return img && img.complete && img.naturalWidth > 0;
      }, null, { timeout: SHORT });
      assert.match(await curves.getAttribute("src"), /\/curves\.svg$/);
      await snapshot(page, "admin-run");

      // Models: version 2 sits beside version 1; activate it after confirming.
      await page.click(".tabs a[data-tab=models]");
      const v2 = page.locator('#models-table tr[data-version="2"]');
      await waitForText(v2, /fixture essays/);
      await waitForText(v2, /0\.\d{4}/);
      await v2.locator("button", { hasText: "Activate" }).click();
      await confirmDialog(page, "Activate version 2");
      await waitForText(page.locator("#models-status"), /Version 2 is grading now/);
      await waitForText(page.locator("#activations-table tbody tr").first(), /v2\s+v1/);
      await snapshot(page, "admin-models");

      // The grading page now shows version 2 and its 1-to-5 grid.
      const teacher = await newPage(browser);
      await teacher.goto(`${server.url}/`);
      await teacher.check("input[name=prompt-mode][value=pasted]");
      await teacher.fill("#prompt-text", essay(0, 3).text);
      await teacher.fill("#essay", essay(0, 7).text);
      await teacher.click("#grade-button");
      await waitForText(teacher.locator("#model-version"), /^2$/);
      await waitForText(teacher.locator('.score-card[data-target="overall"] .grid-score'), /On the 1 to 5 grid \(steps of 0\.5\): [1-5]\.[05]/);
      await snapshot(teacher, "grade-with-grid");
      await teacher.context().close();

      // Roll back to version 1, after confirming.
      await page.click("#rollback");
      await confirmDialog(page, "Roll back to version 1");
      await waitForText(page.locator("#models-status"), /Version 1 is grading now/);

      // Sign out: the old session no longer opens the admin API.
      const [cookie] = (await page.context().cookies()).filter((c) => c.name === "essay_grader_session");
      assert.ok(cookie, "signed in with a session cookie");
      const before = await fetch(`${server.url}/api/v1/models`, { headers: { Cookie: `${cookie.name}=${cookie.value}` } });
      assert.equal(before.status, 200);
      await page.click("#sign-out");
      await page.locator("#sign-in-form").waitFor();
      await waitForText(page.locator("#session-notice"), /signed out/);
      const afterwards = await fetch(`${server.url}/api/v1/models`, { headers: { Cookie: `${cookie.name}=${cookie.value}` } });
      assert.equal(afterwards.status, 401);
      assert.equal((await afterwards.json()).error.code, "unauthorized");
      assert.deepEqual(page.errors.filter((e) => !/status of (401|422)/.test(e)), []);
    });
  });

  // Uses the dataset the scenario above uploaded (tests in a suite run in order).
  test("a sweep launched from the form shows its comparison plots and ranked table", async () => {
    const page = await newPage(browser);
    await withArtifacts("admin sweep", page, async () => {
      await page.goto(`${server.url}/admin#jobs`);
      await page.fill("#admin-token", ADMIN_TOKEN);
      await page.click("#sign-in-button");
      await page.locator("#job-form").waitFor();
      await page.locator("#job-dataset option", { hasText: "fixture essays" }).waitFor({ state: "attached" });
      await page.selectOption("#job-kind", "sweep");
      await page.fill("#grid-depths", "0, 1");
      await page.fill("#grid-units", "6");
      for (const box of await page.locator("#grid-activations input").all()) {
        const wanted = ["relu", "tanh"].includes(await box.getAttribute("value"));
        if ((await box.isChecked()) !== wanted) await box.click();
      }
      await page.selectOption("#grid-optimizer", "adam");
      await page.fill("#grid-lrs", "0.01");
      await page.check('#grid-baselines input[value="ridge"]');
      await page.fill("#job-epochs", "3");
      await page.fill("#job-batch", "16");
      await page.fill("#job-ensemble", "1");
      const grid = JSON.parse(await page.inputValue("#job-json")).grid;
      assert.deepEqual(grid.depths, [0, 1]);
      assert.deepEqual([...grid.activations].sort(), ["relu", "tanh"]);
      assert.deepEqual(grid.optimizers, [{ name: "adam", lrs: [0.01] }]);
      assert.deepEqual(grid.baselines, ["ridge"]);
      assert.equal(grid.base.epochs, 3);

      // A depth of 0 is refused beside the depths.
      await page.click("#launch-job");
      await waitForText(page.locator("#grid-depths ~ .field-error"), /0/);
      await page.fill("#grid-depths", "1");
      await page.click("#launch-job");
      await waitForText(page.locator("#launch-status"), /Queued sweep job/);
      const row = page.locator('#jobs-table tbody tr[data-kind="sweep"]').first();
      await waitForText(row.locator("td.status"), /succeeded/, LONG);

      await row.locator("a", { hasText: "Open run" }).click();
      await page.locator("#run-plots img").first().waitFor();
      const plots = page.locator("#run-plots img");
      assert.equal(await plots.count(), 4);
      await page.waitForFunction(() => [...document.querySelectorAll("#run-plots img")].every((img) => img.complete && img.naturalWidth > 0), null, { timeout: SHORT });
      const cells = page.locator("#sweep-cells tbody tr");
      assert.equal(await cells.count(), 2);
      await waitForText(cells.first(), /^1\s+1 × (relu|tanh), adam lr 0\.01\s+0\.\d{4}/);
      await waitForText(page.locator("#sweep-baselines"), /ridge/);
      await snapshot(page, "admin-sweep");
    });
  });

  // Uses the dataset the scenario above uploaded.
  test("a running job's progress bar moves live over server-sent events, and Cancel stops it", async () => {
    const page = await newPage(browser);
    await withArtifacts("admin live progress", page, async () => {
      await page.goto(`${server.url}/admin#jobs`);
      await page.fill("#admin-token", ADMIN_TOKEN);
      await page.click("#sign-in-button");
      await page.locator("#job-form").waitFor();
      await page.locator("#job-dataset option", { hasText: "fixture essays" }).waitFor({ state: "attached" });
      await page.selectOption("#job-kind", "cv");
      await page.fill("#job-epochs", "50000");
      await page.fill("#job-ensemble", "1");
      const streams = [];
      page.on("request", (r) => {
        if (r.url().endsWith("/events")) streams.push(r.url());
      });
      await page.click("#launch-job");
      await waitForText(page.locator("#launch-status"), /Queued cv job/);
      const row = page.locator('#jobs-table tbody tr[data-kind="cv"]').first();
      await waitForText(row.locator("td.status"), /running/, LONG);
      // The bar moves while nothing but the event stream updates the row.
      const first = await waitForText(row.locator(".progress-line"), /epoch \d+ of 50000/, LONG);
      await page.waitForFunction((before) => {
        const line = document.querySelector('#jobs-table tbody tr[data-kind="cv"] .progress-line');
        return line && line.innerText !== before && /epoch \d+ of 50000/.test(line.innerText);
      }, first, { timeout: LONG });
      assert.ok(streams.length >= 1, "the page follows the job over server-sent events");
      await row.locator("button", { hasText: "Cancel" }).click();
      await waitForText(row.locator("td.status"), /cancelled/, LONG);
    });
  });
});
