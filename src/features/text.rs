//! Tokenising: one pass over a text that yields its words (lower-cased,
//! stemmed and hashed) and the surface counts the e_ and p_ features need
//! (sentences, paragraphs, punctuation, capitalisation and spacing slips).
//!
//! Words come from Unicode word boundaries (UAX #29, `unicode-segmentation`),
//! so accents, apostrophes (straight or curly), digits with decimal points and
//! any script are handled; a token is a word when it holds a letter or digit.
//! One repair is made on top of UAX #29: "gods.Then", where a student forgot
//! the space after a full stop, is one segment by the standard, and is split
//! into two words and two sentences here (parts of two or more letters on
//! each side of the dot, so "U.S" and "e.g" stay whole).
//!
//! Sentences end at . ! ? … (except after a known abbreviation) and at line
//! ends; a paragraph is a non-blank line. Matching uses Porter2 stems
//! (`rust-stemmers`, English).

use rust_stemmers::{Algorithm, Stemmer};
use unicode_segmentation::UnicodeSegmentation;

use super::hashing::{HashMap64, hash_str};
use super::lexicon;
use super::readability::count_syllables;
use super::segment::AsciiWordBounds;
use super::word_vectors;

/// Bit flags of a [`Word`].
pub mod flag {
    /// The word is a stopword.
    pub const STOPWORD: u16 = 1 << 0;
    /// The word holds only letters and inner apostrophes.
    pub const ALPHABETIC: u16 = 1 << 1;
    /// The word holds a digit.
    pub const HAS_DIGIT: u16 = 1 << 2;
    /// The word stands between quotation marks.
    pub const IN_QUOTE: u16 = 1 << 3;
    /// The word is a first-person pronoun or determiner.
    pub const FIRST_PERSON: u16 = 1 << 4;
    /// The word is a one-word connective.
    pub const CONNECTIVE: u16 = 1 << 5;
    /// The word is a contraction written without its apostrophe ("dont").
    pub const APOSTROPHE_SLIP: u16 = 1 << 6;
    /// The word is the pronoun "i" written in lower case.
    pub const LOWER_I: u16 = 1 << 7;
    /// The word (or its form without a possessive 's) is in the English word list.
    pub const ENGLISH: u16 = 1 << 8;
    /// The word can end a two-word connective ("example" in "for example").
    pub const CONNECTIVE_TAIL: u16 = 1 << 9;
    /// The word shows, after "its", that "it's" was meant ("its a").
    pub const AFTER_ITS: u16 = 1 << 10;

    /// The flags that depend only on the lower-cased word, cached with its stem.
    pub const LEXICAL: u16 = STOPWORD
        | FIRST_PERSON
        | CONNECTIVE
        | APOSTROPHE_SLIP
        | ENGLISH
        | CONNECTIVE_TAIL
        | AFTER_ITS;
}

/// One word of a text. Words are kept as hashes so that no `String` is
/// allocated per word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Word {
    /// Hash of the lower-cased word, curly apostrophes made straight.
    pub lower: u64,
    /// Hash of its Porter2 stem, used for matching essay and prompt.
    pub stem: u64,
    /// Hash used for the spelling check: `lower` without a possessive "'s".
    pub spell: u64,
    /// Letters and digits in the word (saturating).
    pub chars: u16,
    /// Estimated syllables (see `readability::count_syllables`).
    pub syllables: u8,
    /// [`flag`] bits.
    pub flags: u16,
    /// Frequency rank in the GloVe word list (1 = most frequent; see
    /// `word_vectors`), or 0 when the word is not listed.
    pub rank: u32,
}

impl Word {
    /// Does the word carry flag `f`?
    pub fn is(&self, f: u16) -> bool {
        self.flags & f != 0
    }

    /// A content word: alphabetic and not a stopword.
    pub fn is_content(&self) -> bool {
        self.flags & (flag::ALPHABETIC | flag::STOPWORD) == flag::ALPHABETIC
    }
}

/// Surface counts of a text, filled by [`Tokeniser::tokenise`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TextStats {
    /// Unicode scalar values in the text.
    pub chars: usize,
    /// Alphabetic characters.
    pub letters: usize,
    /// Decimal digits.
    pub digits: usize,
    /// Upper-case letters.
    pub uppercase: usize,
    /// Punctuation marks (ASCII and General Punctuation).
    pub punctuation: usize,
    /// Commas.
    pub commas: usize,
    /// Quotation marks, straight or curly (single quotes excluded: they double as apostrophes).
    pub quote_marks: usize,
    /// Exclamation and question marks.
    pub exclamations_questions: usize,
    /// Round and square brackets.
    pub brackets: usize,
    /// Non-blank lines that hold a word.
    pub paragraphs: usize,
    /// Sentences as half-open ranges of word indices; none is empty.
    pub sentences: Vec<(u32, u32)>,
    /// Sentences whose first word begins with a lower-case letter.
    pub sentence_starts_lower: usize,
    /// A space before , . ; : ! or ?.
    pub space_before_punct: usize,
    /// A word straight after , . ; : ! or ? with no space ("end.The", "a,b").
    pub missing_space_after_punct: usize,
    /// The last mark of the text (ignoring closing quotes and brackets) ends a sentence.
    pub ends_with_terminal: bool,
}

