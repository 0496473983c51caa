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

use super::best_cosines::{LANES, best_cosines};
use super::catalogue::{Feature, joined};
use super::essay::{RARE_RANK, ratio, spelt_rank};
use super::prompt::{KEYWORD_COUNT, PreparedPrompt};
use super::relation::KeywordSet;
use super::text::Tokens;
use super::word_vectors::{self, DIMS};

/// Reusable buffers of these features.
#[derive(Debug, Default)]
pub(crate) struct ParaphraseScratch {
    /// The summed meaning of each essay sentence, then scaled to unit length.
    sentence_rows: Vec<[f32; DIMS]>,
    /// The essay's summed meaning (the sum of its sentences' before scaling).
    essay: Vec<f32>,
    /// Each sentence's best cosine with a prompt sentence.
    sentence_best: Vec<f32>,
    /// Each prompt sentence's best cosine with an essay sentence (a slot
    /// per lane of the kernel's blocks).
    prompt_sentence_best: Vec<f32>,
    /// Distinct frequency ranks of the essay's content words with a vector.
    content_ranks: Vec<u32>,
    /// The unit vector of each of `content_ranks`.
    word_rows: Vec<[f32; DIMS]>,
    /// Those of `word_rows` whose words are not words of the source text.
    other_rows: Vec<[f32; DIMS]>,
    /// Each word's best cosine with a keyword (not used).
    word_best: Vec<f32>,
}

/// The features of the essay alone.
const ESSAY_ALONE: [Feature; 3] = [
    Feature::ESentenceCoherence,
    Feature::ESentenceFocus,
    Feature::EWordMeaningSpread,
];

/// The features that need the prompt's text (0 without it).
const AGAINST_THE_SOURCE: [Feature; 8] = [
    Feature::RMeaningCosinePrompt,
    Feature::RMeaningQuestionCosine,
    Feature::RMeaningSentenceCoverage,
    Feature::RMeaningGrounding,
    Feature::RMeaningKeywordRecall,
    Feature::RParaphraseGap,
    Feature::RNovelMeanLogWordRank,
    Feature::RNovelRareWordShare,
];

/// Every feature this module writes.
pub(crate) const FEATURES: [Feature; 11] = joined(ESSAY_ALONE, AGAINST_THE_SOURCE);

/// The features that compare the essay's sentences with the source's, one
/// cosine per pair of sentences.
pub(crate) const BY_SENTENCE: [Feature; 2] = [
    Feature::RMeaningSentenceCoverage,
    Feature::RMeaningGrounding,
];

/// The features that look for the source's keywords by meaning: a cosine
/// per keyword the essay lacks and essay word not in the source.
pub(crate) const BY_KEYWORD: [Feature; 2] =
    [Feature::RMeaningKeywordRecall, Feature::RParaphraseGap];

/// Which of this module's two costliest parts to compute, [`BY_SENTENCE`]
/// and [`BY_KEYWORD`]: the cosine kernels, with the prompt's sentence and
/// keyword vectors to read. A part that is not asked for leaves its
/// features at 0; the others are the same either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Parts {
    pub(crate) by_sentence: bool,
    pub(crate) by_keyword: bool,
}

impl Parts {
    /// Both parts.
    pub(crate) const ALL: Parts = Parts {
        by_sentence: true,
        by_keyword: true,
    };

    /// The parts a model whose inputs are the catalogue positions
    /// `indices` uses.
    pub(crate) fn for_features(indices: &[usize]) -> Parts {
        let uses = |features: &[Feature]| features.iter().any(|&f| indices.contains(&(f as usize)));
        Parts {
            by_sentence: uses(&BY_SENTENCE),
            by_keyword: uses(&BY_KEYWORD),
        }
    }
}

/// What this module's features read besides its scratch buffers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Inputs<'a> {
    pub(crate) tokens: &'a Tokens,
    pub(crate) prompt: &'a PreparedPrompt,
    /// Which of the prompt's keywords the essay's content stems hold (found
    /// by the relation features).
    pub(crate) keywords_in_essay: KeywordSet,
    /// The costly parts to compute.
    pub(crate) parts: Parts,
}

