// /batch: grade a class from a CSV file.
//
// The file is read and parsed in the browser (csv.js); the page guesses
// which column holds the essays and which identifies the student, and lets
// the teacher change both. Grading goes through POST /api/v1/grade/batch in
// chunks, one request at a time, so the page stays responsive, shows
// progress after every chunk, and can be cancelled between (and during)
// requests. At the end it summarises the grades (a histogram per score, the
// failures with their reasons) and offers the same CSV back with columns
// added: each score, its percentile, the warnings, the model version, and
// the reason when a row could not be graded. Rows and their order are kept.

"use strict";

import { $, api, clearErrors, el, errorMessage, fmt, fmtInt, notice, setApiKey, showErrors, download } from "./app.js";
import { promptPicker } from "./prompt-picker.js";
import * as csv from "./csv.js";

// Essays per request: small enough that progress moves often and a cancel
// is quick, large enough that the server grades each chunk on all its cores.
const CHUNK = 100;

const form = $("batch-form");
const picker = promptPicker($("prompt-picker"));
const fileInput = $("csv-file");
const textColumn = $("text-column");
const idColumn = $("id-column");
const startButton = $("start-button");
const cancelButton = $("cancel-button");
const progress = $("batch-progress");
const progressText = $("progress-text");
const summary = $("summary");

// The parsed file: {name, header, rows, format}.
let file = null;
// The run in progress, if any: {controller, cancelled}.
let running = null;

const TEXT_NAMES = ["text", "essay", "summary", "response", "answer", "essay_text", "submission"];
const ID_NAMES = ["id", "student_id", "student", "essay_id", "student_name", "name", "pupil"];

// The column most likely to hold the essays: a well-known name, else one
// whose name mentions it, else the one with the longest cells.
export function guessTextColumn(header, rows) {
  const names = header.map((h) => h.trim().toLowerCase());
  for (const wanted of TEXT_NAMES) {
    const i = names.indexOf(wanted);
    if (i >= 0) return i;
  }
  const mention = names.findIndex((n) => /essay|text|summary|response|answer/.test(n) && !/(^|[_\s-])(id|no|number)$/.test(n));
  if (mention >= 0) return mention;
  let best = 0;
  let bestLength = -1;
  const sample = rows.slice(0, 50);
  header.forEach((_, i) => {
    const length = sample.reduce((sum, r) => sum + (r[i] || "").length, 0);
    if (length > bestLength) {
      best = i;
      bestLength = length;
    }
  });
  return best;
}

// The column most likely to identify each essay, or -1.
export function guessIdColumn(header, textIndex) {
  const names = header.map((h) => h.trim().toLowerCase());
  for (const wanted of ID_NAMES) {
    const i = names.indexOf(wanted);
    if (i >= 0 && i !== textIndex) return i;
  }
  return names.findIndex((n, i) => i !== textIndex && /(^|[_\s-])id$/.test(n));
}

function columnOptions(select, header, chosen, allowNone) {
  select.replaceChildren();
  if (allowNone) select.append(el("option", { value: "-1" }, "(none: use the row number)"));
  header.forEach((name, i) => select.append(el("option", { value: String(i) }, name || `(column ${i + 1})`)));
  select.value = String(chosen);
}

function showPreview() {
  const t = Number(textColumn.value);
  const id = Number(idColumn.value);
  const head = el("tr", {}, el("th", { scope: "col" }, id >= 0 ? file.header[id] : "row"), el("th", { scope: "col" }, file.header[t]));
  const body = file.rows.slice(0, 3).map((row, i) => el("tr", {},
    el("td", {}, id >= 0 ? row[id] || "" : String(i + 1)),
    el("td", { title: row[t] || "" }, (row[t] || "").slice(0, 140))));
  $("preview").replaceChildren(el("thead", {}, head), el("tbody", {}, body));
}

