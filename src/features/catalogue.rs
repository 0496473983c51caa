//! The feature catalogue: every feature's stable name, group and one-line
//! definition, in the order of a [`super::FeatureVector`].
//!
//! Names are part of saved models (a model lists the features it was trained
//! on), so a name is never changed or reused; new features are appended to
//! their group. The [`Feature`] enum is generated from the same table, so
//! extraction code writes `Feature::EWordCount` and cannot drift from the
//! catalogue.

use serde::Serialize;

/// The four feature groups, by name prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FeatureGroup {
    /// `p_`: the prompt's source text alone (constant within a prompt).
    Prompt,
    /// `q_`: the question alone (constant within a prompt).
    Question,
    /// `e_`: the essay alone.
    Essay,
    /// `r_`: the essay against the prompt's text, question and title.
    Relation,
}

impl FeatureGroup {
    /// The name prefix of the group's features ("p_", "q_", "e_", "r_").
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Prompt => "p_",
            Self::Question => "q_",
            Self::Essay => "e_",
            Self::Relation => "r_",
        }
    }

    /// The group's name as used in tables ("prompt", "question", "essay", "relation").
    pub fn name(self) -> &'static str {
        match self {
            Self::Prompt => "prompt",
            Self::Question => "question",
            Self::Essay => "essay",
            Self::Relation => "relation",
        }
    }
}

/// One entry of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FeatureDef {
    /// Stable snake_case name with its group prefix.
    pub name: &'static str,
    /// The group the feature belongs to.
    pub group: FeatureGroup,
    /// What the feature measures, in one line.
    pub definition: &'static str,
}

macro_rules! catalogue {
    ($($variant:ident $name:literal $group:ident $definition:literal;)*) => {
        /// Every feature, by position in the catalogue. `Feature::X as usize`
        /// is its index in a feature vector.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(usize)]
        pub enum Feature {
            $(
                #[doc = $definition]
                $variant,
            )*
        }

        impl Feature {
            /// Every feature, in catalogue order.
            pub const ALL: &'static [Feature] = &[$(Feature::$variant,)*];
        }

        static CATALOGUE: &[FeatureDef] = &[
            $(FeatureDef { name: $name, group: FeatureGroup::$group, definition: $definition },)*
        ];
    };
}

