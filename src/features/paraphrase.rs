//! The features that look past a word's exact form, by word vectors: how
//! the essay's sentences hang together in meaning (e_, the essay alone), and
//! its meaning against the source and the question (r_: similarity,
//! coverage of the source's sentences, its key ideas said in other words),
//! with how rare the essay's own words are beyond the source's vocabulary.
//!
//! (Overlap recounted after correcting misspellings of source words was
//! measured too and did not help; docs/experiments.md, section 7.)
//!
//! Word vectors are used only through derived numbers (cosines and their
//! means), never as raw inputs: a hundred raw dimensions would let a model
//! learn the topic of the few training prompts. When the prompt text is
//! unknown every r_ feature here is 0, like the other text-based r_
//! features; the e_ ones need only the essay.

use super::catalogue::Feature;
use super::essay::{RARE_RANK, ratio, spelt_rank};
use super::hashing::{HashSet64, reset_set};
use super::prompt::PreparedPrompt;
use super::text::Tokens;
use super::word_vectors::{self, DIMS, MeanVector};
use ndarray::ArrayView2;

/// Reusable buffers of these features.
#[derive(Debug, Default)]
pub(crate) struct ParaphraseScratch {
    essay_meaning: MeanVector,
    /// The unit meaning of each essay sentence, rows of `DIMS` values.
    sentence_rows: Vec<f32>,
    /// The unit vector of each distinct content word, rows of `DIMS` values.
    word_rows: Vec<f32>,
    /// Distinct frequency ranks of the essay's content words with a vector.
    content_ranks: Vec<u32>,
    content_stems: HashSet64,
}

/// Every feature this module writes.
pub(crate) const FEATURES: [Feature; 11] = [
    Feature::RMeaningQuestionCosine,
    Feature::ESentenceCoherence,
    Feature::ESentenceFocus,
    Feature::EWordMeaningSpread,
    Feature::RMeaningCosinePrompt,
    Feature::RMeaningSentenceCoverage,
    Feature::RMeaningGrounding,
    Feature::RMeaningKeywordRecall,
    Feature::RParaphraseGap,
    Feature::RNovelMeanLogWordRank,
    Feature::RNovelRareWordShare,
];

/// The features of [`FEATURES`] that need the prompt's text (0 without it).
const AGAINST_THE_SOURCE: [Feature; 8] = [
    Feature::RMeaningQuestionCosine,
    Feature::RMeaningCosinePrompt,
    Feature::RMeaningSentenceCoverage,
    Feature::RMeaningGrounding,
    Feature::RMeaningKeywordRecall,
    Feature::RParaphraseGap,
    Feature::RNovelMeanLogWordRank,
    Feature::RNovelRareWordShare,
];

/// Writes this module's features into `out` (a whole feature vector), which
/// must already hold the other r_ features: the gap starts from them.
pub(crate) fn paraphrase_features(
    tokens: &Tokens,
    prompt: &PreparedPrompt,
    scratch: &mut ParaphraseScratch,
    out: &mut [f32],
) {
    essay_meanings(tokens, scratch);
    cohesion_features(scratch, out);
    if !prompt.has_text() {
        for f in AGAINST_THE_SOURCE {
            out[f as usize] = 0.0;
        }
        return;
    }
    meaning_features(tokens, prompt, scratch, out);
    rarity_features(tokens, prompt, out);
}

