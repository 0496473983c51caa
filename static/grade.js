// The first page, `/`: grade one essay. The teacher picks a saved prompt or
// pastes one, pastes the essay and presses Grade (POST /api/v1/grade). The
// result shows each score on a readable scale (scores.js), why
// (explanation.js), warnings worded as feedback for the student, the model
// and calibration used, and, for a saved prompt, "Correct this grade": the
// teacher's own scores posted as an example for the prompt
// (POST /api/v1/prompts/{id}/examples), which calibrates later grades.

"use strict";

import { $, api, clearErrors, el, errorMessage, fmt, notice, setApiKey, showErrors, wordCount } from "./app.js";
import { promptPicker } from "./prompt-picker.js";
import { gridScore, scoreCards } from "./scores.js";
import { renderExplanation } from "./explanation.js";

const form = $("grade-form");
const result = $("result");
const button = $("grade-button");
const picker = promptPicker($("prompt-picker"));

// The active model's scale, refetched when a grade names another model.
let scale = null;

async function scaleFor(model) {
  if (scale && scale.model.id === model.id) return scale;
  const answer = await api("GET", "/api/v1/scale");
  scale = answer.ok ? answer.body : null;
  // During an activation the grade may come from the model just replaced:
  // a scale of another model would mislead, so show none.
  return scale && scale.model.id === model.id ? scale : null;
}

// Warnings as feedback a teacher can pass on to the student; the grader's
// own words (with its figure) follow in smaller type.
const FEEDBACK = {
  very_short: "This summary is very short. Ask the student to explain more of the text’s main ideas, in their own words.",
  copied: "Much of this summary is copied word for word from the source. Ask the student to put the ideas in their own words and quote only where it matters.",
  off_topic: "This summary shares few words with the source text. Check that it answers this prompt, and ask the student to refer to the text’s main ideas.",
  no_source_text: "No source text was given, so copying and coverage of the source could not be checked. Paste the source text for a fuller grade.",
};

function feedbackCard(warnings) {
  const list = el("ul", { class: "feedback" });
  for (const w of warnings) {
    const code = typeof w === "string" ? "" : w.code;
    const message = typeof w === "string" ? w : w.message;
    const advice = FEEDBACK[code];
    list.append(el("li", { "data-code": code || "" },
      advice || message,
      advice ? el("span", { class: "detail" }, `Grader: ${message}.`) : null));
  }
  return el("section", { class: "card", "aria-labelledby": "feedback-title" },
    el("h3", { class: "card-title", id: "feedback-title" }, "Feedback for the student"),
    list);
}

function modelLine(grade, promptId) {
  const parts = [el("span", {}, "Graded by model version ", el("strong", { id: "model-version" }, String(grade.model.version)), ".")];
  let calibration;
  if (grade.calibration && grade.calibration.examples > 0) {
    const n = grade.calibration.examples;
    calibration = `Calibrated for this prompt with ${n} teacher-graded example${n === 1 ? "" : "s"}.`;
  } else if (promptId) {
    calibration = "Not calibrated: no teacher-graded examples for this prompt yet.";
  } else {
    calibration = "Not calibrated: only saved prompts are calibrated.";
  }
  parts.push(" ", el("span", { id: "calibration-status" }, calibration));
  return el("p", { class: "calibration-line muted", id: "model-line" }, ...parts);
}