catalogue! {
    // ---- p_: the prompt's source text ----
    PWordCount "p_word_count" Prompt "Words in the prompt text.";
    PLogWordCount "p_log_word_count" Prompt "ln(1 + words in the prompt text).";
    PCharCount "p_char_count" Prompt "Characters in the prompt text.";
    PSentenceCount "p_sentence_count" Prompt "Sentences in the prompt text.";
    PParagraphCount "p_paragraph_count" Prompt "Non-blank lines (paragraphs) in the prompt text.";
    PVocabularySize "p_vocabulary_size" Prompt "Distinct lower-cased words in the prompt text.";
    PTypeTokenRatio "p_type_token_ratio" Prompt "Distinct words / words in the prompt text.";
    PMeanWordLength "p_mean_word_length" Prompt "Mean letters and digits per word of the prompt text.";
    PMeanSentenceLength "p_mean_sentence_length" Prompt "Mean words per sentence of the prompt text.";
    PFleschReadingEase "p_flesch_reading_ease" Prompt "Flesch reading ease of the prompt text.";
    PFleschKincaidGrade "p_flesch_kincaid_grade" Prompt "Flesch-Kincaid grade level of the prompt text.";
    PColemanLiau "p_coleman_liau" Prompt "Coleman-Liau index of the prompt text.";
    PAri "p_ari" Prompt "Automated readability index of the prompt text.";
    PSmog "p_smog" Prompt "SMOG grade of the prompt text.";
    PGunningFog "p_gunning_fog" Prompt "Gunning fog index of the prompt text.";

    // ---- q_: the question ----
    QWordCount "q_word_count" Question "Words in the question.";
    QSentenceCount "q_sentence_count" Question "Sentences in the question.";
    QTaskSummarise "q_task_summarise" Question "1 if the question asks to summarise (summarize, summary), else 0.";
    QTaskExplain "q_task_explain" Question "1 if the question asks to explain (explain, why, how), else 0.";
    QTaskDescribe "q_task_describe" Question "1 if the question asks to describe (describe, identify, list), else 0.";
    QTaskCompare "q_task_compare" Question "1 if the question asks to compare or contrast, else 0.";
    QTaskCiteEvidence "q_task_cite_evidence" Question "1 if the question asks for evidence, citations or quotes from the text, else 0.";
    QTaskCount "q_task_count" Question "Number of distinct task kinds the question asks for.";
    QElementsRequested "q_elements_requested" Question "Number of elements asked for (\"at least 3\", \"two ways\"); 0 if none is stated.";
    QPromptOverlap "q_prompt_overlap" Question "Share of the question's content-word stems that occur in the prompt text.";

    // ---- e_: the essay alone ----
    ECharCount "e_char_count" Essay "Characters in the essay.";
    EWordCount "e_word_count" Essay "Words in the essay.";
    ELogWordCount "e_log_word_count" Essay "ln(1 + words in the essay).";
    ESentenceCount "e_sentence_count" Essay "Sentences in the essay.";
    EParagraphCount "e_paragraph_count" Essay "Non-blank lines (paragraphs) in the essay.";
    EMeanSentenceLength "e_mean_sentence_length" Essay "Mean words per sentence.";
    EMaxSentenceLength "e_max_sentence_length" Essay "Words in the longest sentence.";
    ESdSentenceLength "e_sd_sentence_length" Essay "Standard deviation of words per sentence.";
    EMeanWordLength "e_mean_word_length" Essay "Mean letters and digits per word.";
    ESdWordLength "e_sd_word_length" Essay "Standard deviation of letters and digits per word.";
    ELongWordShare "e_long_word_share" Essay "Share of words with 7 or more letters.";
    ESyllablesPerWord "e_syllables_per_word" Essay "Mean estimated syllables per word.";
    EPolysyllableShare "e_polysyllable_share" Essay "Share of words with 3 or more syllables.";
    EUniqueWords "e_unique_words" Essay "Distinct lower-cased words.";
    ELogUniqueWords "e_log_unique_words" Essay "ln(1 + distinct lower-cased words).";
    ETypeTokenRatio "e_type_token_ratio" Essay "Distinct words / words.";
    ERootTtr "e_root_ttr" Essay "Guiraud's root type-token ratio: distinct words / sqrt(words).";
    EMtld "e_mtld" Essay "MTLD lexical diversity (McCarthy & Jarvis 2010, threshold 0.72, mean of both directions).";
    EYulesK "e_yules_k" Essay "Yule's K: 10^4 (sum of squared word frequencies - N) / N^2; lower is more diverse.";
    EFleschReadingEase "e_flesch_reading_ease" Essay "Flesch reading ease of the essay.";
    EFleschKincaidGrade "e_flesch_kincaid_grade" Essay "Flesch-Kincaid grade level of the essay.";
    EColemanLiau "e_coleman_liau" Essay "Coleman-Liau index of the essay.";
    EAri "e_ari" Essay "Automated readability index of the essay.";
    ESmog "e_smog" Essay "SMOG grade of the essay.";
    EGunningFog "e_gunning_fog" Essay "Gunning fog index of the essay.";
    EPunctuationPerWord "e_punctuation_per_word" Essay "Punctuation marks per word.";
    ECommasPerSentence "e_commas_per_sentence" Essay "Commas per sentence.";
    EExclamationsQuestionsPerSentence "e_exclamations_questions_per_sentence" Essay "Exclamation and question marks per sentence.";
    EBracketsPerWord "e_brackets_per_word" Essay "Round and square brackets per word.";
    ESentenceStartLowercaseShare "e_sentence_start_lowercase_share" Essay "Share of sentences whose first word starts with a lower-case letter.";
    ELowercaseICount "e_lowercase_i_count" Essay "Times the pronoun I is written as a lower-case \"i\".";
    ELowercaseIPerWord "e_lowercase_i_per_word" Essay "Lower-case \"i\" pronouns per word.";
    EApostropheSlips "e_apostrophe_slips" Essay "Contractions missing their apostrophe (\"dont\") plus its/it's confusions.";
    EApostropheSlipsPerWord "e_apostrophe_slips_per_word" Essay "Apostrophe slips per word.";
    ESpaceBeforePunctPerSentence "e_space_before_punct_per_sentence" Essay "Spaces before , . ; : ! ? per sentence.";
    EMissingSpaceAfterPunctPerSentence "e_missing_space_after_punct_per_sentence" Essay "Words glued to a preceding , . ; : ! ? per sentence.";
    EMissingFinalPunct "e_missing_final_punct" Essay "1 if the essay has words but does not end with . ! ? or similar, else 0.";
    EMisspeltCount "e_misspelt_count" Essay "Alphabetic words in neither the English word list nor the prompt (title, question, text).";
    EMisspeltShare "e_misspelt_share" Essay "Misspelt words / alphabetic words.";
    EStopwordShare "e_stopword_share" Essay "Share of words that are stopwords.";
    EConnectivesPerSentence "e_connectives_per_sentence" Essay "Connectives and discourse markers (\"however\", \"for example\") per sentence.";
    EFirstPersonShare "e_first_person_share" Essay "Share of words that are first-person (I, me, my, we, our ...).";
    EQuoteMarksPerWord "e_quote_marks_per_word" Essay "Quotation marks per word.";
    EDigitShare "e_digit_share" Essay "Digits / characters.";
    EUppercaseShare "e_uppercase_share" Essay "Upper-case letters / letters.";
    ERepeatedWordShare "e_repeated_word_share" Essay "Share of words that repeat the word just before them (\"the the\").";
    ELongSentenceShare "e_long_sentence_share" Essay "Share of sentences longer than 35 words.";
    EMeanLogWordRank "e_mean_log_word_rank" Essay "Mean ln(frequency rank) of the correctly spelt content words (GloVe frequency order; unlisted dictionary words rank 40,001).";
    ERareWordShare "e_rare_word_share" Essay "Share of the correctly spelt content words that are not among the 10,000 most frequent words.";
    ESentenceCoherence "e_sentence_coherence" Essay "Mean word-vector cosine of each sentence's meaning to the next one's (pairs with a sentence that has no known content word left out).";
    ESentenceFocus "e_sentence_focus" Essay "Mean word-vector cosine of each sentence's meaning to the whole essay's.";
    EWordMeaningSpread "e_word_meaning_spread" Essay "1 minus the length of the mean unit vector of the distinct content words: how far apart in meaning the essay's words range.";

    // ---- r_: the essay against the prompt ----
    RUnigramPrecision "r_unigram_precision" Relation "Share of the essay's distinct word stems that occur in the prompt text.";
    RUnigramRecall "r_unigram_recall" Relation "Share of the prompt text's distinct word stems that occur in the essay.";
    RBigramPrecision "r_bigram_precision" Relation "Share of the essay's distinct stem bigrams that occur in the prompt text.";
    RBigramRecall "r_bigram_recall" Relation "Share of the prompt text's distinct stem bigrams that occur in the essay.";
    RTrigramPrecision "r_trigram_precision" Relation "Share of the essay's distinct stem trigrams that occur in the prompt text.";
    RTrigramRecall "r_trigram_recall" Relation "Share of the prompt text's distinct stem trigrams that occur in the essay.";
    RContentPrecision "r_content_precision" Relation "Share of the essay's distinct content-word stems that occur in the prompt text.";
    RContentRecall "r_content_recall" Relation "Share of the prompt text's distinct content-word stems that occur in the essay.";
    RCopiedShare4 "r_copied_share_4" Relation "Share of essay words inside a run of >= 4 words copied verbatim (by stem) from the prompt text.";
    RCopiedShare8 "r_copied_share_8" Relation "Share of essay words inside a run of >= 8 words copied verbatim (by stem) from the prompt text.";
    RCopiedRuns4 "r_copied_runs_4" Relation "Number of maximal copied runs of >= 4 words.";
    RLongestCommonRun "r_longest_common_run" Relation "Words in the longest run the essay shares with the prompt text.";
    RLongestCommonRunShare "r_longest_common_run_share" Relation "Longest shared run / essay words.";
    RNovelWordShare "r_novel_word_share" Relation "Share of essay words whose stem does not occur in the prompt text.";
    RNovelContentWordShare "r_novel_content_word_share" Relation "Share of essay content words whose stem does not occur in the prompt text.";
    RWordsNotCopied "r_words_not_copied" Relation "Essay words outside every copied run of >= 4 words.";
    RLogWordsNotCopied "r_log_words_not_copied" Relation "ln(1 + essay words outside every copied run of >= 4 words).";
    RTfidfCosinePrompt "r_tfidf_cosine_prompt" Relation "TF-IDF cosine similarity of the essay to the whole prompt text (IDF over prompt sentences).";
    RTfidfCosineBestSentence "r_tfidf_cosine_best_sentence" Relation "Highest TF-IDF cosine similarity of the essay to one prompt sentence.";
    RTfidfCosineTop3Sentences "r_tfidf_cosine_top3_sentences" Relation "Mean TF-IDF cosine similarity of the essay to its 3 best-matching prompt sentences.";
    RPromptSentencesCovered "r_prompt_sentences_covered" Relation "Prompt sentences with TF-IDF cosine >= 0.2 to the essay.";
    RPromptSentencesCoveredShare "r_prompt_sentences_covered_share" Relation "Covered prompt sentences / prompt sentences.";
    RCoveredSpan "r_covered_span" Relation "Share of the prompt text spanned from the first to the last covered sentence.";
    RKeywordRecall "r_keyword_recall" Relation "Share of the prompt's 20 top TF-IDF keywords whose stem occurs in the essay.";
    RQuestionOverlap "r_question_overlap" Relation "Share of the question's content-word stems that occur in the essay.";
    RTitleOverlap "r_title_overlap" Relation "Share of the title's content-word stems that occur in the essay.";
    REssayPromptLengthRatio "r_essay_prompt_length_ratio" Relation "Essay words / prompt text words.";
    RQuotesFromPrompt "r_quotes_from_prompt" Relation "Quoted passages of the essay whose words occur in order in the prompt text.";
    RQuotedFromPromptShare "r_quoted_from_prompt_share" Relation "Share of essay words inside quotations taken from the prompt text.";
    RLogNovelWords "r_log_novel_words" Relation "ln(1 + essay words whose stem does not occur in the prompt text).";
    RLogNovelBigrams "r_log_novel_bigrams" Relation "ln(1 + distinct essay stem bigrams that do not occur in the prompt text).";
    RLogCopiedWords "r_log_copied_words" Relation "ln(1 + essay words inside copied runs of >= 4 words).";
    RTfidfCosineSum "r_tfidf_cosine_sum" Relation "Sum over prompt sentences of their TF-IDF cosine with the essay (soft coverage).";
    RSourceSentencesUsed "r_source_sentences_used" Relation "Distinct prompt sentences that are the best match (cosine >= 0.1) of some essay sentence.";
    RSourceSentencesUsedShare "r_source_sentences_used_share" Relation "Source sentences used / prompt sentences.";
    RSentenceGrounding "r_sentence_grounding" Relation "Mean over essay sentences of the best TF-IDF cosine to a prompt sentence.";
    RLogNovelTypes "r_log_novel_types" Relation "ln(1 + distinct essay stems that do not occur in the prompt text).";
    RNovelLongWordShare "r_novel_long_word_share" Relation "Share of essay words with 7 or more letters whose stem does not occur in the prompt text.";
    RLogWordsNotCopied8 "r_log_words_not_copied_8" Relation "ln(1 + essay words outside every copied run of >= 8 words).";
    RWordLengthRatio "r_word_length_ratio" Relation "Essay mean word length / prompt text mean word length.";
    RGradeLevelGap "r_grade_level_gap" Relation "Essay Flesch-Kincaid grade minus prompt text Flesch-Kincaid grade.";
    RMeaningCosinePrompt "r_meaning_cosine_prompt" Relation "Cosine of the essay's and the prompt text's mean word vectors (content words, IDF-weighted).";
    RMeaningSentenceCoverage "r_meaning_sentence_coverage" Relation "Mean over prompt sentences of the best word-vector cosine to an essay sentence.";
    RMeaningGrounding "r_meaning_grounding" Relation "Mean over essay sentences of the best word-vector cosine to a prompt sentence.";
    RMeaningKeywordRecall "r_meaning_keyword_recall" Relation "Mean over the prompt's 20 top keywords of the best word-vector cosine to an essay content word (1 if used).";
    RParaphraseGap "r_paraphrase_gap" Relation "r_meaning_keyword_recall minus r_keyword_recall: the source's key ideas expressed in other words.";
    RNovelMeanLogWordRank "r_novel_mean_log_word_rank" Relation "Mean ln(frequency rank) of the correctly spelt content words whose stem is not in the prompt text.";
    RMeaningQuestionCosine "r_meaning_question_cosine" Relation "Word-vector cosine of the essay's meaning to the question's (IDF-weighted mean vectors): does it write about what was asked.";
    RNovelRareWordShare "r_novel_rare_word_share" Relation "Share of content words that are rare (beyond the 10,000 most frequent), correctly spelt and not in the prompt text.";
}

