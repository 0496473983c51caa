// The Swagger UI at /docs renders the API under its Content-Security-Policy
// (no 'unsafe-inline', no framing) without a single CSP violation, and every
// page and API answer carries nosniff, a Referrer-Policy and a CSP that
// forbids framing.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { launchBrowser, newPage, startServer, waitForText, withArtifacts } from "./harness.mjs";

function assertHardened(headers, where) {
  const csp = headers.get("content-security-policy") || "";
  assert.ok(csp, `${where}: no Content-Security-Policy`);
  assert.ok(!csp.includes("unsafe-inline"), `${where}: the CSP allows inline code: ${csp}`);
  assert.ok(csp.includes("frame-ancestors 'none'"), `${where}: the CSP allows framing: ${csp}`);
  assert.equal(headers.get("x-content-type-options"), "nosniff", `${where}: nosniff`);
  assert.equal(headers.get("referrer-policy"), "no-referrer", `${where}: Referrer-Policy`);
}

describe("the API documentation and the security headers", { timeout: 120_000 }, () => {
  let server;
  let browser;

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
  });

  after(async () => {
    if (browser) await browser.close();
    if (server) await server.stop();
  });

  test("/docs renders every route under its CSP with no violation", async () => {
    const page = await newPage(browser);
    // Record every violation the browser reports, from the first script on.
    await page.addInitScript(() => {
      window.cspViolations = [];
      document.addEventListener("securitypolicyviolation", (e) => {
        window.cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline code"} (${e.sourceFile}:${e.lineNumber})`);
      });
    });
    await withArtifacts("docs renders under its csp", page, async () => {
      const response = await page.goto(`${server.url}/docs/`);
      assert.equal(response.status(), 200);
      assertHardened(new Headers(await response.allHeaders()), "/docs/");
      await waitForText(page.locator(".swagger-ui .info .title"), /essay-grader/);
      const operations = page.locator(".opblock-summary");
      await waitForText(page.locator(".opblock-tag-section"), /grading/i);
      assert.ok((await operations.count()) >= 20, `only ${await operations.count()} operations rendered`);
      // Open one operation and the schemas, which draw more of the UI
      // (icons, models, the example editor).
      await operations.first().click();
      await waitForText(page.locator(".opblock-body"), /Responses/);
      await page.locator(".models-control").first().click();
      await page.waitForTimeout(500);
      const violations = await page.evaluate(() => window.cspViolations);
      assert.deepEqual(violations, [], "CSP violations on /docs");
      assert.deepEqual(page.errors, [], "console errors on /docs");
    });
    await page.context().close();
  });

  test("every page and API answer carries the security headers", async () => {
    for (const route of ["/", "/batch", "/admin", "/docs/swagger-initializer.js", "/static/app.js", "/api/openapi.json", "/api/v1/prompts", "/health", "/api/v1/no-such-route"]) {
      const response = await fetch(`${server.url}${route}`);
      assertHardened(response.headers, route);
    }
  });
});
