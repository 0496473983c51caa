//! Spelling correction toward the source: an essay word that is in no word
//! list ("distroyed") is matched to the source word it most likely meant
//! ("destroyed"), so that a misspelling does not erase a correctly recalled
//! idea when overlap is counted.
//!
//! Only the source text's own words are candidates. A misspelling of a word
//! that is not in the source would be a novel word however it was corrected,
//! so correcting toward the whole dictionary could change no overlap count.
//!
//! The look-up is a deletion index (the idea behind SymSpell, Garbe 2012):
//! every source word is stored under each string made by deleting up to `d`
//! of its letters; two words within edit distance `d` share such a string, so
//! a misspelling finds its candidates with a few hash look-ups instead of a
//! comparison with every source word. Candidates are then checked with the
//! optimal string alignment distance (Levenshtein plus adjacent swaps).

use super::hashing::{HashMap64, hash_bytes, hash_str};

/// Words shorter than this are never corrected: too many short words lie
/// one edit apart ("sat", "set", "sit").
const MIN_CORRECTED_LETTERS: usize = 4;

/// Edits allowed between a misspelling and the source word it is taken for.
/// One for short words, two from seven letters on, where two slips are
/// common and two-edit neighbours are rare.
pub(crate) fn allowed_edits(letters: usize) -> usize {
    match letters {
        0..MIN_CORRECTED_LETTERS => 0,
        MIN_CORRECTED_LETTERS..=6 => 1,
        _ => 2,
    }
}

/// The source words by their deletion variants.
#[derive(Debug, Clone, Default)]
pub(crate) struct SourceSpelling {
    /// Distinct lower-cased source words of at least four letters a–z, with
    /// the hash of each one's stem.
    words: Vec<(Box<[u8]>, u64)>,
    /// Hash of a deletion variant → indices into `words`.
    variants: HashMap64<Vec<u32>>,
}

/// Longest word that is indexed or corrected, in letters.
const MAX_LETTERS: usize = 32;

/// Calls `visit` with `word` and every string made by deleting one or (when
/// `edits` is 2) two of its bytes; a variant may repeat. No allocation.
fn for_each_deletion(word: &[u8], edits: usize, visit: &mut impl FnMut(&[u8])) {
    visit(word);
    let n = word.len();
    let mut buffer = [0u8; MAX_LETTERS];
    if edits >= 1 {
        for i in 0..n {
            buffer[..i].copy_from_slice(&word[..i]);
            buffer[i..n - 1].copy_from_slice(&word[i + 1..]);
            visit(&buffer[..n - 1]);
        }
    }
    if edits >= 2 {
        for i in 0..n {
            for j in i + 1..n {
                buffer[..i].copy_from_slice(&word[..i]);
                buffer[i..j - 1].copy_from_slice(&word[i + 1..j]);
                buffer[j - 1..n - 2].copy_from_slice(&word[j + 1..]);
                visit(&buffer[..n - 2]);
            }
        }
    }
}

/// Optimal string alignment distance between `a` and `b`, or `None` when it
/// exceeds `limit`.
pub(crate) fn edit_distance_within(a: &[u8], b: &[u8], limit: usize) -> Option<usize> {
    if a.len().abs_diff(b.len()) > limit || a.len() > MAX_LETTERS || b.len() > MAX_LETTERS {
        return None;
    }
    let width = b.len() + 1;
    // Three rows: two back (for swaps), one back, current.
    let mut cells = [0usize; 3 * (MAX_LETTERS + 1)];
    let rows = &mut cells[..3 * width];
    for (j, cell) in rows[2 * width..].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        rows.copy_within(width.., 0);
        let (before, current) = rows.split_at_mut(2 * width);
        let (two_back, one_back) = before.split_at(width);
        current[0] = i;
        let mut row_min = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (one_back[j] + 1)
                .min(current[j - 1] + 1)
                .min(one_back[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(two_back[j - 2] + 1);
            }
            current[j] = d;
            row_min = row_min.min(d);
        }
        if row_min > limit {
            return None;
        }
    }
    let distance = rows[3 * width - 1];
    (distance <= limit).then_some(distance)
}

