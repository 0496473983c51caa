//! What a question asks for: its kind of task (summarise, explain, describe,
//! compare, cite evidence) and how many elements it wants ("at least 3").
//!
//! Questions are short and analysed once per prompt, so this works on plain
//! lower-cased strings rather than hashes.

use unicode_segmentation::UnicodeSegmentation;

/// The task kinds a question can ask for, as found by [`analyse_question`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuestionTasks {
    /// "summarize", "summarise", "summary", "sum up".
    pub summarise: bool,
    /// "explain", "why", "how".
    pub explain: bool,
    /// "describe", "identify", "list", "what".
    pub describe: bool,
    /// "compare", "contrast", "differ", "similar".
    pub compare: bool,
    /// "evidence", "cite", "quote", "support", "examples", "details".
    pub cite_evidence: bool,
    /// The number of elements asked for, 0 when none is stated.
    pub elements: u32,
}

impl QuestionTasks {
    /// How many task kinds are asked for.
    pub fn count(&self) -> u32 {
        [
            self.summarise,
            self.explain,
            self.describe,
            self.compare,
            self.cite_evidence,
        ]
        .iter()
        .filter(|&&b| b)
        .count() as u32
    }
}

fn number_word(word: &str) -> Option<u32> {
    let n = match word {
        "one" | "single" => 1,
        "two" | "both" | "pair" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        _ => return None,
    };
    Some(n)
}

/// Finds the task kinds and the number of elements in `question`.
///
/// The number is the first one written in digits (1–100) or as a word from
/// "one" to "ten", as in "at least 3 elements" or "two ways". Questions state
/// their counts plainly, so no attempt is made to tell which noun is counted.
pub fn analyse_question(question: &str) -> QuestionTasks {
    let mut tasks = QuestionTasks::default();
    let words: Vec<String> = question.unicode_words().map(str::to_lowercase).collect();
    for (i, word) in words.iter().enumerate() {
        let w = word.as_str();
        if w.starts_with("summar") || (w == "sum" && words.get(i + 1).is_some_and(|n| n == "up")) {
            tasks.summarise = true;
        }
        if w.starts_with("explain") || w == "why" || w == "how" || w.starts_with("explanation") {
            tasks.explain = true;
        }
        if w.starts_with("describ") || w.starts_with("identif") || w == "list" || w == "what" {
            tasks.describe = true;
        }
        if w.starts_with("compar")
            || w.starts_with("contrast")
            || w.starts_with("differ")
            || w.starts_with("similar")
        {
            tasks.compare = true;
        }
        if w.starts_with("evidence")
            || w.starts_with("cite")
            || w.starts_with("citing")
            || w.starts_with("quot")
            || w.starts_with("support")
            || w == "examples"
            || w == "details"
        {
            tasks.cite_evidence = true;
        }
        if tasks.elements == 0 {
            let number = w
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=100).contains(n))
                .or_else(|| number_word(w));
            if let Some(n) = number {
                tasks.elements = n;
            }
        }
    }
    tasks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarise_question_with_a_count_is_recognised() {
        let tasks = analyse_question(
            "Summarize at least 3 elements of an ideal tragedy, as described by Aristotle.",
        );
        assert!(tasks.summarise && tasks.describe);
        assert!(!tasks.compare && !tasks.cite_evidence);
        assert_eq!(tasks.elements, 3);
        assert_eq!(tasks.count(), 2);
    }

    #[test]
    fn evidence_and_explanation_are_recognised_without_a_count() {
        let tasks = analyse_question(
            "In complete sentences, summarize the structure. How were classes involved? Cite evidence from the text.",
        );
        assert!(tasks.summarise && tasks.explain && tasks.cite_evidence);
        assert_eq!(tasks.elements, 0);
    }

    #[test]
    fn number_words_count_and_an_empty_question_asks_nothing() {
        assert_eq!(
            analyse_question("Compare two ways the factory hid meat").elements,
            2
        );
        assert!(analyse_question("Compare two ways").compare);
        assert_eq!(analyse_question(""), QuestionTasks::default());
    }
}
