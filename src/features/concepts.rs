//! Concepts: the dozen things a teacher looks for in a summary (its length,
//! how much of the source it covers, how much it copies, ...), each a named
//! group of catalogue features, and the plain sentence that says where one
//! essay stands on it against the training essays.
//!
//! Every feature belongs to exactly one concept. [`Concept::of`] is an
//! exhaustive `match` on [`Feature`] with no catch-all arm, so a feature
//! added to the catalogue does not compile until it is given its concept.
//! The grader explains a grade by setting all of a concept's features to
//! their training means together (`grader::explain`); this module only says
//! which features go together and how to put a concept into words.
//!
//! Pure: no I/O.

use std::fmt;

use serde::Serialize;

use super::catalogue::Feature;

/// A named group of features that a teacher reads as one thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Concept {
    /// How long the essay is.
    Length,
    /// How many of the source's ideas it takes up.
    SourceCoverage,
    /// How much of it is copied word for word.
    Copying,
    /// How much it says in words that are not the source's.
    OwnWords,
    /// How closely it keeps to the question and the source.
    Relevance,
    /// Quotations from the source.
    Quoting,
    /// Word choice: length, variety, common words.
    Vocabulary,
    /// Sentence length and variety, the words that join ideas, and how
    /// each sentence keeps to the one before and to the whole.
    SentenceStructure,
    /// Readability formulas and the gap to the source's level.
    Readability,
    /// Spelling, capitals, apostrophes and punctuation.
    Mechanics,
    /// First person, exclamations and questions.
    Voice,
    /// The source text and the question themselves (the same for every
    /// essay on a prompt).
    Prompt,
}

/// A concept serialises as its id.
impl Serialize for Concept {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

impl Concept {
    /// Every concept, in the order explanations list ties.
    pub const ALL: [Concept; 12] = [
        Concept::Length,
        Concept::SourceCoverage,
        Concept::Copying,
        Concept::OwnWords,
        Concept::Relevance,
        Concept::Quoting,
        Concept::Vocabulary,
        Concept::SentenceStructure,
        Concept::Readability,
        Concept::Mechanics,
        Concept::Voice,
        Concept::Prompt,
    ];

    /// Stable snake_case id, part of the API.
    pub fn id(self) -> &'static str {
        match self {
            Concept::Length => "length",
            Concept::SourceCoverage => "source_coverage",
            Concept::Copying => "copying",
            Concept::OwnWords => "own_words",
            Concept::Relevance => "relevance",
            Concept::Quoting => "quoting",
            Concept::Vocabulary => "vocabulary",
            Concept::SentenceStructure => "sentence_structure",
            Concept::Readability => "readability",
            Concept::Mechanics => "mechanics",
            Concept::Voice => "voice",
            Concept::Prompt => "prompt",
        }
    }

