// /admin#runs and #run/<id>: what each job's run recorded.
//
// The list is the jobs' runs, newest first. A run shows its facts, its
// metrics table (in-sample and cross-validated, per fold and pooled), its
// loss curves per fold, training against validation (an SVG the server
// draws: GET /api/v1/runs/{id}/curves.svg), and for a sweep the comparison
// plots (GET /api/v1/runs/{id}/plots) and the ranked table of its cells.

"use strict";

import { el, errorMessage, fmt, fmtDuration, fmtInt, fmtTime, notice, shortId } from "./app.js";

// Metrics objects: {n, mcrmse, targets: {name: {rmse, mae, r2, pearson, qwk, accuracy, auc}}}.
function metricsTable(rows, id) {
  const targets = [...new Set(rows.flatMap(([, m]) => Object.keys((m && m.targets) || {})))];
  const hasQwk = rows.some(([, m]) => Object.values((m && m.targets) || {}).some((t) => typeof t.qwk === "number"));
  const head = el("tr", {}, el("th", { scope: "col" }, "Scope"), el("th", { class: "num", scope: "col" }, "Essays"), el("th", { class: "num", scope: "col" }, "MCRMSE"),
    targets.map((t) => el("th", { class: "num", scope: "col" }, `${t} RMSE`)),
    targets.map((t) => el("th", { class: "num", scope: "col" }, `${t} r`)),
    hasQwk ? targets.map((t) => el("th", { class: "num", scope: "col" }, `${t} QWK`)) : []);
  const body = rows.map(([label, m]) => el("tr", {},
    el("th", { scope: "row" }, label),
    el("td", { class: "num" }, fmtInt(m.n)),
    el("td", { class: "num" }, fmt(m.mcrmse, 4)),
    targets.map((t) => el("td", { class: "num" }, fmt(((m.targets || {})[t] || {}).rmse, 4))),
    targets.map((t) => el("td", { class: "num" }, fmt(((m.targets || {})[t] || {}).pearson, 3))),
    hasQwk ? targets.map((t) => el("td", { class: "num" }, fmt(((m.targets || {})[t] || {}).qwk, 3))) : []));
  return el("div", { class: "table-wrap" }, el("table", { id }, el("thead", {}, head), el("tbody", {}, body)));
}

function cvRows(report, prefix) {
  return [
    [`${prefix}pooled`, report.pooled],
    ...report.folds.map((f) => [`${prefix}held out ${f.held_out}`, f]),
  ];
}

function sweepTable(title, runs, id) {
  if (!runs || runs.length === 0) return [];
  const targets = [...new Set(runs.flatMap((r) => (r.target_rmse || []).map(([t]) => t)))];
  const head = el("tr", {}, el("th", { class: "num", scope: "col" }, "Rank"), el("th", { scope: "col" }, "Run"),
    el("th", { class: "num", scope: "col" }, "MCRMSE"), el("th", { class: "num", scope: "col" }, "Worst fold"),
    targets.map((t) => el("th", { class: "num", scope: "col" }, `${t} RMSE`)), el("th", { class: "num", scope: "col" }, "Seconds"));
  const body = runs.map((r, i) => {
    const c = r.cell;
    const label = c ? `${c.depth} × ${c.activation}, ${c.optimizer} lr ${c.lr}` : r.label || r.kind;
    const worst = (r.folds || []).reduce((m, [, v]) => Math.max(m, v), -Infinity);
    return el("tr", { class: i === 0 && r.mcrmse !== null ? "highlight" : "" },
      el("td", { class: "num" }, String(i + 1)),
      el("td", {}, label, r.error ? el("div", { class: "field-error" }, r.error) : null),
      el("td", { class: "num" }, fmt(r.mcrmse, 4)),
      el("td", { class: "num" }, fmt(Number.isFinite(worst) ? worst : undefined, 4)),
      targets.map((t) => el("td", { class: "num" }, fmt(((r.target_rmse || []).find(([n]) => n === t) || [])[1], 4))),
      el("td", { class: "num" }, fmt(r.seconds, 1)));
  });
  return [el("h4", {}, title), el("div", { class: "table-wrap" }, el("table", { id }, el("thead", {}, head), el("tbody", {}, body)))];
}