/// Writes this module's features into `out` (a whole feature vector), which
/// must already hold the other r_ features: the gap starts from them.
pub(crate) fn paraphrase_features(
    inputs: Inputs,
    scratch: &mut ParaphraseScratch,
    out: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: `every_feature_avx2` requires only that the CPU has AVX2,
        // which the line above checked.
        unsafe { every_feature_avx2(inputs, scratch, out) };
        return;
    }
    every_feature(inputs, scratch, out);
}

/// [`every_feature`] compiled for AVX2 (the word vectors' bytes widened and
/// scaled eight at a time). It does the same operations in the same order
/// as the build without it, so both give the same numbers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn every_feature_avx2(inputs: Inputs, scratch: &mut ParaphraseScratch, out: &mut [f32]) {
    every_feature(inputs, scratch, out);
}

/// The essay's own meanings and their e_ features, then, if the prompt has a
/// text, the r_ ones; always inlined, so that it is compiled for the
/// instruction set of its caller.
#[inline(always)]
fn every_feature(inputs: Inputs, scratch: &mut ParaphraseScratch, out: &mut [f32]) {
    essay_meanings(inputs.tokens, scratch);
    cohesion_features(scratch, out);
    if !inputs.prompt.has_text() {
        for f in AGAINST_THE_SOURCE {
            out[f as usize] = 0.0;
        }
        return;
    }
    meaning_features(inputs, scratch, out);
    rarity_features(inputs.tokens, inputs.prompt, out);
}

/// The meanings of the essay alone, into `scratch`: one unit row per
/// sentence, their sum, and one unit row per distinct content word with a
/// vector.
#[inline(always)]
fn essay_meanings(tokens: &Tokens, scratch: &mut ParaphraseScratch) {
    let words = &tokens.words;
    let sentences = &tokens.stats.sentences;
    scratch.content_ranks.clear();
    // One row per essay sentence; the essay's own sum is the sum of its
    // sentences' (every word is in exactly one sentence).
    word_vectors::touch_rows(words.iter().filter(|w| w.is_content()).map(|w| w.rank));
    let mut essay = [0.0f32; DIMS];
    scratch.sentence_rows.clear();
    scratch.sentence_rows.resize(sentences.len(), [0.0; DIMS]);
    for (&(a, b), row) in sentences.iter().zip(&mut scratch.sentence_rows) {
        for w in words[a as usize..b as usize]
            .iter()
            .filter(|w| w.is_content())
        {
            if word_vectors::has_vector(w.rank) {
                word_vectors::add_word_to(row, w.rank);
                scratch.content_ranks.push(w.rank);
            }
        }
        for (e, &s) in essay.iter_mut().zip(row.iter()) {
            *e += s;
        }
    }
    normalise_rows(&mut scratch.sentence_rows);
    scratch.essay.clear();
    scratch.essay.extend_from_slice(&essay);

    scratch.content_ranks.sort_unstable();
    scratch.content_ranks.dedup();
    let word_rows = &mut scratch.word_rows;
    word_rows.clear();
    word_rows.resize(scratch.content_ranks.len(), [0.0; DIMS]);
    for (&rank, row) in scratch.content_ranks.iter().zip(word_rows.iter_mut()) {
        word_vectors::write_unit_vector(rank, row);
    }
}

/// The e_ features of meaning: how each sentence follows on from the one
/// before, how it keeps to the whole essay, and how far the essay's words
/// range in meaning. Needs [`essay_meanings`] first.
#[inline(always)]
fn cohesion_features(scratch: &ParaphraseScratch, out: &mut [f32]) {
    // A sentence with no content word that has a vector has a zero row; it
    // has no meaning to compare, so it takes part in no mean.
    let has_meaning = |row: &[f32; DIMS]| row.iter().any(|&x| x != 0.0);
    let rows = &scratch.sentence_rows;
    let mut coherence = 0.0f64;
    let mut pairs = 0usize;
    for pair in rows.windows(2) {
        if has_meaning(&pair[0]) && has_meaning(&pair[1]) {
            coherence += f64::from(dot(&pair[0], &pair[1]));
            pairs += 1;
        }
    }

    let essay_norm = dot(&scratch.essay, &scratch.essay).sqrt();
    let mut focus = 0.0f64;
    let mut with_meaning = 0usize;
    if essay_norm > 0.0 {
        for row in rows.iter().filter(|row| has_meaning(row)) {
            focus += f64::from(dot(row, &scratch.essay) / essay_norm);
            with_meaning += 1;
        }
    }

    let distinct = scratch.word_rows.len();
    let mut sum = [0.0f32; DIMS];
    for row in &scratch.word_rows {
        for (s, x) in sum.iter_mut().zip(row) {
            *s += x;
        }
    }
    let spread = if distinct > 0 {
        1.0 - f64::from(dot(&sum, &sum).sqrt()) / distinct as f64
    } else {
        0.0
    };

    out[Feature::ESentenceCoherence as usize] = ratio(coherence, pairs as f64) as f32;
    out[Feature::ESentenceFocus as usize] = ratio(focus, with_meaning as f64) as f32;
    out[Feature::EWordMeaningSpread as usize] = spread as f32;
}