async function readFile() {
  clearErrors(form);
  summary.replaceChildren();
  file = null;
  $("columns").hidden = true;
  const chosen = fileInput.files && fileInput.files[0];
  if (!chosen) return;
  const text = await chosen.text();
  const parsed = csv.parse(text);
  if (parsed.header.length === 0 || parsed.rows.length === 0) {
    showErrors(form, { body: { error: { code: "invalid_request", message: "empty file", fields: { file: "holds no rows below its header row; is it a CSV file with a header?" } } } });
    return;
  }
  file = { name: chosen.name, ...parsed };
  const t = guessTextColumn(parsed.header, parsed.rows);
  columnOptions(textColumn, parsed.header, t, false);
  columnOptions(idColumn, parsed.header, guessIdColumn(parsed.header, t), true);
  $("file-summary").textContent = `${fmtInt(parsed.rows.length)} essays in ${chosen.name}, ${parsed.header.length} columns. Check the columns below.`;
  $("columns").hidden = false;
  showPreview();
}

function setProgress(done, total, failed, finished) {
  progress.max = Math.max(total, 1);
  progress.value = done;
  progress.classList.toggle("done", Boolean(finished));
  const left = total - done;
  const parts = [`${fmtInt(done)} of ${fmtInt(total)} done`, `${fmtInt(left)} left`, `${fmtInt(failed)} failed`];
  progressText.replaceChildren(...parts.map((p) => el("span", {}, p)));
  if (finished) progressText.prepend(el("strong", { id: "progress-finished" }, finished));
}

// One request for rows [start, end). Returns per-row outcomes, or throws a
// {stop: message} when grading cannot go on (no key, no model, ...).
async function gradeChunk(start, end, prompt, textIndex, signal) {
  const items = [];
  for (let i = start; i < end; i += 1) items.push({ ...prompt, essay: file.rows[i][textIndex] || "" });
  let answer;
  for (let attempt = 0; attempt < 2; attempt += 1) {
    answer = await api("POST", "/api/v1/grade/batch", { json: { items, explain: false }, signal });
    // A dropped connection or a server error is tried once more.
    if (answer.ok || (answer.status !== 0 && answer.status < 500)) break;
  }
  if (!answer.ok) {
    if ([401, 403, 422, 503].includes(answer.status) || answer.status === 0) {
      throw { stop: answer };
    }
    const reason = errorMessage(answer);
    return items.map(() => ({ error: reason }));
  }
  const results = answer.body.results;
  // Every essay failing on the prompt is a problem of the prompt, not of the essays.
  const promptProblem = (r) => r.error && Object.keys(r.error.fields || {}).length > 0
    && Object.keys(r.error.fields).every((path) => /^items\[\d+\]\.prompt/.test(path));
  if (results.length > 0 && results.every(promptProblem)) {
    throw { stop: { ok: false, status: 422, body: { error: results[0].error } } };
  }
  if (results.length > 0 && results.every((r) => r.error && r.error.code === "not_found")) {
    throw { stop: { ok: false, status: 404, body: { error: results[0].error } } };
  }
  return results.map((r) => (r.grade ? { grade: r.grade } : { error: plainItemError(r.error) }));
}

// "items[3].essay: must not be empty" -> "the essay must not be empty or only white space".
function plainItemError(error) {
  if (!error) return "not graded";
  const fields = Object.entries(error.fields || {});
  if (fields.length) {
    return fields.map(([path, problem]) => `${path.replace(/^items\[\d+\]\.?/, "") || "item"}: ${problem}`).join("; ");
  }
  return error.message || error.code;
}

