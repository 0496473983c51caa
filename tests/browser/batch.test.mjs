// /batch in a real browser: a teacher uploads a CSV of 1,000 essays (commas,
// quotes and line breaks in its cells, one empty essay), the page guesses
// the columns, grades through the batch API in chunks while the progress bar
// moves, and the downloaded CSV has the same rows in the same order with
// the grades added, equal to what the API gives for those essays.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { PROMPTS, classCsv } from "./fixtures.mjs";
import { ADMIN_TOKEN, LONG, launchBrowser, newPage, snapshot, startServer, waitForText, withArtifacts } from "./harness.mjs";

const ESSAYS = 1000;
const EMPTY_ROW = 57;

// An RFC 4180 reader of our own, independent of the page's csv.js.
function readCsv(text) {
  const records = [];
  let record = [];
  let cell = "";
  let i = text.startsWith("\uFEFF") ? 1 : 0;
  let quoted = false;
  for (; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 1;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      record.push(cell);
      cell = "";
    } else if (c === "\r" || c === "\n") {
      if (c === "\r" && text[i + 1] === "\n") i += 1;
      record.push(cell);
      records.push(record);
      record = [];
      cell = "";
    } else cell += c;
  }
  if (cell !== "" || record.length) {
    record.push(cell);
    records.push(record);
  }
  return records;
}

describe("grading a class on /batch", { timeout: LONG * 2 }, () => {
  let server;
  let browser;

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    const saved = await fetch(`${server.url}/api/v1/prompts`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify(PROMPTS[0]),
    });
    assert.equal(saved.status, 201);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test("1,000 essays are graded in chunks and come back as the same CSV with the grades added", async () => {
    const page = await newPage(browser);
    await withArtifacts("batch 240 essays", page, async () => {
      const input = classCsv(ESSAYS, EMPTY_ROW);
      await page.goto(`${server.url}/batch`);
      await page.locator("#prompt-id option[value=rivers]").waitFor({ state: "attached" });
      await page.selectOption("#prompt-id", "rivers");
      await page.setInputFiles("#csv-file", { name: "class-7b.csv", mimeType: "text/csv", buffer: Buffer.from(input) });
      await waitForText(page.locator("#file-summary"), /1,000 essays in class-7b\.csv/);
      assert.equal(await page.locator("#text-column option:checked").innerText(), "Summary text");
      assert.equal(await page.locator("#id-column option:checked").innerText(), "essay_id");

      // Record every value the progress bar takes, to see it move in steps.
      await page.evaluate(() => {
        window.progressSeen = [];
        const bar = document.getElementById("batch-progress");
        new MutationObserver(() => window.progressSeen.push([bar.value, bar.max])).observe(bar, { attributes: true });
      });
      const requests = [];
      page.on("request", (r) => {
        if (r.url().endsWith("/api/v1/grade/batch")) requests.push(JSON.parse(r.postData()).items.length);
      });
      await page.click("#start-button");
      await waitForText(page.locator("#progress-text"), /Finished\./, LONG);

      const seen = await page.evaluate(() => window.progressSeen);
      const partial = seen.filter(([value, max]) => value > 0 && value < max);
      assert.ok(partial.length >= 2, `the bar moved in steps: ${JSON.stringify(seen)}`);
      assert.equal(requests.reduce((a, b) => a + b, 0), ESSAYS);
      assert.ok(requests.length > 1 && Math.max(...requests) < ESSAYS, `chunks: ${requests}`);
      assert.equal(await page.innerText("#summary-graded"), String(ESSAYS - 1));
      assert.equal(await page.innerText("#summary-failed"), "1");
      assert.equal(await page.locator(".histogram").count(), 2);
      const failure = await page.innerText("#failures tbody");
      await snapshot(page, "batch-summary");
      assert.match(failure, new RegExp(`^${EMPTY_ROW + 1}\\s+s${1000 + EMPTY_ROW}\\s+essay: must not be empty`));

      const downloaded = page.waitForEvent("download");
      await page.click("#download-button");
      const file = await downloaded;
      assert.equal(file.suggestedFilename(), "class-7b-graded.csv");
      const output = readCsv(await readFile(await file.path(), "utf8"));
      const original = readCsv(input);

      const added = ["score_content", "percentile_content", "score_wording", "percentile_wording", "warnings", "model_version", "grade_error"];
      assert.deepEqual(output[0], [...original[0], ...added]);
      assert.equal(output.length, original.length);
      const width = original[0].length;
      for (let r = 1; r < original.length; r += 1) {
        assert.deepEqual(output[r].slice(0, width), original[r], `row ${r} changed`);
        assert.equal(output[r].length, width + added.length, `row ${r} has ${output[r].length} cells`);
      }
      const empty = output[EMPTY_ROW + 1];
      assert.deepEqual(empty.slice(width, width + 6), ["", "", "", "", "", ""]);
      assert.match(empty[width + 6], /must not be empty/);

      // The added scores are what the API gives for those essays.
      const sample = [1, 2, 8, 120, ESSAYS];
      const answer = await fetch(`${server.url}/api/v1/grade/batch`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ items: sample.map((r) => ({ prompt_id: "rivers", essay: original[r][2] })), explain: false }),
      });
      const results = (await answer.json()).results;
      sample.forEach((r, k) => {
        const g = results[k].grade;
        const row = output[r];
        assert.equal(row[width], g.scores.content.toFixed(4), `row ${r} content`);
        assert.equal(row[width + 1], g.percentiles.content.toFixed(1), `row ${r} content percentile`);
        assert.equal(row[width + 2], g.scores.wording.toFixed(4), `row ${r} wording`);
        assert.equal(row[width + 4], g.warnings.map((w) => w.message).join("; "), `row ${r} warnings`);
        assert.equal(row[width + 5], String(g.model.version));
        assert.equal(row[width + 6], "");
      });
      assert.deepEqual(page.errors, []);
    });
  });

  test("cancelling stops between chunks and keeps what was graded", async () => {
    const page = await newPage(browser);
    await withArtifacts("batch cancel", page, async () => {
      await page.goto(`${server.url}/batch`);
      await page.locator("#prompt-id option[value=rivers]").waitFor({ state: "attached" });
      await page.setInputFiles("#csv-file", { name: "big.csv", mimeType: "text/csv", buffer: Buffer.from(classCsv(1000, -1)) });
      await waitForText(page.locator("#file-summary"), /1,000 essays/);
      // Hold the second chunk's answer until the cancel is pressed.
      let release;
      const held = new Promise((resolve) => { release = resolve; });
      let calls = 0;
      await page.route("**/api/v1/grade/batch", async (route) => {
        calls += 1;
        if (calls === 2) await held;
        // The page may have aborted the held request by now.
        await route.continue().catch(() => {});
      });
      await page.click("#start-button");
      await waitForText(page.locator("#progress-text"), /100 of 1,000 done/);
      await page.click("#cancel-button");
      release();
      await waitForText(page.locator("#progress-text"), /Cancelled after 100 essays/);
      assert.equal(await page.innerText("#summary-graded"), "100");
      assert.equal(calls, 2);
    });
  });
});