#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The meaning features, each part only if asked for (0 otherwise); always
/// inlined, so that it is compiled for the instruction set of its caller.
#[inline(always)]
fn meaning_features(inputs: Inputs, scratch: &mut ParaphraseScratch, out: &mut [f32]) {
    let Inputs { prompt, parts, .. } = inputs;
    let essay: &[f32; DIMS] = scratch.essay[..]
        .try_into()
        .expect("essay_meanings wrote DIMS values");
    let whole = f64::from(cosine_with_prompt(essay, prompt));
    let question = f64::from(cosine_with(essay, &prompt.question_meaning));
    let (coverage, grounding) = if parts.by_sentence {
        sentences_against_the_source(inputs.tokens.stats.sentences.len(), prompt, scratch)
    } else {
        (0.0, 0.0)
    };
    let exact_keyword_recall = f64::from(out[Feature::RKeywordRecall as usize]);
    let (keyword_recall, gap) = if parts.by_keyword {
        let recall = keyword_recall_by_meaning(prompt, inputs.keywords_in_essay, scratch);
        (recall, recall - exact_keyword_recall)
    } else {
        (0.0, 0.0)
    };

    let mut set = |f: Feature, v: f64| out[f as usize] = v as f32;
    set(Feature::RMeaningCosinePrompt, whole);
    set(Feature::RMeaningQuestionCosine, question);
    set(Feature::RMeaningSentenceCoverage, coverage);
    set(Feature::RMeaningGrounding, grounding);
    set(Feature::RMeaningKeywordRecall, keyword_recall);
    set(Feature::RParaphraseGap, gap);
}

/// Sentence by sentence: the mean over the prompt's sentences of each one's
/// best cosine with an essay sentence (coverage), and the mean over the
/// `sentences` essay sentences of each one's best with a prompt sentence
/// (grounding). Needs [`essay_meanings`] first.
#[inline(always)]
fn sentences_against_the_source(
    sentences: usize,
    prompt: &PreparedPrompt,
    scratch: &mut ParaphraseScratch,
) -> (f64, f64) {
    let prompt_sentences = prompt.sentence_meanings.len();
    let mut grounding = 0.0f64;
    let mut coverage = 0.0f64;
    if sentences > 0 && prompt_sentences > 0 {
        let sentence_best = &mut scratch.sentence_best;
        sentence_best.clear();
        sentence_best.resize(sentences, 0.0);
        let prompt_best = &mut scratch.prompt_sentence_best;
        prompt_best.clear();
        prompt_best.resize(prompt.sentence_meanings.blocks() * LANES, 0.0);
        best_cosines(
            &scratch.sentence_rows,
            &prompt.sentence_meanings,
            |_| true,
            sentence_best,
            prompt_best,
        );
        for &best in sentence_best.iter() {
            grounding += f64::from(best);
        }
        for &best in &prompt_best[..prompt_sentences] {
            coverage += f64::from(best);
        }
    }
    (
        ratio(coverage, prompt_sentences as f64),
        ratio(grounding, sentences as f64),
    )
}

