// /admin#datasets: upload a dataset with its column mapping
// (POST /api/v1/datasets, multipart), see its summary and validation
// remarks, list and delete datasets, and build one from teachers' graded
// examples (POST /api/v1/datasets/from-examples).
//
// Problems in an uploaded file come back keyed by place ("essays.csv,
// line 4, column 5 (content)"): they are shown under the file they concern.

"use strict";

import { clearErrors, confirmAction, el, errorMessage, fmtInt, fmtTime, notice, showErrors } from "./app.js";
import * as csv from "./csv.js";

function field(id, label, control, hint, optional) {
  control.id = id;
  return el("div", { class: "field" },
    el("label", { for: id }, label, optional ? el("span", { class: "optional" }, " (optional)") : null),
    control,
    hint ? el("p", { class: "hint" }, hint) : null);
}

// Column guesses from an essays file's header: the usual names first.
function guessMapping(header) {
  const names = header.map((h) => h.trim());
  const lower = names.map((h) => h.toLowerCase());
  const find = (...patterns) => {
    for (const p of patterns) {
      const i = lower.findIndex((n) => p.test(n));
      if (i >= 0) return names[i];
    }
    return "";
  };
  const id = find(/^(student_id|essay_id|id)$/, /id$/);
  const text = find(/^(text|essay|summary|response|answer|body)$/, /text|essay|summary/);
  const prompt = find(/^(prompt_id|prompt|task)$/, /prompt/);
  const targets = names.filter((n) => n && ![id, text, prompt].includes(n));
  return { id, text, prompt, targets };
}

