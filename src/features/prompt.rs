//! The prompt a student answered, and everything about it that does not
//! depend on the essay, computed once ([`PreparedPrompt`]).
//!
//! The service keeps one `PreparedPrompt` per registered prompt and shares it
//! between threads, so grading an essay costs time in proportion to the
//! essay: the prompt's tokens, stems, n-gram sets, TF-IDF vectors, spelling
//! exceptions and its p_ and q_ feature values are all here.

use serde::{Deserialize, Serialize};

use super::best_cosines::{Lanes, all_cosines};
use super::catalogue::Feature;
use super::essay::{SurfaceSummary, TypeIndex, surface_summary};
use super::hashing::{HashMap64, HashSet64, NgramHashes};
use super::question::analyse_question;
use super::text::{Tokeniser, Tokens};
use super::tfidf::TfidfIndex;
use super::word_vectors::{self, DIMS, MeanVector};

/// A prompt: the source text a student read, its title and the question.
/// An empty string means "unknown"; features that need it then take
/// neutral values (0) instead of failing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    /// Short title of the source text.
    #[serde(default)]
    pub title: String,
    /// The question or task the students answered.
    #[serde(default)]
    pub question: String,
    /// The full source text.
    #[serde(default)]
    pub text: String,
}

/// How many keywords of the prompt `r_keyword_recall` checks.
pub const KEYWORD_COUNT: usize = 20;

/// Longest-run search keeps at most this many prompt positions per 4-gram:
/// enough for any real repetition, and it bounds the work on degenerate
/// input ("the the the ...") to a constant per essay word.
pub(crate) const MAX_POSITIONS_PER_NGRAM: usize = 8;

/// Number of p_ and q_ features; they lead the catalogue.
pub(crate) const PROMPT_FEATURES: usize = Feature::QPromptOverlap as usize + 1;

/// A prompt with every prompt-only computation done. Immutable, `Send + Sync`.
#[derive(Debug, Clone)]
pub struct PreparedPrompt {
    /// The prompt as given.
    prompt: Prompt,
    /// The p_ and q_ feature values, in catalogue order.
    pub(crate) prompt_values: [f32; PROMPT_FEATURES],
    /// Words in the prompt text.
    pub(crate) text_words: usize,
    /// Stems of the prompt text's words, in order.
    pub(crate) stems: Vec<u64>,
    /// Distinct stems of the prompt text.
    pub(crate) unigrams: HashSet64,
    /// Distinct stems of the prompt text's content words.
    pub(crate) content_stems: HashSet64,
    /// Distinct stem bigrams of the prompt text.
    pub(crate) bigrams: HashSet64,
    /// Distinct stem trigrams of the prompt text.
    pub(crate) trigrams: HashSet64,
    /// Stem 4-gram → its first positions in the prompt text (at most
    /// [`MAX_POSITIONS_PER_NGRAM`]); finds copied runs and their length.
    pub(crate) fourgrams: HashMap64<Vec<u32>>,
    /// Distinct stem 8-grams of the prompt text.
    pub(crate) eightgrams: HashSet64,
    /// Lower-cased words of title, question and text (and their forms without
    /// a possessive 's): a name from the source is not a spelling mistake.
    pub(crate) known_words: HashSet64,
    /// TF-IDF vectors of the whole text and of each sentence.
    pub(crate) tfidf: TfidfIndex,
    /// The prompt text's top TF-IDF stems.
    pub(crate) keywords: Vec<u64>,
    /// Distinct content stems of the question.
    pub(crate) question_stems: HashSet64,
    /// Distinct content stems of the title.
    pub(crate) title_stems: HashSet64,
    /// The text's meaning: its content words' IDF-weighted mean vector.
    pub(crate) text_meaning: MeanVector,
    /// `text_meaning`'s dot product with itself.
    pub(crate) text_meaning_squared_norm: f32,
    /// The question's meaning, weighted as the text's.
    pub(crate) question_meaning: MeanVector,
    /// The meaning of each sentence of the text, scaled to unit length, in
    /// the layout of the cosine kernel.
    pub(crate) sentence_meanings: Lanes,
    /// For each of `keywords`, the unit vector of its first word in the text
    /// that has one (a zero vector if none has), in the layout of the cosine
    /// kernel.
    pub(crate) keyword_vectors: Lanes,
    /// For each of `keywords`, whether its vector in `keyword_vectors` is one.
    pub(crate) keyword_has_vector: Vec<bool>,
    /// The text's distinct content words with a vector, by
    /// `word_vectors::rank_key` of their rank → their row of
    /// `text_word_keyword_cosines`. An essay's words are mostly the
    /// source's, so most of their cosines with the keywords are looked up.
    pub(crate) text_word_rows: HashMap64<u32>,
    /// Per row, the word's cosine with each keyword vector (a slot per lane
    /// of `keyword_vectors`), summed as the essay's own words' are.
    pub(crate) text_word_keyword_cosines: Vec<f32>,
}