    /// The concept in a teacher's words.
    pub fn label(self) -> &'static str {
        match self {
            Concept::Length => "Length",
            Concept::SourceCoverage => "Coverage of the source's ideas",
            Concept::Copying => "Copying from the source",
            Concept::OwnWords => "Paraphrase and own words",
            Concept::Relevance => "Relevance to the question",
            Concept::Quoting => "Quoting the source",
            Concept::Vocabulary => "Vocabulary",
            Concept::SentenceStructure => "Sentence structure",
            Concept::Readability => "Reading level",
            Concept::Mechanics => "Spelling and mechanics",
            Concept::Voice => "Tone and voice",
            Concept::Prompt => "The source and question",
        }
    }

    /// The concept `feature` belongs to.
    pub fn of(feature: Feature) -> Concept {
        use Feature::*;
        match feature {
            PWordCount | PLogWordCount | PCharCount | PSentenceCount | PParagraphCount
            | PVocabularySize | PTypeTokenRatio | PMeanWordLength | PMeanSentenceLength
            | PFleschReadingEase | PFleschKincaidGrade | PColemanLiau | PAri | PSmog
            | PGunningFog | QWordCount | QSentenceCount | QTaskSummarise | QTaskExplain
            | QTaskDescribe | QTaskCompare | QTaskCiteEvidence | QTaskCount
            | QElementsRequested | QPromptOverlap => Concept::Prompt,

            ECharCount
            | EWordCount
            | ELogWordCount
            | ESentenceCount
            | EParagraphCount
            | REssayPromptLengthRatio => Concept::Length,

            RUnigramRecall
            | RBigramRecall
            | RTrigramRecall
            | RContentRecall
            | RTfidfCosinePrompt
            | RPromptSentencesCovered
            | RPromptSentencesCoveredShare
            | RCoveredSpan
            | RKeywordRecall
            | RTfidfCosineSum
            | RSourceSentencesUsed
            | RSourceSentencesUsedShare
            | RMeaningSentenceCoverage
            | RMeaningKeywordRecall => Concept::SourceCoverage,

            RCopiedShare4
            | RCopiedShare8
            | RCopiedRuns4
            | RLongestCommonRun
            | RLongestCommonRunShare
            | RLogCopiedWords => Concept::Copying,

            RUnigramPrecision
            | RBigramPrecision
            | RTrigramPrecision
            | RContentPrecision
            | RNovelWordShare
            | RNovelContentWordShare
            | RWordsNotCopied
            | RLogWordsNotCopied
            | RLogWordsNotCopied8
            | RLogNovelWords
            | RLogNovelBigrams
            | RLogNovelTypes
            | RNovelLongWordShare
            | RParaphraseGap => Concept::OwnWords,

            RQuestionOverlap
            | RTitleOverlap
            | RTfidfCosineBestSentence
            | RTfidfCosineTop3Sentences
            | RSentenceGrounding
            | RMeaningCosinePrompt
            | RMeaningQuestionCosine
            | RMeaningGrounding => Concept::Relevance,

            RQuotesFromPrompt | RQuotedFromPromptShare | EQuoteMarksPerWord => Concept::Quoting,

            EMeanWordLength
            | ESdWordLength
            | ELongWordShare
            | ESyllablesPerWord
            | EPolysyllableShare
            | EUniqueWords
            | ELogUniqueWords
            | ETypeTokenRatio
            | ERootTtr
            | EMtld
            | EYulesK
            | EStopwordShare
            | RWordLengthRatio
            | EMeanLogWordRank
            | ERareWordShare
            | EWordMeaningSpread
            | RNovelMeanLogWordRank
            | RNovelRareWordShare => Concept::Vocabulary,

            EMeanSentenceLength
            | EMaxSentenceLength
            | ESdSentenceLength
            | ELongSentenceShare
            | ECommasPerSentence
            | EConnectivesPerSentence
            | ESentenceCoherence
            | ESentenceFocus => Concept::SentenceStructure,

            EFleschReadingEase | EFleschKincaidGrade | EColemanLiau | EAri | ESmog
            | EGunningFog | RGradeLevelGap => Concept::Readability,

            EMisspeltCount
            | EMisspeltShare
            | EPunctuationPerWord
            | EBracketsPerWord
            | ESentenceStartLowercaseShare
            | ELowercaseICount
            | ELowercaseIPerWord
            | EApostropheSlips
            | EApostropheSlipsPerWord
            | ESpaceBeforePunctPerSentence
            | EMissingSpaceAfterPunctPerSentence
            | EMissingFinalPunct
            | EDigitShare
            | EUppercaseShare
            | ERepeatedWordShare => Concept::Mechanics,

            EFirstPersonShare | EExclamationsQuestionsPerSentence => Concept::Voice,
        }
    }

    /// The concept's features, in catalogue order.
    pub fn features(self) -> impl Iterator<Item = Feature> {
        Feature::ALL
            .iter()
            .copied()
            .filter(move |&f| Concept::of(f) == self)
    }

    /// One plain sentence on where an essay stands on this concept: the
    /// essay's own figure against the training essays' mean of it.
    ///
    /// `values` is the essay's catalogue vector; `typical(f)` is the training
    /// mean of feature `f`, or `None` when the model was not trained on it.
    /// Each concept has a headline figure; when the model lacks it the
    /// sentence names the first of the concept's features it has. `None`
    /// only when the model has none of the concept's features (then the
    /// concept is not part of its explanations).
    pub fn sentence(
        self,
        values: &[f32],
        typical: &dyn Fn(Feature) -> Option<f64>,
    ) -> Option<String> {
        let v = |f: Feature| f64::from(values[f as usize]);
        let has_source = v(Feature::PWordCount) > 0.0;
        let has_question = v(Feature::QWordCount) > 0.0;
        let unmeasured = |what: &str| {
            Some(format!(
                "The prompt has no source text, so {what} could not be measured."
            ))
        };
        let compare =
            |f: Feature, say: &dyn Fn(f64, f64) -> String| typical(f).map(|t| say(v(f), t));
        let headline = match self {
            Concept::Length => compare(Feature::EWordCount, &|e, t| {
                format!(
                    "Has {} words; the training essays average {}.",
                    Whole(e),
                    Whole(t)
                )
            }),
            Concept::SourceCoverage if !has_source => unmeasured("coverage of the source"),
            Concept::SourceCoverage => compare(Feature::RPromptSentencesCoveredShare, &|e, t| {
                format!(
                    "Draws on {} of the source's sentences; the training essays average {}.",
                    Percent(e),
                    Percent(t)
                )
            }),
            Concept::Copying if !has_source => unmeasured("copying"),
            Concept::Copying => compare(Feature::RCopiedShare4, &|e, t| {
                format!(
                    "{} of its words are in runs of 4 or more words copied from the source; the training essays average {}.",
                    Percent(e),
                    Percent(t)
                )
            }),
            Concept::OwnWords if !has_source => unmeasured("the use of its own words"),
            Concept::OwnWords => compare(Feature::RNovelWordShare, &|e, t| {
                format!(
                    "{} of its words are not in the source; the training essays average {}.",
                    Percent(e),
                    Percent(t)
                )
            }),
            Concept::Relevance if has_question => compare(Feature::RQuestionOverlap, &|e, t| {
                format!(
                    "Uses {} of the question's key words; the training essays average {}.",
                    Percent(e),
                    Percent(t)
                )
            }),
            Concept::Relevance if has_source => compare(Feature::RSentenceGrounding, &|e, t| {
                format!(
                    "Its sentences match their closest source sentence at {e:.2} on average (similarity from 0 to 1); the training essays average {t:.2}."
                )
            }),
            Concept::Relevance => Some(
                "The prompt has neither a question nor a source text, so relevance could not be measured."
                    .to_owned(),
            ),
            Concept::Quoting if !has_source => unmeasured("quoting"),
            Concept::Quoting => compare(Feature::RQuotesFromPrompt, &|e, t| {
                if e.round() == 0.0 {
                    format!(
                        "Does not quote the source; the training essays average {t:.1} quotations."
                    )
                } else {
                    format!(
                        "Quotes the source {}; the training essays average {t:.1} quotations.",
                        Times(e)
                    )
                }
            }),
            Concept::Vocabulary => compare(Feature::ELongWordShare, &|e, t| {
                format!(
                    "{} of its words have 7 or more letters; the training essays average {}.",
                    Percent(e),
                    Percent(t)
                )
            }),
            Concept::SentenceStructure => compare(Feature::EMeanSentenceLength, &|e, t| {
                format!(
                    "Its sentences have {e:.1} words on average; the training essays' have {t:.1}."
                )
            }),
            Concept::Readability => compare(Feature::EFleschKincaidGrade, &|e, t| {
                format!(
                    "Reads at school grade {e:.1} (Flesch-Kincaid); the training essays average grade {t:.1}."
                )
            }),
            Concept::Mechanics => compare(Feature::EMisspeltShare, &|e, t| {
                if e == 0.0 {
                    return format!(
                        "No word looks misspelt; the training essays average {}.",
                        Percent(t)
                    );
                }
                format!(
                    "{} of its words look misspelt ({} {}); the training essays average {}.",
                    Percent(e),
                    Whole(v(Feature::EMisspeltCount)),
                    plural(v(Feature::EMisspeltCount), "word", "words"),
                    Percent(t)
                )
            }),
            Concept::Voice => compare(Feature::EFirstPersonShare, &|e, t| {
                if e == 0.0 {
                    return format!(
                        "Uses no first-person words (I, me, we, our ...); the training essays average {}.",
                        Percent(t)
                    );
                }
                format!(
                    "{} of its words are first person (I, me, we, our ...); the training essays average {}.",
                    Percent(e),
                    Percent(t)
                )
            }),
            Concept::Prompt if !has_source => compare(Feature::PWordCount, &|_, t| {
                format!(
                    "The prompt has no source text; the training essays' sources average {} words.",
                    Whole(t)
                )
            }),
            Concept::Prompt => compare(Feature::PWordCount, &|e, t| {
                format!(
                    "The source has {} words; the training essays' sources average {}.",
                    Whole(e),
                    Whole(t)
                )
            }),
        };
        headline.or_else(|| {
            self.features().find_map(|f| {
                let t = typical(f)?;
                let what = f.def().definition.trim_end_matches('.');
                Some(format!(
                    "{what}: {} here; the training essays average {}.",
                    Number(v(f)),
                    Number(t)
                ))
            })
        })
    }
}

