//! Whole-module tests of extraction: every feature is written and finite for
//! awkward inputs and for arbitrary Unicode (proptest), and the features move
//! the way their definitions say on small hand-written essays.

use proptest::prelude::*;

use super::*;

fn sample_prompt() -> Prompt {
    Prompt {
        // Invented for these tests (a made-up story, not any real source text).
        title: "The Cannery Ledger".into(),
        question: "Summarize how the factory in the story hid spoiled meat. \
                   Cite evidence in your answer."
            .into(),
        text: "Marta kept the books at a small cannery, and her brother worked on the sausage \
               line, so the family soon learned most of the tricks of the trade. Whenever meat \
               had spoiled so badly that nobody would buy it fresh, the foreman would either can \
               it or chop it up into sausage.\r\n\r\nMarta had told them how the meat that was \
               taken out of pickle would often be found sour, and how the men would rub it with \
               soda to take away the smell before it went to the lunch counters. Nobody ever \
               checked what was cut up for sausage."
            .into(),
    }
}

fn assert_all_finite(v: &FeatureVector, what: &str) {
    assert_eq!(v.len(), feature_count());
    for (name, x) in v.iter() {
        assert!(x.is_finite(), "{name} = {x} for {what}");
    }
}

#[test]
fn every_feature_is_written_for_an_ordinary_essay() {
    let prepared = PreparedPrompt::new(&sample_prompt());
    let mut extractor = Extractor::new();
    let mut out = vec![f32::NAN; feature_count()];
    extractor
        .extract_into(
            &prepared,
            "The factory would rub spoiled meat with soda to take away the smell. \
             They also chopped it up into sausage, so nobody knew.",
            &mut out,
        )
        .unwrap();
    for (def, x) in catalogue().iter().zip(&out) {
        assert!(x.is_finite(), "{} was not written", def.name);
    }
}

#[test]
fn awkward_essays_give_finite_features() {
    let prepared = PreparedPrompt::new(&sample_prompt());
    let long = "the meat was spoiled and they sold it anyway ".repeat(23_000);
    assert!(long.len() > 1_000_000);
    let cases: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("one word", "meat".into()),
        (
            "no punctuation",
            "they put soda on the meat and sold it to people".into(),
        ),
        ("1 MB essay", long),
        ("only emoji", "😀🥩🏭 👍🏽👨‍👩‍👧".into()),
        ("only digits", "1 22 333 4444 3.14 1,000".into()),
        ("mixed scripts", "Мясо 肉 لحم meat Fleisch κρέας".into()),
        (
            "CRLF and tabs",
            "line one\r\n\tline two\r\n\r\n\tline three".into(),
        ),
        (
            "curly quotes",
            "He said “it’s spoiled” and ‘they didn’t care’.".into(),
        ),
        ("only punctuation", "... ?!? ,,, \"\" ()".into()),
        ("only whitespace", " \n\r\n\t ".into()),
    ];
    for (what, essay) in &cases {
        assert_all_finite(&extract(&prepared, essay), what);
    }
}

#[test]
fn an_unknown_prompt_gives_neutral_prompt_and_relation_features() {
    let prepared = PreparedPrompt::new(&Prompt::default());
    let v = extract(&prepared, "The meat was spoiled. They sold it anyway.");
    assert_all_finite(&v, "unknown prompt");
    for (def, x) in catalogue().iter().zip(v.values()) {
        if def.group != FeatureGroup::Essay {
            assert_eq!(*x, 0.0, "{} should be neutral", def.name);
        }
    }
    assert_eq!(v.get("e_word_count"), Some(8.0));
}

