//! Word lists compiled into the binary: the spelling dictionary, stopwords,
//! connectives, first-person words, contractions written without their
//! apostrophe, and abbreviations that do not end a sentence.
//!
//! Nothing is read from disk or the network at run time. The dictionary is
//! `assets/wordlist/english-words.txt`, made from Debian's `wamerican` by
//! `assets/wordlist/make_wordlist.py`. The short lists below are our own.
//! Every list is looked up by word hash (see `hashing`), built once per process.

use std::sync::LazyLock;

use super::hashing::{HashSet64, hash_ngram, hash_str};
use super::text::flag;

/// The spelling dictionary: lower-case words of Debian's wamerican list.
const ENGLISH_WORDS: &str = include_str!("../../assets/wordlist/english-words.txt");

/// Function words that carry little content. Our own list of English
/// determiners, pronouns, auxiliaries, prepositions and conjunctions.
const STOPWORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "even",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "may",
    "me",
    "might",
    "more",
    "most",
    "much",
    "must",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "same",
    "shall",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "upon",
    "us",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "whose",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
    "it's",
    "don't",
    "didn't",
    "doesn't",
    "isn't",
    "wasn't",
    "weren't",
    "aren't",
    "can't",
    "couldn't",
    "wouldn't",
    "shouldn't",
    "won't",
    "i'm",
    "they're",
    "that's",
    "there's",
    "he's",
    "she's",
    "let's",
    "we're",
    "you're",
    "i've",
    "we've",
    "they've",
    "said",
    "one",
    "many",
    "like",
    "get",
    "got",
    "make",
    "made",
    "well",
    "still",
    "yet",
    "though",
    "although",
    "thus",
    "therefore",
    "least",
];

/// Single-word connectives and discourse markers.
const CONNECTIVES: &[&str] = &[
    "however",
    "therefore",
    "moreover",
    "furthermore",
    "also",
    "because",
    "although",
    "though",
    "thus",
    "hence",
    "consequently",
    "additionally",
    "finally",
    "first",
    "firstly",
    "second",
    "secondly",
    "third",
    "thirdly",
    "lastly",
    "then",
    "next",
    "meanwhile",
    "instead",
    "besides",
    "similarly",
    "likewise",
    "nevertheless",
    "nonetheless",
    "otherwise",
    "overall",
    "ultimately",
    "since",
    "whereas",
    "while",
    "unless",
    "accordingly",
    "subsequently",
    "eventually",
    "indeed",
    "specifically",
    "especially",
    "notably",
    "conversely",
    "alternatively",
    "so",
    "but",
    "yet",
    "afterwards",
    "later",
    "before",
    "after",
];

/// Two-word connectives ("for example"), matched as word bigrams. Longer
/// markers are matched by their last two words ("on the other hand" by
/// "other hand", "as a result" by "a result").
const CONNECTIVE_BIGRAMS: &[(&str, &str)] = &[
    ("for", "example"),
    ("for", "instance"),
    ("in", "addition"),
    ("in", "conclusion"),
    ("a", "result"),
    ("in", "contrast"),
    ("in", "summary"),
    ("to", "summarize"),
    ("to", "summarise"),
    ("other", "words"),
    ("such", "as"),
    ("other", "hand"),
    ("in", "fact"),
    ("as", "well"),
    ("even", "though"),
    ("so", "that"),
    ("in", "general"),
    ("to", "conclude"),
];

/// First-person pronouns and determiners.
const FIRST_PERSON: &[&str] = &[
    "i",
    "me",
    "my",
    "mine",
    "myself",
    "we",
    "us",
    "our",
    "ours",
    "ourselves",
    "i'm",
    "i've",
    "i'd",
    "i'll",
    "we're",
    "we've",
    "we'd",
    "we'll",
];

/// Contractions written without their apostrophe. Only forms that are not
/// themselves common words: "wont" is kept because students almost always
/// mean "won't", while "ill", "id", "were", "shell", "lets" are left out.
const APOSTROPHE_SLIPS: &[&str] = &[
    "dont", "doesnt", "didnt", "isnt", "wasnt", "werent", "arent", "cant", "couldnt", "wouldnt",
    "shouldnt", "havent", "hasnt", "hadnt", "im", "ive", "youre", "theyre", "thats", "whats",
    "theres", "wouldve", "couldve", "shouldve", "shes", "hes", "theyve", "weve", "youve", "wont",
    "mustnt", "neednt", "theyll", "youll", "itll", "wheres", "whos", "heres", "aint", "lets",
];

/// Words after which "its" must have been "it's" ("its a", "its not").
const AFTER_ITS_MEANING_IT_IS: &[&str] = &[
    "a",
    "an",
    "the",
    "not",
    "very",
    "so",
    "just",
    "going",
    "been",
    "because",
    "also",
    "like",
    "about",
    "really",
    "too",
    "important",
    "hard",
    "easy",
    "time",
    "true",
    "all",
    "still",
    "being",
    "getting",
    "always",
    "never",
    "because",
];

/// Abbreviations whose full stop does not end a sentence (lower case, no dot).
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "e.g", "i.e", "par", "para", "pg",
    "pp", "fig", "ch", "vol", "approx",
];

fn hash_set(words: &[&str]) -> HashSet64 {
    words.iter().map(|w| hash_str(w)).collect()
}