/// A share (0 to 1) as a percentage: "42%", "3.5%" under 10%, "0%".
struct Percent(f64);

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.0 * 100.0;
        if p >= 9.95 {
            return write!(f, "{p:.0}%");
        }
        let tenths = (p * 10.0).round() as i64;
        if tenths % 10 == 0 {
            write!(f, "{}%", tenths / 10)
        } else {
            write!(f, "{}.{}%", tenths / 10, (tenths % 10).abs())
        }
    }
}

/// A count, rounded, with thousands separated: "1,204".
struct Whole(f64);

impl fmt::Display for Whole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn grouped(f: &mut fmt::Formatter<'_>, n: u64) -> fmt::Result {
            if n >= 1000 {
                grouped(f, n / 1000)?;
                write!(f, ",{:03}", n % 1000)
            } else {
                write!(f, "{n}")
            }
        }
        let n = self.0.round() as i64;
        if n < 0 {
            f.write_str("-")?;
        }
        grouped(f, n.unsigned_abs())
    }
}

/// Any figure: whole numbers as such, others with two decimals.
struct Number(f64);

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.fract() == 0.0 {
            Whole(self.0).fmt(f)
        } else {
            write!(f, "{:.2}", self.0)
        }
    }
}

/// "once", "twice", "3 times".
struct Times(f64);

