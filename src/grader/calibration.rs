//! What calibration from a teacher's examples needs of a model: each
//! target's scale and allowed range ([`GraderModel::calibration_scales`]),
//! and the percentile of a calibrated score. The method itself is the pure
//! `calibration` module; fitting and caching are the service's.

use crate::calibration::TargetScale;

use super::artifact::{GraderModel, QUANTILES};
use super::grade::percentile;

impl GraderModel {
    /// Each target's training distribution as calibration sees it: the
    /// training mean and standard deviation, and the range that calibrated
    /// scores, and the scores of a teacher's examples, must stay in. The range
    /// is the score grid's `min..max` when the model has a grid; otherwise the
    /// training scores' lowest to highest, widened on each side by one
    /// training standard deviation (a class may be better or worse than any
    /// in training, but not by a different rubric's scale).
    pub fn calibration_scales(&self) -> Vec<TargetScale> {
        let scaler = &self.file.target_scaler;
        (0..self.file.target_names.len())
            .map(|t| {
                let (mean, sd) = (scaler.mean[t], scaler.std[t]);
                let q = &self.file.target_quantiles[t];
                let (low, high) = match &self.file.score_grid {
                    Some(grid) => (grid.min, grid.max),
                    None => (q[0] - sd, q[QUANTILES - 1] + sd),
                };
                TargetScale::new(mean, sd, low, high)
                    .expect("a loaded model has finite, ascending quantiles and positive SDs")
            })
            .collect()
    }

    /// Where a score of target `t` stands among the training essays (0 to 100).
    pub fn percentile_of(&self, t: usize, score: f64) -> f64 {
        percentile(&self.file.target_quantiles[t], score)
    }
}

#[cfg(test)]
mod tests {
    use crate::grader::GraderModel;

    #[test]
    fn the_default_model_accepts_its_training_range_widened_by_one_sd() {
        let model = GraderModel::from_json(crate::startup::DEFAULT_MODEL).unwrap();
        let scales = model.calibration_scales();
        assert_eq!(scales.len(), model.target_names().len());
        for (t, s) in scales.iter().enumerate() {
            assert!(s.low < s.mean && s.mean < s.high, "{s:?}");
            assert_eq!(model.percentile_of(t, s.low), 0.0);
            assert_eq!(model.percentile_of(t, s.high), 100.0);
            // Widened by one training SD beyond the lowest and highest scores.
            assert!(model.percentile_of(t, s.low + 0.99 * s.sd) == 0.0);
            assert!(model.percentile_of(t, s.high - 0.99 * s.sd) == 100.0);
        }
    }
}
