//! The e_ features: what can be said about an essay without its prompt
//! (length, sentence shape, vocabulary, readability, mechanics, spelling).
//!
//! The same surface summary also gives the p_ features of a prompt text.
//! Every ratio is guarded, so an empty or punctuation-free text gives 0s,
//! never NaN.

use super::catalogue::Feature;
use super::hashing::{HashMap64, hash_ngram, reset_map};
use super::lexicon;
use super::prompt::PreparedPrompt;
use super::readability::{Readability, ReadabilityCounts};
use super::text::{Tokens, Word, flag};
use super::word_vectors;

/// `a / b`, or 0 when `b` is 0.
pub(crate) fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

/// Length, vocabulary and readability of a text, shared by p_ and e_.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SurfaceSummary {
    pub words: f64,
    pub chars: f64,
    pub sentences: f64,
    pub paragraphs: f64,
    pub unique_words: f64,
    pub type_token_ratio: f64,
    pub mean_word_length: f64,
    pub mean_sentence_length: f64,
    pub syllables_per_word: f64,
    pub polysyllable_share: f64,
    pub readability: Readability,
}

/// The distinct lower-cased words of a text: an id per word type, the count
/// of each type, and the type of each word. Reused between essays.
#[derive(Debug, Default)]
pub(crate) struct TypeIndex {
    ids: HashMap64<u32>,
    counts: Vec<u32>,
    word_types: Vec<u32>,
    /// Scratch for MTLD: the segment in which each type was last seen.
    stamps: Vec<u32>,
}

impl TypeIndex {
    fn build(&mut self, words: &[Word]) {
        reset_map(&mut self.ids);
        self.counts.clear();
        self.word_types.clear();
        for w in words {
            let next = self.counts.len() as u32;
            let id = *self.ids.entry(w.lower).or_insert(next);
            if id == next {
                self.counts.push(0);
            }
            self.counts[id as usize] += 1;
            self.word_types.push(id);
        }
    }
}

/// Summarises `tokens`, leaving `types` describing its words.
pub(crate) fn surface_summary(tokens: &Tokens, types: &mut TypeIndex) -> SurfaceSummary {
    types.build(&tokens.words);
    let mut letters = 0u64;
    let mut syllables = 0u64;
    let mut polysyllables = 0u64;
    for w in &tokens.words {
        letters += u64::from(w.chars);
        syllables += u64::from(w.syllables);
        if w.syllables >= 3 {
            polysyllables += 1;
        }
    }
    let words = tokens.words.len() as f64;
    let sentences = tokens.stats.sentences.len() as f64;
    let counts = ReadabilityCounts {
        words,
        sentences,
        syllables: syllables as f64,
        letters: letters as f64,
        polysyllables: polysyllables as f64,
    };
    SurfaceSummary {
        words,
        chars: tokens.stats.chars as f64,
        sentences,
        paragraphs: tokens.stats.paragraphs as f64,
        unique_words: types.counts.len() as f64,
        type_token_ratio: ratio(types.counts.len() as f64, words),
        mean_word_length: ratio(letters as f64, words),
        mean_sentence_length: ratio(words, sentences),
        syllables_per_word: ratio(syllables as f64, words),
        polysyllable_share: ratio(polysyllables as f64, words),
        readability: Readability::from_counts(&counts),
    }
}

/// MTLD threshold of McCarthy & Jarvis (2010).
const MTLD_THRESHOLD: f64 = 0.72;

/// One direction of MTLD: words per "factor", a factor being a stretch whose
/// running type-token ratio falls to the threshold. The remainder counts as a
/// partial factor. A text that never falls (all words distinct) gets its
/// length, the most diverse value a text that long can have. `stamps[t]`
/// holds the last segment (1-based) in which type `t` was seen.
fn mtld_pass(word_types: impl Iterator<Item = u32>, n: usize, stamps: &mut [u32]) -> f64 {
    stamps.fill(0);
    let mut segment = 1u32;
    let mut factors = 0.0f64;
    let mut count = 0usize;
    let mut types = 0usize;
    let mut ttr = 1.0f64;
    for t in word_types {
        let stamp = &mut stamps[t as usize];
        if *stamp != segment {
            *stamp = segment;
            types += 1;
        }
        count += 1;
        ttr = types as f64 / count as f64;
        if ttr <= MTLD_THRESHOLD {
            factors += 1.0;
            segment += 1;
            count = 0;
            types = 0;
            ttr = 1.0;
        }
    }
    if count > 0 {
        factors += (1.0 - ttr) / (1.0 - MTLD_THRESHOLD);
    }
    if factors > 1e-9 {
        n as f64 / factors
    } else {
        n as f64
    }
}

