//! How a dataset is split for cross-validation: leave one prompt out (the
//! honest test of a grader meant for unseen prompts) or K folds of shuffled
//! essays. Folds are lists of row indices; this file trains nothing.

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::dataset::Dataset;

/// How to split a dataset into folds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FoldSpec {
    /// One fold per prompt: train on the others, test on the held-out prompt.
    LeaveOnePromptOut,
    /// K folds of essays shuffled with the config's seed, ignoring prompts.
    KFold(usize),
}

impl std::str::FromStr for FoldSpec {
    type Err = String;
    /// `"prompt"` for leave-one-prompt-out, or a number K ≥ 2 for K-fold.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "prompt" {
            return Ok(FoldSpec::LeaveOnePromptOut);
        }
        match s.parse::<usize>() {
            Ok(k) if k >= 2 => Ok(FoldSpec::KFold(k)),
            _ => Err(format!(
                "folds must be \"prompt\" or a whole number of at least 2, not {s:?}"
            )),
        }
    }
}

/// The text form [`FoldSpec::from_str`](std::str::FromStr) reads: `prompt` or K.
impl std::fmt::Display for FoldSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FoldSpec::LeaveOnePromptOut => f.write_str("prompt"),
            FoldSpec::KFold(k) => write!(f, "{k}"),
        }
    }
}

/// One train/test split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fold {
    /// What is held out: the prompt id, or "fold 3 of 5".
    pub held_out: String,
    /// Row indices to train on, ascending.
    pub train: Vec<usize>,
    /// Row indices to test on, ascending.
    pub test: Vec<usize>,
}

/// Why folds cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FoldError {
    /// Leave-one-prompt-out needs at least two prompts.
    #[error("leave-one-prompt-out needs at least 2 prompts, the dataset has {prompts}")]
    TooFewPrompts {
        /// Prompts present.
        prompts: usize,
    },
    /// K-fold needs 2 ≤ K ≤ number of essays.
    #[error("{k}-fold cross-validation needs 2 ≤ k ≤ {rows} (the number of essays)")]
    BadK {
        /// The K asked for.
        k: usize,
        /// Essays in the dataset.
        rows: usize,
    },
}

/// Splits `dataset` into folds. K-fold shuffles with `seed` (Xoshiro256++, which
/// is reproducible across platforms), so the same seed gives the same folds.
pub fn make_folds(dataset: &Dataset, spec: FoldSpec, seed: u64) -> Result<Vec<Fold>, FoldError> {
    let n = dataset.essays.len();
    match spec {
        FoldSpec::LeaveOnePromptOut => {
            let ids = dataset.prompt_ids();
            if ids.len() < 2 {
                return Err(FoldError::TooFewPrompts { prompts: ids.len() });
            }
            Ok(ids
                .into_iter()
                .map(|id| {
                    let (test, train) = (0..n).partition(|&i| dataset.essays[i].prompt_id == id);
                    Fold {
                        held_out: id,
                        train,
                        test,
                    }
                })
                .collect())
        }
        FoldSpec::KFold(k) => {
            if k < 2 || k > n {
                return Err(FoldError::BadK { k, rows: n });
            }
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(seed));
            let mut assignment = vec![0usize; n];
            for (pos, &row) in order.iter().enumerate() {
                assignment[row] = pos % k;
            }
            Ok((0..k)
                .map(|f| {
                    let (test, train) = (0..n).partition(|&i| assignment[i] == f);
                    Fold {
                        held_out: format!("fold {} of {k}", f + 1),
                        train,
                        test,
                    }
                })
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::Prompt;
    use crate::training::dataset::EssayRecord;

    fn dataset(prompts: &[&str]) -> Dataset {
        Dataset {
            target_names: vec!["score".into()],
            score_grid: None,
            prompts: prompts
                .iter()
                .map(|p| (p.to_string(), Prompt::default()))
                .collect(),
            essays: prompts
                .iter()
                .cycle()
                .take(prompts.len() * 4)
                .enumerate()
                .map(|(i, p)| EssayRecord {
                    id: format!("e{i}"),
                    prompt_id: p.to_string(),
                    text: "x".into(),
                    targets: vec![i as f64],
                })
                .collect(),
        }
    }

    #[test]
    fn leave_one_prompt_out_holds_out_each_prompt_once() {
        let ds = dataset(&["b", "a", "c"]);
        let folds = make_folds(&ds, FoldSpec::LeaveOnePromptOut, 1).unwrap();
        let held: Vec<_> = folds.iter().map(|f| f.held_out.as_str()).collect();
        assert_eq!(held, vec!["a", "b", "c"]);
        for f in &folds {
            assert_eq!(f.test.len(), 4);
            assert_eq!(f.train.len(), 8);
            assert!(f.test.iter().all(|&i| ds.essays[i].prompt_id == f.held_out));
            assert!(
                f.train
                    .iter()
                    .all(|&i| ds.essays[i].prompt_id != f.held_out)
            );
        }
    }

    #[test]
    fn k_fold_covers_every_row_once_and_is_reproducible() {
        let ds = dataset(&["a", "b", "c"]);
        let folds = make_folds(&ds, FoldSpec::KFold(5), 7).unwrap();
        let mut seen: Vec<usize> = folds.iter().flat_map(|f| f.test.clone()).collect();
        seen.sort();
        assert_eq!(seen, (0..12).collect::<Vec<_>>());
        assert!(folds.iter().all(|f| f.test.len() >= 2 && f.test.len() <= 3));
        assert_eq!(folds, make_folds(&ds, FoldSpec::KFold(5), 7).unwrap());
        assert_ne!(folds, make_folds(&ds, FoldSpec::KFold(5), 8).unwrap());
    }

    #[test]
    fn impossible_splits_are_refused_with_their_numbers() {
        let one = dataset(&["a"]);
        assert_eq!(
            make_folds(&one, FoldSpec::LeaveOnePromptOut, 1)
                .unwrap_err()
                .to_string(),
            "leave-one-prompt-out needs at least 2 prompts, the dataset has 1"
        );
        assert!(make_folds(&one, FoldSpec::KFold(5), 1).is_err());
        assert!("1".parse::<FoldSpec>().is_err());
        assert_eq!(
            "prompt".parse::<FoldSpec>(),
            Ok(FoldSpec::LeaveOnePromptOut)
        );
        assert_eq!("5".parse::<FoldSpec>(), Ok(FoldSpec::KFold(5)));
    }
}