async function run(event) {
  event.preventDefault();
  clearErrors(form);
  summary.replaceChildren();
  setApiKey($("api-key").value);
  if (!file) {
    showErrors(form, { body: { error: { code: "invalid_request", message: "no file", fields: { file: "choose a CSV file of essays first" } } } });
    return;
  }
  const prompt = picker.request();
  const textIndex = Number(textColumn.value);
  const total = file.rows.length;
  const outcomes = new Array(total);
  let done = 0;
  let failed = 0;
  running = { controller: new AbortController(), cancelled: false };
  startButton.disabled = true;
  cancelButton.hidden = false;
  cancelButton.disabled = false;
  $("progress-section").hidden = false;
  setProgress(0, total, 0, null);
  let stopped = null;
  const started = performance.now();
  try {
    for (let start = 0; start < total && !running.cancelled; start += CHUNK) {
      const end = Math.min(start + CHUNK, total);
      const chunk = await gradeChunk(start, end, prompt, textIndex, running.controller.signal);
      chunk.forEach((outcome, k) => {
        outcomes[start + k] = outcome;
        if (outcome.error) failed += 1;
      });
      done = end;
      setProgress(done, total, failed, null);
    }
  } catch (err) {
    if (err && err.stop) stopped = err.stop;
    else if (!(err && err.name === "AbortError")) throw err;
  } finally {
    startButton.disabled = false;
    cancelButton.hidden = true;
  }
  const seconds = (performance.now() - started) / 1000;
  const cancelled = running.cancelled;
  running = null;
  if (stopped) {
    setProgress(done, total, failed, "Stopped.");
    // Item fields (`items[0].prompt_id`) belong to this form's controls (`prompt_id`).
    const error = stopped.body && stopped.body.error;
    if (error && error.fields) {
      const remapped = {};
      for (const [path, problem] of Object.entries(error.fields)) remapped[path.replace(/^items\[\d+\]\.?/, "") || "file"] = problem;
      error.fields = remapped;
    }
    showErrors(form, stopped, {
      unauthorized: "This server needs an API key to grade. Open “API key” above and enter yours.",
      notFound: "That prompt is not saved on this server any more. Reload the page and choose another.",
    });
    if (done === 0) return;
  } else {
    setProgress(done, total, failed, cancelled ? `Cancelled after ${fmtInt(done)} essays.` : "Finished.");
  }
  showSummary(outcomes, { done, total, failed, cancelled: cancelled || Boolean(stopped), seconds });
}

function histogram(target, values) {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const bins = values.length < 10 ? Math.max(values.length, 1) : 10;
  const counts = new Array(bins).fill(0);
  const width = hi > lo ? (hi - lo) / bins : 1;
  for (const v of values) counts[Math.min(bins - 1, hi > lo ? Math.floor((v - lo) / width) : 0)] += 1;
  const most = Math.max(...counts);
  const bars = el("div", { class: "hist-bars", "aria-hidden": "true" });
  const described = [];
  counts.forEach((count, i) => {
    const from = lo + i * width;
    const to = hi > lo ? from + width : hi;
    const bar = el("div", { class: "hist-bar", title: `${fmt(from)} to ${fmt(to)}: ${count} essays` });
    bar.style.height = `${(count / most) * 100}%`;
    bars.append(bar);
    described.push(`${fmt(from)} to ${fmt(to)}: ${count}`);
  });
  return el("figure", { class: "card histogram", "data-target": target },
    el("figcaption", {}, `${target}`),
    bars,
    el("div", { class: "hist-axis", "aria-hidden": "true" }, el("span", {}, fmt(lo)), el("span", {}, fmt(hi))),
    el("p", { class: "visually-hidden" }, `Histogram of ${target} scores from ${fmt(lo)} to ${fmt(hi)}: ${described.join("; ")} essays.`),
    el("p", { class: "hint" }, `Median ${fmt(median(values))}, ${fmtInt(values.length)} essays.`));
}