/// The meanings of the essay alone, into `scratch`: one unit row per
/// sentence, their sum, the content stems, and one unit row per distinct
/// content word with a vector.
fn essay_meanings(tokens: &Tokens, scratch: &mut ParaphraseScratch) {
    let words = &tokens.words;
    let sentences = &tokens.stats.sentences;
    reset_set(&mut scratch.content_stems);
    scratch.content_ranks.clear();
    // One unit row per essay sentence; the essay's own sum is the sum of its
    // sentences' (every word is in exactly one sentence).
    let essay = &mut scratch.essay_meaning;
    essay.clear();
    scratch.sentence_rows.clear();
    let mut meaning = MeanVector::default();
    for &(a, b) in sentences {
        meaning.clear();
        for w in words[a as usize..b as usize]
            .iter()
            .filter(|w| w.is_content())
        {
            meaning.add_word(w.rank);
            scratch.content_stems.insert(w.stem);
            if word_vectors::has_vector(w.rank) {
                scratch.content_ranks.push(w.rank);
            }
        }
        essay.add(&meaning);
        meaning.normalise();
        scratch
            .sentence_rows
            .extend_from_slice(meaning.components());
    }
    // One unit row per distinct content word with a vector.
    scratch.content_ranks.sort_unstable();
    scratch.content_ranks.dedup();
    let distinct = scratch.content_ranks.len();
    scratch.word_rows.resize(distinct * DIMS, 0.0);
    for (&rank, row) in scratch
        .content_ranks
        .iter()
        .zip(scratch.word_rows.chunks_exact_mut(DIMS))
    {
        word_vectors::write_unit_vector(rank, row);
    }
}

