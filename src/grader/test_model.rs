//! A small trained grader for the unit tests of `grader`, trained on the
//! synthetic dataset of `training::test_data`.

use serde_json::json;

use crate::nn::Control;
use crate::training::test_data::tiny_dataset;
use crate::training::{Dataset, TrainConfig};

use super::{GraderModel, train};

/// A two-member network of one hidden layer (no trees), trained on 60
/// essays of 3 prompts.
pub(super) fn trained() -> (Dataset, GraderModel) {
    let ds = tiny_dataset(20);
    let config = TrainConfig::from_json_value(json!({
        "network": {"layers": [{"units": 8, "activation": "relu"}]},
        "epochs": 20, "ensemble": 2, "batch_size": 16, "trees": null
    }))
    .unwrap();
    let outcome = train(&ds, &config, &mut |_| Control::Continue).unwrap();
    (ds, outcome.model)
}

/// [`trained`] blended with 20 trees of depth 2 per target.
pub(super) fn trained_blend() -> (Dataset, GraderModel) {
    let ds = tiny_dataset(20);
    let config = TrainConfig::from_json_value(json!({
        "network": {"layers": [{"units": 8, "activation": "relu"}]},
        "epochs": 20, "ensemble": 2, "batch_size": 16,
        "trees": {"iterations": 20, "max_depth": 2, "min_leaf_weight": 3.0}
    }))
    .unwrap();
    let outcome = train(&ds, &config, &mut |_| Control::Continue).unwrap();
    (ds, outcome.model)
}
