//! TF-IDF vectors of a prompt (whole text and each sentence) and the
//! similarity of an essay to them.
//!
//! The documents are the prompt's sentences, so IDF rewards the words that
//! distinguish one part of the source from another, which is what "the essay
//! covers this part" needs. Weights: tf = 1 + ln(count) (sublinear), idf =
//! ln((1 + N) / (1 + df)) + 1 (smoothed, as in scikit-learn), over content-word
//! stems only. A stem absent from the prompt gets the largest idf; it adds to
//! the essay's norm and so lowers its similarity, as an off-topic word should.
//!
//! The index is built once per prompt; scoring an essay costs one hash look-up
//! per distinct essay stem plus one addition per (stem, prompt sentence) pair
//! from an inverted index.

use super::hashing::HashMap64;

/// TF-IDF cosine similarities of an essay to a prompt.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TfidfScores {
    /// Cosine to the whole prompt text.
    pub whole: f64,
    /// Cosine to the best-matching prompt sentence.
    pub best_sentence: f64,
    /// Mean cosine to the 3 best-matching sentences (fewer if the prompt has fewer).
    pub top3_sentences: f64,
    /// Prompt sentences with cosine >= [`COVERED_COSINE`].
    pub covered: usize,
    /// `covered` / prompt sentences.
    pub covered_share: f64,
    /// (last covered sentence − first covered sentence + 1) / prompt sentences.
    pub covered_span: f64,
    /// Sum of the cosines to every prompt sentence: a soft count of the
    /// sentences covered.
    pub cosine_sum: f64,
}

/// A prompt sentence counts as covered by an essay at this cosine or above.
/// A judgement, not fitted: high enough that one shared word of moderate
/// weight in a long essay does not count, low enough that a sentence
/// restating it does (see the unit tests).
pub const COVERED_COSINE: f64 = 0.2;

/// The TF-IDF index of one prompt text.
#[derive(Debug, Clone, Default)]
pub struct TfidfIndex {
    /// Stem → idf, for stems in the prompt.
    idf: HashMap64<f32>,
    /// The idf of a stem the prompt does not contain.
    unseen_idf: f32,
    /// Stem → weight in the whole-prompt vector.
    whole: HashMap64<f32>,
    /// Euclidean norm of the whole-prompt vector.
    whole_norm: f32,
    /// Stem → range in `postings`.
    posting_ranges: HashMap64<(u32, u32)>,
    /// (sentence, weight) pairs grouped by stem.
    postings: Vec<(u32, f32)>,
    /// Norm of each sentence vector.
    sentence_norms: Vec<f32>,
}

fn sublinear_tf(count: u32) -> f32 {
    1.0 + (count as f32).ln()
}

impl TfidfIndex {
    /// Builds the index from the content stems of each prompt sentence.
    pub fn new(sentences: &[Vec<u64>]) -> Self {
        let n = sentences.len();
        let mut df: HashMap64<u32> = HashMap64::default();
        let mut whole_counts: HashMap64<u32> = HashMap64::default();
        let mut sentence_counts: Vec<HashMap64<u32>> = Vec::with_capacity(n);
        for sentence in sentences {
            let mut counts: HashMap64<u32> = HashMap64::default();
            for &stem in sentence {
                *counts.entry(stem).or_default() += 1;
                *whole_counts.entry(stem).or_default() += 1;
            }
            for &stem in counts.keys() {
                *df.entry(stem).or_default() += 1;
            }
            sentence_counts.push(counts);
        }
        let total = n as f32;
        let idf: HashMap64<f32> = df
            .iter()
            .map(|(&stem, &d)| (stem, ((1.0 + total) / (1.0 + d as f32)).ln() + 1.0))
            .collect();
        let unseen_idf = (1.0 + total).ln() + 1.0;
        let whole: HashMap64<f32> = whole_counts
            .iter()
            .map(|(&stem, &c)| (stem, sublinear_tf(c) * idf[&stem]))
            .collect();
        let whole_norm = whole.values().map(|w| w * w).sum::<f32>().sqrt();

        let mut by_stem: HashMap64<Vec<(u32, f32)>> = HashMap64::default();
        let mut sentence_norms = Vec::with_capacity(n);
        for (s, counts) in sentence_counts.iter().enumerate() {
            let mut norm = 0.0f32;
            for (&stem, &c) in counts {
                let w = sublinear_tf(c) * idf[&stem];
                norm += w * w;
                by_stem.entry(stem).or_default().push((s as u32, w));
            }
            sentence_norms.push(norm.sqrt());
        }
        let mut postings = Vec::new();
        let mut posting_ranges = HashMap64::default();
        for (stem, list) in by_stem {
            let start = postings.len() as u32;
            postings.extend(list);
            posting_ranges.insert(stem, (start, postings.len() as u32));
        }
        Self {
            idf,
            unseen_idf,
            whole,
            whole_norm,
            posting_ranges,
            postings,
            sentence_norms,
        }
    }