export function createSection(root, admin) {
  const name = el("input", { type: "text", "data-field": "name", autocomplete: "off" });
  const essays = el("input", { type: "file", accept: ".csv,text/csv", "data-field": "essays" });
  const promptsFile = el("input", { type: "file", accept: ".csv,text/csv", "data-field": "prompts" });
  const columnsList = el("datalist", { id: "essay-columns" });
  const idCol = el("input", { type: "text", "data-field": "mapping.id_col", list: "essay-columns", placeholder: "student_id", autocomplete: "off" });
  const textCol = el("input", { type: "text", "data-field": "mapping.text_col", list: "essay-columns", placeholder: "text", autocomplete: "off" });
  const promptCol = el("input", { type: "text", "data-field": "mapping.prompt_col", list: "essay-columns", placeholder: "prompt_id", autocomplete: "off" });
  const targets = el("input", { type: "text", "data-field": "mapping.targets", placeholder: "content, wording", autocomplete: "off" });
  const grid = el("input", { type: "text", "data-field": "mapping.score_grid", placeholder: "1:5:0.5", autocomplete: "off" });
  const columnsHint = el("p", { class: "hint", id: "essay-columns-found" });
  const uploadButton = el("button", { type: "submit", id: "upload-button" }, "Upload");
  const uploadStatus = el("div", { id: "upload-status", "aria-live": "polite" });

  const upload = el("form", { class: "card", id: "upload-form", novalidate: true, "aria-labelledby": "upload-title" },
    el("h3", { class: "card-title", id: "upload-title" }, "Upload graded essays"),
    el("p", { class: "hint" }, "An essays CSV with one graded essay per row, and a prompts CSV with each prompt’s title, question and source text (columns prompt_id, prompt_title, prompt_question, prompt_text)."),
    el("div", { class: "grid-2" },
      field("dataset-essays", "Essays CSV", essays),
      field("dataset-prompts", "Prompts CSV", promptsFile, null, true)),
    field("dataset-name", "Name", name, "Shown in lists; the file’s name when left empty.", true),
    el("fieldset", { class: "card", "data-field": "mapping" },
      el("legend", {}, "Columns of the essays file"),
      columnsHint,
      columnsList,
      el("div", { class: "grid-3" },
        field("mapping-id", "Essay id", idCol),
        field("mapping-text", "Essay text", textCol),
        field("mapping-prompt", "Prompt id", promptCol)),
      el("div", { class: "grid-2" },
        field("mapping-targets", "Score columns", targets, "Comma-separated, in the order the model should learn them."),
        field("mapping-grid", "Score grid", grid, "For scores on fixed steps, as min:max:step.", true))),
    el("div", { class: "form-errors notice error", hidden: true }),
    el("div", { class: "actions" }, uploadButton),
    uploadStatus);

  const list = el("div", { id: "dataset-list" });
  const detail = el("div", { id: "dataset-detail", "aria-live": "polite" });
  const fromExamples = el("div", { id: "from-examples" });

  root.append(
    el("h2", {}, "Datasets"),
    el("p", { class: "muted" }, "Training data: graded essays with the prompts they answer. Jobs train and cross-validate on them."),
    list,
    detail,
    upload,
    fromExamples);

  essays.addEventListener("change", async () => {
    const file = essays.files[0];
    // Problems in this file are reported under its name.
    essays.dataset.fieldPrefix = file ? file.name : "";
    if (!file) return;
    const head = await file.slice(0, 64 * 1024).text();
    const header = csv.parse(head).header;
    columnsList.replaceChildren(...header.map((h) => el("option", { value: h })));
    columnsHint.textContent = `Columns in ${file.name}: ${header.join(", ")}.`;
    const guess = guessMapping(header);
    idCol.value = guess.id;
    textCol.value = guess.text;
    promptCol.value = guess.prompt;
    targets.value = guess.targets.join(", ");
    if (!name.value) name.placeholder = file.name;
  });
  promptsFile.addEventListener("change", () => {
    const file = promptsFile.files[0];
    promptsFile.dataset.fieldPrefix = file ? file.name : "";
  });

  upload.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(upload);
    uploadStatus.replaceChildren();
    const form = new FormData();
    if (name.value.trim()) form.append("name", name.value.trim());
    const mapping = {
      id_col: idCol.value.trim() || "student_id",
      text_col: textCol.value.trim() || "text",
      prompt_col: promptCol.value.trim() || "prompt_id",
      targets: (targets.value.trim() || "content, wording").split(",").map((t) => t.trim()).filter(Boolean),
    };
    if (grid.value.trim()) mapping.score_grid = grid.value.trim();
    form.append("mapping", JSON.stringify(mapping));
    if (essays.files[0]) form.append("essays", essays.files[0]);
    if (promptsFile.files[0]) form.append("prompts", promptsFile.files[0]);
    uploadButton.disabled = true;
    uploadButton.textContent = "Uploading…";
    const result = await admin.api("POST", "/api/v1/datasets", { form });
    uploadButton.disabled = false;
    uploadButton.textContent = "Upload";
    if (!result.ok) {
      showErrors(upload, result);
      return;
    }
    upload.reset();
    columnsHint.textContent = "";
    uploadStatus.replaceChildren(notice("success", `Uploaded “${result.body.name}”: ${fmtInt(result.body.rows)} essays.`));
    showDataset(result.body);
    await refresh();
  });

  function showDataset(d) {
    const prompts = el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", {}, "Prompt"), el("th", {}, "Title"), el("th", { class: "num" }, "Essays"))),
      el("tbody", {}, d.prompts.map((p) => el("tr", {}, el("td", {}, el("code", {}, p.id)), el("td", {}, p.title || "—"), el("td", { class: "num" }, fmtInt(p.essays)))))));
    const remarks = d.problems.length
      ? notice("warning", el("strong", {}, "Before training on it:"), el("ul", {}, d.problems.map((p) => el("li", {}, p))))
      : notice("success", "No problems found.");
    detail.replaceChildren(el("section", { class: "card", "aria-labelledby": "dataset-detail-title", "data-dataset": d.id },
      el("h3", { class: "card-title", id: "dataset-detail-title" }, d.name),
      el("dl", { class: "facts" },
        el("dt", {}, "Essays"), el("dd", { id: "dataset-rows" }, fmtInt(d.rows)),
        el("dt", {}, "Scores"), el("dd", {}, d.targets.join(", ")),
        el("dt", {}, "Score grid"), el("dd", {}, d.score_grid || "none (continuous scores)"),
        el("dt", {}, "Prompts"), el("dd", {}, String(d.prompts.length)),
        el("dt", {}, "Uploaded"), el("dd", {}, fmtTime(d.created_at)),
        el("dt", {}, "Id"), el("dd", {}, el("code", {}, d.id))),
      el("h4", {}, "Validation"),
      remarks,
      el("h4", {}, "Prompts"),
      prompts));
  }

  async function remove(d) {
    const ok = await confirmAction({
      title: `Delete “${d.name}”?`,
      body: "Its essays are removed. Runs and models trained on it keep its name and size. This cannot be undone.",
      confirm: "Delete dataset",
      danger: true,
    });
    if (!ok) return;
    const result = await admin.api("DELETE", `/api/v1/datasets/${encodeURIComponent(d.id)}`);
    if (!result.ok) {
      detail.replaceChildren(notice("error", el("strong", {}, `Could not delete “${d.name}”: `), errorMessage(result)));
      return;
    }
    detail.replaceChildren(notice("success", `Deleted “${d.name}”.`));
    await refresh();
  }

  async function refresh() {
    const result = await admin.api("GET", "/api/v1/datasets");
    if (!result.ok) {
      list.replaceChildren(notice("error", errorMessage(result)));
      return;
    }
    const rows = result.body.datasets;
    if (rows.length === 0) {
      list.replaceChildren(el("p", { class: "muted", id: "no-datasets" }, "No datasets yet: upload one below."));
      return;
    }
    list.replaceChildren(el("div", { class: "table-wrap" }, el("table", { id: "datasets-table" },
      el("thead", {}, el("tr", {},
        el("th", {}, "Name"), el("th", { class: "num" }, "Essays"), el("th", {}, "Scores"),
        el("th", { class: "num" }, "Prompts"), el("th", {}, "Remarks"), el("th", {}, "Uploaded"), el("th", {}, el("span", { class: "visually-hidden" }, "Actions")))),
      el("tbody", {}, rows.map((d) => el("tr", { "data-dataset": d.id },
        el("td", {}, d.name),
        el("td", { class: "num" }, fmtInt(d.rows)),
        el("td", {}, d.targets.join(", "), d.score_grid ? el("span", { class: "muted" }, ` (${d.score_grid})`) : null),
        el("td", { class: "num" }, String(d.prompts.length)),
        el("td", {}, d.problems.length ? el("span", { class: "badge cancelled" }, `${d.problems.length} remark${d.problems.length === 1 ? "" : "s"}`) : el("span", { class: "badge good" }, "none")),
        el("td", {}, fmtTime(d.created_at)),
        el("td", {}, el("div", { class: "actions" },
          el("button", { type: "button", class: "secondary small", onclick: () => showDataset(d), "aria-label": `Show ${d.name}` }, "Show"),
          el("button", { type: "button", class: "danger small", onclick: () => remove(d), "aria-label": `Delete ${d.name}` }, "Delete")))))))));
  }

  // Building a dataset from teachers' examples (the calibration API).
  async function showFromExamples() {
    const [prompts, datasets] = await Promise.all([
      admin.api("GET", "/api/v1/prompts?limit=1000"),
      admin.api("GET", "/api/v1/datasets"),
    ]);
    if (!prompts.ok) {
      fromExamples.replaceChildren();
      return;
    }
    const boxes = prompts.body.prompts.map((p) => el("label", { class: "choice" },
      el("input", { type: "checkbox", value: p.id, name: "from-examples-prompt" }), p.title ? `${p.title} (${p.id})` : p.id));
    const merges = (datasets.ok ? datasets.body.datasets : []).map((d) => el("label", { class: "choice" },
      el("input", { type: "checkbox", value: d.id, name: "from-examples-merge" }), `${d.name} (${fmtInt(d.rows)} essays)`));
    const exName = el("input", { type: "text", "data-field": "name", autocomplete: "off" });
    const status = el("div", { "aria-live": "polite" });
    const form = el("form", { class: "card", id: "from-examples-form", novalidate: true, "aria-labelledby": "from-examples-title" },
      el("h3", { class: "card-title", id: "from-examples-title" }, "Build a dataset from teachers’ examples"),
      el("p", { class: "hint" }, "The essays teachers graded themselves for these prompts, with the prompts’ texts, become a dataset to train on."),
      field("from-examples-name", "Name", exName),
      el("fieldset", { "data-field": "prompt_ids" },
        el("legend", {}, "Prompts"),
        boxes.length ? el("div", { class: "choice-row" }, boxes) : el("p", { class: "muted" }, "No saved prompts yet.")),
      merges.length ? el("fieldset", { "data-field": "merge_dataset_ids" },
        el("legend", {}, "Merge with these datasets ", el("span", { class: "optional" }, "(optional)")),
        el("p", { class: "hint" }, "Their essays join the examples; their scores must be the same targets."),
        el("div", { class: "choice-row" }, merges)) : null,
      el("div", { class: "form-errors notice error", hidden: true }),
      el("div", { class: "actions" }, el("button", { type: "submit", id: "from-examples-button" }, "Build dataset")),
      status);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      status.replaceChildren();
      const checked = (labels) => labels.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
      const result = await admin.api("POST", "/api/v1/datasets/from-examples", {
        json: { name: exName.value, prompt_ids: checked(boxes), merge_dataset_ids: checked(merges) },
      });
      if (!result.ok) {
        showErrors(form, result, { notFound: "This server cannot build datasets from examples." });
        return;
      }
      status.replaceChildren(notice("success", `Built “${result.body.name}”: ${fmtInt(result.body.rows)} essays.`));
      showDataset(result.body);
      await refresh();
    });
    fromExamples.replaceChildren(form);
  }

  return {
    async show() {
      await Promise.all([refresh(), showFromExamples()]);
    },
  };
}