fn content_stem_set(tokens: &Tokens) -> HashSet64 {
    tokens
        .words
        .iter()
        .filter(|w| w.is_content())
        .map(|w| w.stem)
        .collect()
}

impl PreparedPrompt {
    /// Does every prompt-only computation for `prompt`.
    pub fn new(prompt: &Prompt) -> Self {
        let mut tokeniser = Tokeniser::new();
        let mut text = Tokens::default();
        let mut title = Tokens::default();
        let mut question = Tokens::default();
        tokeniser.tokenise(&prompt.text, &mut text);
        tokeniser.tokenise(&prompt.title, &mut title);
        tokeniser.tokenise(&prompt.question, &mut question);

        let stems: Vec<u64> = text.words.iter().map(|w| w.stem).collect();
        let unigrams: HashSet64 = stems.iter().copied().collect();
        let content_stems = content_stem_set(&text);
        let mut grams = NgramHashes::default();
        grams.compute(&stems);
        let mut fourgrams: HashMap64<Vec<u32>> = HashMap64::default();
        for (i, &gram) in grams.fourgrams.iter().enumerate() {
            let positions = fourgrams.entry(gram).or_default();
            if positions.len() < MAX_POSITIONS_PER_NGRAM {
                positions.push(i as u32);
            }
        }
        let known_words: HashSet64 = [&text, &title, &question]
            .iter()
            .flat_map(|t| t.words.iter().flat_map(|w| [w.lower, w.spell]))
            .collect();
        let sentences: Vec<Vec<u64>> = text
            .stats
            .sentences
            .iter()
            .map(|&(a, b)| {
                text.words[a as usize..b as usize]
                    .iter()
                    .filter(|w| w.is_content())
                    .map(|w| w.stem)
                    .collect()
            })
            .collect();
        let tfidf = TfidfIndex::new(&sentences);
        let keywords = tfidf.keywords(KEYWORD_COUNT);
        let keyword_ranks: Vec<u32> = keywords
            .iter()
            .map(|&k| {
                text.words
                    .iter()
                    .find(|w| w.stem == k && word_vectors::has_vector(w.rank))
                    .map_or(0, |w| w.rank)
            })
            .collect();
        let keyword_rows = word_vectors::unit_vectors(&keyword_ranks);
        let keyword_vectors = Lanes::from_rows(&keyword_rows);
        let mut text_ranks: Vec<u32> = text
            .words
            .iter()
            .filter(|w| w.is_content() && word_vectors::has_vector(w.rank))
            .map(|w| w.rank)
            .collect();
        text_ranks.sort_unstable();
        text_ranks.dedup();
        let text_word_rows: HashMap64<u32> = text_ranks
            .iter()
            .enumerate()
            .map(|(i, &rank)| (word_vectors::rank_key(rank), i as u32))
            .collect();
        let text_word_vectors = word_vectors::unit_vectors(&text_ranks);
        let mut text_word_keyword_cosines = Vec::new();
        all_cosines(
            &text_word_vectors,
            &keyword_vectors,
            &mut text_word_keyword_cosines,
        );
        let keyword_has_vector = keyword_ranks
            .iter()
            .map(|&r| word_vectors::has_vector(r))
            .collect();
        let mut text_meaning = MeanVector::default();
        for w in text.words.iter().filter(|w| w.is_content()) {
            text_meaning.add_word(w.rank);
        }
        let mut question_meaning = MeanVector::default();
        for w in question.words.iter().filter(|w| w.is_content()) {
            question_meaning.add_word(w.rank);
        }
        let text_meaning_squared_norm = text_meaning.dot(&text_meaning);
        let sentence_rows: Vec<[f32; DIMS]> = text
            .stats
            .sentences
            .iter()
            .map(|&(a, b)| {
                let mut meaning = MeanVector::default();
                for w in text.words[a as usize..b as usize]
                    .iter()
                    .filter(|w| w.is_content())
                {
                    meaning.add_word(w.rank);
                }
                meaning.normalise();
                *meaning.components()
            })
            .collect();
        let sentence_meanings = Lanes::from_rows(&sentence_rows);
        let question_stems = content_stem_set(&question);
        let title_stems = content_stem_set(&title);

        let mut prompt_values = [0.0f32; PROMPT_FEATURES];
        let summary = surface_summary(&text, &mut TypeIndex::default());
        write_prompt_values(&summary, &mut prompt_values);
        let tasks = analyse_question(&prompt.question);
        let q_overlap = if question_stems.is_empty() {
            0.0
        } else {
            question_stems
                .iter()
                .filter(|s| content_stems.contains(s))
                .count() as f64
                / question_stems.len() as f64
        };
        let mut set = |f: Feature, v: f64| prompt_values[f as usize] = v as f32;
        set(Feature::QWordCount, question.words.len() as f64);
        set(
            Feature::QSentenceCount,
            question.stats.sentences.len() as f64,
        );
        set(
            Feature::QTaskSummarise,
            f64::from(u8::from(tasks.summarise)),
        );
        set(Feature::QTaskExplain, f64::from(u8::from(tasks.explain)));
        set(Feature::QTaskDescribe, f64::from(u8::from(tasks.describe)));
        set(Feature::QTaskCompare, f64::from(u8::from(tasks.compare)));
        set(
            Feature::QTaskCiteEvidence,
            f64::from(u8::from(tasks.cite_evidence)),
        );
        set(Feature::QTaskCount, f64::from(tasks.count()));
        set(Feature::QElementsRequested, f64::from(tasks.elements));
        set(Feature::QPromptOverlap, q_overlap);

        Self {
            prompt: prompt.clone(),
            prompt_values,
            text_words: text.words.len(),
            bigrams: grams.bigrams.iter().copied().collect(),
            trigrams: grams.trigrams.iter().copied().collect(),
            eightgrams: grams.eightgrams.iter().copied().collect(),
            stems,
            unigrams,
            content_stems,
            fourgrams,
            known_words,
            tfidf,
            keywords,
            question_stems,
            title_stems,
            text_meaning,
            text_meaning_squared_norm,
            question_meaning,
            sentence_meanings,
            keyword_vectors,
            keyword_has_vector,
            text_word_rows,
            text_word_keyword_cosines,
        }
    }

