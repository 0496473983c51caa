// "Why these scores": renders a grade's `explanation` into a container.
// Kept alone in this file so that a change of the explanation's shape
// changes this one function.
//
// The shape is a list of concepts, strongest first:
// [{concept, label, effects: {target: change}, sentence, features: [...]}],
// where a target's change is the score minus the score with all of the
// concept's features at the training essays' means. One line per concept:
// its label, its plain sentence, and how far it moved each score.

"use strict";

import { el, fmt } from "./app.js";

function signed(x) {
  return `${x > 0 ? "+" : x < 0 ? "\u2212" : ""}${fmt(Math.abs(x))}`;
}

export function renderExplanation(container, explanation) {
  container.replaceChildren();
  const concepts = Array.isArray(explanation) ? explanation : [];
  if (concepts.length === 0) {
    container.append(el("p", { class: "muted" }, "No explanation came with this grade."));
    return;
  }
  const list = el("ul", { class: "effects" });
  for (const c of concepts) {
    const effects = Object.entries(c.effects || {});
    const strongest = effects.reduce((best, [, v]) => (Math.abs(v) > Math.abs(best) ? v : best), 0);
    const moves = effects.map(([target, v]) => `${target} ${signed(v)}`).join(", ");
    list.append(el("li", { class: "explanation-item" },
      el("span", { class: `effect ${strongest > 0 ? "up" : "down"}`, title: "largest change in a score" }, signed(strongest)),
      el("span", {}, el("strong", {}, c.label), `: ${c.sentence} `, el("span", { class: "muted" }, `(${moves})`))));
  }
  container.append(list);
}
