// /admin: the session and the sections.
//
// Sign-in trades the admin token for an HttpOnly session cookie
// (POST /api/v1/session); the token is dropped from the page at once and
// never stored. GET /api/v1/session says on load whether the cookie is
// still good; sign-out is DELETE /api/v1/session. Any admin call answered
// 401 (an expired session) brings the sign-in form back.
//
// Sections are chosen by the address's hash (#datasets, #jobs, #runs,
// #run/<id>, #models, #prompts, #prompt/<id>), so the back button and links
// work, and each lives in its own admin-*.js module exporting
// `createSection(root, admin)` -> {show(param)}.

"use strict";

import { $, api, clearErrors, fmtTime, notice, showErrors } from "./app.js";
import { createSection as datasets } from "./admin-datasets.js";
import { createSection as jobs } from "./admin-jobs.js";
import { createSection as runs } from "./admin-runs.js";
import { createSection as models } from "./admin-models.js";
import { createSection as prompts } from "./admin-prompts.js";

const signIn = $("sign-in");
const signInForm = $("sign-in-form");
const area = $("admin-area");
const sessionActions = $("session-actions");
const sessionNotice = $("session-notice");

// What every section may use.
const admin = {
  // The API with admin credentials (the cookie); a 401 signs the page out.
  async api(method, path, options) {
    const result = await api(method, path, options);
    if (result.status === 401) showSignIn("Your admin session has ended. Sign in again to go on.");
    return result;
  },
  go(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  },
};

const sections = {};
let current = null;
const factories = { datasets, jobs, runs, models, prompts };
// #run/<id> is shown by the runs section, #prompt/<id> by the prompts one.
const OWNER = { datasets: "datasets", jobs: "jobs", runs: "runs", run: "runs", models: "models", prompts: "prompts", prompt: "prompts" };

function section(name) {
  if (!sections[name]) sections[name] = factories[name]($(`tab-${name}`), admin);
  return sections[name];
}

async function route() {
  if (area.hidden) return;
  const [key, ...rest] = location.hash.replace(/^#/, "").split("/");
  const name = OWNER[key] || "datasets";
  for (const link of document.querySelectorAll(".tabs a")) {
    if (link.dataset.tab === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  for (const node of document.querySelectorAll("[data-section]")) node.hidden = node.dataset.section !== name;
  // A section left behind stops its live streams.
  if (current && current !== name && sections[current].hide) sections[current].hide();
  current = name;
  const param = key === "run" || key === "prompt" ? decodeURIComponent(rest.join("/")) : null;
  await section(name).show(param);
}

function showSignIn(message) {
  for (const s of Object.values(sections)) if (s.hide) s.hide();
  current = null;
  area.hidden = true;
  sessionActions.hidden = true;
  signIn.hidden = false;
  sessionNotice.replaceChildren(message ? notice("info", message) : "");
  $("admin-token").focus();
}

function showAdmin(expiresAt) {
  signIn.hidden = true;
  area.hidden = false;
  sessionActions.hidden = false;
  $("session-expiry").textContent = expiresAt ? `Signed in until ${fmtTime(expiresAt)}` : "Signed in";
  route();
}

signInForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(signInForm);
  sessionNotice.replaceChildren();
  const token = $("admin-token").value;
  $("sign-in-button").disabled = true;
  const result = await api("POST", "/api/v1/session", { json: { token } });
  $("sign-in-button").disabled = false;
  if (!result.ok) {
    // The 401 names no field; the token is the only thing that can be wrong.
    if (result.status === 401) {
      result.body = { error: { code: "unauthorized", message: "", fields: { token: "this is not the admin token; check it and try again" } } };
    }
    showErrors(signInForm, result);
    return;
  }
  $("admin-token").value = "";
  showAdmin(result.body.expires_at);
});

$("sign-out").addEventListener("click", async () => {
  await api("DELETE", "/api/v1/session");
  showSignIn("You are signed out.");
});

window.addEventListener("hashchange", route);

api("GET", "/api/v1/session").then((result) => {
  if (result.ok && result.body.admin) showAdmin(null);
  else if (result.status === 0) sessionNotice.replaceChildren(notice("error", "The server could not be reached. Check that it is running, then reload."));
  else showSignIn(null);
});

