// /admin#jobs: launch train, cv and sweep jobs, and follow them.
//
// The form covers what is changed most (layers with their width and
// activation, optimizer and learning rate, epochs, batch size, ensemble
// size; for a sweep its axes). The JSON editor below it holds the whole
// request, pre-filled from the form and the default config
// (GET /api/v1/train-options), so anything else can be changed there; the
// two stay in step both ways. The API's 422 field errors (`config.epochs`,
// `config.network.layers[1].units`, `grid.depths`) appear beside the
// control they name, and anything else beside the JSON editor.
//
// The list follows running jobs live over server-sent events
// (GET /api/v1/jobs/{id}/events), with a progress bar, where the job is
// (fold, epoch, loss), the time left, and a cancel button.

"use strict";

import { clearErrors, el, errorMessage, fmt, fmtDuration, fmtTime, notice, shortId, showErrors } from "./app.js";

// Streams followed at once: browsers allow six connections to a host over
// HTTP/1.1, and the page needs some for its own requests.
const MAX_STREAMS = 3;

function field(id, label, control, hint) {
  control.id = id;
  return el("div", { class: "field" }, el("label", { for: id }, label), control, hint ? el("p", { class: "hint" }, hint) : null);
}

function numberInput(dataField, attrs = {}) {
  return el("input", { type: "number", "data-field": dataField, inputmode: "decimal", ...attrs });
}

function list(text, parse) {
  return String(text).split(/[,\s]+/).filter(Boolean).map(parse);
}

// A sweep's grid errors arrive as one "grid" message of "axis: problem"
// parts; each part goes beside its axis.
function splitGridErrors(result) {
  const fields = result.body && result.body.error && result.body.error.fields;
  if (!fields || !fields.grid) return result;
  const axes = ["base", "depths", "units", "activations", "optimizers", "baselines", "feature_sets", "feature_k"];
  const rest = [];
  for (const part of fields.grid.split("; ")) {
    const axis = axes.find((a) => part.startsWith(`${a}:`) || part.startsWith(`${a}[`));
    if (axis) {
      const key = `grid.${axis}`;
      fields[key] = fields[key] ? `${fields[key]}; ${part.slice(part.indexOf(":") + 1).trim()}` : part.slice(part.indexOf(":") + 1).trim();
    } else {
      rest.push(part);
    }
  }
  if (rest.length) fields.grid = rest.join("; ");
  else delete fields.grid;
  return result;
}