/// A tokenised text: its words in order and its counts.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    /// The words in text order.
    pub words: Vec<Word>,
    /// Counts over the whole text.
    pub stats: TextStats,
}

impl Tokens {
    fn clear(&mut self) {
        self.words.clear();
        let sentences = std::mem::take(&mut self.stats.sentences);
        self.stats = TextStats {
            sentences,
            ..TextStats::default()
        };
        self.stats.sentences.clear();
    }
}

/// Above this many cached words the stem cache is emptied, so that a
/// long-lived tokeniser fed random text keeps bounded memory.
const STEM_CACHE_LIMIT: usize = 200_000;

/// What is known about a lower-cased word regardless of where it occurs.
#[derive(Debug, Clone, Copy)]
struct CachedWord {
    stem: u64,
    syllables: u8,
    /// [`flag::LEXICAL`] bits.
    flags: u16,
    /// Frequency rank (see [`Word::rank`]).
    rank: u32,
}

/// Turns text into [`Tokens`]. Holds the stemmer, a cache of what each word
/// is (stem, syllables, word-list memberships), and a buffer for the
/// lower-cased word, so that a tokeniser reused over many essays allocates
/// almost nothing and does one hash look-up per word once warm.
pub struct Tokeniser {
    stemmer: Stemmer,
    /// Lower-cased word hash → what the word is.
    cache: HashMap64<CachedWord>,
    lower: String,
}

impl Default for Tokeniser {
    fn default() -> Self {
        Self::new()
    }
}

/// Mutable state of one pass over a text.
struct Pass {
    sentence_start: u32,
    pending_end: bool,
    new_paragraph: bool,
    in_quote: bool,
    after_space: bool,
    after_tight_punct: bool,
    last_terminal: bool,
}

fn is_terminator(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '…' | '。' | '！' | '？' | '‼' | '⁇')
}

fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation()
        || ('\u{2010}'..='\u{2027}').contains(&c)
        || ('\u{2030}'..='\u{205e}').contains(&c)
        || matches!(
            c,
            '«' | '»' | '¿' | '¡' | '。' | '、' | '！' | '？' | '，' | '：' | '；'
        )
}

fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{b}' | '\u{c}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// Splits "gods.Then" at its dot when every part has two or more characters,
/// the dot sits between letters, and there are not too many parts (a URL or
/// "a.b.c.d" is left alone only in the sense that it still splits; the limit
/// keeps abbreviations like "U.S.A" whole through the length rule).
fn dotted_parts(segment: &str) -> Option<impl Iterator<Item = &str>> {
    if !segment.contains('.') {
        return None;
    }
    let splittable = segment.split('.').all(|part| {
        let mut chars = part.chars();
        let first = chars.next();
        let last = part.chars().next_back();
        part.chars().count() >= 2
            && first.is_some_and(char::is_alphabetic)
            && last.is_some_and(char::is_alphabetic)
    });
    splittable.then(|| segment.split('.'))
}

impl Tokeniser {
    /// A tokeniser with an empty cache.
    pub fn new() -> Self {
        Self {
            stemmer: Stemmer::create(Algorithm::English),
            cache: HashMap64::default(),
            lower: String::with_capacity(64),
        }
    }

    /// Tokenises `text` into `out`, replacing its previous content.
    pub fn tokenise(&mut self, text: &str, out: &mut Tokens) {
        out.clear();
        if text.is_ascii() {
            out.stats.chars = text.len();
            self.tokenise_segments(AsciiWordBounds::new(text), out);
        } else {
            out.stats.chars = text.chars().count();
            self.tokenise_segments(text.split_word_bounds(), out);
        }
    }

