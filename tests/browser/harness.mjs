// The browser tests' harness: starts the real service (the built binary) on
// a free port with a temporary database, drives Debian's headless Chromium
// through playwright-core, waits for conditions within bounded timeouts, and
// on a failure saves a screenshot and the page's HTML under
// target/browser-failures/, naming both in the error.
//
// ESSAY_GRADER_BIN names the binary (the cargo test target `browser` sets
// it); CHROMIUM the browser (default /usr/bin/chromium).

import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const ADMIN_TOKEN = "browser-test-admin-token";
const BIN = process.env.ESSAY_GRADER_BIN || path.join(ROOT, "target/debug/essay-grader");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
export const ARTIFACTS = path.join(ROOT, "target/browser-failures");

// Bounded waits: generous for a loaded 2-core machine and a debug build, but
// a test that waits this long has failed.
export const SHORT = 15_000;
export const LONG = 120_000;

// Starts `essay-grader serve` on 127.0.0.1:0 with a fresh database and the
// test admin token, and resolves once it logs the address it listens on.
export async function startServer({ apiKeys } = {}) {
  if (!existsSync(BIN)) {
    throw new Error(`the service binary ${BIN} does not exist: build it (cargo build) or set ESSAY_GRADER_BIN`);
  }
  const dir = mkdtempSync(path.join(tmpdir(), "essay-grader-browser-"));
  const args = [
    "serve",
    "--addr", "127.0.0.1:0",
    "--database", `sqlite://${path.join(dir, "essay-grader.db")}`,
    "--admin-token", ADMIN_TOKEN,
    "--log-json",
    "--log", "info,sqlx=warn,tower_http=warn",
  ];
  if (apiKeys) args.push("--api-keys", apiKeys.join(","));
  const child = spawn(BIN, args, { stdio: ["ignore", "pipe", "pipe"] });
  const log = [];
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the service did not start within ${SHORT} ms:\n${log.join("")}`)), SHORT);
    const onData = (chunk) => {
      const text = chunk.toString();
      log.push(text);
      for (const line of text.split("\n")) {
        if (!line.includes("essay-grader is listening")) continue;
        try {
          const addr = JSON.parse(line).fields.addr;
          clearTimeout(timer);
          resolve(`http://${addr}`);
        } catch (_) {
          // Not the JSON line; keep reading.
        }
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the service exited with ${code} before listening:\n${log.join("")}`));
    });
  });
  return {
    url,
    log,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.on("exit", resolve));
        child.kill("SIGTERM");
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
        if (child.exitCode === null) child.kill("SIGKILL");
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Launches headless Chromium with a fresh profile (playwright gives each
// launch its own temporary profile directory) and the flags this machine needs.
export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium), as .ci/run does`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
    timeout: SHORT,
  });
}

// A page in its own context (own cookies), at desktop or phone width, that
// records console errors and uncaught exceptions in `page.errors`.
export async function newPage(browser, { width = 1280, height = 900, acceptDownloads = true } = {}) {
  const context = await browser.newContext({
    viewport: { width, height },
    acceptDownloads,
    deviceScaleFactor: 1,
  });
  context.setDefaultTimeout(SHORT);
  const page = await context.newPage();
  page.errors = [];
  page.on("console", (message) => {
    if (message.type() === "error") page.errors.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => page.errors.push(`exception: ${error.message}`));
  return page;
}

function slug(text) {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 80);
}

// Runs `body(page)`; on failure saves the page's screenshot and HTML under
// target/browser-failures/ and rethrows with their paths in the message.
export async function withArtifacts(name, page, body) {
  try {
    return await body(page);
  } catch (error) {
    mkdirSync(ARTIFACTS, { recursive: true });
    const base = path.join(ARTIFACTS, `${slug(name)}-${Date.now()}`);
    const saved = [];
    try {
      await page.screenshot({ path: `${base}.png`, fullPage: true, timeout: 10_000 });
      saved.push(`${base}.png`);
    } catch (e) {
      saved.push(`(no screenshot: ${e.message})`);
    }
    try {
      writeFileSync(`${base}.html`, await page.content());
      saved.push(`${base}.html`);
    } catch (e) {
      saved.push(`(no HTML: ${e.message})`);
    }
    const errors = page.errors && page.errors.length ? `\nconsole errors on the page:\n  ${page.errors.join("\n  ")}` : "";
    const note = `saved: ${saved.join(", ")}${errors}`;
    error.message = `${error.message}\n${note}`;
    // Reporters print the stack, which was written when the error was made.
    if (typeof error.stack === "string") error.stack = `${error.stack}\n${note}`;
    throw error;
  }
}

// Waits until `locator`'s text matches `pattern`; fails naming what it saw.
export async function waitForText(locator, pattern, timeout = SHORT) {
  const deadline = Date.now() + timeout;
  let seen = "";
  while (Date.now() < deadline) {
    seen = (await locator.count()) > 0 ? await locator.first().innerText().catch(() => "") : "";
    if (pattern.test(seen)) return seen;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`waited ${timeout} ms for ${pattern} in ${locator}; last text: ${JSON.stringify(seen.slice(0, 500))}`);
}

// With ESSAY_GRADER_SCREENS=1, saves a full-page screenshot under
// target/browser-screens/ for a person to look at; otherwise does nothing.
export async function snapshot(page, name) {
  if (!process.env.ESSAY_GRADER_SCREENS) return null;
  const dir = path.join(ROOT, "target/browser-screens");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

// The API, called from the test itself (not through a page) with the admin token.
export async function adminApi(server, method, route, body) {
  const response = await fetch(`${server.url}${route}`, {
    method,
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}
