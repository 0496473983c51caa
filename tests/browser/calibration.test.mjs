// Calibration in a real browser, on a server that protects grading with API
// keys: a teacher enters their key, grades an essay on a saved prompt,
// corrects the grade with their own scores and sees the prompt's
// calibration count go up and the next grade say it is calibrated; an
// admin then sees the prompt's examples and estimate on /admin, deletes
// them, and builds a dataset from teachers' examples.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { PROMPTS, essay } from "./fixtures.mjs";
import { ADMIN_TOKEN, LONG, launchBrowser, newPage, snapshot, startServer, waitForText, withArtifacts } from "./harness.mjs";

const KEY = "teacher-key-7b-browser";

describe("calibrating a saved prompt", { timeout: LONG * 2 }, () => {
  let server;
  let browser;

  before(async () => {
    server = await startServer({ apiKeys: [KEY] });
    browser = await launchBrowser();
    const saved = await fetch(`${server.url}/api/v1/prompts`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Api-Key": KEY },
      body: JSON.stringify(PROMPTS[1]),
    });
    assert.equal(saved.status, 201);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function gradeAndCorrect(page, text, shift) {
    await page.fill("#essay", text);
    await page.click("#grade-button");
    await page.locator("#correct-form").waitFor();
    for (const input of await page.locator("#correct-form input[type=number]").all()) {
      const shown = Number(await input.inputValue());
      await input.fill((shown + shift).toFixed(2));
    }
    await page.click("#correct-button");
    return waitForText(page.locator("#correct-status"), /Saved\./);
  }

  test("a teacher's correction becomes an example and the calibration count goes up", async () => {
    const page = await newPage(browser);
    await withArtifacts("correct a grade", page, async () => {
      await page.goto(`${server.url}/`);
      // Without the key the prompts cannot be listed, and the page says why.
      await waitForText(page.locator("#prompt-question-hint"), /needs an API key/);
      await page.click("details.card summary");
      await page.fill("#api-key", KEY);
      await page.press("#api-key", "Tab");
      await page.locator("#prompt-id option[value=bees]").waitFor({ state: "attached" });

      await page.fill("#essay", essay(1, 5).text);
      await page.click("#grade-button");
      await waitForText(page.locator("#calibration-status"), /Not calibrated: no teacher-graded examples/);

      const first = await gradeAndCorrect(page, essay(1, 5).text, 0.4);
      assert.match(first, /now uses 1 teacher-graded example \(before: 0\)/);
      assert.equal(await page.innerText("#calibration-count"), "1");
      await page.click("#grade-again");
      await waitForText(page.locator("#calibration-status"), /Calibrated for this prompt with 1 teacher-graded example\./);
      await waitForText(page.locator(".score-card").first(), /Before calibration for this prompt: /);

      const second = await gradeAndCorrect(page, essay(1, 9).text, 0.4);
      assert.match(second, /now uses 2 teacher-graded examples \(before: 1\)/);
      await snapshot(page, "grade-corrected");
      assert.deepEqual(page.errors.filter((e) => !/status of 401/.test(e)), []);
    });
  });

  test("without a key the correction is refused in words beside the form", async () => {
    const page = await newPage(browser);
    await withArtifacts("correction needs a key", page, async () => {
      await page.goto(`${server.url}/`);
      await page.click("details.card summary");
      await page.fill("#api-key", KEY);
      await page.press("#api-key", "Tab");
      await page.locator("#prompt-id option[value=bees]").waitFor({ state: "attached" });
      await page.fill("#essay", essay(1, 2).text);
      await page.click("#grade-button");
      await page.locator("#correct-form").waitFor();
      await page.fill("#api-key", "");
      await page.press("#api-key", "Tab");
      await page.click("#correct-button");
      await waitForText(page.locator("#correct-form .form-errors"), /needs an API key/);
    });
  });

  test("an admin sees the examples and the estimate, deletes them, and builds a dataset from them", async () => {
    const page = await newPage(browser);
    await withArtifacts("admin prompts", page, async () => {
      await page.goto(`${server.url}/admin#prompts`);
      await page.fill("#admin-token", ADMIN_TOKEN);
      await page.click("#sign-in-button");
      const row = page.locator('#prompts-table tr[data-prompt="bees"]');
      await waitForText(row.locator(".examples"), /^2$/);
      await waitForText(row, /\d\.\d{3} → \d\.\d{3}/);

      // A dataset from the teachers' examples.
      await page.click(".tabs a[data-tab=datasets]");
      await page.locator("#from-examples-form").waitFor();
      await page.click("#from-examples-button");
      await page.locator("#from-examples-form .field-error").first().waitFor();
      await page.fill("#from-examples-name", "teachers' bees");
      await page.check('input[name=from-examples-prompt][value="bees"]');
      await page.click("#from-examples-button");
      await waitForText(page.locator("#from-examples-form"), /Built “teachers' bees”: 2 essays/);
      await waitForText(page.locator("#datasets-table"), /teachers' bees\s+2/);

      // One prompt's examples: delete one, then all.
      await page.goto(`${server.url}/admin#prompt/bees`);
      await waitForText(page.locator("#prompt-examples-count"), /^2$/);
      assert.equal(await page.locator("#examples-table tbody tr").count(), 2);
      await snapshot(page, "admin-prompt");
      await page.locator("#examples-table tbody tr").first().locator("button", { hasText: "Delete" }).click();
      await page.locator("dialog[open] button", { hasText: "Delete example" }).click();
      await waitForText(page.locator("#prompt-examples-count"), /^1$/);
      await page.click("#delete-all-examples");
      await page.locator("dialog[open] button", { hasText: "Delete all examples" }).click();
      await waitForText(page.locator("#prompt-examples-count"), /^0$/);
      await waitForText(page.locator("#examples-status"), /no longer calibrated/);
      assert.deepEqual(page.errors.filter((e) => !/status of 422/.test(e)), []);
    });
  });
});