impl SourceSpelling {
    /// Indexes the distinct words of `text` (lower-cased, a–z only, at least
    /// four letters); `stem_hash` gives a word's stem hash as the tokeniser
    /// computes it.
    pub(crate) fn new(text: &str, mut stem_hash: impl FnMut(&str) -> u64) -> Self {
        let mut seen = HashMap64::<()>::default();
        let mut index = Self::default();
        for raw in text.split(|c: char| !c.is_ascii_alphabetic()) {
            if raw.len() < MIN_CORRECTED_LETTERS || raw.len() > MAX_LETTERS {
                continue;
            }
            let word = raw.to_ascii_lowercase();
            if seen.insert(hash_str(&word), ()).is_some() {
                continue;
            }
            let id = index.words.len() as u32;
            let bytes = word.as_bytes();
            for_each_deletion(bytes, allowed_edits(bytes.len()), &mut |v| {
                let ids = index.variants.entry(hash_bytes(v)).or_default();
                if ids.last() != Some(&id) {
                    ids.push(id);
                }
            });
            index.words.push((bytes.into(), stem_hash(&word)));
        }
        index
    }

    /// The stem hash of the source word that `word` (lower-cased) most
    /// likely misspells: the nearest within [`allowed_edits`] of both words'
    /// lengths, the first in the source on a tie. `None` when no source word
    /// is near enough, or when `word` is not made of a–z.
    pub(crate) fn correct(&self, word: &str) -> Option<u64> {
        let bytes = word.as_bytes();
        let edits = allowed_edits(bytes.len());
        if edits == 0 || bytes.len() > MAX_LETTERS || !bytes.iter().all(u8::is_ascii_lowercase) {
            return None;
        }
        let mut best: Option<(usize, u32)> = None;
        for_each_deletion(bytes, edits, &mut |v| {
            let Some(ids) = self.variants.get(&hash_bytes(v)) else {
                return;
            };
            for &id in ids {
                let candidate = &self.words[id as usize].0;
                let limit = edits.min(allowed_edits(candidate.len()));
                if let Some(d) = edit_distance_within(bytes, candidate, limit)
                    && best.is_none_or(|(bd, bid)| (d, id) < (bd, bid))
                {
                    best = Some((d, id));
                }
            }
        });
        best.map(|(_, id)| self.words[id as usize].1)
    }

    /// Number of indexed source words.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.words.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(text: &str) -> SourceSpelling {
        SourceSpelling::new(text, hash_str)
    }

    fn correct(index: &SourceSpelling, word: &str) -> Option<u64> {
        index.correct(word)
    }

    #[test]
    fn edit_distance_counts_insertions_deletions_substitutions_and_swaps() {
        assert_eq!(edit_distance_within(b"meat", b"meat", 2), Some(0));
        assert_eq!(edit_distance_within(b"meat", b"meet", 2), Some(1));
        assert_eq!(edit_distance_within(b"meat", b"mat", 2), Some(1));
        assert_eq!(edit_distance_within(b"meat", b"meats", 2), Some(1));
        assert_eq!(edit_distance_within(b"meat", b"maet", 2), Some(1));
        assert_eq!(edit_distance_within(b"kitten", b"sitting", 3), Some(3));
        assert_eq!(edit_distance_within(b"kitten", b"sitting", 2), None);
        assert_eq!(edit_distance_within(b"a", b"abcd", 2), None);
    }

    #[test]
    fn a_misspelt_source_word_is_mapped_to_it() {
        let source = index("The foreman ordered the spoiled sausages destroyed.");
        assert_eq!(correct(&source, "forman"), Some(hash_str("foreman")));
        assert_eq!(correct(&source, "sausges"), Some(hash_str("sausages")));
        assert_eq!(correct(&source, "distroyed"), Some(hash_str("destroyed")));
        assert_eq!(correct(&source, "spolied"), Some(hash_str("spoiled")));
    }

    #[test]
    fn distant_short_and_non_letter_words_are_not_corrected() {
        let source = index("The foreman ordered the spoiled sausages destroyed.");
        assert_eq!(correct(&source, "pharaoh"), None);
        assert_eq!(
            correct(&source, "teh"),
            None,
            "three letters are never corrected"
        );
        assert_eq!(correct(&source, "fore"), None, "three edits from foreman");
        assert_eq!(correct(&source, "formen"), None, "two edits, six letters");
        assert_eq!(correct(&source, "sausage's"), None);
    }

    #[test]
    fn the_nearest_source_word_wins() {
        let source = index("The crate and the create button.");
        assert_eq!(correct(&source, "creat"), Some(hash_str("create")));
        // One edit from both (a dropped letter, a swap): the first in the source.
        assert_eq!(correct(&source, "craete"), Some(hash_str("crate")));
        assert_eq!(source.len(), 3, "crate, create, button");
    }
}
