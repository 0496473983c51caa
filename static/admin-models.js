// /admin#models: every model version side by side, with its cross-validated
// and in-sample figures and the dataset it learned from; the activation
// history; and one-click activate and roll back, each after a confirmation
// (POST /api/v1/models/{id}/activate: the swap drops no request).

"use strict";

import { confirmAction, el, errorMessage, fmt, fmtInt, fmtTime, notice } from "./app.js";

// A model's figures, whatever produced it: a train job stores
// {in_sample, cv?, rows, prompts}; the built-in model its training summary
// {metrics, rows, prompts}.
function figures(model) {
  const m = model.metrics || {};
  const inSample = m.in_sample || m.metrics || null;
  const cv = m.cv ? m.cv.pooled : null;
  return { inSample, cv, rows: m.rows, prompts: m.prompts || [] };
}

export function createSection(root, admin) {
  const status = el("div", { id: "models-status", "aria-live": "polite" });

  async function activate(model, verb) {
    const ok = await confirmAction({
      title: `${verb} version ${model.version}?`,
      body: `Grading switches to model version ${model.version} at once, for every page and API client. Requests already being graded finish on the current model.`,
      confirm: `${verb} version ${model.version}`,
    });
    if (!ok) return;
    const result = await admin.api("POST", `/api/v1/models/${encodeURIComponent(model.id)}/activate`);
    if (!result.ok) {
      status.replaceChildren(notice("error", el("strong", {}, `Could not activate version ${model.version}: `), errorMessage(result)));
      return;
    }
    await render();
    status.replaceChildren(notice("success", `Version ${model.version} is grading now.`));
  }

  async function render() {
    const [models, history, datasets] = await Promise.all([
      admin.api("GET", "/api/v1/models"),
      admin.api("GET", "/api/v1/models/activations"),
      admin.api("GET", "/api/v1/datasets"),
    ]);
    if (!models.ok) {
      root.replaceChildren(el("h2", {}, "Models"), notice("error", errorMessage(models)));
      return;
    }
    const list = models.body.models;
    const byId = new Map(list.map((m) => [m.id, m]));
    const names = new Map(datasets.ok ? datasets.body.datasets.map((d) => [d.id, d.name]) : []);
    const activations = history.ok ? history.body.activations : [];
    const active = list.find((m) => m.active);
    const latest = activations[0];
    const previous = latest && latest.previous_model_id ? byId.get(latest.previous_model_id) : null;

    const targets = [...new Set(list.flatMap((m) => {
      const f = figures(m);
      return Object.keys(((f.cv || f.inSample || {}).targets) || {});
    }))];

    const table = el("div", { class: "table-wrap" }, el("table", { id: "models-table" },
      el("thead", {}, el("tr", {},
        el("th", { scope: "col" }, "Version"),
        el("th", { scope: "col" }, "Learned from"),
        el("th", { class: "num", scope: "col" }, "CV MCRMSE"),
        targets.map((t) => el("th", { class: "num", scope: "col" }, `CV ${t} RMSE`)),
        el("th", { class: "num", scope: "col" }, "In-sample MCRMSE"),
        el("th", { scope: "col" }, "Registered"),
        el("th", { scope: "col" }, el("span", { class: "visually-hidden" }, "Actions")))),
      el("tbody", {}, list.map((m) => {
        const f = figures(m);
        const source = m.source === "default"
          ? "built-in default model"
          : m.dataset_id ? names.get(m.dataset_id) || `dataset ${m.dataset_id.slice(0, 8)} (deleted)` : "—";
        const button = m.active
          ? el("span", { class: "badge active" }, "grading now")
          : el("button", { type: "button", class: "secondary small", "aria-label": `Activate version ${m.version}`, onclick: () => activate(m, "Activate") }, "Activate");
        return el("tr", { class: m.active ? "highlight" : "", "data-version": String(m.version) },
          el("th", { scope: "row" }, `v${m.version}`, m.active ? el("span", { class: "visually-hidden" }, " (active)") : null),
          el("td", {}, source, f.rows ? el("div", { class: "muted small" }, `${fmtInt(f.rows)} essays, ${f.prompts.length} prompt${f.prompts.length === 1 ? "" : "s"}`) : null),
          el("td", { class: "num" }, f.cv ? fmt(f.cv.mcrmse, 4) : el("span", { class: "muted", title: "Train with “cross-validate first” to get this figure" }, "not measured")),
          targets.map((t) => el("td", { class: "num" }, fmt(f.cv && f.cv.targets[t] ? f.cv.targets[t].rmse : undefined, 4))),
          el("td", { class: "num" }, fmt(f.inSample ? f.inSample.mcrmse : undefined, 4)),
          el("td", {}, fmtTime(m.created_at)),
          el("td", {}, button));
      }))));

    const rollback = previous && !previous.active
      ? el("div", { class: "actions" },
        el("button", { type: "button", class: "secondary", id: "rollback", onclick: () => activate(previous, "Roll back to") }, `Roll back to version ${previous.version}`),
        el("span", { class: "hint" }, `The version that graded before v${active ? active.version : "?"}.`))
      : null;

    const historyTable = activations.length
      ? el("div", { class: "table-wrap" }, el("table", { id: "activations-table" },
        el("thead", {}, el("tr", {}, el("th", { class: "num", scope: "col" }, "#"), el("th", { scope: "col" }, "Activated"), el("th", { scope: "col" }, "Replaced"), el("th", { scope: "col" }, "When"))),
        el("tbody", {}, activations.map((a) => el("tr", {},
          el("td", { class: "num" }, String(a.seq)),
          el("td", {}, byId.has(a.model_id) ? `v${byId.get(a.model_id).version}` : a.model_id),
          el("td", {}, a.previous_model_id ? (byId.has(a.previous_model_id) ? `v${byId.get(a.previous_model_id).version}` : a.previous_model_id) : "—"),
          el("td", {}, fmtTime(a.activated_at)))))))
      : el("p", { class: "muted" }, "No activations yet.");

    root.replaceChildren(
      el("h2", {}, "Models"),
      el("p", { class: "muted" }, active ? `Version ${active.version} is grading now. CV MCRMSE is the honest figure (leave one prompt out): lower is better.` : "No model is active."),
      status,
      table,
      rollback,
      el("h3", {}, "Activation history"),
      historyTable);
  }

  return { show: render };
}