/// MTLD, the mean of a forward and a backward pass over the words of `types`.
pub(crate) fn mtld(types: &mut TypeIndex) -> f64 {
    let n = types.word_types.len();
    if n == 0 {
        return 0.0;
    }
    types.stamps.clear();
    types.stamps.resize(types.counts.len(), 0);
    let forward = mtld_pass(types.word_types.iter().copied(), n, &mut types.stamps);
    let backward = mtld_pass(types.word_types.iter().rev().copied(), n, &mut types.stamps);
    (forward + backward) / 2.0
}

/// Yule's K from the count of each distinct word.
fn yules_k(counts: &[u32]) -> f64 {
    let n: f64 = counts.iter().map(|&c| f64::from(c)).sum();
    if n == 0.0 {
        return 0.0;
    }
    let sum_sq: f64 = counts.iter().map(|&c| f64::from(c) * f64::from(c)).sum();
    1e4 * (sum_sq - n) / (n * n)
}

/// Words beyond this frequency rank are rare (`e_rare_word_share`): about
/// where a general English vocabulary test stops (the 10,000 most frequent
/// GloVe words include "photosynthesis" but not "perfunctory").
pub(crate) const RARE_RANK: u32 = 10_000;

/// The frequency rank of a correctly spelt word: its rank in the GloVe list,
/// or [`word_vectors::UNLISTED_RANK`] for a dictionary word rarer than every
/// listed one. `None` for a word in no list (a misspelling, most often).
pub(crate) fn spelt_rank(w: &Word) -> Option<u32> {
    match w.rank {
        0 if w.is(flag::ENGLISH) => Some(word_vectors::UNLISTED_RANK),
        0 => None,
        rank => Some(rank),
    }
}

/// Reusable buffers of the e_ features.
#[derive(Debug, Default)]
pub(crate) struct EssayScratch {
    types: TypeIndex,
}