export function createSection(root, admin) {
  async function showList() {
    const jobs = await admin.api("GET", "/api/v1/jobs?limit=100");
    if (!jobs.ok) {
      root.replaceChildren(el("h2", {}, "Runs"), notice("error", errorMessage(jobs)));
      return;
    }
    const runs = jobs.body.jobs.filter((j) => j.status !== "queued");
    root.replaceChildren(el("h2", {}, "Runs"),
      el("p", { class: "muted" }, "Every job writes a run: its config, metrics, timings and loss curves."),
      runs.length === 0
        ? el("p", { class: "muted" }, "No runs yet: launch a job under Jobs.")
        : el("div", { class: "table-wrap" }, el("table", { id: "runs-table" },
          el("thead", {}, el("tr", {}, el("th", {}, "Run"), el("th", {}, "Kind"), el("th", {}, "Status"), el("th", {}, "Started"))),
          el("tbody", {}, runs.map((j) => el("tr", {},
            el("td", {}, el("a", { href: `#run/${encodeURIComponent(j.run_id)}` }, `Run ${shortId(j.run_id)}`)),
            el("td", {}, j.kind),
            el("td", {}, el("span", { class: `badge ${j.status}` }, j.status)),
            el("td", {}, fmtTime(j.started_at))))))));
  }

  async function showRun(id) {
    const result = await admin.api("GET", `/api/v1/runs/${encodeURIComponent(id)}`);
    const back = el("p", {}, el("a", { href: "#runs" }, "← All runs"));
    if (!result.ok) {
      root.replaceChildren(back, notice("error", errorMessage(result, { notFound: "There is no such run." })));
      return;
    }
    const run = result.body;
    const dataset = await admin.api("GET", `/api/v1/datasets/${encodeURIComponent(run.dataset_id)}`);
    const datasetName = dataset.ok ? dataset.body.name : el("span", {}, el("code", {}, shortId(run.dataset_id)), " (deleted)");
    const seconds = run.timings && typeof run.timings.seconds === "number" ? fmtDuration(run.timings.seconds) : "—";
    const parts = [back,
      el("h2", { id: "run-title", tabindex: "-1" }, `${run.kind} run ${shortId(run.id)}`),
      el("dl", { class: "facts card" },
        el("dt", {}, "Status"), el("dd", {}, el("span", { class: `badge ${run.status}`, id: "run-status" }, run.status)),
        el("dt", {}, "Dataset"), el("dd", {}, datasetName),
        el("dt", {}, "Started"), el("dd", {}, fmtTime(run.started_at)),
        el("dt", {}, "Finished"), el("dd", {}, fmtTime(run.finished_at)),
        el("dt", {}, "Took"), el("dd", {}, seconds))];

    const m = run.metrics;
    if (m && run.kind === "train") {
      const rows = [];
      if (m.in_sample) rows.push(["in-sample (optimistic)", m.in_sample]);
      if (m.cv) rows.push(...cvRows(m.cv, "cross-validated, "));
      parts.push(el("h3", {}, "Metrics"), metricsTable(rows, "run-metrics"));
    } else if (m && run.kind === "cv") {
      parts.push(el("h3", {}, `Metrics (${m.model}, cross-validated)`), metricsTable(cvRows(m, ""), "run-metrics"));
    } else if (!m) {
      parts.push(notice("info", run.status === "running" ? "The metrics appear when the run ends." : "This run recorded no final metrics."));
    }

    if (run.kind !== "sweep") {
      const validation = run.config && run.config.early_stopping;
      parts.push(el("h3", {}, "Loss curves"),
        el("p", { class: "hint", id: "run-curves-hint" }, validation
          ? "Training against validation loss per epoch, one line per fold and ensemble member."
          : "Training loss per epoch, one line per fold and ensemble member. This config holds out no validation split (its early_stopping is null), so there is no validation line."),
        el("img", { class: "plot", id: "run-curves", src: run.links.curves, alt: `Loss curves of ${run.kind} run ${shortId(run.id)}: training and validation loss per epoch for each fold`, width: "800", height: "480" }));
    } else if (m) {
      const plots = await admin.api("GET", `/api/v1/runs/${encodeURIComponent(run.id)}/plots`);
      if (plots.ok && plots.body.plots.length) {
        parts.push(el("h3", {}, "Comparison plots"),
          el("div", { class: "plots", id: "run-plots" }, plots.body.plots.map((p) => el("figure", {},
            el("img", { class: "plot", src: p.href, alt: p.name.replace(/\.svg$/, "").replaceAll("_", " "), width: "800", height: "480" })))));
      }
      parts.push(el("h3", {}, "Ranked results"),
        ...sweepTable("Grid cells, best first", m.cells, "sweep-cells"),
        ...sweepTable("Other algorithms", m.baselines, "sweep-baselines"),
        ...sweepTable("Feature sets", m.feature_sets, "sweep-feature-sets"),
        ...sweepTable("Feature subset sizes", m.feature_k, "sweep-feature-k"));
    }
    parts.push(el("details", {}, el("summary", {}, "The config it used"), el("pre", { class: "json" }, JSON.stringify(run.config, null, 2))));
    root.replaceChildren(...parts);
    root.querySelector("#run-title").focus();
  }

  return {
    async show(id) {
      if (id) await showRun(id);
      else await showList();
    },
  };
}
