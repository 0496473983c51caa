//! Text in, a named feature vector out: the features of an essay, its
//! prompt's source text, its question, and their relation. Pure functions:
//! no I/O, no async, no printing. It may use nothing else of ours.
//!
//! - [`catalogue`]: every feature's name, group and definition, in vector order.
//! - [`concepts`]: the named concepts (length, copying, ...) every feature
//!   belongs to, and the sentence that puts an essay's figure into words.
//! - [`prompt`]: [`Prompt`] and [`PreparedPrompt`], the prompt-only work done once.
//! - [`text`]: Unicode tokenising, stemming, sentence and paragraph splitting
//!   (`segment`: a UAX #29-exact fast path for ASCII text).
//! - [`lexicon`]: compiled-in word lists (spelling dictionary, stopwords, connectives).
//! - [`readability`]: syllables and readability formulas.
//! - [`question`]: the task kinds and element count a question asks for.
//! - [`tfidf`]: TF-IDF vectors of a prompt and an essay's similarity to them.
//! - [`essay`]: the e_ features; [`relation`]: the r_ features of exact
//!   words; [`paraphrase`]: the r_ features past exact words (meaning by word
//!   vectors, rarity against the source).
//! - [`word_vectors`]: the compiled-in GloVe vectors and frequency ranks;
//!   `best_cosines`: the small cosine products of the meaning features.
//! - [`hashing`]: words and n-grams as 64-bit hashes.
//!
//! Use: `let prepared = PreparedPrompt::new(&prompt);` once per prompt, then
//! `extract(&prepared, essay)` per essay, or an [`Extractor`] to reuse buffers
//! in a loop. Every value is finite for every input.

mod best_cosines;
pub mod catalogue;
pub mod concepts;
mod essay;
pub mod hashing;
pub mod lexicon;
mod paraphrase;
pub mod prompt;
pub mod question;
pub mod readability;
mod relation;
mod segment;
pub mod text;
pub mod tfidf;
pub mod word_vectors;

use std::cell::RefCell;

pub use catalogue::{Feature, FeatureDef, FeatureGroup, catalogue, feature_count, feature_index};
pub use concepts::Concept;
pub use prompt::{PreparedPrompt, Prompt};

/// The word-vector features that compare the essay with the source sentence
/// by sentence or keyword by keyword: the family's two costliest parts,
/// which an [`Extractor`] skips for a model that uses none of them.
pub const MEANING_BY_SENTENCE_AND_KEYWORD: [Feature; 4] =
    catalogue::joined(paraphrase::BY_SENTENCE, paraphrase::BY_KEYWORD);

use essay::EssayScratch;
use paraphrase::ParaphraseScratch;
use prompt::PROMPT_FEATURES;
use relation::RelationScratch;
use text::{Tokeniser, Tokens};

/// Errors of the features module.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FeatureError {
    /// An output buffer does not have one slot per catalogue feature.
    #[error("feature buffer holds {got} values but the catalogue has {expected} features")]
    BufferLength {
        /// The catalogue's length.
        expected: usize,
        /// The buffer's length.
        got: usize,
    },
}

/// The features of one essay, in catalogue order.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureVector {
    values: Vec<f32>,
}

impl FeatureVector {
    /// The values, in catalogue order.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// The values, consumed.
    pub fn into_values(self) -> Vec<f32> {
        self.values
    }

    /// The value of the feature called `name`, if the catalogue has it.
    pub fn get(&self, name: &str) -> Option<f32> {
        feature_index(name).map(|i| self.values[i])
    }

    /// The value of `feature`.
    pub fn value(&self, feature: Feature) -> f32 {
        self.values[feature as usize]
    }

    /// (name, value) pairs in catalogue order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, f32)> + '_ {
        catalogue()
            .iter()
            .zip(&self.values)
            .map(|(d, &v)| (d.name, v))
    }

    /// Number of values (the catalogue's length).
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Always false: a vector holds every catalogue feature.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Which features an [`Extractor`] computes. Everything by default; a
/// model that uses none of the word-vector meaning and rarity features (the
/// `paraphrase` family, the costliest per essay) can skip them, and one
/// that uses some can skip the family's two costliest parts when it uses
/// none of their features (`paraphrase::BY_SENTENCE`, `paraphrase::BY_KEYWORD`).
/// Skipped features are 0 in the vector; the others are the same either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selection {
    /// The word-vector family's parts to compute, or `None` to skip it.
    meaning: Option<paraphrase::Parts>,
}