/// Writes the e_ features of `tokens` into `out` (a whole feature vector).
pub(crate) fn essay_features(
    tokens: &Tokens,
    prompt: &PreparedPrompt,
    scratch: &mut EssayScratch,
    out: &mut [f32],
) {
    let words = &tokens.words;
    let stats = &tokens.stats;
    let s = surface_summary(tokens, &mut scratch.types);
    let n = s.words;

    let mut sentence_sum_sq = 0.0f64;
    let mut max_sentence = 0u32;
    let mut long_sentences = 0usize;
    for &(a, b) in &stats.sentences {
        let len = b - a;
        sentence_sum_sq += f64::from(len) * f64::from(len);
        max_sentence = max_sentence.max(len);
        if len > 35 {
            long_sentences += 1;
        }
    }
    let sd_sentence = if s.sentences > 0.0 {
        (sentence_sum_sq / s.sentences - s.mean_sentence_length.powi(2))
            .max(0.0)
            .sqrt()
    } else {
        0.0
    };

    let mut word_len_sum_sq = 0.0f64;
    let mut long_words = 0usize;
    let mut alphabetic = 0usize;
    let mut misspelt = 0usize;
    let mut stopwords = 0usize;
    let mut first_person = 0usize;
    let mut connectives = 0usize;
    let mut lower_i = 0usize;
    let mut slips = 0usize;
    let mut repeated = 0usize;
    let mut ranked = 0usize;
    let mut log_rank_sum = 0.0f64;
    let mut rare = 0usize;
    let mut prev: Option<&Word> = None;
    for w in words {
        if w.is_content()
            && let Some(rank) = spelt_rank(w)
        {
            ranked += 1;
            log_rank_sum += f64::from(rank).ln();
            if rank > RARE_RANK {
                rare += 1;
            }
        }
        let len = f64::from(w.chars);
        word_len_sum_sq += len * len;
        if w.chars >= 7 {
            long_words += 1;
        }
        if w.is(flag::ALPHABETIC) {
            alphabetic += 1;
            let known = w.is(flag::ENGLISH) || prompt.known_words.contains(&w.lower);
            if !known {
                misspelt += 1;
            }
        }
        if w.is(flag::STOPWORD) {
            stopwords += 1;
        }
        if w.is(flag::FIRST_PERSON) {
            first_person += 1;
        }
        if w.is(flag::CONNECTIVE) {
            connectives += 1;
        }
        if w.is(flag::LOWER_I) {
            lower_i += 1;
        }
        if w.is(flag::APOSTROPHE_SLIP) {
            slips += 1;
        }
        if let Some(p) = prev {
            if p.lower == w.lower {
                repeated += 1;
            }
            if w.is(flag::CONNECTIVE_TAIL)
                && lexicon::is_connective_bigram(hash_ngram(&[p.lower, w.lower]))
            {
                connectives += 1;
            }
            if (p.lower == *lexicon::ITS && w.is(flag::AFTER_ITS))
                || (p.lower == *lexicon::IT_IS && w.lower == *lexicon::OWN)
            {
                slips += 1;
            }
        }
        prev = Some(w);
    }
    let sd_word = if n > 0.0 {
        (word_len_sum_sq / n - s.mean_word_length.powi(2))
            .max(0.0)
            .sqrt()
    } else {
        0.0
    };

    let mut set = |f: Feature, v: f64| out[f as usize] = v as f32;
    set(Feature::ECharCount, s.chars);
    set(Feature::EWordCount, n);
    set(Feature::ELogWordCount, n.ln_1p());
    set(Feature::ESentenceCount, s.sentences);
    set(Feature::EParagraphCount, s.paragraphs);
    set(Feature::EMeanSentenceLength, s.mean_sentence_length);
    set(Feature::EMaxSentenceLength, f64::from(max_sentence));
    set(Feature::ESdSentenceLength, sd_sentence);
    set(Feature::EMeanWordLength, s.mean_word_length);
    set(Feature::ESdWordLength, sd_word);
    set(Feature::ELongWordShare, ratio(long_words as f64, n));
    set(Feature::ESyllablesPerWord, s.syllables_per_word);
    set(Feature::EPolysyllableShare, s.polysyllable_share);
    set(Feature::EUniqueWords, s.unique_words);
    set(Feature::ELogUniqueWords, s.unique_words.ln_1p());
    set(Feature::ETypeTokenRatio, s.type_token_ratio);
    set(Feature::ERootTtr, ratio(s.unique_words, n.sqrt()));
    set(Feature::EMtld, mtld(&mut scratch.types));
    set(Feature::EYulesK, yules_k(&scratch.types.counts));
    set(
        Feature::EFleschReadingEase,
        s.readability.flesch_reading_ease,
    );
    set(
        Feature::EFleschKincaidGrade,
        s.readability.flesch_kincaid_grade,
    );
    set(Feature::EColemanLiau, s.readability.coleman_liau);
    set(Feature::EAri, s.readability.ari);
    set(Feature::ESmog, s.readability.smog);
    set(Feature::EGunningFog, s.readability.gunning_fog);
    set(
        Feature::EPunctuationPerWord,
        ratio(stats.punctuation as f64, n),
    );
    set(
        Feature::ECommasPerSentence,
        ratio(stats.commas as f64, s.sentences),
    );
    set(
        Feature::EExclamationsQuestionsPerSentence,
        ratio(stats.exclamations_questions as f64, s.sentences),
    );
    set(Feature::EBracketsPerWord, ratio(stats.brackets as f64, n));
    set(
        Feature::ESentenceStartLowercaseShare,
        ratio(stats.sentence_starts_lower as f64, s.sentences),
    );
    set(Feature::ELowercaseICount, lower_i as f64);
    set(Feature::ELowercaseIPerWord, ratio(lower_i as f64, n));
    set(Feature::EApostropheSlips, slips as f64);
    set(Feature::EApostropheSlipsPerWord, ratio(slips as f64, n));
    set(
        Feature::ESpaceBeforePunctPerSentence,
        ratio(stats.space_before_punct as f64, s.sentences),
    );
    set(
        Feature::EMissingSpaceAfterPunctPerSentence,
        ratio(stats.missing_space_after_punct as f64, s.sentences),
    );
    set(
        Feature::EMeanLogWordRank,
        ratio(log_rank_sum, ranked as f64),
    );
    set(Feature::ERareWordShare, ratio(rare as f64, ranked as f64));
    set(
        Feature::EMissingFinalPunct,
        f64::from(u8::from(n > 0.0 && !stats.ends_with_terminal)),
    );
    set(Feature::EMisspeltCount, misspelt as f64);
    set(
        Feature::EMisspeltShare,
        ratio(misspelt as f64, alphabetic as f64),
    );
    set(Feature::EStopwordShare, ratio(stopwords as f64, n));
    set(
        Feature::EConnectivesPerSentence,
        ratio(connectives as f64, s.sentences),
    );
    set(Feature::EFirstPersonShare, ratio(first_person as f64, n));
    set(
        Feature::EQuoteMarksPerWord,
        ratio(stats.quote_marks as f64, n),
    );
    set(Feature::EDigitShare, ratio(stats.digits as f64, s.chars));
    set(
        Feature::EUppercaseShare,
        ratio(stats.uppercase as f64, stats.letters as f64),
    );
    set(Feature::ERepeatedWordShare, ratio(repeated as f64, n));
    set(
        Feature::ELongSentenceShare,
        ratio(long_sentences as f64, s.sentences),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::text::Tokeniser;

    fn tokens(text: &str) -> Tokens {
        let mut t = Tokens::default();
        Tokeniser::new().tokenise(text, &mut t);
        t
    }

    #[test]
    fn mtld_of_a_repetitive_text_is_lower_than_of_a_varied_one() {
        let mtld_of = |t: &Tokens| {
            let mut types = TypeIndex::default();
            surface_summary(t, &mut types);
            mtld(&mut types)
        };
        let repetitive = tokens(&"the cat sat on the mat ".repeat(20));
        let varied = tokens(
            "Aristotle argues that tragedy imitates serious actions which arouse pity and fear, \
             purging those emotions through a complex plot with reversal and recognition, while \
             the hero falls through error rather than vice, so audiences feel sympathy.",
        );
        assert!(mtld_of(&repetitive) < mtld_of(&varied));
        assert_eq!(mtld_of(&tokens("")), 0.0);
    }

    #[test]
    fn yules_k_matches_a_hand_computed_value() {
        // "a a b": counts 2 and 1, N = 3: 10^4 (4 + 1 - 3) / 9.
        let mut types = TypeIndex::default();
        surface_summary(&tokens("a a b"), &mut types);
        assert!((yules_k(&types.counts) - 1e4 * 2.0 / 9.0).abs() < 1e-9);
    }

    #[test]
    fn sentence_length_spread_is_computed_over_sentences() {
        let prompt = PreparedPrompt::new(&Default::default());
        let t = tokens("One two. One two three four. dont stop");
        let mut out = vec![f32::NAN; crate::features::feature_count()];
        essay_features(&t, &prompt, &mut EssayScratch::default(), &mut out);
        assert_eq!(out[Feature::ESentenceCount as usize], 3.0);
        assert_eq!(out[Feature::EMaxSentenceLength as usize], 4.0);
        // lengths 2, 4, 2: mean 8/3, variance (4 + 16 + 4)/3 - 64/9 = 8/9.
        assert!((out[Feature::ESdSentenceLength as usize] - (8.0f32 / 9.0).sqrt()).abs() < 1e-6);
        assert_eq!(out[Feature::EApostropheSlips as usize], 1.0);
        assert_eq!(out[Feature::EMissingFinalPunct as usize], 1.0);
        assert!((out[Feature::ESentenceStartLowercaseShare as usize] - 1.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn misspellings_exclude_dictionary_words_and_prompt_names() {
        let prompt = PreparedPrompt::new(&super::super::Prompt {
            text: "Jurgis worked in Packingtown.".into(),
            ..Default::default()
        });
        let t = tokens("Jurgis workd in the factroy. He was happy.");
        let mut out = vec![0.0; crate::features::feature_count()];
        essay_features(&t, &prompt, &mut EssayScratch::default(), &mut out);
        assert_eq!(out[Feature::EMisspeltCount as usize], 2.0);
        assert!((out[Feature::EMisspeltShare as usize] - 2.0 / 8.0).abs() < 1e-6);
    }
}
