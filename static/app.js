// What every page shares: building elements safely, calling the API, and
// turning the API's errors into plain words beside the fields they concern.
//
// The API answers errors as {"error": {"code", "message", "fields"}}, where
// `fields` maps a JSON path (`essay`, `config.epochs`, `items[3].essay`) to
// what is wrong with it. A form marks each control with `data-field="<path>"`;
// showErrors() writes each field's problem right under its control and
// whatever matches no control into the form's summary box.

"use strict";

export const $ = (id) => document.getElementById(id);

// Builds an element. Text is always added as text, never parsed as HTML, so
// nothing from the server or the user can inject markup. Attributes whose
// name starts with "on" must be functions and become event listeners.
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "text") {
      node.textContent = value;
    } else if (value === true) {
      node.setAttribute(key, "");
    } else {
      node.setAttribute(key, value);
    }
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// The optional API key a teacher enters (kept in the page only, never stored).
let apiKey = "";
export function setApiKey(key) {
  apiKey = (key || "").trim();
}

// Calls the API. Never throws for an HTTP error: resolves to
// {ok, status, body}, where body is the parsed JSON (or null). A network
// failure resolves to status 0 with an error body saying so. `json` sends a
// JSON body; `form` sends FormData (multipart); `signal` allows cancelling.
export async function api(method, path, { json, form, signal } = {}) {
  const headers = {};
  if (apiKey) headers["X-Api-Key"] = apiKey;
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body, signal, credentials: "same-origin" });
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    return {
      ok: false,
      status: 0,
      body: { error: { code: "network", message: "The server could not be reached. Check that it is running and try again.", fields: {} } },
    };
  }
  let parsed = null;
  const text = await response.text();
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch (_) {
      parsed = null;
    }
  }
  return { ok: response.ok, status: response.status, body: parsed };
}

// Plain words for the error codes a person can act on; anything else shows
// the server's own message, which always says what was wrong.
const PLAIN = {
  unauthorized: "You are not allowed to do this without the right key.",
  payload_too_large: "That is more text than the server takes in one request. Shorten it, or split it up.",
  unavailable: "The server has no model ready yet. Try again in a minute.",
  internal: "Something went wrong on the server. It has been logged; please try again.",
  network: "The server could not be reached. Check that it is running and try again.",
  timeout: "The server took too long to answer. Try again with less at once.",
};

// One sentence for an error response, as a person would say it.
export function errorMessage(result, context) {
  const err = result.body && result.body.error;
  if (!err) return `The server answered ${result.status} without saying why.`;
  if (err.code === "unauthorized" && context && context.unauthorized) return context.unauthorized;
  if (err.code === "not_found" && context && context.notFound) return context.notFound;
  return PLAIN[err.code] || sentence(err.message);
}

