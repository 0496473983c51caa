//! Hashing of words and n-grams to `u64`, and the hash sets and maps keyed by
//! those hashes.
//!
//! Extraction must run at tens of thousands of essays a second, so words are
//! never stored as `String`s: a word is its 64-bit hash, an n-gram the hash of
//! its words' hashes. With 64 bits, some two of the ~10^5 distinct words a
//! prompt and the dictionary hold collide with probability below n²/2^65 ≈
//! 3·10^-10 (the birthday bound), which no feature can notice. Because the keys are already well mixed, the sets use an
//! identity hasher instead of SipHash.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A hasher for keys that are already uniformly distributed `u64` hashes: it
/// passes them through unchanged.
#[derive(Debug, Default, Clone, Copy)]
pub struct PrehashedHasher(u64);

impl Hasher for PrehashedHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is expected; any other key still hashes correctly.
        self.0 = hash_bytes(bytes) ^ self.0.rotate_left(5);
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// The `BuildHasher` of [`PrehashedHasher`].
pub type BuildPrehashed = BuildHasherDefault<PrehashedHasher>;
/// A set of word or n-gram hashes.
pub type HashSet64 = HashSet<u64, BuildPrehashed>;
/// A map keyed by word or n-gram hashes.
pub type HashMap64<V> = HashMap<u64, V, BuildPrehashed>;

/// Above this capacity a reused set or map is replaced rather than cleared:
/// clearing and iterating cost time in proportion to capacity, so one huge
/// essay must not slow every later one.
const REUSE_CAPACITY_LIMIT: usize = 16_384;

/// Empties a reused map, dropping its storage if one huge input grew it.
pub fn reset_map<V>(map: &mut HashMap64<V>) {
    if map.capacity() > REUSE_CAPACITY_LIMIT {
        *map = HashMap64::default();
    } else {
        map.clear();
    }
}

/// A set of hashes for counting one essay's distinct words or n-grams:
/// open addressing with linear probing, in a table of at least twice as
/// many slots as it holds, emptied in time proportional to that. An essay's
/// few hundred keys cost a probe or two each, a fraction of a general hash
/// set's insert. Keys must be well mixed (the low bits pick the slot).
#[derive(Debug, Clone)]
pub struct DistinctSet {
    /// 0 marks an empty slot; the key 0 itself is kept in `has_zero`.
    slots: Vec<u64>,
    /// `slots` in use minus 1 (a power of two minus 1).
    mask: usize,
    len: usize,
    has_zero: bool,
}

impl Default for DistinctSet {
    fn default() -> Self {
        Self {
            slots: vec![0; 16],
            mask: 15,
            len: 0,
            has_zero: false,
        }
    }
}

impl DistinctSet {
    /// Empties the set, sized for `keys` insertions (it grows if more come).
    pub fn reset(&mut self, keys: usize) {
        let size = (2 * keys).next_power_of_two().max(16);
        if self.slots.len() < size || self.slots.len() > REUSE_CAPACITY_LIMIT.max(size) {
            self.slots = vec![0; size];
        } else {
            self.slots[..size].fill(0);
        }
        self.mask = size - 1;
        self.len = 0;
        self.has_zero = false;
    }

