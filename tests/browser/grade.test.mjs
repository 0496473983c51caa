// The first page, /, in a real browser: a teacher grades an essay and reads
// the scores on their scale, the explanation and the model version; an
// empty essay is refused in words beside the essay, with the server's own
// 422 text; a prompt pasted on the page can be saved; and the whole flow
// works from the keyboard alone.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { PROMPTS, essay } from "./fixtures.mjs";
import { ADMIN_TOKEN, LONG, SHORT, launchBrowser, newPage, snapshot, startServer, waitForText, withArtifacts } from "./harness.mjs";

// The strings an explanation holds that the page must show: each concept's
// sentence when the API gives sentences, otherwise each feature named.
export function explanationTexts(explanation) {
  const sentences = [];
  const features = [];
  const walk = (value, key) => {
    if (Array.isArray(value)) value.forEach((v) => walk(v, key));
    else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) walk(v, k);
    else if (typeof value === "string" && key === "sentence") sentences.push(value);
    else if (typeof value === "string" && key === "feature") features.push(value);
  };
  walk(explanation, "");
  return sentences.length ? sentences : features;
}

describe("grading one essay on /", { timeout: LONG * 2 }, () => {
  let server;
  let browser;

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    const saved = await fetch(`${server.url}/api/v1/prompts`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify(PROMPTS[1]),
    });
    assert.equal(saved.status, 201);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test("a graded essay shows each score's place, its scale, the explanation and the model version", async () => {
    const page = await newPage(browser);
    await withArtifacts("grade shows scores", page, async () => {
      await page.goto(`${server.url}/`);
      await page.locator("#prompt-id option[value=bees]").waitFor({ state: "attached" });
      await page.selectOption("#prompt-id", "bees");
      const text = `${essay(1, 9).text} ${essay(1, 6).text}`;
      await page.fill("#essay", text);
      const answered = page.waitForResponse((r) => r.url().endsWith("/api/v1/grade") && r.request().method() === "POST");
      await page.click("#grade-button");
      const grade = await (await answered).json();

      for (const [target, percentile] of Object.entries(grade.percentiles)) {
        const card = page.locator(`.score-card[data-target="${target}"]`);
        await waitForText(card, new RegExp(`higher than ${Math.round(percentile)}% of training essays|every training essay|lowest of the training essays`, "i"));
        const scaleText = await card.locator(".scale-text").innerText();
        assert.match(scaleText, /training essays run from/, `${target}: ${scaleText}`);
        assert.ok(scaleText.includes(grade.scores[target].toFixed(2).replace("-", "\u2212")), `${target} score ${grade.scores[target]} not in ${scaleText}`);
        assert.equal(await card.locator(".scale-marker").count(), 1);
      }
      assert.equal(await page.locator("#model-version").innerText(), String(grade.model.version));

      await snapshot(page, "grade-result");
      const shown = await page.locator("#explanation").innerText();
      const expected = explanationTexts(grade.explanation);
      assert.ok(expected.length > 0, "the grade came with an explanation");
      for (const sentence of expected) assert.ok(shown.includes(sentence), `explanation text ${JSON.stringify(sentence)} is not on the page`);
      assert.deepEqual(page.errors, []);
    });
  });

  test("an empty essay is refused beside the essay with the server's 422 text", async () => {
    const page = await newPage(browser);
    await withArtifacts("empty essay", page, async () => {
      await page.goto(`${server.url}/`);
      await page.locator("#prompt-id option[value=bees]").waitFor({ state: "attached" });
      await page.fill("#essay", "   \n  ");
      const answered = page.waitForResponse((r) => r.url().endsWith("/api/v1/grade"));
      await page.click("#grade-button");
      const response = await answered;
      assert.equal(response.status(), 422);
      const serverText = (await response.json()).error.fields.essay;

      const message = page.locator("#essay ~ .field-error, #essay-hint ~ .field-error");
      const shown = await waitForText(message, /\S/);
      assert.ok(shown.toLowerCase().includes(serverText.toLowerCase()), `${JSON.stringify(shown)} does not carry the server's ${JSON.stringify(serverText)}`);
      await snapshot(page, "grade-empty-essay");
      assert.equal(await page.getAttribute("#essay", "aria-invalid"), "true");
      assert.equal(await page.evaluate(() => document.activeElement.id), "essay");
      assert.equal(await page.locator(".score-card").count(), 0);
    });
  });

  test("a pasted prompt can be saved from the page and is then chosen", async () => {
    const page = await newPage(browser);
    await withArtifacts("save prompt", page, async () => {
      await page.goto(`${server.url}/`);
      await page.locator("#prompt-id option[value=bees]").waitFor({ state: "attached" });
      await page.check("input[name=prompt-mode][value=pasted]");
      await page.fill("#prompt-title", PROMPTS[2].title);
      await page.fill("#prompt-question", PROMPTS[2].question);
      await page.fill("#prompt-text", PROMPTS[2].text);
      await page.click("#save-prompt-section summary");
      // Registering a prompt needs a credential: anonymously it is refused
      // with a message that says what is needed.
      await page.fill("#prompt-save-id", "tides-7b");
      await page.click("#save-prompt");
      await waitForText(page.locator("body"), /Saving a prompt needs an API key .* or an admin signed in/);
      // Signed in as admin (the session cookie), it goes through.
      const signedIn = await page.evaluate(async (token) => {
        const response = await fetch("/api/v1/session", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ token }),
        });
        return response.status;
      }, ADMIN_TOKEN);
      assert.equal(signedIn, 200);
      await page.fill("#prompt-save-id", "has space");
      await page.click("#save-prompt");
      await waitForText(page.locator("#prompt-save-id ~ .field-error"), /letters, digits/i);

      await page.fill("#prompt-save-id", "tides-7b");
      await page.click("#save-prompt");
      await waitForText(page.locator("#save-prompt-status"), /Saved as “tides-7b”/);
      assert.equal(await page.inputValue("#prompt-id"), "tides-7b");
      assert.equal(await page.isVisible("#registered-prompt"), true);
    });
  });

  test("the whole flow works from the keyboard, with a visible focus ring", async () => {
    const page = await newPage(browser);
    await withArtifacts("keyboard", page, async () => {
      await page.goto(`${server.url}/`);
      await page.locator("#prompt-id option[value=bees]").waitFor({ state: "attached" });
      // Tab from the top of the page until the essay box has the focus.
      const visited = [];
      for (let i = 0; i < 15 && visited[visited.length - 1] !== "essay"; i += 1) {
        await page.keyboard.press("Tab");
        visited.push(await page.evaluate(() => document.activeElement.id || document.activeElement.tagName));
      }
      assert.equal(visited[visited.length - 1], "essay", `tab order: ${visited.join(" > ")}`);
      const ring = await page.evaluate(() => getComputedStyle(document.activeElement).boxShadow);
      assert.notEqual(ring, "none", "the focused essay box shows no focus ring");
      await page.keyboard.type(essay(1, 10).text);
      // Tab on to the Grade button and press it with Enter.
      for (let i = 0; i < 6 && (await page.evaluate(() => document.activeElement.id)) !== "grade-button"; i += 1) {
        await page.keyboard.press("Tab");
      }
      assert.equal(await page.evaluate(() => document.activeElement.id), "grade-button");
      await page.keyboard.press("Enter");
      await page.locator(".score-card").first().waitFor({ timeout: SHORT });
      assert.equal(await page.evaluate(() => document.activeElement.id), "result-title", "focus moves to the result");
    });
  });
});
