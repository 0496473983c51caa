//! Whole-module tests of extraction: every feature is written and finite for
//! awkward inputs and for arbitrary Unicode (proptest), and the features move
//! the way their definitions say on small hand-written essays.

use proptest::prelude::*;

use super::*;

fn sample_prompt() -> Prompt {
    Prompt {
        title: "Excerpt from The Jungle".into(),
        question: "Summarize the various ways the factory would use or cover up spoiled meat. \
                   Cite evidence in your answer."
            .into(),
        text: "With one member trimming beef in a cannery, and another working in a sausage \
               factory, the family had a first-hand knowledge of the great majority of \
               Packingtown swindles. For it was the custom, as they found, whenever meat was so \
               spoiled that it could not be used for anything else, either to can it or else to \
               chop it up into sausage.\r\n\r\nJonas had told them how the meat that was taken out \
               of pickle would often be found sour, and how they would rub it up with soda to \
               take away the smell, and sell it to be eaten on free-lunch counters. There was \
               never the least attention paid to what was cut up for sausage."
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
        "Jonas had told them how the meat that was taken out of pickle would often be found sour.",
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