impl fmt::Display for Times {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.round() as i64 {
            1 => f.write_str("once"),
            2 => f.write_str("twice"),
            _ => write!(f, "{} times", Whole(self.0)),
        }
    }
}

fn plural(n: f64, one: &'static str, many: &'static str) -> &'static str {
    if n.round() == 1.0 { one } else { many }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{catalogue, feature_count};
    use std::collections::HashSet;

    #[test]
    fn every_feature_belongs_to_exactly_one_listed_concept() {
        let mut seen = vec![0usize; feature_count()];
        for concept in Concept::ALL {
            for f in concept.features() {
                seen[f as usize] += 1;
                assert_eq!(Concept::of(f), concept);
            }
        }
        for (i, count) in seen.iter().enumerate() {
            assert_eq!(*count, 1, "{} is in {count} concepts", catalogue()[i].name);
        }
    }

    #[test]
    fn there_are_8_to_12_concepts_with_unique_ids_labels_and_features() {
        assert!((8..=12).contains(&Concept::ALL.len()));
        let ids: HashSet<_> = Concept::ALL.iter().map(|c| c.id()).collect();
        let labels: HashSet<_> = Concept::ALL.iter().map(|c| c.label()).collect();
        assert_eq!(ids.len(), Concept::ALL.len());
        assert_eq!(labels.len(), Concept::ALL.len());
        for c in Concept::ALL {
            assert!(c.features().next().is_some(), "{} has no feature", c.id());
            assert!(
                c.id()
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch == '_')
            );
            assert_eq!(serde_json::to_value(c).unwrap(), c.id());
        }
    }

    /// A vector of zeros with the given features set.
    fn essay(set: &[(Feature, f32)]) -> Vec<f32> {
        let mut values = vec![0.0; feature_count()];
        values[Feature::PWordCount as usize] = 700.0;
        values[Feature::QWordCount as usize] = 12.0;
        for &(f, v) in set {
            values[f as usize] = v;
        }
        values
    }

    #[test]
    fn sentences_carry_the_essays_figure_and_the_training_mean() {
        let values = essay(&[
            (Feature::RPromptSentencesCoveredShare, 0.42),
            (Feature::EWordCount, 1204.0),
            (Feature::EMisspeltShare, 0.03),
            (Feature::EMisspeltCount, 4.0),
            (Feature::RQuotesFromPrompt, 2.0),
        ]);
        let typical = |f: Feature| {
            Some(match f {
                Feature::RPromptSentencesCoveredShare => 0.1,
                Feature::EWordCount => 75.4,
                Feature::EMisspeltShare => 0.012,
                Feature::RQuotesFromPrompt => 0.31,
                _ => 0.5,
            })
        };
        let say = |c: Concept| c.sentence(&values, &typical).unwrap();
        assert_eq!(
            say(Concept::SourceCoverage),
            "Draws on 42% of the source's sentences; the training essays average 10%."
        );
        assert_eq!(
            say(Concept::Length),
            "Has 1,204 words; the training essays average 75."
        );
        assert_eq!(
            say(Concept::Mechanics),
            "3% of its words look misspelt (4 words); the training essays average 1.2%."
        );
        assert_eq!(
            say(Concept::Quoting),
            "Quotes the source twice; the training essays average 0.3 quotations."
        );
        for c in Concept::ALL {
            let s = say(c);
            let first = s.chars().next().unwrap();
            assert!(s.ends_with('.'), "{s}");
            assert!(first.is_uppercase() || first.is_ascii_digit(), "{s}");
        }
    }

    #[test]
    fn a_prompt_without_source_text_or_question_is_said_so() {
        let mut values = essay(&[(Feature::RCopiedShare4, 0.0)]);
        values[Feature::PWordCount as usize] = 0.0;
        values[Feature::QWordCount as usize] = 0.0;
        let typical = |_: Feature| Some(0.2);
        assert_eq!(
            Concept::Mechanics.sentence(&values, &typical).unwrap(),
            "No word looks misspelt; the training essays average 20%."
        );
        assert_eq!(
            Concept::Copying.sentence(&values, &typical).unwrap(),
            "The prompt has no source text, so copying could not be measured."
        );
        assert!(
            Concept::Relevance
                .sentence(&values, &typical)
                .unwrap()
                .contains("neither a question nor a source text")
        );
    }

    #[test]
    fn without_the_headline_feature_the_sentence_names_the_first_feature_the_model_has() {
        let values = essay(&[(Feature::ECharCount, 640.0), (Feature::EWordCount, 120.0)]);
        let only_chars = |f: Feature| (f == Feature::ECharCount).then_some(410.5);
        assert_eq!(
            Concept::Length.sentence(&values, &only_chars).unwrap(),
            "Characters in the essay: 640 here; the training essays average 410.50."
        );
        let none = |_: Feature| None;
        assert_eq!(Concept::Length.sentence(&values, &none), None);
    }

    #[test]
    fn figures_are_written_for_reading() {
        let percent = |x: f64| Percent(x).to_string();
        let whole = |x: f64| Whole(x).to_string();
        let times = |x: f64| Times(x).to_string();
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(0.035), "3.5%");
        assert_eq!(percent(0.4249), "42%");
        assert_eq!(whole(1234567.4), "1,234,567");
        assert_eq!(whole(-1200.0), "-1,200");
        assert_eq!(whole(75.0), "75");
        assert_eq!(percent(0.03), "3%");
        assert_eq!(times(1.0), "once");
        assert_eq!(times(5.0), "5 times");
    }
}