// "Correct this grade": the teacher's own scores for this essay, posted as
// one example for the prompt. The answer carries the prompt's calibration,
// and the page says how it changed.
function correctionCard(grade, essay, promptId) {
  const shownScale = scale && scale.model.id === grade.model.id ? scale : null;
  const grid = shownScale && shownScale.score_grid;
  const corrected = el("form", { class: "card", id: "correct-form", novalidate: true, "aria-labelledby": "correct-title" });
  const inputs = {};
  const fields = el("div", { class: "grid-3" });
  for (const [target, score] of Object.entries(grade.scores)) {
    const id = `correct-${target}`;
    const start = grid ? gridScore(score, grid) : Math.round(score * 100) / 100;
    inputs[target] = el("input", {
      type: "number", id, step: grid ? String(grid.step) : "any", value: String(start),
      "data-field": `examples[0].scores.${target}`, inputmode: "decimal", required: true,
    });
    fields.append(el("div", { class: "field" }, el("label", { for: id }, `Your ${target} score`), inputs[target]));
  }
  const status = el("div", { id: "correct-status", "aria-live": "polite" });
  const save = el("button", { type: "submit", id: "correct-button" }, "Save my scores");
  corrected.append(
    el("h3", { class: "card-title", id: "correct-title" }, "Correct this grade"),
    el("p", { class: "hint" }, "Would you grade this essay differently? Enter your own scores. They are saved as a teacher-graded example for this prompt, and every later grade for it is calibrated with the examples."),
    fields,
    el("div", { class: "form-errors notice error", hidden: true }),
    el("div", { class: "actions" }, save),
    status);

  corrected.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(corrected);
    status.replaceChildren();
    const scores = {};
    for (const [target, input] of Object.entries(inputs)) scores[target] = input.value.trim() === "" ? null : Number(input.value);
    save.disabled = true;
    const before = grade.calibration ? grade.calibration.examples : 0;
    const answer = await api("POST", `/api/v1/prompts/${encodeURIComponent(promptId)}/examples`, {
      json: { examples: [{ essay, scores }] },
    });
    save.disabled = false;
    if (!answer.ok) {
      showErrors(corrected, answer, {
        unauthorized: "Saving your scores changes the grades everyone gets for this prompt, so it needs an API key (enter it under “API key” above) or an admin signed in on this browser.",
        notFound: "This server does not take corrections for this prompt.",
      });
      return;
    }
    const calibration = answer.body.calibration || {};
    const n = calibration.examples;
    const lines = [el("p", {}, el("strong", {}, "Saved. "),
      `Calibration for this prompt now uses `, el("strong", { id: "calibration-count" }, String(n)),
      ` teacher-graded example${n === 1 ? "" : "s"} (before: ${before}).`)];
    const estimate = calibration.estimate;
    if (estimate && typeof estimate.calibrated_mcrmse === "number" && typeof estimate.uncalibrated_mcrmse === "number") {
      lines.push(el("p", {}, `On your examples, the model is off by ${fmt(estimate.uncalibrated_mcrmse)} on average without calibration and ${fmt(estimate.calibrated_mcrmse)} with it (leave-one-out estimate).`));
    }
    const again = el("button", { type: "button", class: "secondary", id: "grade-again" }, "Grade again with the new calibration");
    again.addEventListener("click", () => form.requestSubmit());
    status.replaceChildren(notice("success", ...lines, again));
  });
  return corrected;
}

function showGrade(grade, essay, promptId, gradeScale) {
  const out = document.createDocumentFragment();
  out.append(el("div", { class: "result-head" },
    el("h2", { id: "result-title", tabindex: "-1" }, "The grade"),
    modelLine(grade, promptId)));
  out.append(scoreCards(grade, gradeScale));
  if (grade.warnings && grade.warnings.length) out.append(feedbackCard(grade.warnings));
  const why = el("div", { id: "explanation" });
  renderExplanation(why, grade.explanation);
  out.append(el("section", { class: "card", "aria-labelledby": "why-title" },
    el("h3", { class: "card-title", id: "why-title" }, "Why these scores"),
    why));
  if (promptId) out.append(correctionCard(grade, essay, promptId));
  return out;
}

async function grade(event) {
  event.preventDefault();
  clearErrors(form);
  setApiKey($("api-key").value);
  const essay = $("essay").value;
  const request = { ...picker.request(), essay };
  const promptId = picker.registeredId();
  button.disabled = true;
  button.textContent = "Grading…";
  result.replaceChildren();
  try {
    const answer = await api("POST", "/api/v1/grade", { json: request });
    if (!answer.ok) {
      showErrors(form, answer, {
        unauthorized: "This server needs an API key to grade. Open “API key” below and enter yours.",
        notFound: "That prompt is not saved on this server any more. Reload the page and choose another.",
      });
      return;
    }
    const gradeScale = await scaleFor(answer.body.model);
    result.replaceChildren(showGrade(answer.body, essay, promptId, gradeScale));
    $("result-title").focus();
  } finally {
    button.disabled = false;
    button.textContent = "Grade";
  }
}

$("essay").addEventListener("input", () => {
  $("word-count").textContent = String(wordCount($("essay").value));
});
$("api-key").addEventListener("change", () => {
  setApiKey($("api-key").value);
  picker.reload();
});
form.addEventListener("submit", grade);
picker.reload();
// Shown only when the page can talk to the server at all.
api("GET", "/api/v1/scale").then((answer) => {
  if (answer.ok) scale = answer.body;
  else if (answer.status === 0) result.replaceChildren(notice("error", errorMessage(answer)));
});
