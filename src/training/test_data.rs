//! Small synthetic datasets for the unit tests of training: prompts and
//! essays written here (never copied from ../shared), with scores that
//! depend on length and copying so that a model has something to learn.

use std::collections::BTreeMap;

use crate::features::Prompt;

use super::dataset::{Dataset, EssayRecord};

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

const OWN_SENTENCES: [&str; 6] = [
    "I think this matters because people depend on it every day.",
    "The author explains the main idea with clear examples.",
    "This shows how one change can lead to many others over time.",
    "In my opinion the most important part is the first point.",
    "It is interesting that nature works in such a careful way.",
    "Overall the text describes a process that repeats again and again.",
];

/// `per_prompt` essays for each of the three prompts.
pub(crate) fn tiny_dataset(per_prompt: usize) -> Dataset {
    let mut prompts = BTreeMap::new();
    let mut essays = Vec::new();
    for (p, (id, title, text)) in PROMPTS.iter().enumerate() {
        prompts.insert(
            id.to_string(),
            Prompt {
                title: title.to_string(),
                question: "Summarise the main ideas of the text.".to_string(),
                text: text.to_string(),
            },
        );
        let source: Vec<&str> = text.split_inclusive(". ").collect();
        for i in 0..per_prompt {
            let own = 1 + i % 4;
            let copied = (i / 4) % 3;
            let mut parts = Vec::new();
            for k in 0..own {
                parts.push(OWN_SENTENCES[(i + k + p) % OWN_SENTENCES.len()].to_string());
            }
            for k in 0..copied {
                parts.push(source[(i + k) % source.len()].trim().to_string());
            }
            let noise = ((i * 37 + p * 11) % 7) as f64 / 20.0 - 0.15;
            essays.push(EssayRecord {
                id: format!("{id}-{i}"),
                prompt_id: id.to_string(),
                text: parts.join(" "),
                targets: vec![
                    0.6 * own as f64 + 0.3 * copied as f64 - 1.5 + noise,
                    0.4 * own as f64 - 0.4 * copied as f64 - 0.3 - noise,
                ],
            });
        }
    }
    Dataset {
        target_names: vec!["content".into(), "wording".into()],
        score_grid: None,
        prompts,
        essays,
    }
}