    /// An estimate of the heap memory of the index, in bytes (each table
    /// entry as its key, its value and one control byte).
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let entry = |value: usize| size_of::<u64>() + value + 1;
        self.idf.capacity() * entry(size_of::<f32>())
            + self.whole.capacity() * entry(size_of::<f32>())
            + self.posting_ranges.capacity() * entry(size_of::<(u32, u32)>())
            + self.postings.capacity() * size_of::<(u32, f32)>()
            + self.sentence_norms.capacity() * size_of::<f32>()
    }

    /// Number of prompt sentences indexed.
    pub fn sentence_count(&self) -> usize {
        self.sentence_norms.len()
    }

    /// The prompt stems with the largest whole-text weight, at most `k`,
    /// heaviest first (ties broken by hash, so the choice is deterministic).
    pub fn keywords(&self, k: usize) -> Vec<u64> {
        let mut all: Vec<(u64, f32)> = self.whole.iter().map(|(&s, &w)| (s, w)).collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        all.into_iter().take(k).map(|(s, _)| s).collect()
    }

    /// Adds to `scratch.dots` the dot product of the essay with each prompt
    /// sentence it shares a stem with, recording those in `scratch.touched`;
    /// returns the essay's norm and its dot with the whole prompt, or None
    /// when either side is empty. Only touched sentences are visited later,
    /// so the cost follows the essay, not the prompt.
    fn accumulate(&self, terms: &[(u64, u32)], scratch: &mut TfidfScratch) -> Option<(f32, f32)> {
        let n = self.sentence_count();
        scratch.reset(n);
        if n == 0 || terms.is_empty() {
            return None;
        }
        let mut essay_norm = 0.0f32;
        let mut whole_dot = 0.0f32;
        for &(stem, count) in terms {
            let idf = self.idf.get(&stem).copied().unwrap_or(self.unseen_idf);
            let w = sublinear_tf(count) * idf;
            essay_norm += w * w;
            if let Some(pw) = self.whole.get(&stem) {
                whole_dot += w * pw;
            }
            if let Some(&(start, end)) = self.posting_ranges.get(&stem) {
                for &(s, sw) in &self.postings[start as usize..end as usize] {
                    let dot = &mut scratch.dots[s as usize];
                    // Weights are positive, so a zero dot means "not touched yet".
                    if *dot == 0.0 {
                        scratch.touched.push(s);
                    }
                    *dot += w * sw;
                }
            }
        }
        let essay_norm = essay_norm.sqrt();
        (essay_norm > 0.0).then_some((essay_norm, whole_dot))
    }

    fn cosine(&self, dot: f32, essay_norm: f32, sentence: usize) -> f64 {
        let norm = self.sentence_norms[sentence];
        if norm > 0.0 && essay_norm > 0.0 {
            f64::from((dot / (essay_norm * norm)).clamp(0.0, 1.0))
        } else {
            0.0
        }
    }

    /// The prompt sentence most similar to a text given as (content stem,
    /// count) pairs, with its cosine (ties go to the earlier sentence); None
    /// when nothing is shared.
    pub fn best_sentence(
        &self,
        terms: &[(u64, u32)],
        scratch: &mut TfidfScratch,
    ) -> Option<(usize, f64)> {
        let (essay_norm, _) = self.accumulate(terms, scratch)?;
        let mut best: Option<(usize, f64)> = None;
        for &s in &scratch.touched {
            let s = s as usize;
            let c = self.cosine(scratch.dots[s], essay_norm, s);
            if best.is_none_or(|(b, bc)| c > bc || (c == bc && s < b)) {
                best = Some((s, c));
            }
        }
        best
    }

    /// Scores an essay given as (content stem, count) pairs with distinct stems.
    pub fn score(&self, terms: &[(u64, u32)], scratch: &mut TfidfScratch) -> TfidfScores {
        let n = self.sentence_count();
        let Some((essay_norm, whole_dot)) = self.accumulate(terms, scratch) else {
            return TfidfScores::default();
        };
        let mut top = [0.0f64; 3];
        let mut covered = 0usize;
        let mut cosine_sum = 0.0f64;
        let (mut first, mut last) = (usize::MAX, 0usize);
        for &s in &scratch.touched {
            let s = s as usize;
            let c = self.cosine(scratch.dots[s], essay_norm, s);
            cosine_sum += c;
            if c >= COVERED_COSINE {
                covered += 1;
                first = first.min(s);
                last = last.max(s);
            }
            if c > top[2] {
                top[2] = c;
                if top[2] > top[1] {
                    top.swap(1, 2);
                    if top[1] > top[0] {
                        top.swap(0, 1);
                    }
                }
            }
        }
        let top_n = n.min(3);
        let whole = if self.whole_norm > 0.0 {
            f64::from((whole_dot / (essay_norm * self.whole_norm)).clamp(0.0, 1.0))
        } else {
            0.0
        };
        TfidfScores {
            whole,
            best_sentence: top[0],
            top3_sentences: top[..top_n].iter().sum::<f64>() / top_n as f64,
            covered,
            covered_share: covered as f64 / n as f64,
            covered_span: if covered > 0 {
                (last - first + 1) as f64 / n as f64
            } else {
                0.0
            },
            cosine_sum,
        }
    }
}