    /// An estimate of the memory this prepared prompt holds, in bytes: its
    /// own size plus the capacity of every string, vector, table and array
    /// it owns (a hash table entry counted as its key, its value and one
    /// control byte). The service's prompt caches are bounded by this sum.
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let set = |s: &HashSet64| s.capacity() * (size_of::<u64>() + 1);
        let fourgrams: usize = self.fourgrams.capacity()
            * (size_of::<u64>() + size_of::<Vec<u32>>() + 1)
            + self
                .fourgrams
                .values()
                .map(|v| v.capacity() * size_of::<u32>())
                .sum::<usize>();
        size_of::<Self>()
            + self.prompt.title.capacity()
            + self.prompt.question.capacity()
            + self.prompt.text.capacity()
            + self.stems.capacity() * size_of::<u64>()
            + set(&self.unigrams)
            + set(&self.content_stems)
            + set(&self.bigrams)
            + set(&self.trigrams)
            + fourgrams
            + set(&self.eightgrams)
            + set(&self.known_words)
            + self.tfidf.heap_bytes()
            + self.keywords.capacity() * size_of::<u64>()
            + set(&self.question_stems)
            + set(&self.title_stems)
            + self.sentence_meanings.heap_bytes()
            + self.keyword_vectors.heap_bytes()
            + self.keyword_has_vector.capacity()
            + self.text_word_rows.capacity() * (size_of::<u64>() + size_of::<u32>() + 1)
            + self.text_word_keyword_cosines.capacity() * size_of::<f32>()
    }

    /// The prompt this was prepared from.
    pub fn prompt(&self) -> &Prompt {
        &self.prompt
    }

    /// Is the source text known (non-empty, with at least one word)?
    pub fn has_text(&self) -> bool {
        self.text_words > 0
    }
}

