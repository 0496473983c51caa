//! The compiled-in GloVe word vectors and word frequency ranks
//! (`assets/wordvectors`, made by `scripts/make_word_vectors.py`), and the
//! arithmetic the meaning features need: IDF-weighted mean vectors and their
//! cosines.
//!
//! The asset holds the 40,000 most frequent a–z words of the GloVe 6B corpus
//! in frequency order, with one row of 100 signed bytes per word (the
//! vector's direction; its length is dropped). A word's 1-based line number is
//! its frequency rank, so one look-up per word type gives both its rarity and
//! its vector. Words are looked up by the hash of their lower-cased form (see
//! `hashing`), like every other word list of this module. Built once per
//! process, on first use.

use std::sync::LazyLock;

use super::hashing::{HashMap64, hash_str};

/// Components of a word vector.
pub const DIMS: usize = 100;

/// Words in the frequency list, each with a vector.
pub const LISTED_WORDS: u32 = 40_000;

/// The rank given to a word that is spelt right (it is in the spelling
/// dictionary) but is rarer than every listed word.
pub const UNLISTED_RANK: u32 = LISTED_WORDS + 1;

const WORDS: &str = include_str!("../../assets/wordvectors/words.txt");
const VECTORS: &[u8] = include_bytes!("../../assets/wordvectors/vectors.i8");

struct Table {
    /// Lower-cased word hash → 1-based frequency rank.
    ranks: HashMap64<u32>,
    /// Row `rank - 1`: the word's vector and its scale factors.
    rows: Vec<Row>,
    /// The mean of every listed word's unit vector: the direction all words
    /// share. Removed from mean vectors (see [`MeanVector::add_word`]).
    common: [f32; DIMS],
}

/// One word as the meaning features read it: the asset's row (the
/// vector's direction in signed bytes) with its scale factors beside it,
/// 128 bytes on a cache-line boundary, so that a word costs two cache lines
/// where the packed asset and a separate table of scales cost three or four.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct Row {
    bytes: [i8; DIMS],
    /// 1 / the row's Euclidean length: scales it to a unit vector.
    inverse_norm: f32,
    /// The word's IDF estimate ([`idf_from_rank`]).
    idf: f32,
    /// `idf · inverse_norm`: the unit vector's weight in a mean vector.
    weighted_inverse_norm: f32,
}

const _: () = assert!(std::mem::size_of::<Row>() == 128);

static TABLE: LazyLock<Table> = LazyLock::new(|| {
    let mut ranks = HashMap64::default();
    ranks.reserve(LISTED_WORDS as usize);
    for (i, word) in WORDS.lines().enumerate() {
        ranks.entry(hash_str(word)).or_insert(i as u32 + 1);
    }
    let rows: Vec<Row> = VECTORS
        .chunks_exact(DIMS)
        .enumerate()
        .map(|(i, stored)| {
            let bytes: [i8; DIMS] = std::array::from_fn(|d| stored[d] as i8);
            let squares: i32 = bytes.iter().map(|&b| i32::from(b).pow(2)).sum();
            let inverse_norm = if squares > 0 {
                1.0 / (squares as f32).sqrt()
            } else {
                0.0
            };
            let idf = idf_from_rank(i as u32 + 1);
            Row {
                bytes,
                inverse_norm,
                idf,
                weighted_inverse_norm: idf * inverse_norm,
            }
        })
        .collect();
    let mut common = [0.0f32; DIMS];
    for row in &rows {
        for (c, &b) in common.iter_mut().zip(&row.bytes) {
            *c += f32::from(b) * row.inverse_norm / LISTED_WORDS as f32;
        }
    }
    Table {
        ranks,
        rows,
        common,
    }
});

/// The frequency rank (1 = most frequent) of the lower-cased word with hash
/// `lower_hash`, or 0 when it is not among the listed words.
pub fn word_rank(lower_hash: u64) -> u32 {
    TABLE.ranks.get(&lower_hash).copied().unwrap_or(0)
}

/// The IDF of a word estimated from its frequency rank. By Zipf's law a
/// word's frequency, and so roughly the share of documents that hold it,
/// falls as 1/rank, so its inverse document frequency grows as ln(rank).
/// Unlisted words weigh as the rarest listed ones.
pub fn idf_from_rank(rank: u32) -> f32 {
    let rank = if rank == 0 { UNLISTED_RANK } else { rank };
    (1.0 + rank as f32).ln()
}

/// The row of the word with frequency rank `rank` (1..=LISTED_WORDS).
#[inline(always)]
fn row(rank: u32) -> &'static Row {
    &TABLE.rows[(rank - 1) as usize]
}

