//! Small CSV datasets written by these tests (never copied from ../shared):
//! three prompts of our own and essays whose scores follow their length and
//! how much they copy, so a model has something to learn.

use std::path::{Path, PathBuf};

const PROMPTS: [(&str, &str, &str); 3] = [
    (
        "rivers",
        "How Rivers Shape Land",
        "Rivers begin as small streams in the hills. They carry sand and silt toward the sea. \
         When a river floods, it spreads that silt across the plain. Farmers value the rich soil \
         left behind. Over many years a river can carve a deep valley. Deltas form where a river \
         slows and drops its load.",
    ),
    (
        "bees",
        "Life in the Hive",
        "A honey bee colony has one queen and thousands of workers. Workers gather nectar and \
         pollen from flowers. They turn nectar into honey and store it in wax cells. The queen \
         lays eggs all summer long. Drones live only to mate with a new queen. In winter the bees \
         cluster together to keep warm.",
    ),
    (
        "tides",
        "Why the Sea Rises and Falls",
        "Tides are caused mostly by the pull of the moon. The sun adds a smaller pull of its own. \
         Most coasts see two high tides each day. Spring tides happen when the sun and moon line \
         up. Neap tides are weaker and come in between. Harbours must plan around the height of \
         the water.",
    ),
];

const OWN: [&str; 6] = [
    "I think this matters because people depend on it every day.",
    "The author explains the main idea with clear examples.",
    "This shows how one change can lead to many others over time.",
    "In my opinion the most important part is the first point.",
    "It is interesting that nature works in such a careful way.",
    "Overall the text describes a process that repeats again and again.",
];

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The text of essay `i` of prompt `p`, and its (own sentences, copied sentences).
pub fn essay(p: usize, i: usize) -> (String, usize, usize) {
    let source: Vec<&str> = PROMPTS[p].2.split_inclusive(". ").collect();
    let own = 1 + i % 4;
    let copied = (i / 4) % 3;
    let mut parts: Vec<String> = (0..own)
        .map(|k| OWN[(i + k + p) % OWN.len()].to_string())
        .collect();
    parts.extend((0..copied).map(|k| source[(i + k) % source.len()].trim().to_string()));
    // Some essays run over two paragraphs, as real ones do.
    let text = if i.is_multiple_of(5) {
        parts.join("\n\n")
    } else {
        parts.join(" ")
    };
    (text, own, copied)
}