/// Reusable buffers for scoring texts against an index: a dot product per
/// prompt sentence, kept at zero between calls, and the sentences touched.
#[derive(Debug, Clone, Default)]
pub struct TfidfScratch {
    dots: Vec<f32>,
    touched: Vec<u32>,
}

impl TfidfScratch {
    /// Zeroes what the last call touched, and sizes the buffer for an index
    /// of `sentences` sentences.
    fn reset(&mut self, sentences: usize) {
        if self.dots.len() == sentences {
            for &s in &self.touched {
                self.dots[s as usize] = 0.0;
            }
        } else {
            self.dots.clear();
            self.dots.resize(sentences, 0.0);
        }
        self.touched.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::hashing::hash_str;

    fn stems(words: &str) -> Vec<u64> {
        words.split_whitespace().map(hash_str).collect()
    }

    #[test]
    fn an_essay_equal_to_a_sentence_has_cosine_one_with_it() {
        let index = TfidfIndex::new(&[stems("pity fear tragedy"), stems("plot hero fortune")]);
        let terms: Vec<(u64, u32)> = stems("plot hero fortune")
            .into_iter()
            .map(|s| (s, 1))
            .collect();
        let scores = index.score(&terms, &mut TfidfScratch::default());
        assert!((scores.best_sentence - 1.0).abs() < 1e-6);
        assert_eq!(scores.covered, 1);
        assert!((scores.covered_share - 0.5).abs() < 1e-12);
        assert!((scores.top3_sentences - 0.5).abs() < 1e-6);
        assert!(scores.whole > 0.5 && scores.whole < 1.0);
        assert!((scores.cosine_sum - 1.0).abs() < 1e-6);
        assert_eq!(
            index
                .best_sentence(&terms, &mut TfidfScratch::default())
                .map(|(s, _)| s),
            Some(1)
        );
    }

    #[test]
    fn an_unrelated_essay_scores_zero_and_an_empty_index_is_neutral() {
        let index = TfidfIndex::new(&[stems("pity fear tragedy")]);
        let terms = vec![(hash_str("meat"), 3)];
        assert_eq!(
            index.score(&terms, &mut TfidfScratch::default()),
            TfidfScores::default()
        );
        let empty = TfidfIndex::new(&[]);
        assert_eq!(
            empty.score(&terms, &mut TfidfScratch::default()),
            TfidfScores::default()
        );
    }

    #[test]
    fn a_reused_scratch_gives_the_same_scores_as_a_fresh_one() {
        let index = TfidfIndex::new(&[
            stems("pity fear tragedy"),
            stems("plot hero fortune"),
            stems("fear plot"),
        ]);
        let a: Vec<(u64, u32)> = stems("pity fear").into_iter().map(|s| (s, 2)).collect();
        let b: Vec<(u64, u32)> = stems("plot hero").into_iter().map(|s| (s, 1)).collect();
        let mut reused = TfidfScratch::default();
        index.score(&a, &mut reused);
        let other = TfidfIndex::new(&[stems("plot")]);
        other.score(&b, &mut reused);
        assert_eq!(
            index.score(&b, &mut reused),
            index.score(&b, &mut TfidfScratch::default())
        );
        assert_eq!(
            index.best_sentence(&b, &mut reused),
            index.best_sentence(&b, &mut TfidfScratch::default())
        );
    }

    #[test]
    fn keywords_prefer_frequent_distinctive_stems() {
        let index = TfidfIndex::new(&[
            stems("meat meat meat rot"),
            stems("meat sausage"),
            stems("borax"),
        ]);
        assert_eq!(index.keywords(1), vec![hash_str("meat")]);
        assert_eq!(index.keywords(10).len(), 4);
    }
}