/// Reads the rows of the words with frequency ranks `ranks` (those with a
/// vector) once, all at once, so that the cache lines a text's words need
/// arrive together rather than one word at a time when they are added up:
/// the reads do not depend on each other, so their misses overlap.
#[inline(always)]
pub(crate) fn touch_rows(ranks: impl Iterator<Item = u32>) {
    let rows = &TABLE.rows;
    let mut seen = 0u32;
    for rank in ranks.filter(|&r| has_vector(r)) {
        let row = &rows[(rank - 1) as usize];
        // A byte of each of its two cache lines.
        seen ^= u32::from(row.bytes[0] as u8) ^ row.idf.to_bits();
    }
    std::hint::black_box(seen);
}

/// Adds the word with frequency rank `rank` to the sum of a
/// [`MeanVector`]: its unit vector weighted by its IDF, less the common
/// direction as much. Does nothing for a word without a vector. Always
/// inlined, with a loop of independent lanes, so that it is compiled (and
/// vectorised) for the instruction set of its caller; each lane does the
/// same operations whatever that is (no fused multiply-add), so the sum is
/// the same to the last bit.
#[inline(always)]
pub(crate) fn add_word_to(sum: &mut [f32; DIMS], rank: u32) {
    if !has_vector(rank) {
        return;
    }
    let common = &TABLE.common;
    let row = row(rank);
    let (weight, scale) = (row.idf, row.weighted_inverse_norm);
    for ((s, &b), &c) in sum.iter_mut().zip(&row.bytes).zip(common) {
        *s += scale * f32::from(b) - weight * c;
    }
}

/// The cosine of the vectors of the words with frequency ranks `a` and `b`;
/// 0 when either has none. Computed on the stored bytes.
pub fn word_cosine(a: u32, b: u32) -> f32 {
    if !has_vector(a) || !has_vector(b) {
        return 0.0;
    }
    let (a, b) = (row(a), row(b));
    let dot: i32 = a
        .bytes
        .iter()
        .zip(&b.bytes)
        .map(|(&x, &y)| i32::from(x) * i32::from(y))
        .sum();
    dot as f32 * a.inverse_norm * b.inverse_norm
}

/// The unit vector of each word of `ranks` ([`write_unit_vector`]), in order.
pub fn unit_vectors(ranks: &[u32]) -> Vec<[f32; DIMS]> {
    ranks
        .iter()
        .map(|&rank| {
            let mut row = [0.0; DIMS];
            write_unit_vector(rank, &mut row);
            row
        })
        .collect()
}

/// Writes the unit vector of the word with frequency rank `rank` into
/// `out`, or zeros when it has none. Its dot product with another word's
/// unit vector is [`word_cosine`] of the two. Always inlined, like
/// [`add_word_to`].
#[inline(always)]
pub fn write_unit_vector(rank: u32, out: &mut [f32; DIMS]) {
    if !has_vector(rank) {
        out.fill(0.0);
        return;
    }
    let row = row(rank);
    for (o, &b) in out.iter_mut().zip(&row.bytes) {
        *o = row.inverse_norm * f32::from(b);
    }
}