fn write_prompt_values(s: &SurfaceSummary, out: &mut [f32; PROMPT_FEATURES]) {
    let mut set = |f: Feature, v: f64| out[f as usize] = v as f32;
    set(Feature::PWordCount, s.words);
    set(Feature::PLogWordCount, s.words.ln_1p());
    set(Feature::PCharCount, s.chars);
    set(Feature::PSentenceCount, s.sentences);
    set(Feature::PParagraphCount, s.paragraphs);
    set(Feature::PVocabularySize, s.unique_words);
    set(Feature::PTypeTokenRatio, s.type_token_ratio);
    set(Feature::PMeanWordLength, s.mean_word_length);
    set(Feature::PMeanSentenceLength, s.mean_sentence_length);
    set(
        Feature::PFleschReadingEase,
        s.readability.flesch_reading_ease,
    );
    set(
        Feature::PFleschKincaidGrade,
        s.readability.flesch_kincaid_grade,
    );
    set(Feature::PColemanLiau, s.readability.coleman_liau);
    set(Feature::PAri, s.readability.ari);
    set(Feature::PSmog, s.readability.smog);
    set(Feature::PGunningFog, s.readability.gunning_fog);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn prepared_prompt_is_send_and_sync() {
        assert_send_sync::<PreparedPrompt>();
    }

    #[test]
    fn a_longer_prompt_is_estimated_to_hold_more_memory() {
        let sentence = "The river carried the silt of distant mountains to the delta. ";
        let prompt = |sentences: usize| {
            PreparedPrompt::new(&Prompt {
                title: "Rivers".to_owned(),
                question: "Summarise the text.".to_owned(),
                text: sentence.repeat(sentences),
            })
        };
        let (short, long) = (prompt(2), prompt(200));
        assert!(short.heap_bytes() >= std::mem::size_of::<PreparedPrompt>());
        // The text alone is counted, and the tables come on top of it.
        assert!(long.heap_bytes() > long.prompt().text.len());
        assert!(long.heap_bytes() > short.heap_bytes());
    }

    #[test]
    fn prompt_deserialises_with_missing_fields_as_unknown() {
        let prompt: Prompt = serde_json::from_str(r#"{"title":"On Tragedy"}"#).unwrap();
        assert_eq!(prompt.title, "On Tragedy");
        assert!(prompt.question.is_empty() && prompt.text.is_empty());
        assert!(!PreparedPrompt::new(&prompt).has_text());
    }

    #[test]
    fn prompt_values_describe_the_text_and_question() {
        let prompt = Prompt {
            title: "On Tragedy".into(),
            question: "Summarize at least 3 elements of an ideal tragedy.".into(),
            text: "A tragedy should excite pity and fear. The plot is complex.\n\nIt imitates actions.".into(),
        };
        let prepared = PreparedPrompt::new(&prompt);
        let v = |f: Feature| prepared.prompt_values[f as usize];
        assert_eq!(v(Feature::PWordCount), 14.0);
        assert_eq!(v(Feature::PSentenceCount), 3.0);
        assert_eq!(v(Feature::PParagraphCount), 2.0);
        assert_eq!(v(Feature::QElementsRequested), 3.0);
        assert_eq!(v(Feature::QTaskSummarise), 1.0);
        // question content stems: summar, element, ideal, tragedi; only tragedi is in the text.
        assert!((v(Feature::QPromptOverlap) - 0.25).abs() < 1e-6);
        assert!(prepared.fourgrams.len() == 11);
    }
}