impl Default for Selection {
    fn default() -> Self {
        Self::all()
    }
}

impl Selection {
    /// Every feature.
    pub fn all() -> Self {
        Self {
            meaning: Some(paraphrase::Parts::ALL),
        }
    }

    /// What a model whose inputs are the catalogue positions `indices`
    /// needs: the word-vector family only if it uses one of its features,
    /// and of it only the parts whose features it uses.
    pub fn for_features(indices: &[usize]) -> Self {
        let uses_family = paraphrase::FEATURES
            .iter()
            .any(|&f| indices.contains(&(f as usize)));
        Self {
            meaning: uses_family.then(|| paraphrase::Parts::for_features(indices)),
        }
    }
}

/// Extracts features with reusable buffers. One per thread; cheap to create,
/// faster when reused over many essays (its stem cache warms up).
#[derive(Default)]
pub struct Extractor {
    tokeniser: Tokeniser,
    tokens: Tokens,
    essay: EssayScratch,
    relation: RelationScratch,
    paraphrase: ParaphraseScratch,
    selection: Selection,
}

impl Extractor {
    /// An extractor with empty buffers, computing every feature.
    pub fn new() -> Self {
        Self::default()
    }

    /// An extractor that computes only what `selection` asks for.
    pub fn with_selection(selection: Selection) -> Self {
        Self {
            selection,
            ..Self::default()
        }
    }

    /// The features of `essay` against `prompt`.
    pub fn extract(&mut self, prompt: &PreparedPrompt, essay: &str) -> FeatureVector {
        let mut values = vec![0.0; feature_count()];
        self.fill(prompt, essay, &mut values);
        FeatureVector { values }
    }

    /// Writes the features of `essay` into `out`, which must hold one value
    /// per catalogue feature (a row of a feature matrix, say).
    pub fn extract_into(
        &mut self,
        prompt: &PreparedPrompt,
        essay: &str,
        out: &mut [f32],
    ) -> Result<(), FeatureError> {
        if out.len() != feature_count() {
            return Err(FeatureError::BufferLength {
                expected: feature_count(),
                got: out.len(),
            });
        }
        self.fill(prompt, essay, out);
        Ok(())
    }

    fn fill(&mut self, prompt: &PreparedPrompt, essay: &str, out: &mut [f32]) {
        self.tokeniser.tokenise(essay, &mut self.tokens);
        out[..PROMPT_FEATURES].copy_from_slice(&prompt.prompt_values);
        essay::essay_features(&self.tokens, prompt, &mut self.essay, out);
        relation::relation_features(&self.tokens, prompt, &mut self.relation, out);
        if let Some(parts) = self.selection.meaning {
            let inputs = paraphrase::Inputs {
                tokens: &self.tokens,
                prompt,
                keywords_in_essay: self.relation.keywords_in_essay(),
                parts,
            };
            paraphrase::paraphrase_features(inputs, &mut self.paraphrase, out);
        } else {
            for f in paraphrase::FEATURES {
                out[f as usize] = 0.0;
            }
        }
        for v in out.iter_mut() {
            // Every formula is guarded; this is a last line of defence that
            // debug builds (and so the tests) turn into a failure.
            debug_assert!(v.is_finite(), "a feature is not finite");
            if !v.is_finite() {
                *v = 0.0;
            }
        }
    }
}

thread_local! {
    static EXTRACTOR: RefCell<Extractor> = RefCell::new(Extractor::new());
}

/// The features of `essay` against `prompt`, in catalogue order. Uses a
/// per-thread [`Extractor`], so repeated calls reuse its buffers.
pub fn extract(prompt: &PreparedPrompt, essay: &str) -> FeatureVector {
    extract_selected(prompt, essay, Selection::all())
}

/// [`extract`], computing only what `selection` asks for.
pub fn extract_selected(
    prompt: &PreparedPrompt,
    essay: &str,
    selection: Selection,
) -> FeatureVector {
    EXTRACTOR.with(|cell| match cell.try_borrow_mut() {
        Ok(mut extractor) => {
            extractor.selection = selection;
            extractor.extract(prompt, essay)
        }
        // Only reachable if extraction re-entered itself, which it never does.
        Err(_) => Extractor::with_selection(selection).extract(prompt, essay),
    })
}

#[cfg(test)]
mod tests;