function median(values) {
  const v = [...values].sort((a, b) => a - b);
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

function showSummary(outcomes, { done, total, failed, cancelled, seconds }) {
  const graded = outcomes.filter((o) => o && o.grade);
  const targets = graded.length ? Object.keys(graded[0].grade.scores) : [];
  const versions = [...new Set(graded.map((o) => o.grade.model.version))];
  const out = [el("h2", { id: "summary-title", tabindex: "-1" }, cancelled ? "Partial results" : "Results")];
  out.push(el("div", { class: "stat-row" },
    stat("graded", fmtInt(graded.length), "summary-graded"),
    stat("failed", fmtInt(failed), "summary-failed"),
    stat(cancelled ? "not graded" : "seconds", cancelled ? fmtInt(total - done) : fmt(seconds, 1)),
    stat(versions.length > 1 ? "model versions" : "model version", versions.join(", ") || "—")));
  if (versions.length > 1) {
    out.push(notice("warning", "The active model changed while this class was graded, so some essays were graded by another version. Grade the file again to grade them all alike."));
  }
  if (targets.length) {
    out.push(el("div", { class: "histograms" },
      targets.map((t) => histogram(t, graded.map((o) => o.grade.scores[t])))));
  }
  const downloadButton = el("button", { type: "button", id: "download-button" }, "Download the graded CSV");
  downloadButton.addEventListener("click", () => downloadResults(outcomes, targets));
  out.push(el("div", { class: "actions" }, downloadButton,
    el("span", { class: "hint" }, `Your file with ${targets.length * 2 + 3} columns added; rows and their order unchanged.`)));
  const failures = outcomes.map((o, i) => ({ o, i })).filter(({ o }) => o && o.error);
  if (failures.length) {
    const id = Number(idColumn.value);
    const shown = failures.slice(0, 100);
    out.push(el("h3", {}, "Essays that could not be graded"),
      el("div", { class: "table-wrap" }, el("table", { id: "failures" },
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Row"), el("th", { scope: "col" }, "Student"), el("th", { scope: "col" }, "Why"))),
        el("tbody", {}, shown.map(({ o, i }) => el("tr", {},
          el("td", { class: "num" }, String(i + 1)),
          el("td", {}, id >= 0 ? file.rows[i][id] || "" : "—"),
          el("td", {}, o.error)))))));
    if (failures.length > shown.length) {
      out.push(el("p", { class: "hint" }, `…and ${fmtInt(failures.length - shown.length)} more; every reason is in the downloaded file’s grade_error column.`));
    }
  }
  summary.replaceChildren(...out);
  $("summary-title").focus();
}

function stat(what, n, id) {
  return el("div", { class: "stat" }, el("span", { class: "n", id }, n), el("span", { class: "what" }, what));
}

// A new column's name, kept apart from the file's own columns.
function uniqueName(name, taken) {
  let candidate = name;
  while (taken.has(candidate)) candidate = `${candidate}_grader`;
  taken.add(candidate);
  return candidate;
}

function downloadResults(outcomes, targets) {
  const taken = new Set(file.header);
  const added = [];
  for (const t of targets) added.push(uniqueName(`score_${t}`, taken), uniqueName(`percentile_${t}`, taken));
  added.push(uniqueName("warnings", taken), uniqueName("model_version", taken), uniqueName("grade_error", taken));
  const width = file.header.length;
  const rows = file.rows.map((row, i) => {
    const cells = row.length >= width ? [...row] : [...row, ...new Array(width - row.length).fill("")];
    const o = outcomes[i];
    if (o && o.grade) {
      for (const t of targets) cells.push(o.grade.scores[t].toFixed(4), o.grade.percentiles[t].toFixed(1));
      cells.push((o.grade.warnings || []).map((w) => w.message).join("; "), String(o.grade.model.version), "");
    } else {
      for (let k = 0; k < targets.length * 2 + 2; k += 1) cells.push("");
      cells.push(o ? o.error : "not graded: the run was cancelled");
    }
    return cells;
  });
  const name = file.name.replace(/\.(csv|txt)$/i, "") + "-graded.csv";
  download(name, csv.write([...file.header, ...added], rows, file.format), "text/csv;charset=utf-8");
}

fileInput.addEventListener("change", readFile);
textColumn.addEventListener("change", showPreview);
idColumn.addEventListener("change", showPreview);
cancelButton.addEventListener("click", () => {
  if (!running) return;
  running.cancelled = true;
  running.controller.abort();
  cancelButton.disabled = true;
});
$("api-key").addEventListener("change", () => {
  setApiKey($("api-key").value);
  picker.reload();
});
form.addEventListener("submit", run);
picker.reload();
