//! Text in, a named feature vector out: the features of an essay, its
//! prompt's source text, its question, and their relation. Pure functions:
//! no I/O, no async, no printing. It may use nothing else of ours.
//!
//! - [`catalogue`]: every feature's name, group and definition, in vector order.
//! - [`prompt`]: [`Prompt`] and [`PreparedPrompt`], the prompt-only work done once.
//! - [`text`]: Unicode tokenising, stemming, sentence and paragraph splitting
//!   (`segment`: a UAX #29-exact fast path for ASCII text).
//! - [`lexicon`]: compiled-in word lists (spelling dictionary, stopwords, connectives).
//! - [`readability`]: syllables and readability formulas.
//! - [`question`]: the task kinds and element count a question asks for.
//! - [`tfidf`]: TF-IDF vectors of a prompt and an essay's similarity to them.
//! - [`essay`]: the e_ features; [`relation`]: the r_ features.
//! - [`hashing`]: words and n-grams as 64-bit hashes.
//!
//! Use: `let prepared = PreparedPrompt::new(&prompt);` once per prompt, then
//! `extract(&prepared, essay)` per essay, or an [`Extractor`] to reuse buffers
//! in a loop. Every value is finite for every input.

pub mod catalogue;
mod essay;
pub mod hashing;
pub mod lexicon;
pub mod prompt;
pub mod question;
pub mod readability;
mod relation;
mod segment;
pub mod text;
pub mod tfidf;

use std::cell::RefCell;

pub use catalogue::{Feature, FeatureDef, FeatureGroup, catalogue, feature_count, feature_index};
pub use prompt::{PreparedPrompt, Prompt};

use essay::EssayScratch;
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

/// Extracts features with reusable buffers. One per thread; cheap to create,
/// faster when reused over many essays (its stem cache warms up).
#[derive(Default)]
pub struct Extractor {
    tokeniser: Tokeniser,
    tokens: Tokens,
    essay: EssayScratch,
    relation: RelationScratch,
}

impl Extractor {
    /// An extractor with empty buffers.
    pub fn new() -> Self {
        Self::default()
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
    EXTRACTOR.with(|cell| match cell.try_borrow_mut() {
        Ok(mut extractor) => extractor.extract(prompt, essay),
        // Only reachable if extraction re-entered itself, which it never does.
        Err(_) => Extractor::new().extract(prompt, essay),
    })
}

#[cfg(test)]
mod tests;