    /// Adds `key`; true if it was not there yet.
    #[inline]
    pub fn insert(&mut self, key: u64) -> bool {
        if key == 0 {
            let new = !self.has_zero;
            self.has_zero = true;
            self.len += usize::from(new);
            return new;
        }
        if 2 * (self.len + 1) > self.mask + 1 {
            self.grow();
        }
        let mut i = key as usize & self.mask;
        loop {
            let slot = self.slots[i];
            if slot == key {
                return false;
            }
            if slot == 0 {
                self.slots[i] = key;
                self.len += 1;
                return true;
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Does the set hold `key`?
    #[inline]
    pub fn contains(&self, key: u64) -> bool {
        if key == 0 {
            return self.has_zero;
        }
        let mut i = key as usize & self.mask;
        loop {
            match self.slots[i] {
                0 => return false,
                slot if slot == key => return true,
                _ => i = (i + 1) & self.mask,
            }
        }
    }

    /// The number of distinct keys inserted since the last reset.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Is the set empty?
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Twice the slots, every key placed again.
    fn grow(&mut self) {
        let keys: Vec<u64> = self.slots[..=self.mask]
            .iter()
            .copied()
            .filter(|&k| k != 0)
            .collect();
        let size = 2 * (self.mask + 1);
        self.slots = vec![0; size];
        self.mask = size - 1;
        for key in keys {
            let mut i = key as usize & self.mask;
            while self.slots[i] != 0 {
                i = (i + 1) & self.mask;
            }
            self.slots[i] = key;
        }
    }
}

/// The 64-bit finaliser of MurmurHash3 (fmix64): spreads every input bit over
/// every output bit, which the hash tables need in both the low bits (bucket)
/// and the high bits (control byte).
pub fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

/// FNV-1a over the bytes, then [`mix`]. Used for words (a few bytes each),
/// where FNV's byte loop is faster than the setup of a block hash.
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

/// Hash of a string (its UTF-8 bytes).
pub fn hash_str(s: &str) -> u64 {
    hash_bytes(s.as_bytes())
}

/// Hash of the n-gram `words` (word hashes in order). Order matters:
/// "dog bites man" and "man bites dog" differ.
pub fn hash_ngram(words: &[u64]) -> u64 {
    let mut h: u64 = 0x9e37_79b9_7f4a_7c15 ^ words.len() as u64;
    for &w in words {
        h = mix(h.rotate_left(23) ^ w);
    }
    h
}

/// Combines two hashes into the hash of their sequence; `level` separates
/// the n-gram lengths.
fn pair(a: u64, b: u64, level: u64) -> u64 {
    mix(a.rotate_left(23) ^ b ^ level.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// The 2-, 3-, 4- and 8-gram hashes of a sequence of word hashes, in text
/// order. Built by pairing, so that each costs one mixing step per position
/// however long the n-gram: a 4-gram is a pair of bigrams, an 8-gram a pair
/// of 4-grams. Prompt and essay use this same scheme, so their hashes agree.
#[derive(Debug, Clone, Default)]
pub struct NgramHashes {
    /// Hash of words i, i+1 at position i.
    pub bigrams: Vec<u64>,
    /// Hash of words i..i+3 at position i.
    pub trigrams: Vec<u64>,
    /// Hash of words i..i+4 at position i.
    pub fourgrams: Vec<u64>,
    /// Hash of words i..i+8 at position i.
    pub eightgrams: Vec<u64>,
}

impl NgramHashes {
    /// Replaces the content with the n-grams of `words`.
    pub fn compute(&mut self, words: &[u64]) {
        let n = words.len();
        self.bigrams.clear();
        self.bigrams
            .extend(words.windows(2).map(|w| pair(w[0], w[1], 2)));
        self.trigrams.clear();
        self.trigrams
            .extend((0..n.saturating_sub(2)).map(|i| pair(self.bigrams[i], words[i + 2], 3)));
        self.fourgrams.clear();
        self.fourgrams.extend(
            (0..n.saturating_sub(3)).map(|i| pair(self.bigrams[i], self.bigrams[i + 2], 4)),
        );
        self.eightgrams.clear();
        self.eightgrams.extend(
            (0..n.saturating_sub(7)).map(|i| pair(self.fourgrams[i], self.fourgrams[i + 4], 8)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ngram_hash_depends_on_word_order() {
        let (a, b, c) = (hash_str("dog"), hash_str("bites"), hash_str("man"));
        assert_ne!(hash_ngram(&[a, b, c]), hash_ngram(&[c, b, a]));
        assert_eq!(hash_ngram(&[a, b, c]), hash_ngram(&[a, b, c]));
    }

    #[test]
    fn ngrams_of_different_lengths_hash_apart() {
        let a = hash_str("the");
        assert_ne!(hash_ngram(&[a]), hash_ngram(&[a, a]));
    }

    #[test]
    fn ngram_hashes_have_one_entry_per_position_and_depend_on_order() {
        let words: Vec<u64> = "a b c d e f g h i".split(' ').map(hash_str).collect();
        let mut grams = NgramHashes::default();
        grams.compute(&words);
        assert_eq!(
            (
                grams.bigrams.len(),
                grams.trigrams.len(),
                grams.fourgrams.len(),
                grams.eightgrams.len()
            ),
            (8, 7, 6, 2)
        );
        let mut reversed = NgramHashes::default();
        let backwards: Vec<u64> = words.iter().rev().copied().collect();
        reversed.compute(&backwards);
        assert!(!grams.fourgrams.contains(&reversed.fourgrams[0]));
        // The same words in the same order hash the same wherever they stand.
        let mut shifted = NgramHashes::default();
        shifted.compute(&words[1..]);
        assert_eq!(shifted.fourgrams[0], grams.fourgrams[1]);
        grams.compute(&words[..3]);
        assert!(grams.fourgrams.is_empty() && grams.eightgrams.is_empty());
    }

    #[test]
    fn a_distinct_set_counts_what_a_hash_set_counts_whatever_it_was_sized_for() {
        let mut keys: Vec<u64> = (0..500u64).map(|i| mix(i % 170)).collect();
        keys.extend([0, 0, 7, 7]);
        let mut set = DistinctSet::default();
        // Sized for all, for none (it grows), and reused after a bigger set.
        for sized_for in [keys.len(), 0, 3, keys.len()] {
            set.reset(sized_for);
            let mut reference = HashSet64::default();
            for &k in &keys {
                assert_eq!(set.insert(k), reference.insert(k), "key {k}");
            }
            assert_eq!(set.len(), reference.len());
            assert!(keys.iter().all(|&k| set.contains(k)));
            assert!(!set.contains(mix(1_000)) && !set.contains(1));
        }
        set.reset(1);
        assert!(set.is_empty() && !set.contains(0) && !set.contains(keys[0]));
    }

    #[test]
    fn prehashed_set_finds_what_was_inserted() {
        let mut set = HashSet64::default();
        set.insert(hash_str("tragedy"));
        assert!(set.contains(&hash_str("tragedy")));
        assert!(!set.contains(&hash_str("comedy")));
    }
}