export function createSection(root, admin) {
  let options = null;
  const streams = new Map();
  let pollTimer = null;
  let models = new Map();
  let datasetNames = new Map();

  // ---- the form ----
  const kind = el("select", { "data-field": "kind" },
    el("option", { value: "train" }, "Train a model on every essay"),
    el("option", { value: "cv" }, "Cross-validate a config"),
    el("option", { value: "sweep" }, "Sweep a grid of configs"));
  const dataset = el("select", { "data-field": "dataset_id" });
  const cvFirst = el("input", { type: "checkbox", "data-field": "cv", id: "job-cv-first" });
  const folds = el("input", { type: "text", "data-field": "folds", placeholder: "prompt", autocomplete: "off" });
  const modelKind = el("select", { "data-field": "model_kind" });
  const layers = el("div", { class: "layers", "data-field": "config.network.layers" });
  const addLayer = el("button", { type: "button", class: "secondary small", id: "add-layer" }, "Add a layer");
  const optimizer = el("select", { "data-field": "config.optimizer" });
  const lr = numberInput("config.optimizer.lr", { step: "any", min: "0" });
  const epochs = numberInput("config.epochs", { step: "1", min: "1" });
  const batch = numberInput("config.batch_size", { step: "1", min: "1" });
  const ensemble = numberInput("config.ensemble", { step: "1", min: "1" });
  const depths = el("input", { type: "text", "data-field": "grid.depths", autocomplete: "off" });
  const units = el("input", { type: "text", "data-field": "grid.units", autocomplete: "off" });
  const sweepActivations = el("div", { class: "choice-row", "data-field": "grid.activations", id: "grid-activations", tabindex: "-1" });
  const sweepOptimizer = el("select", { "data-field": "grid.optimizers" });
  const lrs = el("input", { type: "text", "data-field": "grid.optimizers.lrs", autocomplete: "off" });
  const baselines = el("div", { class: "choice-row", "data-field": "grid.baselines", id: "grid-baselines", tabindex: "-1" });
  const json = el("textarea", {
    class: "code", id: "job-json", spellcheck: "false", rows: "18",
    "data-field": "request", "data-field-prefix": "config grid folds cv model_kind kind",
    "aria-describedby": "job-json-hint",
  });
  const jsonProblem = el("p", { class: "field-error", id: "job-json-problem", hidden: true });
  const submit = el("button", { type: "submit", id: "launch-job" }, "Launch job");
  const launchStatus = el("div", { id: "launch-status", "aria-live": "polite" });

  const trainOnly = el("div", { class: "field", "data-for": "train" },
    el("label", { class: "choice", for: "job-cv-first" }, cvFirst, "Cross-validate the config first (leave one prompt out), so the new version comes with honest figures"));
  const cvOnly = el("div", { class: "grid-2", "data-for": "cv" },
    field("job-folds", "Folds", folds, "“prompt” leaves one prompt out at a time; a number K makes K random folds."),
    field("job-model-kind", "Model", modelKind));
  const network = el("fieldset", { class: "card", "data-for": "train cv" },
    el("legend", {}, "Network"),
    el("p", { class: "hint" }, "Hidden layers, first to last: each with its width (units) and activation."),
    layers,
    el("div", { class: "actions" }, addLayer),
    el("div", { class: "grid-2" },
      field("job-optimizer", "Optimizer", optimizer),
      field("job-lr", "Learning rate", lr)));
  const sweep = el("fieldset", { class: "card", "data-for": "sweep", "data-field": "grid" },
    el("legend", {}, "Grid"),
    el("p", { class: "hint" }, "Every combination of depth, activation and learning rate is cross-validated, leaving one prompt out."),
    el("div", { class: "grid-2" },
      field("grid-depths", "Depths (hidden layers)", depths, "Comma-separated, such as 1, 2, 3."),
      field("grid-units", "Width of each layer", units, "Layer i uses the i-th width, the last one repeating.")),
    el("div", { class: "field" }, el("span", { class: "label", id: "grid-activations-label" }, "Activations"), sweepActivations),
    el("div", { class: "grid-2" },
      field("grid-optimizer", "Optimizer", sweepOptimizer),
      field("grid-lrs", "Learning rates", lrs, "Comma-separated, such as 0.003, 0.01.")),
    el("div", { class: "field" }, el("span", { class: "label" }, "Also run these other algorithms on the same folds"), baselines));
  const common = el("div", { class: "grid-3" },
    field("job-epochs", "Epochs", epochs),
    field("job-batch", "Batch size", batch),
    field("job-ensemble", "Ensemble size", ensemble, "Networks trained from different seeds and averaged."));

  const form = el("form", { class: "card", id: "job-form", novalidate: true, "aria-labelledby": "job-form-title" },
    el("h3", { class: "card-title", id: "job-form-title" }, "Launch a job"),
    el("div", { class: "grid-2" }, field("job-kind", "Job", kind), field("job-dataset", "Dataset", dataset)),
    trainOnly,
    cvOnly,
    network,
    sweep,
    common,
    el("details", { class: "field", id: "job-json-details" },
      el("summary", {}, "The whole request as JSON"),
      el("p", { class: "hint", id: "job-json-hint" }, "Pre-filled from the form and the default config; change anything else here. The form and this text stay in step."),
      el("label", { for: "job-json", class: "visually-hidden" }, "Job request JSON"),
      json,
      jsonProblem),
    el("div", { class: "form-errors notice error", hidden: true }),
    el("div", { class: "actions" }, submit),
    launchStatus);

  const jobsList = el("div", { id: "jobs-list", "aria-live": "polite" });
  root.append(el("h2", {}, "Jobs"), form, el("h3", {}, "Recent jobs"), jobsList);

  // ---- form <-> JSON ----
  let request = {};

  function layerRow(layer, i) {
    const unitsInput = numberInput(`config.network.layers[${i}].units`, {
      step: "1", min: "1", max: String(options.bounds.max_units_per_layer), value: String(layer.units || 16), id: `layer-${i}-units`,
    });
    const act = el("select", { "data-field": `config.network.layers[${i}].activation`, id: `layer-${i}-activation` },
      [...options.activations, "maxout"].map((a) => el("option", { value: a }, a)));
    act.value = layer.kind === "maxout" ? "maxout" : layer.activation || "relu";
    const remove = el("button", { type: "button", class: "danger small remove", "aria-label": `Remove layer ${i + 1}` }, "Remove");
    remove.addEventListener("click", () => {
      const current = readLayers();
      current.splice(i, 1);
      renderLayers(current);
      fromForm();
    });
    unitsInput.addEventListener("input", fromForm);
    act.addEventListener("change", fromForm);
    return el("div", { class: "layer-row" },
      el("span", { class: "index", "aria-hidden": "true" }, String(i + 1)),
      el("div", {}, el("label", { for: unitsInput.id, class: "small" }, `Layer ${i + 1} units`), unitsInput),
      el("div", {}, el("label", { for: act.id, class: "small" }, `Layer ${i + 1} activation`), act),
      remove);
  }

  // The server's bounds (GET /api/v1/train-options) are the inputs' limits;
  // the server still checks them and names any field over one.
  function renderLayers(specs) {
    layers.replaceChildren(...specs.map(layerRow));
    addLayer.disabled = specs.length >= options.bounds.max_layers;
  }

  // The layers as the form shows them, keeping the JSON's other keys
  // (an ELU's alpha, say) while the activation stays the same.
  function readLayers() {
    const before = (((request.config || {}).network || {}).layers) || [];
    return [...layers.querySelectorAll(".layer-row")].map((row, i) => {
      const unitsValue = Number(row.querySelector("input").value);
      const activation = row.querySelector("select").value;
      const old = before[i] || {};
      const same = activation === "maxout" ? old.kind === "maxout" : old.activation === activation && old.kind !== "maxout";
      if (activation === "maxout") return { ...(same ? old : {}), kind: "maxout", units: unitsValue, pieces: (same && old.pieces) || 2 };
      const layer = same ? { ...old } : {};
      delete layer.kind;
      return { ...layer, units: unitsValue, activation };
    });
  }

  function showFor(k) {
    for (const node of form.querySelectorAll("[data-for]")) node.hidden = !node.dataset.for.split(" ").includes(k);
  }

  function numberOrText(input) {
    const v = input.value.trim();
    return v === "" ? undefined : Number(v);
  }

  function defaultGrid() {
    const base = options.default_config;
    return {
      base: { epochs: base.epochs, batch_size: base.batch_size, ensemble: base.ensemble },
      depths: [1, 2],
      units: [32, 16],
      activations: ["relu", "elu"],
      optimizers: [{ name: base.optimizer.name, lrs: [base.optimizer.lr] }],
      baselines: [],
    };
  }

  // Writes the form's values into the request and shows it as JSON.
  function fromForm() {
    const k = kind.value;
    request.kind = k;
    request.dataset_id = dataset.value;
    if (k === "sweep") {
      delete request.config;
      delete request.cv;
      delete request.folds;
      delete request.model_kind;
      const grid = request.grid || defaultGrid();
      grid.base = { ...(grid.base || {}), epochs: numberOrText(epochs), batch_size: numberOrText(batch), ensemble: numberOrText(ensemble) };
      grid.depths = list(depths.value, Number);
      grid.units = list(units.value, Number);
      grid.activations = [...sweepActivations.querySelectorAll("input:checked")].map((i) => i.value);
      grid.optimizers = [{ name: sweepOptimizer.value, lrs: list(lrs.value, Number) }];
      grid.baselines = [...baselines.querySelectorAll("input:checked")].map((i) => i.value);
      request.grid = grid;
    } else {
      delete request.grid;
      const config = request.config || structuredClone(options.default_config);
      config.network = { ...(config.network || {}), layers: readLayers() };
      const previous = config.optimizer || {};
      config.optimizer = previous.name === optimizer.value ? { ...previous } : { name: optimizer.value };
      config.optimizer.lr = numberOrText(lr);
      config.epochs = numberOrText(epochs);
      config.batch_size = numberOrText(batch);
      config.ensemble = numberOrText(ensemble);
      request.config = config;
      if (k === "train") {
        delete request.folds;
        delete request.model_kind;
        if (cvFirst.checked) request.cv = true;
        else delete request.cv;
      } else {
        delete request.cv;
        const f = folds.value.trim();
        if (f === "" || f === "prompt") delete request.folds;
        else request.folds = /^\d+$/.test(f) ? Number(f) : f;
        request.model_kind = modelKind.value;
      }
    }
    json.value = JSON.stringify(request, null, 2);
    jsonProblem.hidden = true;
    json.removeAttribute("aria-invalid");
  }

  // Reads the JSON editor back into the form; false when it is not JSON.
  function fromJson() {
    let parsed;
    try {
      parsed = JSON.parse(json.value);
    } catch (err) {
      jsonProblem.textContent = `This is not valid JSON (${err.message}); the form keeps its values until it is.`;
      jsonProblem.hidden = false;
      json.setAttribute("aria-invalid", "true");
      return false;
    }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
      jsonProblem.textContent = "The request must be a JSON object.";
      jsonProblem.hidden = false;
      json.setAttribute("aria-invalid", "true");
      return false;
    }
    jsonProblem.hidden = true;
    json.removeAttribute("aria-invalid");
    request = parsed;
    if (["train", "cv", "sweep"].includes(parsed.kind)) kind.value = parsed.kind;
    if (parsed.dataset_id !== undefined) dataset.value = parsed.dataset_id;
    showFor(kind.value);
    if (kind.value === "sweep") {
      const grid = parsed.grid || {};
      const base = grid.base || {};
      epochs.value = base.epochs ?? "";
      batch.value = base.batch_size ?? "";
      ensemble.value = base.ensemble ?? "";
      depths.value = (grid.depths || []).join(", ");
      units.value = (grid.units || []).join(", ");
      for (const box of sweepActivations.querySelectorAll("input")) box.checked = (grid.activations || []).includes(box.value);
      const axis = (grid.optimizers || [])[0] || {};
      if (axis.name) sweepOptimizer.value = axis.name;
      lrs.value = (axis.lrs || []).join(", ");
      for (const box of baselines.querySelectorAll("input")) box.checked = (grid.baselines || []).includes(box.value);
    } else {
      const config = parsed.config || {};
      renderLayers(((config.network || {}).layers) || []);
      if (config.optimizer && config.optimizer.name) optimizer.value = config.optimizer.name;
      lr.value = (config.optimizer || {}).lr ?? "";
      epochs.value = config.epochs ?? "";
      batch.value = config.batch_size ?? "";
      ensemble.value = config.ensemble ?? "";
      cvFirst.checked = parsed.cv === true;
      folds.value = parsed.folds === undefined ? "prompt" : String(parsed.folds);
      if (parsed.model_kind) modelKind.value = parsed.model_kind;
    }
    return true;
  }

  function fillForm() {
    const d = options.default_config;
    optimizer.replaceChildren(...options.optimizers.map((o) => el("option", { value: o }, o)));
    sweepOptimizer.replaceChildren(...options.optimizers.map((o) => el("option", { value: o }, o)));
    modelKind.replaceChildren(...options.model_kinds.map((m) => el("option", { value: m }, m)));
    sweepActivations.setAttribute("aria-labelledby", "grid-activations-label");
    sweepActivations.replaceChildren(...[...options.activations, "maxout"].map((a) =>
      el("label", { class: "choice" }, el("input", { type: "checkbox", value: a, onchange: fromForm }), a)));
    baselines.replaceChildren(...options.model_kinds.filter((m) => m !== "mlp").map((m) =>
      el("label", { class: "choice" }, el("input", { type: "checkbox", value: m, onchange: fromForm }), m)));
    request = { kind: "train", dataset_id: dataset.value, config: structuredClone(d) };
    renderLayers(d.network.layers);
    optimizer.value = d.optimizer.name;
    lr.value = d.optimizer.lr;
    epochs.value = d.epochs;
    batch.value = d.batch_size;
    ensemble.value = d.ensemble;
    epochs.max = String(options.bounds.max_epochs);
    ensemble.max = String(options.bounds.max_ensemble);
    folds.value = "prompt";
    const grid = defaultGrid();
    depths.value = grid.depths.join(", ");
    units.value = grid.units.join(", ");
    for (const box of sweepActivations.querySelectorAll("input")) box.checked = grid.activations.includes(box.value);
    sweepOptimizer.value = grid.optimizers[0].name;
    lrs.value = grid.optimizers[0].lrs.join(", ");
    showFor("train");
    fromForm();
  }

  for (const control of [dataset, cvFirst, folds, modelKind, optimizer, lr, epochs, batch, ensemble, depths, units, sweepOptimizer, lrs]) {
    control.addEventListener(control.tagName === "SELECT" || control.type === "checkbox" ? "change" : "input", fromForm);
  }
  kind.addEventListener("change", () => {
    showFor(kind.value);
    fromForm();
  });
  addLayer.addEventListener("click", () => {
    const current = readLayers();
    const last = current[current.length - 1] || { units: 16, activation: "relu" };
    renderLayers([...current, { units: last.units, activation: last.kind === "maxout" ? "relu" : last.activation }]);
    fromForm();
    layers.querySelector(".layer-row:last-child input").focus();
  });
  json.addEventListener("change", fromJson);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    launchStatus.replaceChildren();
    // The JSON is what is sent: read it first, in case it was just edited.
    if (!fromJson()) {
      json.closest("details").open = true;
      json.focus();
      return;
    }
    submit.disabled = true;
    const result = await admin.api("POST", "/api/v1/jobs", { json: request });
    submit.disabled = false;
    if (!result.ok) {
      const withGrid = splitGridErrors(result);
      const first = showErrors(form, withGrid, { notFound: "That dataset no longer exists. Reload the page and choose another." });
      if (first === json) json.closest("details").open = true;
      return;
    }
    launchStatus.replaceChildren(notice("success", `Queued ${request.kind} job ${shortId(result.body.id)}. Its progress is below.`));
    await refreshJobs();
  });

  // ---- the jobs list ----

  function where(progress, jobKind) {
    if (!progress) return "";
    const parts = [];
    if (progress.phase === "cv") parts.push("cross-validating");
    if (progress.phase === "final") parts.push("final training");
    if (progress.cell !== undefined && progress.cell !== null) parts.push(`run ${progress.cell + 1}`);
    if (progress.folds > 1 || jobKind !== "train") parts.push(`fold ${progress.fold} of ${progress.folds}`);
    if (progress.members > 1) parts.push(`member ${progress.member} of ${progress.members}`);
    parts.push(`epoch ${progress.epoch} of ${progress.epochs}`);
    if (typeof progress.train_loss === "number") parts.push(`loss ${fmt(progress.train_loss, 3)}`);
    if (typeof progress.val_loss === "number") parts.push(`validation ${fmt(progress.val_loss, 3)}`);
    return parts.join(" · ");
  }

  function progressCell(job) {
    const bar = el("progress", { max: "1", value: "0", "aria-label": `Progress of job ${shortId(job.id)}` });
    const text = el("div", { class: "progress-line" });
    const cell = el("div", { class: "job-progress" }, bar, text);
    updateProgress(cell, job);
    return cell;
  }

  function updateProgress(cell, job) {
    const bar = cell.querySelector("progress");
    const text = cell.querySelector(".progress-line");
    const p = job.progress;
    const fraction = job.status === "succeeded" ? 1 : p && typeof p.fraction_done === "number" ? p.fraction_done : 0;
    bar.value = fraction;
    bar.classList.toggle("done", job.status === "succeeded");
    bar.classList.toggle("failed", job.status === "failed");
    const left = job.status === "running" && p && typeof p.eta_s === "number" ? `about ${fmtDuration(p.eta_s)} left` : "";
    const pieces = [`${Math.round(fraction * 100)}%`, where(p, job.kind), left].filter(Boolean);
    text.replaceChildren(...pieces.map((t) => el("span", {}, t)));
  }

  function statusBadge(status) {
    return el("span", { class: `badge ${status}`, "data-status": status }, status);
  }

  function actions(job) {
    const out = el("div", { class: "actions" });
    if (job.status === "queued" || job.status === "running") {
      const cancel = el("button", { type: "button", class: "danger small", "aria-label": `Cancel job ${shortId(job.id)}` }, job.cancel_requested ? "Cancelling…" : "Cancel");
      cancel.disabled = job.cancel_requested;
      cancel.addEventListener("click", async () => {
        cancel.disabled = true;
        const result = await admin.api("POST", `/api/v1/jobs/${encodeURIComponent(job.id)}/cancel`);
        if (!result.ok && result.status !== 409) {
          cancel.disabled = false;
          launchStatus.replaceChildren(notice("error", errorMessage(result)));
        }
        await refreshJobs();
      });
      out.append(cancel);
    }
    if (job.status !== "queued") out.append(el("a", { class: "button secondary small", href: `#run/${encodeURIComponent(job.run_id)}` }, "Open run"));
    if (job.model_id) {
      const m = models.get(job.model_id);
      out.append(el("a", { class: "button secondary small", href: "#models" }, m ? `Model version ${m.version}` : "Its model"));
    }
    return out;
  }

  function jobRow(job) {
    const row = el("tr", { "data-job": job.id, "data-kind": job.kind },
      el("td", {}, el("strong", {}, job.kind), el("div", { class: "muted small" }, fmtTime(job.created_at))),
      el("td", {}, datasetNames.get(job.dataset_id) || shortId(job.dataset_id)),
      el("td", { class: "status" }, statusBadge(job.status), job.error ? el("div", { class: "field-error job-error" }, job.error) : null),
      el("td", { class: "progress" }, progressCell(job)),
      el("td", { class: "job-actions" }, actions(job)));
    return row;
  }

  function follow(job) {
    if (streams.has(job.id) || streams.size >= MAX_STREAMS) return;
    const source = new EventSource(job.links.events);
    streams.set(job.id, source);
    const apply = (event) => {
      const snapshot = JSON.parse(event.data);
      const row = jobsList.querySelector(`tr[data-job="${snapshot.id}"]`);
      if (!row) return;
      const job2 = { ...job, ...snapshot };
      row.querySelector("td.status").replaceChildren(statusBadge(job2.status), job2.error ? el("div", { class: "field-error job-error" }, job2.error) : null);
      updateProgress(row.querySelector(".job-progress"), job2);
      return job2;
    };
    source.addEventListener("progress", (event) => {
      const next = apply(event);
      if (next && next.status === "running" && job.status === "queued") {
        job.status = "running";
        row().querySelector("td.job-actions").replaceChildren(actions(next));
      }
    });
    const row = () => jobsList.querySelector(`tr[data-job="${job.id}"]`);
    source.addEventListener("end", async (event) => {
      apply(event);
      source.close();
      streams.delete(job.id);
      await refreshJobs();
    });
    // A stream the server refused (429: the session's streams are all open
    // elsewhere) is not retried by the browser: poll instead, which tries
    // the stream again on each refresh.
    source.addEventListener("error", () => {
      if (source.readyState !== EventSource.CLOSED) return;
      streams.delete(job.id);
      clearTimeout(pollTimer);
      pollTimer = setTimeout(refreshJobs, 3000);
    });
  }

  function stopFollowing() {
    for (const source of streams.values()) source.close();
    streams.clear();
    clearTimeout(pollTimer);
    pollTimer = null;
  }

  async function refreshJobs() {
    const [jobs, modelList, datasets] = await Promise.all([
      admin.api("GET", "/api/v1/jobs?limit=50"),
      admin.api("GET", "/api/v1/models"),
      admin.api("GET", "/api/v1/datasets"),
    ]);
    if (!jobs.ok) {
      jobsList.replaceChildren(notice("error", errorMessage(jobs)));
      return;
    }
    if (modelList.ok) models = new Map(modelList.body.models.map((m) => [m.id, m]));
    if (datasets.ok) datasetNames = new Map(datasets.body.datasets.map((d) => [d.id, d.name]));
    const rows = jobs.body.jobs;
    if (rows.length === 0) {
      jobsList.replaceChildren(el("p", { class: "muted" }, "No jobs yet."));
      return;
    }
    jobsList.replaceChildren(el("div", { class: "table-wrap" }, el("table", { id: "jobs-table" },
      el("thead", {}, el("tr", {}, el("th", {}, "Job"), el("th", {}, "Dataset"), el("th", {}, "Status"), el("th", {}, "Progress"), el("th", {}, el("span", { class: "visually-hidden" }, "Actions")))),
      el("tbody", {}, rows.map(jobRow)))));
    const active = rows.filter((j) => j.status === "queued" || j.status === "running");
    for (const job of active) follow(job);
    // Jobs beyond the streams' limit are polled instead.
    clearTimeout(pollTimer);
    if (active.some((j) => !streams.has(j.id))) pollTimer = setTimeout(refreshJobs, 3000);
  }

  async function fillDatasets() {
    const result = await admin.api("GET", "/api/v1/datasets");
    const chosen = dataset.value;
    dataset.replaceChildren();
    if (!result.ok || result.body.datasets.length === 0) {
      dataset.append(el("option", { value: "" }, "(no datasets: upload one under Datasets)"));
      return;
    }
    for (const d of result.body.datasets) dataset.append(el("option", { value: d.id }, `${d.name} (${d.rows} essays)`));
    if (chosen && [...dataset.options].some((o) => o.value === chosen)) dataset.value = chosen;
  }

  return {
    async show() {
      if (!options) {
        const result = await admin.api("GET", "/api/v1/train-options");
        if (!result.ok) {
          root.replaceChildren(notice("error", errorMessage(result)));
          return;
        }
        options = result.body;
        await fillDatasets();
        fillForm();
      } else {
        await fillDatasets();
        fromForm();
      }
      await refreshJobs();
    },
    hide: stopFollowing,
  };
}