    fn tokenise_segments<'a>(&mut self, segments: impl Iterator<Item = &'a str>, out: &mut Tokens) {
        let mut pass = Pass {
            sentence_start: 0,
            pending_end: false,
            new_paragraph: true,
            in_quote: false,
            after_space: true,
            after_tight_punct: false,
            last_terminal: false,
        };
        for segment in segments {
            let Some(first) = segment.chars().next() else {
                continue;
            };
            if first.is_whitespace() {
                if segment.chars().any(is_line_break) {
                    pass.new_paragraph = true;
                    pass.pending_end = true;
                }
                pass.after_space = true;
                pass.after_tight_punct = false;
                continue;
            }
            if segment.chars().any(char::is_alphanumeric) {
                if pass.after_tight_punct && !out.words.is_empty() {
                    out.stats.missing_space_after_punct += 1;
                }
                match dotted_parts(segment) {
                    Some(parts) => {
                        for (i, part) in parts.enumerate() {
                            if i > 0 {
                                out.stats.punctuation += 1;
                                out.stats.missing_space_after_punct += 1;
                                pass.pending_end = true;
                            }
                            self.push_word(part, out, &mut pass);
                        }
                    }
                    None => self.push_word(segment, out, &mut pass),
                }
                pass.after_space = false;
                pass.after_tight_punct = false;
                pass.last_terminal = false;
                continue;
            }
            for c in segment.chars() {
                self.push_mark(c, out, &mut pass);
            }
            pass.after_space = false;
        }
        let n = out.words.len() as u32;
        if n > pass.sentence_start {
            out.stats.sentences.push((pass.sentence_start, n));
        }
        out.stats.ends_with_terminal = pass.last_terminal;
    }

    fn push_mark(&mut self, c: char, out: &mut Tokens, pass: &mut Pass) {
        let stats = &mut out.stats;
        if is_punctuation(c) {
            stats.punctuation += 1;
        }
        let tight = matches!(c, ',' | '.' | ';' | ':' | '!' | '?');
        if tight && pass.after_space && !out.words.is_empty() {
            stats.space_before_punct += 1;
        }
        pass.after_tight_punct = tight;
        match c {
            ',' | '，' => stats.commas += 1,
            '"' | '＂' => {
                stats.quote_marks += 1;
                pass.in_quote = !pass.in_quote;
            }
            '“' | '«' | '„' => {
                stats.quote_marks += 1;
                pass.in_quote = true;
            }
            '”' | '»' => {
                stats.quote_marks += 1;
                pass.in_quote = false;
            }
            '(' | ')' | '[' | ']' => stats.brackets += 1,
            _ => {}
        }
        if is_terminator(c) {
            if matches!(c, '!' | '?' | '！' | '？' | '‼' | '⁇') {
                stats.exclamations_questions += 1;
            }
            let abbreviation = c == '.'
                && !pass.after_space
                && out
                    .words
                    .last()
                    .is_some_and(|w| lexicon::is_abbreviation(w.lower));
            if !abbreviation {
                pass.pending_end = true;
            }
            pass.last_terminal = true;
        } else if !matches!(c, '"' | '”' | '\'' | '’' | ')' | ']' | '»' | '*') {
            pass.last_terminal = false;
        }
    }

    fn push_word(&mut self, piece: &str, out: &mut Tokens, pass: &mut Pass) {
        let n = out.words.len() as u32;
        let stats = &mut out.stats;
        if pass.pending_end && n > pass.sentence_start {
            stats.sentences.push((pass.sentence_start, n));
            pass.sentence_start = n;
        }
        pass.pending_end = false;
        if pass.new_paragraph {
            stats.paragraphs += 1;
            pass.new_paragraph = false;
        }
        if n == pass.sentence_start && piece.chars().next().is_some_and(char::is_lowercase) {
            stats.sentence_starts_lower += 1;
        }

        self.lower.clear();
        let mut chars = 0u32;
        let mut alphabetic = true;
        let mut has_digit = false;
        if piece.is_ascii() {
            // Fast path: byte classes instead of Unicode property look-ups.
            for &b in piece.as_bytes() {
                if b.is_ascii_alphabetic() {
                    stats.letters += 1;
                    chars += 1;
                    stats.uppercase += usize::from(b.is_ascii_uppercase());
                } else if b.is_ascii_digit() {
                    has_digit = true;
                    alphabetic = false;
                    chars += 1;
                    stats.digits += 1;
                } else if b != b'\'' {
                    alphabetic = false;
                }
            }
            self.lower.push_str(piece);
            self.lower.make_ascii_lowercase();
        } else {
            for c in piece.chars() {
                if c.is_alphabetic() {
                    stats.letters += 1;
                    chars += 1;
                    if c.is_uppercase() {
                        stats.uppercase += 1;
                    }
                } else if c.is_numeric() {
                    has_digit = true;
                    alphabetic = false;
                    chars += 1;
                    if c.is_ascii_digit() {
                        stats.digits += 1;
                    }
                } else if !matches!(c, '\'' | '’' | 'ʼ' | '‘') {
                    alphabetic = false;
                }
                if c.is_ascii() {
                    self.lower.push(c.to_ascii_lowercase());
                } else if matches!(c, '’' | 'ʼ' | '‘') {
                    self.lower.push('\'');
                } else {
                    self.lower.extend(c.to_lowercase());
                }
            }
        }
        let lower = hash_str(&self.lower);
        let spell = match self.lower.strip_suffix("'s") {
            Some(base) if !base.is_empty() => hash_str(base),
            _ => lower,
        };
        let cached = match self.cache.get(&lower) {
            Some(&cached) => cached,
            None => {
                let cached = CachedWord {
                    stem: hash_str(&self.stemmer.stem(&self.lower)),
                    syllables: count_syllables(&self.lower).min(255) as u8,
                    flags: lexicon::word_flags(lower, spell),
                    rank: match word_vectors::word_rank(lower) {
                        0 => word_vectors::word_rank(spell),
                        rank => rank,
                    },
                };
                if self.cache.len() >= STEM_CACHE_LIMIT {
                    self.cache.clear();
                }
                self.cache.insert(lower, cached);
                cached
            }
        };

        let mut flags = cached.flags;
        if alphabetic {
            flags |= flag::ALPHABETIC;
        }
        if has_digit {
            flags |= flag::HAS_DIGIT;
        }
        if pass.in_quote {
            flags |= flag::IN_QUOTE;
        }
        if piece == "i" {
            flags |= flag::LOWER_I;
        }
        out.words.push(Word {
            lower,
            stem: cached.stem,
            spell,
            chars: chars.min(u32::from(u16::MAX)) as u16,
            syllables: cached.syllables,
            flags,
            rank: cached.rank,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokenise(text: &str) -> Tokens {
        let mut tokens = Tokens::default();
        Tokeniser::new().tokenise(text, &mut tokens);
        tokens
    }

    #[test]
    fn words_are_lower_cased_and_curly_apostrophes_straightened() {
        let tokens = tokenise("It’s Aristotle's TRAGEDY");
        assert_eq!(tokens.words.len(), 3);
        assert_eq!(tokens.words[0].lower, hash_str("it's"));
        assert_eq!(tokens.words[1].spell, hash_str("aristotle"));
        assert_eq!(tokens.words[2].lower, hash_str("tragedy"));
    }

    #[test]
    fn inflected_forms_share_a_stem() {
        let tokens = tokenise("shocks shocked shocking");
        let stems: Vec<u64> = tokens.words.iter().map(|w| w.stem).collect();
        assert!(stems.iter().all(|&s| s == stems[0]));
    }

    #[test]
    fn sentences_end_at_terminators_and_line_breaks_but_not_abbreviations() {
        let tokens = tokenise("Mr. Smith came. Did he? Yes!\r\nA new line without a stop");
        let lengths: Vec<u32> = tokens.stats.sentences.iter().map(|(a, b)| b - a).collect();
        assert_eq!(lengths, vec![3, 2, 1, 6]);
        assert_eq!(tokens.stats.paragraphs, 2);
        assert!(!tokens.stats.ends_with_terminal);
    }

    #[test]
    fn a_missing_space_after_a_full_stop_splits_the_sentence() {
        let tokens =
            tokenise("The highest class was Pharaohs.Then the vizier. See e.g. the U.S army");
        assert_eq!(tokens.stats.sentences.len(), 3);
        assert_eq!(tokens.stats.missing_space_after_punct, 1);
        assert_eq!(tokens.words.len(), 13);
    }

    #[test]
    fn slips_in_spacing_and_capitals_are_counted() {
        let tokens = tokenise("the meat was bad , and i knew it .it was sold.");
        assert_eq!(tokens.stats.space_before_punct, 2);
        assert_eq!(tokens.stats.missing_space_after_punct, 1);
        assert_eq!(tokens.stats.sentence_starts_lower, 2);
        assert!(tokens.stats.ends_with_terminal);
        let lower_i = tokens.words.iter().filter(|w| w.is(flag::LOWER_I)).count();
        assert_eq!(lower_i, 1);
    }

    #[test]
    fn quoted_words_are_flagged() {
        let tokens = tokenise("He said “pity and fear” and \"terror\" too");
        let quoted: Vec<bool> = tokens.words.iter().map(|w| w.is(flag::IN_QUOTE)).collect();
        assert_eq!(
            quoted,
            vec![false, false, true, true, true, false, true, false]
        );
        assert_eq!(tokens.stats.quote_marks, 4);
    }

    #[test]
    fn emoji_digits_and_other_scripts_do_not_break_tokenising() {
        let tokens = tokenise("😀😀 123 4.5 東京 Ελλάδα\tcafé");
        assert_eq!(tokens.stats.sentences.len(), 1);
        assert!(tokens.words.iter().any(|w| w.is(flag::HAS_DIGIT)));
        assert!(tokenise("😀🎉").words.is_empty());
        assert!(tokenise("").stats.sentences.is_empty());
    }
}
