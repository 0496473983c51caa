//! Feature extraction with arbitrary input: lossy-decoded random bytes,
//! arbitrary Unicode strings, and text built from the pieces that break
//! tokenisers (long runs, combining marks, zero-width and bidi controls,
//! control characters, emoji sequences, odd line ends) as essay and as
//! every part of the prompt. For each: no panic, and every feature finite.

use essay_grader::features::{self, Extractor, PreparedPrompt, Prompt, Selection, feature_count};
use proptest::prelude::*;

use crate::fuzz_config;

/// Pieces of text that stress segmentation, stemming, syllable counting and
/// the readability formulas.
const PIECES: &[&str] = &[
    "the",
    "bees",
    "Pollination",
    "don't",
    "re-use",
    "co-operate",
    "naïve",
    "straße",
    "İstanbul",
    "ﬁnance",
    "ΣΊΣΥΦΟΣ",
    "日本語の文章",
    "한국어",
    "مرحبا",
    "שלום",
    "Ǆemal",
    "x̸̛̀́",
    "e\u{301}",
    "\u{200b}",
    "\u{200d}",
    "\u{feff}",
    "\u{202e}",
    "\u{2066}",
    "\u{00ad}",
    "\u{0}",
    "\u{7}",
    "\u{1b}[31m",
    "\u{7f}",
    "\u{85}",
    "\u{2028}",
    "\u{2029}",
    "\r\n",
    "\r",
    "\n\n",
    "\t",
    " ",
    "   ",
    ".",
    "...",
    "?!",
    "!!!",
    ";",
    ":",
    ",",
    "\"",
    "'",
    "(",
    ")",
    "—",
    "–",
    "…",
    "«",
    "»",
    "1",
    "3.14",
    "1,000,000",
    "1e308",
    "-0",
    "NaN",
    "inf",
    "👩‍👩‍👧‍👦",
    "🇫🇷",
    "🏳️‍🌈",
    "\u{fffd}",
    "\u{10ffff}",
    "\u{e000}",
    "A.",
    "U.S.A.",
    "Mr.",
    "e.g.",
    "www.example.com",
    "a@b.c",
    "#",
    "*",
];

/// A text assembled from [`PIECES`], runs of one piece, and random strings.
pub fn odd_text(max_parts: usize) -> impl Strategy<Value = String> {
    let part = prop_oneof![
        6 => proptest::sample::select(PIECES).prop_map(str::to_owned),
        1 => (proptest::sample::select(PIECES), 1usize..3_000)
            .prop_map(|(piece, n)| piece.repeat(n)),
        2 => any::<String>(),
        1 => "[a-z]{1,40}",
    ];
    proptest::collection::vec(part, 0..max_parts).prop_map(|parts| parts.concat())
}

/// Random bytes decoded as UTF-8 with replacement characters, as an upload
/// of unknown encoding would be.
pub fn lossy_bytes(max_len: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<u8>(), 0..max_len)
        .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// Any of the three kinds of text.
pub fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![odd_text(60), lossy_bytes(2_000), any::<String>()]
}

fn prompt() -> impl Strategy<Value = Prompt> {
    (any_text(), any_text(), any_text()).prop_map(|(title, question, text)| Prompt {
        title,
        question,
        text,
    })
}

/// Extracts with the per-thread extractor, a fresh one, and one that skips
/// the word-vector family, and checks that every value is finite and that
/// they agree where they compute the same thing.
fn assert_extraction_is_finite(prompt: &Prompt, essay: &str) -> Result<(), TestCaseError> {
    let prepared = PreparedPrompt::new(prompt);
    let shared = features::extract(&prepared, essay);
    prop_assert_eq!(shared.len(), feature_count());
    for (name, value) in shared.iter() {
        prop_assert!(
            value.is_finite(),
            "{} is {} for essay {:?}",
            name,
            value,
            essay
        );
    }
    let fresh = Extractor::new().extract(&prepared, essay);
    let differing: Vec<String> = shared
        .iter()
        .zip(fresh.values())
        .filter(|((_, a), b)| a != *b)
        .map(|((name, a), b)| format!("{name}: {a} (reused) vs {b} (fresh)"))
        .collect();
    prop_assert!(
        differing.is_empty(),
        "a reused extractor disagrees with a fresh one: {:?}",
        differing
    );
    let mut row = vec![f32::NAN; feature_count()];
    Extractor::with_selection(Selection::for_features(&[]))
        .extract_into(&prepared, essay, &mut row)
        .expect("the row has one slot per feature");
    prop_assert!(row.iter().all(|v| v.is_finite()));
    Ok(())
}

proptest! {
    #![proptest_config(fuzz_config(12))]

    #[test]
    fn any_essay_against_any_prompt_gives_finite_features(prompt in prompt(), essay in any_text()) {
        assert_extraction_is_finite(&prompt, &essay)?;
    }

    #[test]
    fn an_essay_that_copies_the_prompt_with_noise_gives_finite_features(
        text in odd_text(40),
        noise in any_text(),
        cut in any::<prop::sample::Index>(),
    ) {
        // Copying is where the relation features divide by overlaps and
        // lengths: share the prompt's words, then add noise.
        let prompt = Prompt { title: String::new(), question: text.clone(), text: text.clone() };
        let mut at = cut.index(text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let essay = format!("{}{}{}", &text[..at], noise, &text[at..]);
        assert_extraction_is_finite(&prompt, &essay)?;
    }
}

#[test]
fn empty_and_blank_inputs_give_finite_features() {
    for (text, essay) in [
        ("", ""),
        ("", "word"),
        ("word", ""),
        (" \n\t ", "\u{0}\u{0}"),
    ] {
        let prompt = Prompt {
            title: String::new(),
            question: text.to_owned(),
            text: text.to_owned(),
        };
        assert_extraction_is_finite(&prompt, essay).unwrap();
    }
}
