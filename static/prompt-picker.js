// The prompt chooser shared by / and /batch: a registered prompt from the
// list (GET /api/v1/prompts), or a pasted title, question and source text,
// which the teacher may register from here (POST /api/v1/prompts, "Save this
// prompt") when the server lets them.
//
// Its controls carry the JSON paths of a grade request (`prompt_id`,
// `prompt.text`, ...), so the API's field errors land beside them.

"use strict";

import { api, el, errorMessage, notice, showErrors, clearErrors } from "./app.js";

// Renders the chooser into `fieldset` (a <fieldset> with a <legend>) and
// returns its controller:
//   request()      -> {prompt_id} or {prompt: {title, question, text}}
//   registeredId() -> the chosen registered prompt's id, or null when pasted
//   reload()       -> lists the registered prompts again
export function promptPicker(fieldset, { onChange } = {}) {
  const changed = () => onChange && onChange();

  const registeredRadio = el("input", { type: "radio", name: "prompt-mode", value: "registered", checked: true });
  const pastedRadio = el("input", { type: "radio", name: "prompt-mode", value: "pasted" });
  const select = el("select", { id: "prompt-id", "data-field": "prompt_id" }, el("option", { value: "" }, "Loading prompts…"));
  const promptHint = el("p", { class: "hint", id: "prompt-question-hint" });

  const title = el("input", { type: "text", id: "prompt-title", "data-field": "prompt.title", autocomplete: "off" });
  const question = el("input", { type: "text", id: "prompt-question", "data-field": "prompt.question", autocomplete: "off" });
  const text = el("textarea", { id: "prompt-text", rows: "8", "data-field": "prompt.text" });
  const saveId = el("input", {
    type: "text", id: "prompt-save-id", "data-field": "id", autocomplete: "off",
    "aria-describedby": "prompt-save-id-hint", spellcheck: "false",
  });
  const saveButton = el("button", { type: "button", class: "secondary", id: "save-prompt" }, "Save this prompt");
  const saveStatus = el("div", { id: "save-prompt-status", "aria-live": "polite" });
  const saveErrors = el("div", { class: "form-errors notice error", hidden: true });

  const registered = el("div", { id: "registered-prompt" },
    el("div", { class: "field" },
      el("label", { for: "prompt-id" }, "Saved prompt"),
      select,
      promptHint));

  const save = el("details", { class: "save-prompt", id: "save-prompt-section" },
    el("summary", {}, "Save this prompt for the whole class"),
    el("p", { class: "hint" }, "A saved prompt appears in the list above for everyone, is prepared once, and can be calibrated with your own graded essays."),
    el("div", { class: "field" },
      el("label", { for: "prompt-save-id" }, "Short name ", el("span", { class: "optional" }, "(optional)")),
      saveId,
      el("p", { class: "hint", id: "prompt-save-id-hint" }, "Letters, digits, - and _, such as “bees-y7”. Left empty, the server picks one.")),
    saveErrors,
    el("div", { class: "actions" }, saveButton),
    saveStatus);

  const pasted = el("div", { id: "pasted-prompt", hidden: true, "data-field": "prompt" },
    el("div", { class: "field" }, el("label", { for: "prompt-title" }, "Title ", el("span", { class: "optional" }, "(optional)")), title),
    el("div", { class: "field" }, el("label", { for: "prompt-question" }, "Question the students answered ", el("span", { class: "optional" }, "(optional)")), question),
    el("div", { class: "field" }, el("label", { for: "prompt-text" }, "Source text the students read"), text,
      el("p", { class: "hint" }, "Without it, the grader cannot tell how well the essay covers or copies the source.")),
    save);

  fieldset.append(
    el("div", { class: "choice-row", role: "radiogroup", "aria-label": "Where the prompt comes from" },
      el("label", { class: "choice" }, registeredRadio, "A saved prompt"),
      el("label", { class: "choice" }, pastedRadio, "Paste a new prompt")),
    registered,
    pasted);

  let prompts = [];

  function mode() {
    return pastedRadio.checked ? "pasted" : "registered";
  }

  function showMode() {
    registered.hidden = mode() !== "registered";
    pasted.hidden = mode() !== "pasted";
    changed();
  }

  function showQuestion() {
    const chosen = prompts.find((p) => p.id === select.value);
    promptHint.textContent = chosen && chosen.question ? `Question: ${chosen.question}` : "";
  }

  async function reload(selectId) {
    const result = await api("GET", "/api/v1/prompts?limit=1000");
    select.replaceChildren();
    if (!result.ok) {
      prompts = [];
      select.append(el("option", { value: "" }, "(the saved prompts could not be listed)"));
      promptHint.textContent = errorMessage(result, {
        unauthorized: "This server needs an API key to list its prompts: enter it under “API key” below.",
      });
      return;
    }
    prompts = result.body.prompts || [];
    if (prompts.length === 0) {
      select.append(el("option", { value: "" }, "(no saved prompts yet)"));
      pastedRadio.checked = true;
      showMode();
      return;
    }
    for (const p of prompts) {
      select.append(el("option", { value: p.id }, p.title ? `${p.title} (${p.id})` : p.id));
    }
    if (selectId) select.value = selectId;
    showQuestion();
    changed();
  }

  async function savePrompt() {
    clearErrors(save);
    saveStatus.replaceChildren();
    const body = { title: title.value, question: question.value, text: text.value };
    if (saveId.value.trim()) body.id = saveId.value.trim();
    saveButton.disabled = true;
    const result = await api("POST", "/api/v1/prompts", { json: body });
    saveButton.disabled = false;
    if (!result.ok) {
      // The prompt's own fields are named without the `prompt.` of a grade request.
      const fields = (result.body && result.body.error && result.body.error.fields) || {};
      const mapped = {};
      for (const [path, problem] of Object.entries(fields)) {
        mapped[["title", "question", "text"].includes(path) ? `prompt.${path}` : path] = problem;
      }
      if (result.body && result.body.error) result.body.error.fields = mapped;
      showErrors(fieldset, result, {
        unauthorized: "Saving a prompt needs an API key (enter it under “API key” below) or an admin signed in on /admin.",
      });
      if (result.status === 409) {
        saveErrors.replaceChildren(el("p", {}, `The name “${body.id}” is taken. Choose another, or leave it empty.`));
        saveErrors.hidden = false;
      }
      return;
    }
    const saved = result.body;
    await reload(saved.id);
    registeredRadio.checked = true;
    showMode();
    saveStatus.replaceChildren(notice("success", `Saved as “${saved.id}”. It is now chosen in the list of saved prompts.`));
    registered.prepend(saveStatus);
    select.focus();
  }

  registeredRadio.addEventListener("change", showMode);
  pastedRadio.addEventListener("change", showMode);
  select.addEventListener("change", () => {
    showQuestion();
    changed();
  });
  saveButton.addEventListener("click", savePrompt);

  return {
    request() {
      // No prompt chosen sends neither form, and the server says what is missing.
      if (mode() === "registered") return select.value ? { prompt_id: select.value } : {};
      return { prompt: { title: title.value, question: question.value, text: text.value } };
    },
    registeredId() {
      return mode() === "registered" && select.value ? select.value : null;
    },
    reload,
  };
}