static DICTIONARY: LazyLock<HashSet64> = LazyLock::new(|| {
    let mut set = HashSet64::with_capacity_and_hasher(80_000, Default::default());
    set.extend(ENGLISH_WORDS.lines().map(hash_str));
    set
});
static STOPWORD_SET: LazyLock<HashSet64> = LazyLock::new(|| hash_set(STOPWORDS));
static CONNECTIVE_SET: LazyLock<HashSet64> = LazyLock::new(|| hash_set(CONNECTIVES));
static CONNECTIVE_BIGRAM_SET: LazyLock<HashSet64> = LazyLock::new(|| {
    CONNECTIVE_BIGRAMS
        .iter()
        .map(|(a, b)| hash_ngram(&[hash_str(a), hash_str(b)]))
        .collect()
});
static FIRST_PERSON_SET: LazyLock<HashSet64> = LazyLock::new(|| hash_set(FIRST_PERSON));
static APOSTROPHE_SLIP_SET: LazyLock<HashSet64> = LazyLock::new(|| hash_set(APOSTROPHE_SLIPS));
static AFTER_ITS_SET: LazyLock<HashSet64> = LazyLock::new(|| hash_set(AFTER_ITS_MEANING_IT_IS));
static ABBREVIATION_SET: LazyLock<HashSet64> = LazyLock::new(|| hash_set(ABBREVIATIONS));

/// Hash of "its" (compared directly to catch "its a" for "it's a").
pub static ITS: LazyLock<u64> = LazyLock::new(|| hash_str("its"));
/// Hash of "it's" (apostrophes are normalised to U+0027 before hashing).
pub static IT_IS: LazyLock<u64> = LazyLock::new(|| hash_str("it's"));
/// Hash of "own" ("it's own" is a slip for "its own").
pub static OWN: LazyLock<u64> = LazyLock::new(|| hash_str("own"));

/// The words of the spelling dictionary, in sorted order (benchmarks draw
/// synthetic text from them).
pub fn dictionary_words() -> impl Iterator<Item = &'static str> {
    ENGLISH_WORDS.lines()
}

static CONNECTIVE_TAIL_SET: LazyLock<HashSet64> = LazyLock::new(|| {
    CONNECTIVE_BIGRAMS
        .iter()
        .map(|(_, b)| hash_str(b))
        .collect()
});

/// The [`flag::LEXICAL`] flags of a lower-cased word, given the hash of the
/// word and of its form without a possessive 's. Tokenisers cache the result,
/// so these look-ups run once per distinct word.
pub fn word_flags(lower_hash: u64, spell_hash: u64) -> u16 {
    let checks = [
        (STOPWORD_SET.contains(&lower_hash), flag::STOPWORD),
        (FIRST_PERSON_SET.contains(&lower_hash), flag::FIRST_PERSON),
        (CONNECTIVE_SET.contains(&lower_hash), flag::CONNECTIVE),
        (
            APOSTROPHE_SLIP_SET.contains(&lower_hash),
            flag::APOSTROPHE_SLIP,
        ),
        (
            is_english_word(lower_hash) || is_english_word(spell_hash),
            flag::ENGLISH,
        ),
        (
            CONNECTIVE_TAIL_SET.contains(&lower_hash),
            flag::CONNECTIVE_TAIL,
        ),
        (AFTER_ITS_SET.contains(&lower_hash), flag::AFTER_ITS),
    ];
    checks
        .iter()
        .filter(|(yes, _)| *yes)
        .fold(0, |flags, (_, f)| flags | f)
}

/// Is the lower-cased word (by hash) in the English dictionary?
pub fn is_english_word(lower_hash: u64) -> bool {
    DICTIONARY.contains(&lower_hash)
}

/// Is the bigram of lower-cased words (by `hash_ngram` of their hashes) a
/// two-word connective?
pub fn is_connective_bigram(bigram_hash: u64) -> bool {
    CONNECTIVE_BIGRAM_SET.contains(&bigram_hash)
}

/// Is the lower-cased word (by hash) an abbreviation whose full stop does not
/// end a sentence?
pub fn is_abbreviation(lower_hash: u64) -> bool {
    ABBREVIATION_SET.contains(&lower_hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionary_knows_common_words_and_contractions() {
        for word in ["tragedy", "pharaoh", "meat", "didn't", "egypt", "summarize"] {
            assert!(
                is_english_word(hash_str(word)),
                "{word} should be in the word list"
            );
        }
        for word in ["gonvener", "wouldnt", "qzxv"] {
            assert!(
                !is_english_word(hash_str(word)),
                "{word} should not be in the word list"
            );
        }
    }

    #[test]
    fn word_list_asset_is_sorted_lower_case_and_small() {
        assert!(ENGLISH_WORDS.len() < 1024 * 1024);
        let words: Vec<&str> = ENGLISH_WORDS.lines().collect();
        assert!(words.len() > 50_000);
        assert!(words.windows(2).all(|w| w[0] < w[1]));
        assert!(words.iter().all(|w| w.chars().all(|c| !c.is_uppercase())));
    }

    #[test]
    fn apostrophe_slips_are_not_dictionary_words_except_a_known_few() {
        // Rare words that students nearly always mean as contractions.
        let in_dictionary = ["cant", "whats", "shes", "hes", "wont", "wheres", "lets"];
        for slip in APOSTROPHE_SLIPS {
            assert_eq!(
                is_english_word(hash_str(slip)),
                in_dictionary.contains(slip),
                "{slip}"
            );
        }
    }
}