#[test]
fn copying_the_source_raises_copy_features_and_lowers_novelty() {
    let prepared = PreparedPrompt::new(&sample_prompt());
    let copied = extract(
        &prepared,
        "Marta had told them how the meat that was taken out of pickle would often be found sour.",
    );
    let own = extract(
        &prepared,
        "Workers hid rotten beef by mixing chemicals into it, then grinding everything together.",
    );
    assert!(copied.value(Feature::RCopiedShare8) > 0.9);
    assert_eq!(own.value(Feature::RCopiedShare4), 0.0);
    assert!(copied.value(Feature::RNovelWordShare) < own.value(Feature::RNovelWordShare));
    assert!(
        copied.value(Feature::RTfidfCosineBestSentence)
            > own.value(Feature::RTfidfCosineBestSentence)
    );
}

#[test]
fn extract_into_rejects_a_buffer_of_the_wrong_length() {
    let prepared = PreparedPrompt::new(&sample_prompt());
    let mut short = vec![0.0; 3];
    let err = Extractor::new()
        .extract_into(&prepared, "meat", &mut short)
        .unwrap_err();
    assert_eq!(
        err,
        FeatureError::BufferLength {
            expected: feature_count(),
            got: 3
        }
    );
}

#[test]
fn extraction_is_deterministic_and_independent_of_buffer_reuse() {
    let prepared = PreparedPrompt::new(&sample_prompt());
    let essays = [
        "The meat was spoiled.",
        "",
        "Soda took away the smell of sour meat, they said.",
    ];
    let mut reused = Extractor::new();
    for essay in essays {
        assert_eq!(
            reused.extract(&prepared, essay),
            Extractor::new().extract(&prepared, essay)
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_unicode_essays_and_prompts_give_finite_features(
        essay in "\\PC{0,300}",
        title in "\\PC{0,20}",
        question in "\\PC{0,60}",
        text in "\\PC{0,400}",
    ) {
        let prepared = PreparedPrompt::new(&Prompt { title, question, text });
        let v = extract(&prepared, &essay);
        prop_assert_eq!(v.len(), feature_count());
        for (name, x) in v.iter() {
            prop_assert!(x.is_finite(), "{} = {}", name, x);
        }
    }

    #[test]
    fn word_salad_from_the_prompt_gives_finite_features_in_range(
        picks in proptest::collection::vec(0usize..40, 0..200),
        separators in proptest::collection::vec(prop_oneof![
            Just(" "), Just(". "), Just(", "), Just("\n"), Just("\" "), Just("! "), Just("\t")
        ], 200),
    ) {
        let prompt = sample_prompt();
        let words: Vec<&str> = prompt.text.split_whitespace().take(40).collect();
        let essay: String = picks
            .iter()
            .zip(&separators)
            .map(|(&i, sep)| format!("{}{}", words[i % words.len()], sep))
            .collect();
        let prepared = PreparedPrompt::new(&prompt);
        let v = extract(&prepared, &essay);
        for (def, x) in catalogue().iter().zip(v.values()) {
            prop_assert!(x.is_finite(), "{} = {}", def.name, x);
            if def.name.ends_with("_share") || def.name.ends_with("_precision") || def.name.ends_with("_recall") {
                prop_assert!((0.0..=1.0).contains(x), "{} = {} out of [0, 1]", def.name, x);
            }
        }
    }
}

/// Ranks with ties averaged (for Spearman's rho).
fn ranks(xs: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    let mut out = vec![0.0; xs.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && xs[order[j + 1]] == xs[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0;
        for &k in &order[i..=j] {
            out[k] = rank;
        }
        i = j + 1;
    }
    out
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    if saa > 0.0 && sbb > 0.0 {
        sab / (saa * sbb).sqrt()
    } else {
        0.0
    }
}

fn spearman(a: &[f64], b: &[f64]) -> f64 {
    pearson(&ranks(a), &ranks(b))
}

#[test]
fn spearman_of_a_monotone_relation_is_one() {
    assert!((spearman(&[1.0, 2.0, 3.0, 10.0], &[0.1, 0.2, 0.25, 0.3]) - 1.0).abs() < 1e-12);
    assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
}

/// Prints, per feature, Spearman's rho with content and wording within each
/// CommonLit prompt. A usefulness check for feature design, not a test of
/// behaviour: run with
/// `ESSAY_GRADER_COMMONLIT=../shared/data/commonlit cargo test --release features::tests::print_feature_correlations -- --ignored --nocapture`.
/// With `ESSAY_GRADER_FEATURES_OUT=/tmp/features.csv` it also writes the
/// feature rows with their scores there, for analysis outside the repository.
#[test]
#[ignore = "needs ../shared/data/commonlit (ESSAY_GRADER_COMMONLIT)"]
fn print_feature_correlations_on_commonlit() {
    let dir = std::env::var("ESSAY_GRADER_COMMONLIT")
        .expect("set ESSAY_GRADER_COMMONLIT to the CommonLit folder (.ci/run does when ../shared/data/commonlit exists)");
    let dir = std::path::Path::new(&dir);
    let mut prompts = std::collections::BTreeMap::new();
    let mut reader = csv::Reader::from_path(dir.join("prompts.csv")).unwrap();
    for row in reader.records() {
        let row = row.unwrap();
        let prompt = Prompt {
            question: row[1].to_string(),
            title: row[2].to_string(),
            text: row[3].to_string(),
        };
        prompts.insert(row[0].to_string(), PreparedPrompt::new(&prompt));
    }
    // prompt id -> (feature rows, content, wording)
    type Rows = (Vec<Vec<f32>>, Vec<f64>, Vec<f64>);
    let mut by_prompt: std::collections::BTreeMap<String, Rows> = Default::default();
    let mut extractor = Extractor::new();
    let mut reader = csv::Reader::from_path(dir.join("summaries.csv")).unwrap();
    for row in reader.records() {
        let row = row.unwrap();
        let entry = by_prompt.entry(row[1].to_string()).or_default();
        entry
            .0
            .push(extractor.extract(&prompts[&row[1]], &row[2]).into_values());
        entry.1.push(row[3].parse().unwrap());
        entry.2.push(row[4].parse().unwrap());
    }
    if let Ok(path) = std::env::var("ESSAY_GRADER_FEATURES_OUT") {
        // A scratch CSV for analysis outside the repository.
        let mut writer = csv::Writer::from_path(&path).unwrap();
        let mut header = vec!["prompt_id".to_string(), "content".into(), "wording".into()];
        header.extend(catalogue().iter().map(|d| d.name.to_string()));
        writer.write_record(&header).unwrap();
        for (id, (rows, content, wording)) in &by_prompt {
            for ((row, c), w) in rows.iter().zip(content).zip(wording) {
                let mut record = vec![id.clone(), c.to_string(), w.to_string()];
                record.extend(row.iter().map(|v| v.to_string()));
                writer.write_record(&record).unwrap();
            }
        }
        writer.flush().unwrap();
    }
    let ids: Vec<&String> = by_prompt.keys().collect();
    println!(
        "{:<42} {:>28}   {:>28}",
        "feature", "content rho per prompt", "wording rho per prompt"
    );
    for (f, def) in catalogue().iter().enumerate() {
        if matches!(def.group, FeatureGroup::Prompt | FeatureGroup::Question) {
            continue;
        }
        let mut line = format!("{:<42}", def.name);
        for target in [1, 2] {
            for id in &ids {
                let rows = &by_prompt[*id];
                let x: Vec<f64> = rows.0.iter().map(|r| f64::from(r[f])).collect();
                let y = if target == 1 { &rows.1 } else { &rows.2 };
                line.push_str(&format!(" {:>+8.3}", spearman(&x, y)));
            }
            line.push_str("  ");
        }
        println!("{line}");
    }
}

#[test]
fn a_selection_without_the_word_vector_family_leaves_only_it_at_zero() {
    use crate::features::{Extractor, Selection, catalogue};
    let prompt = PreparedPrompt::new(&Prompt {
        title: "The Cannery".into(),
        question: "Summarize how the factory fooled the public.".into(),
        text: "The factory owners hid the spoiled meat from the inspectors. \
               Workers ground the rotten meat into sausages."
            .into(),
    });
    let essay = "The owners concealed bad meat from officials and sold sausages.";
    let every = Extractor::new().extract(&prompt, essay);
    let without_meaning =
        Extractor::with_selection(Selection::for_features(&[0, 1])).extract(&prompt, essay);
    let family_indices: Vec<usize> = super::paraphrase::FEATURES
        .iter()
        .map(|&f| f as usize)
        .collect();
    assert_eq!(Selection::for_features(&family_indices), Selection::all());
    let mut differ = Vec::new();
    for (i, def) in catalogue().iter().enumerate() {
        if every.values()[i] != without_meaning.values()[i] {
            assert_eq!(without_meaning.values()[i], 0.0, "{}", def.name);
            differ.push(def.name);
        }
    }
    assert!(differ.contains(&"r_meaning_cosine_prompt"), "{differ:?}");
    assert!(differ.contains(&"e_sentence_focus"), "{differ:?}");
    let family: Vec<&str> = super::paraphrase::FEATURES
        .iter()
        .map(|f| f.name())
        .collect();
    assert!(differ.iter().all(|n| family.contains(n)), "{differ:?}");

    // A model that uses the family but none of the sentence-by-sentence or
    // keyword-by-meaning features skips those parts: only their four
    // features are 0, every other value is the full extraction's.
    let parts: Vec<usize> = crate::features::MEANING_BY_SENTENCE_AND_KEYWORD
        .iter()
        .map(|&f| f as usize)
        .collect();
    let others: Vec<usize> = (0..catalogue().len())
        .filter(|i| !parts.contains(i))
        .collect();
    let without_parts =
        Extractor::with_selection(Selection::for_features(&others)).extract(&prompt, essay);
    assert_ne!(Selection::for_features(&others), Selection::all());
    for (i, def) in catalogue().iter().enumerate() {
        let expected = if parts.contains(&i) {
            0.0
        } else {
            every.values()[i]
        };
        assert_eq!(without_parts.values()[i], expected, "{}", def.name);
    }
    assert!(
        parts.iter().all(|&i| every.values()[i] != 0.0),
        "the fixture exercises every skipped feature"
    );
}

/// Found by fuzzing (tests/fuzz, features): the TF-IDF cosines summed the
/// essay's stems in the iteration order of a reused hash map, which depends
/// on the essays the extractor saw before, so the same essay could get
/// values a few ulps apart on two threads.
#[test]
fn a_reused_extractor_gives_bit_identical_features_to_a_fresh_one() {
    let prepared = PreparedPrompt::new(&sample_prompt());
    let essay = "The foreman would can spoiled meat or chop it into sausage, and the men \
                 rubbed sour meat with soda so nobody noticed the smell at the counters. \
                 Marta kept the books, her brother worked the line, and the family learned \
                 every trick: pickle, soda, sausage, cans, lunch counters and no inspector.";
    let fresh = Extractor::new().extract(&prepared, essay);
    let mut reused = Extractor::new();
    // Distinct alphabetic words, to grow the extractor's maps between essays.
    let letters = |mut i: usize| {
        let mut word = String::from("zq");
        while i > 0 {
            word.push(char::from(b'a' + (i % 26) as u8));
            i /= 26;
        }
        word
    };
    for size in [0, 40, 300, 1_000, 3_000, 8_000] {
        let filler: Vec<String> = (1..=size).map(letters).collect();
        reused.extract(&prepared, &filler.join(" "));
        let again = reused.extract(&prepared, essay);
        let differing: Vec<&str> = fresh
            .iter()
            .zip(again.values())
            .filter(|((_, a), b)| a.to_bits() != b.to_bits())
            .map(|((name, _), _)| name)
            .collect();
        assert!(
            differing.is_empty(),
            "after {size} distinct words: {differing:?}"
        );
    }
}
