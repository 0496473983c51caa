//! The r_ features: how an essay relates to its prompt's text, question and
//! title (shared n-grams, verbatim copying, novel words, TF-IDF similarity,
//! coverage of the source, quotations).
//!
//! Matching is by Porter2 stem, so "shocked" in an essay matches "shocks" in
//! the source. When the prompt text is unknown, every text-based relation
//! feature is 0; question and title overlap still work when those are known.

use super::catalogue::Feature;
use super::essay::ratio;
use super::hashing::{DistinctSet, HashMap64, HashSet64, NgramHashes, reset_map};
use super::prompt::{KEYWORD_COUNT, PreparedPrompt};
use super::text::{Tokens, flag};
use super::tfidf::TfidfScratch;

/// An essay sentence draws on its best-matching prompt sentence at this
/// cosine or above; lower than the essay-level threshold because one essay
/// sentence is short.
const SOURCE_SENTENCE_COSINE: f64 = 0.1;

/// Work allowed to the longest-run search, in word comparisons per essay
/// word. Real essays use a small fraction of it; in degenerate repetitive
/// text ("the the the ..." against a prompt of the same) the search stops
/// there and the longest run found so far is reported, a lower bound.
const RUN_SEARCH_STEPS_PER_WORD: usize = 64;

/// Reusable buffers of the r_ features.
#[derive(Debug, Default)]
pub(crate) struct RelationScratch {
    stems: Vec<u64>,
    grams: NgramHashes,
    set: DistinctSet,
    covered4: Vec<bool>,
    covered8: Vec<bool>,
    term_counts: HashMap64<u32>,
    terms: Vec<(u64, u32)>,
    tfidf: TfidfScratch,
    /// Prompt sentences already used as some essay sentence's best match.
    used: Vec<bool>,
    /// Bit k: the prompt's keyword k is among the essay's content stems.
    keywords_in_essay: KeywordSet,
}

/// Which of a prompt's keywords (at most [`KEYWORD_COUNT`]) an essay
/// uses, as bits.
pub(crate) type KeywordSet = u32;

const _: () = assert!(KEYWORD_COUNT <= KeywordSet::BITS as usize);

impl RelationScratch {
    /// Which of the prompt's keywords the last essay uses as they are (its
    /// content stems), as [`relation_features`] found them.
    pub(crate) fn keywords_in_essay(&self) -> KeywordSet {
        self.keywords_in_essay
    }
}

/// The number of distinct hashes in `grams` and how many of them `reference`
/// holds. Counts while inserting: iterating a reused set would cost time in
/// proportion to its capacity rather than to this essay.
fn overlap(grams: &[u64], reference: &HashSet64, set: &mut DistinctSet) -> (usize, usize) {
    set.reset(grams.len());
    let mut shared = 0;
    for &g in grams {
        if set.insert(g) && reference.contains(&g) {
            shared += 1;
        }
    }
    (set.len(), shared)
}