/// Writes prompts.csv (CommonLit columns) and returns its path.
pub fn write_prompts(dir: &Path) -> PathBuf {
    let mut csv = String::from("prompt_id,prompt_question,prompt_title,prompt_text\n");
    for (id, title, text) in PROMPTS {
        csv.push_str(&format!(
            "{id},{},{},{}\n",
            quote("Summarize at least 2 main ideas of the text."),
            quote(title),
            quote(text)
        ));
    }
    let path = dir.join("prompts.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

/// Writes essays.csv in the CommonLit layout, `per_prompt` essays a prompt.
pub fn write_essays(dir: &Path, per_prompt: usize) -> PathBuf {
    let mut csv = String::from("student_id,prompt_id,text,content,wording\n");
    for (p, (id, _, _)) in PROMPTS.iter().enumerate() {
        for i in 0..per_prompt {
            let (text, own, copied) = essay(p, i);
            let noise = ((i * 37 + p * 11) % 7) as f64 / 20.0 - 0.15;
            let content = 0.6 * own as f64 + 0.3 * copied as f64 - 1.5 + noise;
            let wording = 0.4 * own as f64 - 0.4 * copied as f64 - 0.3 - noise;
            csv.push_str(&format!(
                "{id}{i:04},{id},{},{content},{wording}\n",
                quote(&text)
            ));
        }
    }
    let path = dir.join("essays.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

/// Writes a generic-layout CSV (columns essay, task, body, Overall on a
/// 1:5:0.5 grid) with no prompts file.
pub fn write_graded_essays(dir: &Path, per_prompt: usize) -> PathBuf {
    let mut csv = String::from("essay,task,body,Overall\n");
    for (p, (_, title, _)) in PROMPTS.iter().enumerate() {
        for i in 0..per_prompt {
            let (text, own, copied) = essay(p, i);
            let overall = (1.0 + own as f64 + 0.5 * copied as f64).min(5.0);
            csv.push_str(&format!(
                "e{p}-{i},{},{},{overall}\n",
                quote(title),
                quote(&text)
            ));
        }
    }
    let path = dir.join("graded.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

/// A quick train config: small network, few epochs.
pub fn write_quick_config(dir: &Path) -> PathBuf {
    let path = dir.join("train.json");
    std::fs::write(
        &path,
        r#"{"network": {"layers": [{"units": 8, "activation": "relu"}]},
            "epochs": 15, "ensemble": 2, "batch_size": 16}"#,
    )
    .unwrap();
    path
}

/// The targets of [`write_analytic_essays`], in column order.
pub const ANALYTIC_TARGETS: [&str; 6] = [
    "cohesion",
    "syntax",
    "vocabulary",
    "phraseology",
    "grammar",
    "conventions",
];

/// Sentences of an argumentative essay of our own, on one topic.
const ARGUMENT: [&str; 6] = [
    "Students should have a longer lunch break at school",
    "A short break leaves no time to rest or talk with friends",
    "Many pupils skip their meal when the line is long",
    "Teachers also need time to get ready for the next lesson",
    "Schools could change the timetable at almost no cost",
    "A calm afternoon helps everyone learn better",
];

/// Plain words of [`ARGUMENT`] and the rarer words a stronger writer uses.
const UPGRADES: [(&str, &str); 4] = [
    ("longer", "extended"),
    ("short", "perfunctory"),
    ("skip", "forgo"),
    ("calm", "tranquil"),
];

const CONNECTIVES: [&str; 4] = ["However, ", "For example, ", "Therefore, ", "In addition, "];

const MISSPELLINGS: [(&str, &str); 4] = [
    ("because", "becuase"),
    ("their", "thier"),
    ("time", "tyme"),
    ("school", "skool"),
];

/// Writes an analytic-rubric CSV in the generic layout (text_id, task,
/// full_text and six 1–5 scores on a 1:5:0.5 grid), argumentative essays
/// with no source text and no prompts file, and returns its path. Each score
/// follows what the essay alone shows: connectives (cohesion), joined
/// sentences (syntax), rare words (vocabulary), misspellings (conventions),
/// a lower-case "i" (grammar), and phraseology the mean of vocabulary and
/// cohesion.
pub fn write_analytic_essays(dir: &Path, n: usize) -> PathBuf {
    let mut csv = format!("text_id,task,full_text,{}\n", ANALYTIC_TARGETS.join(","));
    let mut state = 0x2545_f491_u64;
    let mut level = || {
        // A small linear congruential generator: independent-looking levels 0–4.
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 33) % 5) as usize
    };
    for i in 0..n {
        let (connectives, joins, upgrades, slips) = (level(), level(), level(), level());
        let lower_i = i % 3 == 0;
        let mut sentences: Vec<String> = (0..6)
            .map(|k| {
                let mut s = ARGUMENT[(i + k) % ARGUMENT.len()].to_string();
                for (plain, rare) in &UPGRADES[..upgrades.min(UPGRADES.len())] {
                    s = s.replace(plain, rare);
                }
                s
            })
            .collect();
        sentences.push(if lower_i {
            "That is why i think so".into()
        } else {
            "That is why I think so".into()
        });
        for (k, s) in sentences.iter_mut().take(connectives).enumerate() {
            let rest = s[..1].to_lowercase() + &s[1..];
            *s = format!("{}{rest}", CONNECTIVES[k % CONNECTIVES.len()]);
        }
        let mut text = String::new();
        for (k, s) in sentences.iter().enumerate() {
            // The first `joins` sentences run on into the next with "because".
            if k < joins {
                text.push_str(&format!("{s} because "));
            } else {
                text.push_str(&format!("{s}. "));
            }
        }
        for (right, wrong) in &MISSPELLINGS[..slips.min(MISSPELLINGS.len())] {
            text = text.replacen(right, wrong, 1);
        }
        let grid = |x: f64| (x * 2.0).round() / 2.0;
        let cohesion = 1.0 + connectives as f64;
        let syntax = 1.0 + joins as f64;
        let vocabulary = 1.0 + upgrades as f64;
        let conventions = 5.0 - slips as f64;
        let grammar = if lower_i { 2.5 } else { 4.5 };
        let phraseology = grid((vocabulary + cohesion) / 2.0);
        csv.push_str(&format!(
            "a{i:03},argument,{},{cohesion},{syntax},{vocabulary},{phraseology},{grammar},{conventions}\n",
            quote(text.trim())
        ));
    }
    let path = dir.join("analytic.csv");
    std::fs::write(&path, csv).unwrap();
    path
}
