// Small data the browser tests write themselves (never rows of
// ../shared/data): three invented source texts and essays whose scores
// follow how many sentences of their own they write and how many they copy,
// so a model trained on them has something to learn.

export const PROMPTS = [
  {
    id: "rivers",
    title: "How Rivers Shape Land",
    question: "Summarize at least two ways a river changes the land.",
    text: "Rivers begin as small streams in the hills. They carry sand and silt toward the sea. When a river floods, it spreads that silt across the plain. Farmers value the rich soil left behind. Over many years a river can carve a deep valley. Deltas form where a river slows and drops its load.",
  },
  {
    id: "bees",
    title: "Life in the Hive",
    question: "Summarize how the work of a hive is shared.",
    text: "A honey bee colony has one queen and thousands of workers. Workers gather nectar and pollen from flowers. They turn nectar into honey and store it in wax cells. The queen lays eggs all summer long. Drones live only to mate with a new queen. In winter the bees cluster together to keep warm.",
  },
  {
    id: "tides",
    title: "Why the Sea Rises and Falls",
    question: "Summarize what causes the tides.",
    text: "Tides are caused mostly by the pull of the moon. The sun adds a smaller pull of its own. Most coasts see two high tides each day. Spring tides happen when the sun and moon line up. Neap tides are weaker and come in between. Harbours must plan around the height of the water.",
  },
];

const OWN = [
  "I think this matters because people depend on it every day.",
  "The author explains the main idea with clear examples.",
  "This shows how one change can lead to many others over time.",
  "In my opinion the most important part is the first point.",
  "It is interesting that nature works in such a careful way.",
  "Overall the text describes a process that repeats again and again.",
];

// Essay i of prompt p: 1 to 4 sentences of its own and 0 to 2 copied.
export function essay(p, i) {
  const source = PROMPTS[p].text.split(/(?<=\.) /);
  const own = 1 + (i % 4);
  const copied = Math.floor(i / 4) % 3;
  const parts = [];
  for (let k = 0; k < own; k += 1) parts.push(OWN[(i + k + p) % OWN.length]);
  for (let k = 0; k < copied; k += 1) parts.push(source[(i + k) % source.length]);
  return { text: parts.join(i % 5 === 0 ? "\n\n" : " "), own, copied };
}

function quote(value) {
  return `"${String(value).replaceAll('"', '""')}"`;
}

// prompts.csv in the CommonLit layout the upload reads by default.
export function promptsCsv() {
  const lines = ["prompt_id,prompt_question,prompt_title,prompt_text"];
  for (const p of PROMPTS) lines.push([p.id, quote(p.question), quote(p.title), quote(p.text)].join(","));
  return `${lines.join("\n")}\n`;
}

// essays.csv: `perPrompt` graded essays per prompt, overall scores on a
// 1 to 5 grid in steps of 0.5 (so the trained model has a score grid).
export function gradedEssaysCsv(perPrompt) {
  const lines = ["student_id,prompt_id,text,overall"];
  PROMPTS.forEach((p, pi) => {
    for (let i = 0; i < perPrompt; i += 1) {
      const e = essay(pi, i);
      const overall = Math.min(5, 1 + e.own * 0.75 + e.copied * 0.25);
      lines.push([`${p.id}${String(i).padStart(4, "0")}`, p.id, quote(e.text), (Math.round(overall * 2) / 2).toFixed(1)].join(","));
    }
  });
  return `${lines.join("\n")}\n`;
}

// A class's essays for /batch: `n` rows with a name and an id column, some
// cells holding commas, quotes and line breaks, and one row with an empty
// essay (which must fail alone, with its reason).
export function classCsv(n, emptyRow) {
  const rows = [["pupil", "essay_id", "Summary text", "teacher notes"]];
  for (let i = 0; i < n; i += 1) {
    const e = essay(i % 3, i);
    const text = i === emptyRow ? "" : i % 7 === 0 ? `"${e.text}", she wrote, again.` : e.text;
    rows.push([`Pupil ${i + 1}, class 7B`, `s${1000 + i}`, text, i % 11 === 0 ? "late" : ""]);
  }
  return `${rows.map((r) => r.map(quote).join(",")).join("\r\n")}\r\n`;
}