/// Writes the r_ features into `out` (a whole feature vector), which must
/// already hold the p_, q_ and e_ values: the style gaps compare them.
pub(crate) fn relation_features(
    tokens: &Tokens,
    prompt: &PreparedPrompt,
    scratch: &mut RelationScratch,
    out: &mut [f32],
) {
    let words = &tokens.words;
    let n = words.len();
    let nf = n as f64;
    let mut set = |f: Feature, v: f64| out[f as usize] = v as f32;

    // Question and title overlap need no prompt text.
    scratch.set.reset(words.len());
    let mut content_shared = 0usize;
    for w in words.iter().filter(|w| w.is_content()) {
        if scratch.set.insert(w.stem) && prompt.content_stems.contains(&w.stem) {
            content_shared += 1;
        }
    }
    let essay_content = &scratch.set;
    let share_in_essay = |stems: &HashSet64| {
        ratio(
            stems.iter().filter(|&&s| essay_content.contains(s)).count() as f64,
            stems.len() as f64,
        )
    };
    set(
        Feature::RQuestionOverlap,
        share_in_essay(&prompt.question_stems),
    );
    set(Feature::RTitleOverlap, share_in_essay(&prompt.title_stems));
    let content_shared = content_shared as f64;
    set(
        Feature::RContentPrecision,
        ratio(content_shared, essay_content.len() as f64),
    );
    set(
        Feature::RContentRecall,
        ratio(content_shared, prompt.content_stems.len() as f64),
    );
    scratch.keywords_in_essay = prompt
        .keywords
        .iter()
        .enumerate()
        .filter(|&(_, &k)| essay_content.contains(k))
        .fold(0, |set, (i, _)| set | 1 << i);
    let keyword_hits = f64::from(scratch.keywords_in_essay.count_ones());
    set(
        Feature::RKeywordRecall,
        ratio(keyword_hits, prompt.keywords.len() as f64),
    );

    let text_features = [
        Feature::RUnigramPrecision,
        Feature::RUnigramRecall,
        Feature::RBigramPrecision,
        Feature::RBigramRecall,
        Feature::RTrigramPrecision,
        Feature::RTrigramRecall,
        Feature::RCopiedShare4,
        Feature::RCopiedShare8,
        Feature::RCopiedRuns4,
        Feature::RLongestCommonRun,
        Feature::RLongestCommonRunShare,
        Feature::RNovelWordShare,
        Feature::RNovelContentWordShare,
        Feature::RWordsNotCopied,
        Feature::RLogWordsNotCopied,
        Feature::RTfidfCosinePrompt,
        Feature::RTfidfCosineBestSentence,
        Feature::RTfidfCosineTop3Sentences,
        Feature::RPromptSentencesCovered,
        Feature::RPromptSentencesCoveredShare,
        Feature::RCoveredSpan,
        Feature::REssayPromptLengthRatio,
        Feature::RQuotesFromPrompt,
        Feature::RQuotedFromPromptShare,
        Feature::RLogNovelWords,
        Feature::RLogNovelBigrams,
        Feature::RLogCopiedWords,
        Feature::RTfidfCosineSum,
        Feature::RSourceSentencesUsed,
        Feature::RSourceSentencesUsedShare,
        Feature::RSentenceGrounding,
        Feature::RLogNovelTypes,
        Feature::RNovelLongWordShare,
        Feature::RLogWordsNotCopied8,
        Feature::RWordLengthRatio,
        Feature::RGradeLevelGap,
    ];
    if !prompt.has_text() {
        for f in text_features {
            set(f, 0.0);
        }
        return;
    }

    scratch.stems.clear();
    scratch.stems.extend(words.iter().map(|w| w.stem));
    let stems = &scratch.stems;
    scratch.grams.compute(stems);
    let grams = &scratch.grams;

    let (e1, s1) = overlap(stems, &prompt.unigrams, &mut scratch.set);
    set(Feature::RUnigramPrecision, ratio(s1 as f64, e1 as f64));
    set(
        Feature::RUnigramRecall,
        ratio(s1 as f64, prompt.unigrams.len() as f64),
    );
    set(Feature::RLogNovelTypes, ((e1 - s1) as f64).ln_1p());
    let (e2, s2) = overlap(&grams.bigrams, &prompt.bigrams, &mut scratch.set);
    set(Feature::RBigramPrecision, ratio(s2 as f64, e2 as f64));
    set(Feature::RLogNovelBigrams, ((e2 - s2) as f64).ln_1p());
    set(
        Feature::RBigramRecall,
        ratio(s2 as f64, prompt.bigrams.len() as f64),
    );
    let (e3, s3) = overlap(&grams.trigrams, &prompt.trigrams, &mut scratch.set);
    set(Feature::RTrigramPrecision, ratio(s3 as f64, e3 as f64));
    set(
        Feature::RTrigramRecall,
        ratio(s3 as f64, prompt.trigrams.len() as f64),
    );

    // Verbatim copying: mark essay words inside 4-grams and 8-grams of the
    // prompt, and extend each run start to find the longest shared run.
    let covered4 = &mut scratch.covered4;
    let covered8 = &mut scratch.covered8;
    covered4.clear();
    covered4.resize(n, false);
    covered8.clear();
    covered8.resize(n, false);
    let mut longest = 0usize;
    let p = &prompt.stems;
    let mut budget = RUN_SEARCH_STEPS_PER_WORD * n;
    for (i, gram) in grams.fourgrams.iter().enumerate() {
        let Some(positions) = prompt.fourgrams.get(gram) else {
            continue;
        };
        covered4[i..i + 4].fill(true);
        for &pos in positions {
            let pos = pos as usize;
            // Only a run's first word starts a search, so each run is walked once.
            if budget == 0 || (i > 0 && pos > 0 && stems[i - 1] == p[pos - 1]) {
                continue;
            }
            let mut len = 4;
            while i + len < n && pos + len < p.len() && stems[i + len] == p[pos + len] {
                len += 1;
            }
            budget = budget.saturating_sub(len);
            longest = longest.max(len);
        }
    }
    for (i, gram) in grams.eightgrams.iter().enumerate() {
        if prompt.eightgrams.contains(gram) {
            covered8[i..i + 8].fill(true);
        }
    }
    if longest == 0 {
        // No shared 4-gram: the longest run is 0 to 3 words; find it directly.
        longest = usize::from(s1 > 0);
        if s2 > 0 {
            longest = 2;
        }
        if s3 > 0 {
            longest = 3;
        }
    }
    let copied4 = covered4.iter().filter(|&&c| c).count();
    let copied8 = covered8.iter().filter(|&&c| c).count();
    let runs4 = covered4
        .iter()
        .enumerate()
        .filter(|&(i, &c)| c && (i == 0 || !covered4[i - 1]))
        .count();
    set(Feature::RCopiedShare4, ratio(copied4 as f64, nf));
    set(Feature::RCopiedShare8, ratio(copied8 as f64, nf));
    set(Feature::RCopiedRuns4, runs4 as f64);
    set(Feature::RLongestCommonRun, longest as f64);
    set(Feature::RLongestCommonRunShare, ratio(longest as f64, nf));
    let not_copied = (n - copied4) as f64;
    set(Feature::RWordsNotCopied, not_copied);
    set(Feature::RLogCopiedWords, (copied4 as f64).ln_1p());
    set(Feature::RLogWordsNotCopied8, ((n - copied8) as f64).ln_1p());
    set(Feature::RLogWordsNotCopied, not_copied.ln_1p());

    let mut novel = 0usize;
    let mut content = 0usize;
    let mut novel_content = 0usize;
    let mut novel_long = 0usize;
    let term_counts = &mut scratch.term_counts;
    reset_map(term_counts);
    for w in words {
        let known = prompt.unigrams.contains(&w.stem);
        if !known {
            novel += 1;
            if w.chars >= 7 {
                novel_long += 1;
            }
        }
        if w.is_content() {
            content += 1;
            if !known {
                novel_content += 1;
            }
            *term_counts.entry(w.stem).or_default() += 1;
        }
    }
    set(Feature::RNovelWordShare, ratio(novel as f64, nf));
    set(Feature::RLogNovelWords, (novel as f64).ln_1p());
    set(Feature::RNovelLongWordShare, ratio(novel_long as f64, nf));
    set(
        Feature::RNovelContentWordShare,
        ratio(novel_content as f64, content as f64),
    );

    scratch.terms.clear();
    scratch
        .terms
        .extend(term_counts.iter().map(|(&s, &c)| (s, c)));
    // A reused map iterates in an order that depends on its past capacity,
    // and f32 sums depend on order: sorted stems give the same value to the
    // last bit however many essays this scratch has seen.
    scratch.terms.sort_unstable_by_key(|&(stem, _)| stem);
    let tfidf = prompt.tfidf.score(&scratch.terms, &mut scratch.tfidf);
    set(Feature::RTfidfCosinePrompt, tfidf.whole);
    set(Feature::RTfidfCosineBestSentence, tfidf.best_sentence);
    set(Feature::RTfidfCosineTop3Sentences, tfidf.top3_sentences);
    set(Feature::RPromptSentencesCovered, tfidf.covered as f64);
    set(Feature::RPromptSentencesCoveredShare, tfidf.covered_share);
    set(Feature::RCoveredSpan, tfidf.covered_span);
    set(Feature::RTfidfCosineSum, tfidf.cosine_sum);

    // Which parts of the source the essay's sentences draw on.
    let prompt_sentences = prompt.tfidf.sentence_count();
    scratch.used.clear();
    scratch.used.resize(prompt_sentences, false);
    let mut grounding = 0.0f64;
    for &(a, b) in &tokens.stats.sentences {
        reset_map(&mut scratch.term_counts);
        for w in words[a as usize..b as usize]
            .iter()
            .filter(|w| w.is_content())
        {
            *scratch.term_counts.entry(w.stem).or_default() += 1;
        }
        scratch.terms.clear();
        scratch
            .terms
            .extend(scratch.term_counts.iter().map(|(&s, &c)| (s, c)));
        scratch.terms.sort_unstable_by_key(|&(stem, _)| stem);
        if let Some((best, cosine)) = prompt
            .tfidf
            .best_sentence(&scratch.terms, &mut scratch.tfidf)
        {
            grounding += cosine;
            if cosine >= SOURCE_SENTENCE_COSINE {
                scratch.used[best] = true;
            }
        }
    }
    let used = scratch.used.iter().filter(|&&u| u).count() as f64;
    set(Feature::RSourceSentencesUsed, used);
    set(
        Feature::RSourceSentencesUsedShare,
        ratio(used, prompt_sentences as f64),
    );
    set(
        Feature::RSentenceGrounding,
        ratio(grounding, tokens.stats.sentences.len() as f64),
    );
    set(
        Feature::REssayPromptLengthRatio,
        ratio(nf, prompt.text_words as f64),
    );
    // Essay against prompt style; the e_ and p_ values are already in `out`.
    let essay_word_length = f64::from(out[Feature::EMeanWordLength as usize]);
    let prompt_word_length = f64::from(prompt.prompt_values[Feature::PMeanWordLength as usize]);
    let grade_gap = if n > 0 {
        f64::from(out[Feature::EFleschKincaidGrade as usize])
            - f64::from(prompt.prompt_values[Feature::PFleschKincaidGrade as usize])
    } else {
        0.0
    };
    let mut set = |f: Feature, v: f64| out[f as usize] = v as f32;
    set(
        Feature::RWordLengthRatio,
        ratio(essay_word_length, prompt_word_length),
    );
    set(Feature::RGradeLevelGap, grade_gap);

    // Quotations: maximal stretches of quoted words whose every bigram (or,
    // for one word, whose stem) occurs in the prompt text.
    let mut quotes = 0usize;
    let mut quoted_words = 0usize;
    let mut i = 0;
    while i < n {
        if !words[i].is(flag::IN_QUOTE) {
            i += 1;
            continue;
        }
        let start = i;
        while i < n && words[i].is(flag::IN_QUOTE) {
            i += 1;
        }
        let from_prompt = if i - start == 1 {
            prompt.unigrams.contains(&stems[start])
        } else {
            grams.bigrams[start..i - 1]
                .iter()
                .all(|b| prompt.bigrams.contains(b))
        };
        if from_prompt {
            quotes += 1;
            quoted_words += i - start;
        }
    }
    set(Feature::RQuotesFromPrompt, quotes as f64);
    set(
        Feature::RQuotedFromPromptShare,
        ratio(quoted_words as f64, nf),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::text::Tokeniser;
    use crate::features::{Prompt, feature_count};

    fn features(prompt_text: &str, essay: &str) -> Vec<f32> {
        let prompt = PreparedPrompt::new(&Prompt {
            title: "The Cannery Ledger".into(),
            question: "Summarize the ways the factory would cover up spoiled meat.".into(),
            text: prompt_text.into(),
        });
        let mut tokens = Tokens::default();
        Tokeniser::new().tokenise(essay, &mut tokens);
        let mut out = vec![f32::NAN; feature_count()];
        relation_features(&tokens, &prompt, &mut RelationScratch::default(), &mut out);
        out
    }

    // An invented source text, written for these tests.
    const SOURCE: &str = "Whenever the meat had spoiled so badly that nobody would buy it fresh, the foreman \
        told the crew to can it or to chop it up into sausage. \
        The packers would rub it up with soda to take away the smell.";

    #[test]
    fn a_copied_passage_is_measured_as_copied() {
        let v = features(
            SOURCE,
            "They said \"rub it up with soda to take away the smell\" and I agree.",
        );
        let f = |x: Feature| v[x as usize];
        // 15 words; "rub it up with soda to take away the smell" (10 words) copied.
        assert!((f(Feature::RCopiedShare4) - 10.0 / 15.0).abs() < 1e-6);
        assert!((f(Feature::RCopiedShare8) - 10.0 / 15.0).abs() < 1e-6);
        assert_eq!(f(Feature::RLongestCommonRun), 10.0);
        assert_eq!(f(Feature::RCopiedRuns4), 1.0);
        assert_eq!(f(Feature::RWordsNotCopied), 5.0);
        assert_eq!(f(Feature::RQuotesFromPrompt), 1.0);
        assert!((f(Feature::RQuotedFromPromptShare) - 10.0 / 15.0).abs() < 1e-6);
        assert!(f(Feature::RTfidfCosineBestSentence) > 0.5);
        assert_eq!(f(Feature::RPromptSentencesCovered), 1.0);
        assert_eq!(f(Feature::RSourceSentencesUsed), 1.0);
        assert!(f(Feature::RSentenceGrounding) > 0.5);
        assert!((f(Feature::RLogCopiedWords) - 11f32.ln()).abs() < 1e-6);
    }

    #[test]
    fn repetitive_text_against_a_repetitive_prompt_stays_bounded() {
        let v = features(&"the meat ".repeat(1000), &"the meat ".repeat(30_000));
        assert_eq!(v[Feature::RLongestCommonRun as usize], 2000.0);
        assert_eq!(v[Feature::RCopiedShare8 as usize], 1.0);
    }

    #[test]
    fn stemming_matches_inflected_forms() {
        let v = features(SOURCE, "spoils chopping sausages");
        assert_eq!(v[Feature::RUnigramPrecision as usize], 1.0);
        assert_eq!(v[Feature::RNovelWordShare as usize], 0.0);
    }

    #[test]
    fn an_unrelated_essay_shares_nothing() {
        let v = features(SOURCE, "Pharaohs ruled Egypt with viziers and priests.");
        for f in [
            Feature::RCopiedShare4,
            Feature::RBigramPrecision,
            Feature::RTfidfCosinePrompt,
        ] {
            assert_eq!(v[f as usize], 0.0, "{f:?}");
        }
        assert!(v[Feature::RNovelWordShare as usize] > 0.8);
    }

    #[test]
    fn question_and_title_overlap_work_without_a_prompt_text() {
        let v = features(
            "",
            "The factory would cover spoiled meat in the cannery ledger.",
        );
        assert!(v[Feature::RQuestionOverlap as usize] > 0.5);
        assert_eq!(v[Feature::RTitleOverlap as usize], 1.0);
        assert_eq!(v[Feature::RCopiedShare4 as usize], 0.0);
        let relation = crate::features::catalogue()
            .iter()
            .zip(&v)
            .enumerate()
            .filter(|(i, (def, _))| {
                def.group == crate::features::FeatureGroup::Relation
                    && !crate::features::paraphrase::FEATURES
                        .iter()
                        .any(|&f| f as usize == *i)
            })
            .map(|(_, pair)| pair);
        for (def, x) in relation {
            assert!(x.is_finite(), "{} is not written", def.name);
        }
    }
}