/// The prompt's keywords: each one used as it is counts 1, each one the
/// essay lacks the cosine of its nearest distinct essay content word by
/// meaning; the mean over the keywords. Needs [`essay_meanings`] first.
#[inline(always)]
fn keyword_recall_by_meaning(
    prompt: &PreparedPrompt,
    keywords_in_essay: KeywordSet,
    scratch: &mut ParaphraseScratch,
) -> f64 {
    let lacking = |k: usize| keywords_in_essay & (1 << k) == 0 && prompt.keyword_has_vector[k];
    let keywords = prompt.keywords.len();
    let mut nearest = [0.0f32; KEYWORD_COUNT.next_multiple_of(LANES)];
    if !scratch.content_ranks.is_empty() && (0..keywords).any(lacking) {
        let lanes = &prompt.keyword_vectors;
        let width = lanes.blocks() * LANES;
        let nearest = &mut nearest[..width];
        // Words of the source: their cosines were computed with the prompt.
        let known = &prompt.text_word_keyword_cosines;
        scratch.other_rows.clear();
        for (&rank, row) in scratch.content_ranks.iter().zip(&scratch.word_rows) {
            match prompt.text_word_rows.get(&word_vectors::rank_key(rank)) {
                Some(&at) => {
                    let cosines = &known[at as usize * width..][..width];
                    for (best, &c) in nearest.iter_mut().zip(cosines) {
                        *best = best.max(c);
                    }
                }
                None => scratch.other_rows.push(*row),
            }
        }
        scratch.word_best.clear();
        scratch.word_best.resize(scratch.other_rows.len(), 0.0);
        best_cosines(
            &scratch.other_rows,
            lanes,
            |b| (b * LANES..((b + 1) * LANES).min(keywords)).any(lacking),
            &mut scratch.word_best,
            nearest,
        );
    }
    let mut keyword_credit = 0.0f64;
    for (k, &best) in nearest.iter().enumerate().take(keywords) {
        keyword_credit += if keywords_in_essay & (1 << k) != 0 {
            1.0
        } else if lacking(k) {
            f64::from(best)
        } else {
            0.0
        };
    }
    ratio(keyword_credit, keywords as f64)
}

/// Scales each row to unit length, as [`word_vectors::MeanVector::normalise`]
/// does: the same sums of squares in the same order, four rows' sums at a
/// time in registers so that they overlap instead of each waiting on its
/// own last addition.
#[inline(always)]
fn normalise_rows(rows: &mut [[f32; DIMS]]) {
    let mut quads = rows.chunks_exact_mut(4);
    for quad in &mut quads {
        // −0, where `Iterator::sum` starts (a square is never −0, so the
        // start cannot show; it is kept for the same reason below).
        let mut squares = [-0.0f32; 4];
        for d in 0..DIMS {
            for (sum, row) in squares.iter_mut().zip(quad.iter()) {
                *sum += row[d] * row[d];
            }
        }
        for (row, &sum) in quad.iter_mut().zip(&squares) {
            scale_to_unit(row, sum);
        }
    }
    for row in quads.into_remainder() {
        let sum = row.iter().fold(-0.0f32, |sum, &x| sum + x * x);
        scale_to_unit(row, sum);
    }
}

/// Scales `row`, whose sum of squares is `squares`, to unit length (a zero
/// row stays zero).
#[inline(always)]
fn scale_to_unit(row: &mut [f32; DIMS], squares: f32) {
    let norm = squares.sqrt();
    if norm > 0.0 {
        let inverse = 1.0 / norm;
        for x in row.iter_mut() {
            *x *= inverse;
        }
    }
}

/// [`word_vectors::MeanVector::cosine`] of the essay's summed meaning with the prompt
/// text's, with the prompt's squared norm computed once per prompt.
#[inline(always)]
fn cosine_with_prompt(essay: &[f32; DIMS], prompt: &PreparedPrompt) -> f32 {
    let other = prompt.text_meaning.components();
    // From −0 like `Iterator::sum`: a dot product of exact zeros stays −0.
    let (mut own, mut shared) = (-0.0f32, -0.0f32);
    for (&e, &p) in essay.iter().zip(other) {
        own += e * e;
        shared += e * p;
    }
    let theirs = prompt.text_meaning_squared_norm;
    if own > 0.0 && theirs > 0.0 {
        (shared / (own * theirs).sqrt()).clamp(-1.0, 1.0)
    } else {
        0.0
    }
}

/// The cosine of the essay's summed meaning with `other`'s, as
/// [`word_vectors::MeanVector::cosine`] computes it.
#[inline(always)]
fn cosine_with(essay: &[f32; DIMS], other: &word_vectors::MeanVector) -> f32 {
    let other = other.components();
    let (own, theirs, shared) = (dot(essay, essay), dot(other, other), dot(essay, other));
    if own > 0.0 && theirs > 0.0 {
        (shared / (own * theirs).sqrt()).clamp(-1.0, 1.0)
    } else {
        0.0
    }
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
