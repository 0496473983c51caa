//! The r_ features that look past a word's exact form: meaning by word
//! vectors (similarity to the source, coverage of its sentences, its key
//! ideas said in other words), and how rare the essay's own words are beyond
//! the source's vocabulary.
//!
//! (Overlap recounted after correcting misspellings of source words was
//! measured too and did not help; docs/experiments.md, section 7.)
//!
//! Word vectors are used only through derived numbers (cosines and their
//! means), never as raw inputs: a hundred raw dimensions would let a model
//! learn the topic of the few training prompts. When the prompt text is
//! unknown every feature here is 0, like the other text-based r_ features.

use super::catalogue::Feature;
use super::essay::{RARE_RANK, ratio, spelt_rank};
use super::hashing::{HashSet64, reset_set};
use super::prompt::PreparedPrompt;
use super::text::Tokens;
use super::word_vectors::{self, MeanVector};

/// Reusable buffers of these features.
#[derive(Debug, Default)]
pub(crate) struct ParaphraseScratch {
    essay_meaning: MeanVector,
    sentence_meanings: Vec<MeanVector>,
    /// Best cosine of each prompt sentence to an essay sentence.
    prompt_sentence_best: Vec<f32>,
    /// Distinct frequency ranks of the essay's content words with a vector.
    content_ranks: Vec<u32>,
    content_stems: HashSet64,
}

/// Every feature this module writes.
pub(crate) const FEATURES: [Feature; 7] = [
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
    if !prompt.has_text() {
        for f in FEATURES {
            out[f as usize] = 0.0;
        }
        return;
    }
    meaning_features(tokens, prompt, scratch, out);
    rarity_features(tokens, prompt, out);
}

fn meaning_features(
    tokens: &Tokens,
    prompt: &PreparedPrompt,
    scratch: &mut ParaphraseScratch,
    out: &mut [f32],
) {
    let words = &tokens.words;
    let essay = &mut scratch.essay_meaning;
    essay.clear();
    scratch.content_ranks.clear();
    reset_set(&mut scratch.content_stems);
    for w in words.iter().filter(|w| w.is_content()) {
        essay.add_word(w.rank);
        scratch.content_stems.insert(w.stem);
        if word_vectors::has_vector(w.rank) {
            scratch.content_ranks.push(w.rank);
        }
    }
    scratch.content_ranks.sort_unstable();
    scratch.content_ranks.dedup();
    let whole = f64::from(essay.cosine(&prompt.text_meaning));

    // Sentence by sentence: each essay sentence's best prompt sentence, and
    // each prompt sentence's best essay sentence.
    let prompt_sentences = &prompt.sentence_meanings;
    scratch.prompt_sentence_best.clear();
    scratch
        .prompt_sentence_best
        .resize(prompt_sentences.len(), 0.0);
    let sentences = &tokens.stats.sentences;
    if scratch.sentence_meanings.len() < sentences.len() {
        scratch
            .sentence_meanings
            .resize(sentences.len(), MeanVector::default());
    }
    let mut grounding = 0.0f64;
    for (&(a, b), meaning) in sentences.iter().zip(&mut scratch.sentence_meanings) {
        meaning.clear();
        for w in words[a as usize..b as usize]
            .iter()
            .filter(|w| w.is_content())
        {
            meaning.add_word(w.rank);
        }
        meaning.normalise();
        let mut best = 0.0f32;
        for (p, prompt_best) in prompt_sentences
            .iter()
            .zip(&mut scratch.prompt_sentence_best)
        {
            let cosine = meaning.dot(p).max(0.0);
            best = best.max(cosine);
            *prompt_best = prompt_best.max(cosine);
        }
        grounding += f64::from(best);
    }
    let coverage: f64 = scratch
        .prompt_sentence_best
        .iter()
        .map(|&c| f64::from(c))
        .sum();

    // The prompt's keywords: used as they are (1), or the nearest essay word
    // by meaning.
    let mut keyword_credit = 0.0f64;
    for (keyword, &rank) in prompt.keywords.iter().zip(&prompt.keyword_ranks) {
        keyword_credit += if scratch.content_stems.contains(keyword) {
            1.0
        } else if word_vectors::has_vector(rank) {
            scratch
                .content_ranks
                .iter()
                .map(|&r| word_vectors::word_cosine(rank, r))
                .fold(0.0f32, f32::max)
                .into()
        } else {
            0.0
        };
    }
    let keyword_recall = ratio(keyword_credit, prompt.keywords.len() as f64);
    let exact_keyword_recall = f64::from(out[Feature::RKeywordRecall as usize]);

    let mut set = |f: Feature, v: f64| out[f as usize] = v as f32;
    set(Feature::RMeaningCosinePrompt, whole);
    set(
        Feature::RMeaningSentenceCoverage,
        ratio(coverage, prompt_sentences.len() as f64),
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
    fn without_a_prompt_text_every_feature_here_is_zero() {
        let prompt = PreparedPrompt::new(&Prompt {
            title: "The Cannery".into(),
            ..Prompt::default()
        });
        let v = Extractor::new().extract(&prompt, "The factory hid the meat.");
        for f in FEATURES {
            assert_eq!(v.value(f), 0.0, "{f:?}");
        }
    }
}