impl Feature {
    /// The feature's catalogue entry.
    pub fn def(self) -> &'static FeatureDef {
        &CATALOGUE[self as usize]
    }

    /// The feature's stable name ("e_word_count").
    pub fn name(self) -> &'static str {
        self.def().name
    }
}

/// A feature serialises as its stable name.
impl Serialize for Feature {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// The catalogue: every feature in vector order.
pub fn catalogue() -> &'static [FeatureDef] {
    CATALOGUE
}

/// Number of features in a [`super::FeatureVector`].
pub fn feature_count() -> usize {
    CATALOGUE.len()
}

/// Position of the feature called `name` in the catalogue, if there is one.
pub fn feature_index(name: &str) -> Option<usize> {
    CATALOGUE.iter().position(|def| def.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn catalogue_holds_at_least_80_uniquely_named_features() {
        assert!(
            catalogue().len() >= 80,
            "only {} features",
            catalogue().len()
        );
        let names: HashSet<&str> = catalogue().iter().map(|d| d.name).collect();
        assert_eq!(names.len(), catalogue().len());
    }

    #[test]
    fn every_name_is_snake_case_with_its_group_prefix() {
        for def in catalogue() {
            assert!(def.name.starts_with(def.group.prefix()), "{}", def.name);
            assert!(
                def.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{}",
                def.name
            );
            assert!(!def.definition.is_empty() && !def.definition.contains('\n'));
        }
    }

    #[test]
    fn enum_positions_match_catalogue_names() {
        assert_eq!(
            catalogue()[Feature::PWordCount as usize].name,
            "p_word_count"
        );
        assert_eq!(
            catalogue()[Feature::EWordCount as usize].name,
            "e_word_count"
        );
        assert_eq!(
            catalogue()[Feature::RQuotedFromPromptShare as usize].name,
            "r_quoted_from_prompt_share"
        );
        assert_eq!(
            feature_index("r_copied_share_8"),
            Some(Feature::RCopiedShare8 as usize)
        );
        assert_eq!(feature_index("no_such_feature"), None);
        for (i, f) in Feature::ALL.iter().enumerate() {
            assert_eq!(*f as usize, i);
            assert_eq!(f.name(), catalogue()[i].name);
        }
        assert_eq!(Feature::ALL.len(), feature_count());
    }

    #[test]
    fn groups_appear_in_order_p_q_e_r() {
        let order: Vec<FeatureGroup> = catalogue().iter().map(|d| d.group).collect();
        let rank = |g: FeatureGroup| match g {
            FeatureGroup::Prompt => 0,
            FeatureGroup::Question => 1,
            FeatureGroup::Essay => 2,
            FeatureGroup::Relation => 3,
        };
        assert!(order.windows(2).all(|w| rank(w[0]) <= rank(w[1])));
    }
}

/// `a` then `b` as one list, for feature lists made of others (checked at
/// compile time: `N` must be their total length).
pub const fn joined<const A: usize, const B: usize, const N: usize>(
    a: [Feature; A],
    b: [Feature; B],
) -> [Feature; N] {
    assert!(A + B == N, "N must be the total length");
    let mut out = [Feature::PWordCount; N];
    let mut i = 0;
    while i < A {
        out[i] = a[i];
        i += 1;
    }
    while i < N {
        out[i] = b[i - A];
        i += 1;
    }
    out
}
