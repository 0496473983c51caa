// Scores on a scale a person reads. For each target of a grade:
// - its place among the training essays, as a bar and in words
//   ("Above most: higher than 67% of training essays");
// - the model's own score, with one line saying what that scale is and a
//   line showing where the score sits on it (from GET /api/v1/scale);
// - for a model whose targets are on a score grid (1 to 5 by 0.5), the
//   score rounded onto that grid.
// Used by / for one essay; /batch uses standingWords() and gridScore().

"use strict";

import { el, fmt } from "./app.js";

// Words for a percentile (0 to 100) among the training essays.
export function standingWords(percentile) {
  const p = Math.round(percentile);
  let headline;
  if (p < 10) headline = "Near the bottom";
  else if (p < 35) headline = "Below most";
  else if (p < 65) headline = "Around the middle";
  else if (p < 90) headline = "Above most";
  else headline = "Near the top";
  let detail;
  if (p <= 0) detail = "at or below the lowest of the training essays";
  else if (p >= 100) detail = "higher than every training essay";
  else detail = `higher than ${p}% of training essays`;
  return { headline, detail };
}

// The score rounded onto the model's grid (clamped to its ends), as the
// server's ScoreGrid::round does.
export function gridScore(score, grid) {
  const levels = Math.round((grid.max - grid.min) / grid.step);
  const k = Math.min(Math.max(Math.round((score - grid.min) / grid.step), 0), levels);
  return grid.min + k * grid.step;
}

function gridText(value, grid) {
  const decimals = Number.isInteger(grid.step) ? 0 : String(grid.step).split(".")[1].length;
  return value.toFixed(decimals);
}

// Position of x on [lo, hi] as a percentage, clamped to the track.
function place(x, lo, hi) {
  if (!(hi > lo)) return 50;
  return Math.min(100, Math.max(0, ((x - lo) / (hi - lo)) * 100));
}

function percentileBar(percentile, label) {
  const fill = el("div", { class: "pct-fill" });
  // Set through the CSS object model: the page's CSP forbids style attributes.
  fill.style.width = `${Math.min(100, Math.max(0, percentile))}%`;
  return el("div", {},
    el("div", {
      class: "pct-bar",
      role: "img",
      "aria-label": label,
    }, fill),
    el("div", { class: "pct-ticks", "aria-hidden": "true" },
      el("span", {}, "lowest"), el("span", {}, "middle"), el("span", {}, "highest")));
}

function scaleLine(score, s) {
  const band = el("div", { class: "scale-band" });
  band.style.left = `${place(s.p25, s.min, s.max)}%`;
  band.style.width = `${place(s.p75, s.min, s.max) - place(s.p25, s.min, s.max)}%`;
  const median = el("div", { class: "scale-median" });
  median.style.left = `${place(s.median, s.min, s.max)}%`;
  const marker = el("div", { class: "scale-marker" });
  marker.style.left = `${place(score, s.min, s.max)}%`;
  return el("div", {},
    el("div", {
      class: "scale-line",
      role: "img",
      "aria-label": `Score ${fmt(score)} on a line from ${fmt(s.min)} to ${fmt(s.max)}; the middle half of training essays lie between ${fmt(s.p25)} and ${fmt(s.p75)}.`,
    }, el("div", { class: "scale-track" }), band, median, marker),
    el("div", { class: "scale-ends", "aria-hidden": "true" },
      el("span", {}, fmt(s.min)), el("span", {}, `median ${fmt(s.median)}`), el("span", {}, fmt(s.max))));
}

// One card per target. `scale` is GET /api/v1/scale's answer for the model
// that graded (or null when it could not be had: the card then shows the
// place and the bare score only).
export function scoreCards(grade, scale) {
  const cards = el("div", { class: "scores" });
  for (const [target, score] of Object.entries(grade.scores || {})) {
    const percentile = grade.percentiles ? grade.percentiles[target] : undefined;
    const card = el("section", { class: "card score-card", "data-target": target, "aria-label": `${target} score` },
      el("h3", { class: "target" }, target));
    if (typeof percentile === "number") {
      const words = standingWords(percentile);
      card.append(
        el("p", { class: "standing" }, words.headline),
        el("p", { class: "standing-detail" }, `${words.detail[0].toUpperCase()}${words.detail.slice(1)}.`),
        percentileBar(percentile, `${words.headline}: ${words.detail}`));
    }
    const s = scale && scale.targets ? scale.targets[target] : null;
    const block = el("div", { class: "model-score" });
    const raw = grade.uncalibrated_scores ? grade.uncalibrated_scores[target] : undefined;
    if (s) {
      block.append(el("p", { class: "scale-text" },
        "Model score ", el("span", { class: "value" }, fmt(score)),
        `: on this model’s scale the ${scale.training_essays.toLocaleString("en")} training essays run from ${fmt(s.min)} to ${fmt(s.max)}, the middle half between ${fmt(s.p25)} and ${fmt(s.p75)}.`));
      block.append(scaleLine(score, s));
    } else {
      block.append(el("p", { class: "scale-text" }, "Model score ", el("span", { class: "value" }, fmt(score))));
    }
    if (typeof raw === "number") {
      block.append(el("p", { class: "hint" }, `Before calibration for this prompt: ${fmt(raw)}.`));
    }
    if (scale && scale.score_grid) {
      const g = scale.score_grid;
      block.append(el("p", { class: "grid-score" },
        `On the ${g.min} to ${g.max} grid (steps of ${g.step}): `,
        el("strong", {}, gridText(gridScore(score, g), g))));
    }
    card.append(block);
    cards.append(card);
  }
  return cards;
}