/// The e_ features of meaning: how each sentence follows on from the one
/// before, how it keeps to the whole essay, and how far the essay's words
/// range in meaning. Needs [`essay_meanings`] first.
fn cohesion_features(scratch: &ParaphraseScratch, out: &mut [f32]) {
    // A sentence with no content word that has a vector has a zero row; it
    // has no meaning to compare, so it takes part in no mean.
    let has_meaning = |row: &[f32]| row.iter().any(|&x| x != 0.0);
    let rows = scratch.sentence_rows.chunks_exact(DIMS);
    let mut coherence = 0.0f64;
    let mut pairs = 0usize;
    for (row, next) in rows.clone().zip(rows.clone().skip(1)) {
        if has_meaning(row) && has_meaning(next) {
            coherence += f64::from(dot(row, next));
            pairs += 1;
        }
    }

    let mut whole = scratch.essay_meaning.clone();
    whole.normalise();
    let mut focus = 0.0f64;
    let mut with_meaning = 0usize;
    for row in rows.filter(|row| has_meaning(row)) {
        focus += f64::from(dot(row, whole.components()));
        with_meaning += 1;
    }

    let distinct = scratch.content_ranks.len();
    let mut mean = [0.0f32; DIMS];
    for row in scratch.word_rows[..distinct * DIMS].chunks_exact(DIMS) {
        for (m, x) in mean.iter_mut().zip(row) {
            *m += x;
        }
    }
    let spread = if distinct > 0 {
        1.0 - f64::from(dot(&mean, &mean).sqrt()) / distinct as f64
    } else {
        0.0
    };

    out[Feature::ESentenceCoherence as usize] = ratio(coherence, pairs as f64) as f32;
    out[Feature::ESentenceFocus as usize] = ratio(focus, with_meaning as f64) as f32;
    out[Feature::EWordMeaningSpread as usize] = spread as f32;
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn meaning_features(
    tokens: &Tokens,
    prompt: &PreparedPrompt,
    scratch: &mut ParaphraseScratch,
    out: &mut [f32],
) {
    let sentences = &tokens.stats.sentences;
    let whole = f64::from(scratch.essay_meaning.cosine(&prompt.text_meaning));

    // Sentence by sentence, as one matrix product: each essay sentence's
    // best prompt sentence, and each prompt sentence's best essay sentence.
    let prompt_sentences = prompt.sentence_meanings.nrows();
    let mut grounding = 0.0f64;
    let mut coverage = 0.0f64;
    if !sentences.is_empty() && prompt_sentences > 0 {
        let rows = ArrayView2::from_shape((sentences.len(), DIMS), &scratch.sentence_rows)
            .expect("one row of DIMS values per sentence");
        let cosines = rows.dot(&prompt.sentence_meanings.t());
        for row in cosines.rows() {
            grounding += f64::from(row.fold(0.0f32, |best, &c| best.max(c)));
        }
        for column in cosines.columns() {
            coverage += f64::from(column.fold(0.0f32, |best, &c| best.max(c)));
        }
    }

    // The prompt's keywords: used as they are (1), or the nearest distinct
    // essay content word by meaning (one matrix product).
    let distinct = scratch.content_ranks.len();
    let nearest = if distinct > 0 {
        let rows = ArrayView2::from_shape((distinct, DIMS), &scratch.word_rows[..distinct * DIMS])
            .expect("one row of DIMS values per word");
        Some(prompt.keyword_vectors.dot(&rows.t()))
    } else {
        None
    };
    let mut keyword_credit = 0.0f64;
    for (k, keyword) in prompt.keywords.iter().enumerate() {
        keyword_credit += if scratch.content_stems.contains(keyword) {
            1.0
        } else if let (true, Some(nearest)) = (prompt.keyword_has_vector[k], &nearest) {
            f64::from(nearest.row(k).fold(0.0f32, |best, &c| best.max(c)))
        } else {
            0.0
        };
    }
    let keyword_recall = ratio(keyword_credit, prompt.keywords.len() as f64);
    let exact_keyword_recall = f64::from(out[Feature::RKeywordRecall as usize]);

    let mut set = |f: Feature, v: f64| out[f as usize] = v as f32;
    set(Feature::RMeaningCosinePrompt, whole);
    set(
        Feature::RMeaningQuestionCosine,
        f64::from(scratch.essay_meaning.cosine(&prompt.question_meaning)),
    );
    set(
        Feature::RMeaningSentenceCoverage,
        ratio(coverage, prompt_sentences as f64),
    );
    set(
        Feature::RMeaningGrounding,
        ratio(grounding, sentences.len() as f64),
    );
    set(Feature::RMeaningKeywordRecall, keyword_recall);
    set(
        Feature::RParaphraseGap,
        keyword_recall - exact_keyword_recall,
    );
}

fn rarity_features(tokens: &Tokens, prompt: &PreparedPrompt, out: &mut [f32]) {
    let mut ranked = 0usize;
    let mut novel = 0usize;
    let mut novel_log_rank = 0.0f64;
    let mut novel_rare = 0usize;
    for w in tokens.words.iter().filter(|w| w.is_content()) {
        let Some(rank) = spelt_rank(w) else {
            continue;
        };
        ranked += 1;
        if !prompt.unigrams.contains(&w.stem) {
            novel += 1;
            novel_log_rank += f64::from(rank).ln();
            if rank > RARE_RANK {
                novel_rare += 1;
            }
        }
    }
    out[Feature::RNovelMeanLogWordRank as usize] = ratio(novel_log_rank, novel as f64) as f32;
    out[Feature::RNovelRareWordShare as usize] = ratio(novel_rare as f64, ranked as f64) as f32;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{Extractor, Prompt};

    // An invented source text, written for these tests.
    const SOURCE: &str = "The factory owners hid the spoiled meat from the inspectors. \
        Workers were ordered to grind the rotten meat into sausages. \
        The inspectors were bribed and the public was deceived.";

    fn features(essay: &str) -> crate::features::FeatureVector {
        let prompt = PreparedPrompt::new(&Prompt {
            title: "The Cannery".into(),
            question: "Summarize how the factory fooled the public.".into(),
            text: SOURCE.into(),
        });
        Extractor::new().extract(&prompt, essay)
    }

    #[test]
    fn a_paraphrase_is_closer_in_meaning_than_an_unrelated_essay() {
        let paraphrase = features(
            "The plant bosses concealed bad beef from officials. Employees had to mince the decayed beef into hot dogs.",
        );
        let unrelated =
            features("Pharaohs ruled ancient Egypt with priests and viziers along the Nile.");
        let v = |f: &crate::features::FeatureVector, x: Feature| f.value(x);
        for x in [
            Feature::RMeaningCosinePrompt,
            Feature::RMeaningSentenceCoverage,
            Feature::RMeaningGrounding,
            Feature::RMeaningKeywordRecall,
        ] {
            assert!(v(&paraphrase, x) > v(&unrelated, x) + 0.1, "{x:?}");
        }
        // Few source words, but the ideas are there: a positive gap.
        assert!(v(&paraphrase, Feature::RParaphraseGap) > 0.2);
    }

    #[test]
    fn copying_the_source_gives_full_meaning_scores_and_no_gap() {
        let copy = features(SOURCE);
        assert!(copy.value(Feature::RMeaningCosinePrompt) > 0.99);
        assert!(copy.value(Feature::RMeaningSentenceCoverage) > 0.99);
        assert!((copy.value(Feature::RMeaningKeywordRecall) - 1.0).abs() < 1e-6);
        assert!(copy.value(Feature::RParaphraseGap).abs() < 1e-6);
    }

    #[test]
    fn rare_words_of_the_essays_own_are_counted_beyond_the_source() {
        let plain = features("The owners hid the bad meat and the workers made sausages.");
        let rich =
            features("The proprietors surreptitiously concealed putrid meat from inspectors.");
        assert!(
            rich.value(Feature::RNovelMeanLogWordRank)
                > plain.value(Feature::RNovelMeanLogWordRank)
        );
        assert!(rich.value(Feature::RNovelRareWordShare) > 0.3);
        assert_eq!(plain.value(Feature::RNovelRareWordShare), 0.0);
        assert!(rich.value(Feature::EMeanLogWordRank) > plain.value(Feature::EMeanLogWordRank));
    }

    #[test]
    fn sentences_that_keep_to_one_topic_cohere_more_than_a_jumble() {
        let focused = features(
            "The factory sold rotten meat. The meat was ground into sausages. \
             Inspectors were paid to ignore the spoiled meat.",
        );
        let jumble = features(
            "The factory sold rotten meat. Pharaohs built pyramids along the Nile. \
             Our team won the football championship.",
        );
        let v = |f: &crate::features::FeatureVector, x: Feature| f.value(x);
        assert!(
            v(&focused, Feature::ESentenceCoherence)
                > v(&jumble, Feature::ESentenceCoherence) + 0.1
        );
        assert!(v(&focused, Feature::ESentenceFocus) > v(&jumble, Feature::ESentenceFocus) + 0.05);
        // Words close in meaning range less far than unrelated ones.
        let near = features("Beef, pork, mutton and sausages.");
        let far = features("Beef, pyramids, football and violins.");
        let spread = |f: &crate::features::FeatureVector| f.value(Feature::EWordMeaningSpread);
        assert!(
            spread(&near) + 0.05 < spread(&far),
            "{} {}",
            spread(&near),
            spread(&far)
        );
        // One sentence has no neighbour to cohere with.
        assert_eq!(
            v(
                &features("The factory sold rotten meat."),
                Feature::ESentenceCoherence
            ),
            0.0
        );
    }

    #[test]
    fn an_essay_about_what_was_asked_is_closer_to_the_question() {
        let on_question = features("The owners fooled the public by hiding the spoiled meat.");
        let beside_it = features("Workers ground sausages in the factory all day long.");
        assert!(
            on_question.value(Feature::RMeaningQuestionCosine)
                > beside_it.value(Feature::RMeaningQuestionCosine)
        );
    }

    #[test]
    fn without_a_prompt_text_the_source_features_are_zero_and_the_essays_own_remain() {
        let essay = "The factory hid the meat. The rotten meat became sausages.";
        let prompt = PreparedPrompt::new(&Prompt {
            title: "The Cannery".into(),
            ..Prompt::default()
        });
        let without = Extractor::new().extract(&prompt, essay);
        let with = features(essay);
        for f in AGAINST_THE_SOURCE {
            assert_eq!(without.value(f), 0.0, "{f:?}");
        }
        for f in FEATURES.iter().filter(|f| !AGAINST_THE_SOURCE.contains(f)) {
            assert_ne!(without.value(*f), 0.0, "{f:?}");
            assert_eq!(without.value(*f), with.value(*f), "{f:?}");
        }
    }
}