/// A frequency rank as a well-mixed 64-bit key, for the hash maps of
/// `hashing` (which take their keys as already-mixed hashes).
pub(crate) fn rank_key(rank: u32) -> u64 {
    u64::from(rank).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Does the word of this rank have a vector?
pub fn has_vector(rank: u32) -> bool {
    rank > 0 && rank <= LISTED_WORDS
}

/// A weighted sum of unit word vectors: the meaning of a text or a sentence
/// as one direction. Only directions matter, so it is never divided by the
/// weight.
#[derive(Debug, Clone, PartialEq)]
pub struct MeanVector {
    sum: [f32; DIMS],
    words: u32,
}

impl Default for MeanVector {
    fn default() -> Self {
        Self {
            sum: [0.0; DIMS],
            words: 0,
        }
    }
}

impl MeanVector {
    /// Empties the sum.
    pub fn clear(&mut self) {
        self.sum = [0.0; DIMS];
        self.words = 0;
    }

    /// Adds the word of frequency rank `rank`, weighted by its IDF estimate
    /// ([`idf_from_rank`]), less the direction every word shares (the mean
    /// of all listed unit vectors): without that common part, which is what
    /// makes any two texts look about 0.9 alike, cosines say more about
    /// meaning (the common-component removal of Arora et al. 2017). Words
    /// without a vector are skipped.
    pub fn add_word(&mut self, rank: u32) {
        if has_vector(rank) {
            add_word_to(&mut self.sum, rank);
            self.words += 1;
        }
    }

    /// Adds another sum (the words of a sentence to those of its text).
    pub fn add(&mut self, other: &MeanVector) {
        for (s, o) in self.sum.iter_mut().zip(&other.sum) {
            *s += o;
        }
        self.words += other.words;
    }

    /// The components.
    pub fn components(&self) -> &[f32; DIMS] {
        &self.sum
    }

    /// How many words with a vector were added.
    pub fn words(&self) -> u32 {
        self.words
    }

    /// Scales the sum to unit length (left at zero when it is zero), so that
    /// [`MeanVector::dot`] of two normalised vectors is their cosine.
    pub fn normalise(&mut self) {
        let norm = self.sum.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            let inverse = 1.0 / norm;
            for x in &mut self.sum {
                *x *= inverse;
            }
        }
    }

    /// The dot product with `other`.
    pub fn dot(&self, other: &MeanVector) -> f32 {
        self.sum.iter().zip(&other.sum).map(|(a, b)| a * b).sum()
    }

    /// The cosine of the angle to `other`; 0 when either is empty.
    pub fn cosine(&self, other: &MeanVector) -> f32 {
        let na = self.dot(self);
        let nb = other.dot(other);
        if na > 0.0 && nb > 0.0 {
            (self.dot(other) / (na * nb).sqrt()).clamp(-1.0, 1.0)
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rank(word: &str) -> u32 {
        word_rank(hash_str(word))
    }

    fn word(w: &str) -> MeanVector {
        let mut v = MeanVector::default();
        v.add_word(rank(w));
        v
    }

    #[test]
    fn the_asset_has_one_row_per_listed_word() {
        assert_eq!(WORDS.lines().count(), LISTED_WORDS as usize);
        assert_eq!(VECTORS.len(), LISTED_WORDS as usize * DIMS);
        assert_eq!(TABLE.ranks.len(), LISTED_WORDS as usize);
    }

    #[test]
    fn common_words_rank_before_rare_ones_and_unknown_words_are_unranked() {
        assert_eq!(rank("the"), 1);
        assert!(rank("house") < rank("mansion"));
        assert!(rank("mansion") > 0);
        assert_eq!(rank("qzxvjk"), 0);
        assert!(idf_from_rank(rank("mansion")) > idf_from_rank(rank("house")));
        assert_eq!(idf_from_rank(0), idf_from_rank(UNLISTED_RANK));
    }

    #[test]
    fn synonyms_are_closer_than_unrelated_words() {
        let (big, large, banana) = (rank("big"), rank("large"), rank("banana"));
        assert!(word_cosine(big, large) > 0.6);
        assert!(word_cosine(big, large) > word_cosine(big, banana) + 0.3);
        assert!((word_cosine(big, big) - 1.0).abs() < 1e-5);
        assert_eq!(word_cosine(big, 0), 0.0);
        // The same order holds once the direction all words share is removed.
        let big = word("big");
        assert!(big.cosine(&word("large")) > big.cosine(&word("banana")) + 0.3);
        assert!((big.cosine(&big) - 1.0).abs() < 1e-5);
    }

    #[test]
    fn unit_vectors_have_word_cosines_as_dot_products() {
        let (mut a, mut b) = ([0.0; DIMS], [1.0; DIMS]);
        write_unit_vector(rank("big"), &mut a);
        write_unit_vector(rank("large"), &mut b);
        let dot: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot - word_cosine(rank("big"), rank("large"))).abs() < 1e-5);
        write_unit_vector(0, &mut b);
        assert!(b.iter().all(|&x| x == 0.0));
    }

    #[test]
    fn the_shared_direction_is_removed_from_mean_vectors() {
        // Unrelated words share the common direction; without it they are
        // further apart than their raw vectors.
        let (a, b) = ("banana", "parliament");
        assert!(word(a).cosine(&word(b)) < word_cosine(rank(a), rank(b)));
    }

    #[test]
    fn an_empty_mean_vector_has_cosine_zero_with_anything() {
        assert_eq!(MeanVector::default().cosine(&word("large")), 0.0);
        let mut unknown = MeanVector::default();
        unknown.add_word(0);
        assert_eq!(unknown.words(), 0);
        assert_eq!(unknown.cosine(&word("large")), 0.0);
    }

    #[test]
    fn normalised_vectors_have_cosine_as_their_dot_product() {
        let mut a = word("factory");
        a.add_word(rank("workers"));
        let mut b = word("meat");
        let cosine = a.cosine(&b);
        a.normalise();
        b.normalise();
        assert!((a.dot(&b) - cosine).abs() < 1e-5);
    }
}