// "essay: must not be empty" -> "Essay: must not be empty."
function sentence(text) {
  const s = String(text || "").trim();
  if (!s) return "";
  const first = s.charAt(0).toUpperCase() + s.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

// Labels for JSON paths in messages, e.g. "config.epochs" -> "Epochs".
function fieldLabel(form, path) {
  const control = form && form.querySelector(`[data-field="${cssEscape(path)}"]`);
  if (control && control.id) {
    const label = form.querySelector(`label[for="${cssEscape(control.id)}"]`);
    if (label) return label.textContent.replace(/\(optional\)/i, "").trim();
  }
  return path;
}

function cssEscape(text) {
  return window.CSS && CSS.escape ? CSS.escape(text) : text.replace(/["\\]/g, "\\$&");
}

// Removes every error a previous showErrors() put in the form.
export function clearErrors(form) {
  for (const node of form.querySelectorAll(".field-error[data-generated]")) node.remove();
  for (const node of form.querySelectorAll("[aria-invalid]")) {
    node.removeAttribute("aria-invalid");
    node.removeAttribute("aria-describedby");
  }
  const summary = form.querySelector(".form-errors");
  if (summary) {
    summary.replaceChildren();
    summary.hidden = true;
  }
}

// The control a field path belongs to: the exact `data-field`, else the
// closest ancestor path (`config.layers[1].units` -> `config.layers[1]` ->
// `config.layers` -> `config`), else one whose `data-field-prefix` starts it.
function controlFor(form, path) {
  let p = path;
  while (p) {
    const exact = form.querySelector(`[data-field="${cssEscape(p)}"]`);
    if (exact) return exact;
    const cut = Math.max(p.lastIndexOf("."), p.lastIndexOf("["));
    p = cut > 0 ? p.slice(0, cut) : "";
  }
  for (const node of form.querySelectorAll("[data-field-prefix]")) {
    for (const prefix of node.dataset.fieldPrefix.split(" ")) {
      if (path.startsWith(prefix)) return node;
    }
  }
  return null;
}

// Shows an API error in a form: each field's problem under its control, the
// rest (and errors without fields) in the form's `.form-errors` box.
// Returns the first control marked, so the caller can move focus to it.
export function showErrors(form, result, context) {
  clearErrors(form);
  const err = result.body && result.body.error;
  const fields = (err && err.fields) || {};
  const leftover = [];
  let first = null;
  for (const [path, problem] of Object.entries(fields)) {
    const control = controlFor(form, path);
    if (!control) {
      leftover.push(`${path}: ${problem}`);
      continue;
    }
    const slotId = `${control.id || control.dataset.field}-error-${Math.random().toString(36).slice(2, 8)}`;
    const own = control.dataset.field === path || (control.dataset.fieldPrefix || "").split(" ").includes(path);
    const text = own ? sentence(problem) : `${path.replace(/^config\./, "")}: ${problem}`;
    const message = el("p", { class: "field-error", id: slotId, "data-generated": true }, text);
    const anchor = control.closest(".field") || control;
    // Several problems for one control stack up under it.
    let after = anchor;
    while (after.nextElementSibling && after.nextElementSibling.matches(".field-error[data-generated]")) {
      after = after.nextElementSibling;
    }
    if (anchor.matches(".field")) anchor.append(message);
    else after.after(message);
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", slotId);
    first = first || control;
  }
  const summary = form.querySelector(".form-errors");
  const needsSummary = leftover.length > 0 || Object.keys(fields).length === 0;
  if (summary && needsSummary) {
    const headline = Object.keys(fields).length === 0 ? errorMessage(result, context) : "Please fix these problems:";
    summary.append(el("p", {}, el("strong", {}, headline)));
    if (leftover.length) summary.append(el("ul", {}, leftover.map((line) => el("li", {}, line))));
    summary.hidden = false;
    first = first || summary;
  }
  if (first && typeof first.focus === "function") {
    if (first === summary) summary.setAttribute("tabindex", "-1");
    first.focus();
  }
  return first;
}

// A notice box: kind is "error", "success", "warning" or "info".
export function notice(kind, ...content) {
  return el("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, ...content);
}

// Numbers as people read them.
export function fmt(x, digits = 2) {
  if (typeof x !== "number" || !Number.isFinite(x)) return "—";
  return x.toFixed(digits).replace(/^-/, "\u2212");
}

export function fmtInt(n) {
  return typeof n === "number" ? n.toLocaleString("en") : "—";
}

export function fmtDuration(seconds) {
  if (typeof seconds !== "number" || !Number.isFinite(seconds)) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export function fmtTime(rfc3339) {
  if (!rfc3339) return "—";
  const d = new Date(rfc3339);
  if (Number.isNaN(d.getTime())) return rfc3339;
  return d.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" });
}

export function shortId(id) {
  return String(id || "").slice(0, 8);
}

// Counts words the way a reader would (white-space separated).
export function wordCount(text) {
  return String(text || "").trim().split(/\s+/).filter(Boolean).length;
}

// Asks for confirmation in an accessible <dialog>; resolves true or false.
export function confirmAction({ title, body, confirm = "Confirm", danger = false }) {
  return new Promise((resolve) => {
    const yes = el("button", { type: "button", class: danger ? "danger solid" : "" }, confirm);
    const no = el("button", { type: "button", class: "secondary" }, "Cancel");
    const dialog = el("dialog", { "aria-labelledby": "confirm-title" },
      el("h2", { id: "confirm-title" }, title),
      el("p", {}, body),
      el("div", { class: "actions" }, yes, no));
    const finish = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    yes.addEventListener("click", () => finish(true));
    no.addEventListener("click", () => finish(false));
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      finish(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    no.focus();
  });
}

// Downloads text as a file without leaving the page.
export function download(filename, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = el("a", { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
