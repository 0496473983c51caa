//! A small grid and scored runs for the sweep's unit tests (and the CLI's
//! report-writing test).

use super::{ScoredRun, SweepGrid};
use crate::experiments::ModelKind;

/// 2 depths × 2 activations × 3 (optimizer, lr) pairs, and two baselines.
pub(crate) fn example_grid() -> SweepGrid {
    SweepGrid::from_json(
        r#"{"base": {"epochs": 5, "network": {"loss": "huber"}},
            "depths": [1, 3], "units": [8, 4],
            "activations": ["relu", "maxout"],
            "optimizers": [{"name": "adam", "lrs": [0.001, 0.01]}, {"name": "sgd", "lrs": [0.1]}],
            "baselines": ["mean", "ridge"]}"#,
    )
    .unwrap()
}

/// The run of cell `index` of [`example_grid`], failed when `mcrmse` is `None`.
pub(crate) fn scored_run(index: usize, mcrmse: Option<f64>) -> ScoredRun {
    let mut cell = example_grid().cells()[index].clone();
    cell.index = index;
    ScoredRun {
        label: String::new(),
        kind: ModelKind::Mlp,
        cell: Some(cell),
        mcrmse,
        target_rmse: vec![("content".into(), 0.4), ("wording".into(), 0.6)],
        folds: vec![("aaa".into(), 0.45), ("bbb".into(), 0.55)],
        pass_fail: vec![],
        error: mcrmse
            .is_none()
            .then(|| "non-finite loss at epoch 3".to_string()),
        val_curve: vec![(1, 0.9), (2, 0.7)],
        seconds: 1.0,
    }
}
