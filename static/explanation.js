// "Why these scores": renders a grade's `explanation` into a container.
// Kept alone in this file so that a change of the explanation's shape
// changes this one function.
//
// Today's shape is, per target, the features that raised and lowered the
// score most: {target: {raised: [{feature, value, mean, effect}], lowered: [...]}},
// where `effect` is the score minus the score with that feature at the
// training essays' mean. Shown strongest first, one line each.

"use strict";

import { el, fmt } from "./app.js";

function signed(x) {
  return `${x > 0 ? "+" : ""}${fmt(x)}`;
}

export function renderExplanation(container, explanation) {
  container.replaceChildren();
  const targets = Object.entries(explanation || {});
  if (targets.length === 0) {
    container.append(el("p", { class: "muted" }, "No explanation came with this grade."));
    return;
  }
  for (const [target, parts] of targets) {
    const effects = [...(parts.raised || []), ...(parts.lowered || [])]
      .sort((a, b) => Math.abs(b.effect) - Math.abs(a.effect));
    const list = el("ul", { class: "effects" });
    for (const e of effects) {
      list.append(el("li", { class: "explanation-item" },
        el("span", { class: `effect ${e.effect > 0 ? "up" : "down"}`, title: "change in the score" }, signed(e.effect)),
        el("span", {}, el("code", {}, e.feature), `: this essay ${fmt(e.value)}, the training essays ${fmt(e.mean)} on average.`)));
    }
    container.append(el("div", { class: "explanation-target" },
      el("h3", {}, target),
      effects.length ? list : el("p", { class: "muted" }, "Nothing stood out.")));
  }
}
