// /admin#prompts and #prompt/<id>: the saved prompts with how many
// teacher-graded examples each has and what its calibration is estimated to
// gain (GET /api/v1/prompts/{id}/calibration); one prompt's examples, newest
// first, each deletable, or all at once (the calibration follows).

"use strict";

import { confirmAction, el, errorMessage, fmt, fmtInt, fmtTime, notice } from "./app.js";

const PAGE = 50;

function estimateText(calibration) {
  const e = calibration && calibration.estimate;
  if (!e || typeof e.uncalibrated_mcrmse !== "number" || typeof e.calibrated_mcrmse !== "number") return "—";
  return `${fmt(e.uncalibrated_mcrmse, 3)} → ${fmt(e.calibrated_mcrmse, 3)}`;
}

export function createSection(root, admin) {
  async function calibrationOf(id) {
    const result = await admin.api("GET", `/api/v1/prompts/${encodeURIComponent(id)}/calibration`);
    return result.ok ? result.body : { unavailable: errorMessage(result) };
  }

  async function showList() {
    const result = await admin.api("GET", "/api/v1/prompts?limit=1000");
    if (!result.ok) {
      root.replaceChildren(el("h2", {}, "Prompts"), notice("error", errorMessage(result)));
      return;
    }
    const prompts = result.body.prompts;
    // A few at a time: each asks the server for one prompt's calibration.
    const calibrations = new Map();
    for (let i = 0; i < prompts.length; i += 4) {
      const batch = prompts.slice(i, i + 4);
      const answers = await Promise.all(batch.map((p) => calibrationOf(p.id)));
      batch.forEach((p, k) => calibrations.set(p.id, answers[k]));
    }
    root.replaceChildren(
      el("h2", {}, "Prompts"),
      el("p", { class: "muted" }, "Saved prompts, with the essays teachers graded themselves for each. A prompt with examples is calibrated: its grades are adjusted towards the teachers’ own. The estimate is the model’s error on those examples (MCRMSE, leave-one-out) without and with calibration."),
      prompts.length === 0
        ? el("p", { class: "muted" }, "No saved prompts yet: save one from the grading page.")
        : el("div", { class: "table-wrap" }, el("table", { id: "prompts-table" },
          el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Prompt"), el("th", { scope: "col" }, "Title"),
            el("th", { class: "num", scope: "col" }, "Examples"), el("th", { class: "num", scope: "col" }, "Error without → with calibration"), el("th", { scope: "col" }, "Saved"))),
          el("tbody", {}, prompts.map((p) => {
            const c = calibrations.get(p.id) || {};
            return el("tr", { "data-prompt": p.id },
              el("td", {}, el("a", { href: `#prompt/${encodeURIComponent(p.id)}` }, p.id)),
              el("td", {}, p.title || "—"),
              el("td", { class: "num examples" }, c.unavailable ? "—" : fmtInt(c.examples)),
              el("td", { class: "num" }, c.unavailable ? el("span", { class: "muted", title: c.unavailable }, "unavailable") : estimateText(c)),
              el("td", {}, fmtTime(p.created_at)));
          })))));
  }

  async function showPrompt(id, offset = 0) {
    const back = el("p", {}, el("a", { href: "#prompts" }, "← All prompts"));
    const [prompt, calibration, examples] = await Promise.all([
      admin.api("GET", `/api/v1/prompts/${encodeURIComponent(id)}`),
      calibrationOf(id),
      admin.api("GET", `/api/v1/prompts/${encodeURIComponent(id)}/examples?limit=${PAGE}&offset=${offset}`),
    ]);
    if (!prompt.ok) {
      root.replaceChildren(back, notice("error", errorMessage(prompt, { notFound: "There is no such prompt." })));
      return;
    }
    const p = prompt.body;
    const status = el("div", { id: "examples-status", "aria-live": "polite" });
    const parts = [back,
      el("h2", { id: "prompt-title", tabindex: "-1" }, p.title || p.id),
      el("dl", { class: "facts card" },
        el("dt", {}, "Id"), el("dd", {}, el("code", {}, p.id)),
        el("dt", {}, "Question"), el("dd", {}, p.question || "—"),
        el("dt", {}, "Source text"), el("dd", {}, el("details", {}, el("summary", {}, `${fmtInt(p.text.split(/\s+/).filter(Boolean).length)} words`), el("p", {}, p.text))),
        el("dt", {}, "Examples"), el("dd", { id: "prompt-examples-count" }, calibration.unavailable ? "—" : fmtInt(calibration.examples)),
        el("dt", {}, "Calibration"), el("dd", {}, calibration.unavailable ? calibration.unavailable : `error ${estimateText(calibration)} (without → with), model v${calibration.model ? calibration.model.version : "?"}`)),
      status];

    if (!examples.ok) {
      parts.push(notice("error", errorMessage(examples, { notFound: "This server keeps no examples for prompts." })));
      root.replaceChildren(...parts);
      return;
    }
    const rows = examples.body.examples || [];
    const total = typeof examples.body.total === "number" ? examples.body.total : null;
    const targets = [...new Set(rows.flatMap((e) => Object.keys(e.scores || {})))];

    async function removeOne(example) {
      const ok = await confirmAction({ title: "Delete this example?", body: "The prompt’s calibration is refitted without it.", confirm: "Delete example", danger: true });
      if (!ok) return;
      const result = await admin.api("DELETE", `/api/v1/prompts/${encodeURIComponent(id)}/examples/${encodeURIComponent(example.id)}`);
      if (!result.ok) {
        status.replaceChildren(notice("error", errorMessage(result)));
        return;
      }
      await showPrompt(id, offset);
      root.querySelector("#examples-status").replaceChildren(notice("success", "Deleted the example; the calibration was refitted."));
    }

    async function removeAll() {
      const ok = await confirmAction({ title: `Delete every example of “${p.title || p.id}”?`, body: "Its grades go back to the model’s own scores, uncalibrated.", confirm: "Delete all examples", danger: true });
      if (!ok) return;
      const result = await admin.api("DELETE", `/api/v1/prompts/${encodeURIComponent(id)}/examples`);
      if (!result.ok) {
        status.replaceChildren(notice("error", errorMessage(result)));
        return;
      }
      await showPrompt(id, 0);
      root.querySelector("#examples-status").replaceChildren(notice("success", "Deleted every example; this prompt is no longer calibrated."));
    }

    parts.push(el("div", { class: "result-head" }, el("h3", {}, "Teacher-graded examples"),
      el("div", { class: "actions" },
        el("a", { class: "button secondary small", href: `/api/v1/prompts/${encodeURIComponent(id)}/examples.csv`, download: `${id}-examples.csv` }, "Download as CSV"),
        rows.length ? el("button", { type: "button", class: "danger small", id: "delete-all-examples", onclick: removeAll }, "Delete all") : null)));
    if (rows.length === 0) {
      parts.push(el("p", { class: "muted" }, "No examples yet. Teachers add them with “Correct this grade” on the grading page."));
    } else {
      parts.push(el("div", { class: "table-wrap" }, el("table", { id: "examples-table" },
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Essay"), targets.map((t) => el("th", { class: "num", scope: "col" }, t)), el("th", { scope: "col" }, "Added"), el("th", { scope: "col" }, el("span", { class: "visually-hidden" }, "Actions")))),
        el("tbody", {}, rows.map((e) => el("tr", { "data-example": e.id },
          el("td", {}, el("details", {}, el("summary", {}, `${e.essay.slice(0, 80)}${e.essay.length > 80 ? "…" : ""}`), el("p", {}, e.essay))),
          targets.map((t) => el("td", { class: "num" }, fmt((e.scores || {})[t]))),
          el("td", {}, fmtTime(e.created_at)),
          el("td", {}, el("button", { type: "button", class: "danger small", "aria-label": "Delete this example", onclick: () => removeOne(e) }, "Delete"))))))));
      const pager = el("div", { class: "actions" });
      if (offset > 0) pager.append(el("button", { type: "button", class: "secondary small", onclick: () => showPrompt(id, Math.max(0, offset - PAGE)) }, "Newer"));
      if (rows.length === PAGE && (total === null || offset + PAGE < total)) pager.append(el("button", { type: "button", class: "secondary small", onclick: () => showPrompt(id, offset + PAGE) }, "Older"));
      pager.append(el("span", { class: "hint" }, `Examples ${offset + 1} to ${offset + rows.length}${total !== null ? ` of ${fmtInt(total)}` : ""}.`));
      parts.push(pager);
    }
    root.replaceChildren(...parts);
  }

  return {
    async show(id) {
      if (id) await showPrompt(id);
      else await showList();
    },
  };
}
