//! `essay-grader cv --calibration-examples 5,10,20,50`: the calibration study
//! (see `training::calibration_study`), its flags and its tables. It parses
//! and prints; the study itself is in the library.

use super::report::{self, table};
use crate::calibration::ValidPrior;
use crate::training::Dataset;
use crate::training::ValidTrainConfig;
use crate::training::calibration_study::{
    CalibrationStudy, Candidate, StudyRow, StudySpec, calibration_study,
};

/// The study's flags, part of `essay-grader cv`.
#[derive(Debug, Clone, clap::Args)]
pub struct CalibrationArgs {
    /// Run the calibration study instead of plain cross-validation: for each
    /// held-out prompt, this many of its essays play a teacher's graded
    /// examples (e.g. 5,10,20,50) and the others are scored.
    #[arg(long, value_name = "K,K", value_delimiter = ',')]
    pub calibration_examples: Vec<usize>,
    /// With --calibration-examples: seeded draws of examples per prompt and K.
    #[arg(long, default_value_t = 100)]
    pub draws: usize,
    /// With --calibration-examples: the seed of the draws.
    #[arg(long, default_value_t = 1)]
    pub draw_seed: u64,
    /// With --calibration-examples: the methods to compare, comma-separated:
    /// `mean` (unshrunk mean offset), `shrunk[:OFFSET_SD:SLOPE_SD[:NOISE_SD:NOISE_WEIGHT]]`
    /// (the production method; bare `shrunk` is the production default), and
    /// `ridge:OFFSET_SD:SLOPE_SD:FEATURE_SD` (plus a residual ridge on six
    /// features). Default: mean, the default's offset alone, the default,
    /// and the default plus a ridge with FEATURE_SD 0.05.
    #[arg(long, value_name = "METHOD,METHOD", value_delimiter = ',')]
    pub calibration_methods: Vec<Candidate>,
}

impl CalibrationArgs {
    /// Whether the study was asked for.
    pub fn requested(&self) -> bool {
        !self.calibration_examples.is_empty()
    }

    fn spec(&self) -> StudySpec {
        let candidates = if self.calibration_methods.is_empty() {
            let default = ValidPrior::default();
            let offset_only = crate::calibration::Prior {
                slope_sd: 0.0,
                ..*default.get()
            }
            .validate()
            .expect("the default prior without its slope is valid");
            vec![
                Candidate::MeanOffset,
                Candidate::Shrunk(offset_only),
                Candidate::Shrunk(default),
                Candidate::ResidualRidge {
                    prior: default,
                    feature_sd: 0.05,
                },
            ]
        } else {
            self.calibration_methods.clone()
        };
        StudySpec {
            ks: self.calibration_examples.clone(),
            draws: self.draws,
            seed: self.draw_seed,
            candidates,
        }
    }
}

/// Runs the study and prints its table (or its JSON).
pub fn run(
    args: &CalibrationArgs,
    dataset: &Dataset,
    config: &ValidTrainConfig,
    json: bool,
) -> anyhow::Result<()> {
    let spec = args.spec();
    let bar = report::progress_bar(0, "training a model per held-out prompt");
    let study = calibration_study(dataset, config, &spec, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    });
    bar.finish_and_clear();
    let study = study?;
    if json {
        return report::print_json(&study);
    }
    print!("{}", render(&study));
    Ok(())
}

/// The study as text: a line per held-out prompt, then one table of every
/// prompt, k and method, pooled last.
pub fn render(study: &CalibrationStudy) -> String {
    let mut out = format!(
        "calibration study: leave-one-prompt-out, {} seeded draws (seed {}) per prompt and k, {:.1} s\n",
        study.draws, study.seed, study.seconds
    );
    if let Some(grid) = &study.score_grid {
        out.push_str(&format!(
            "targets rounded onto the score grid {grid} ({} values changed); calibrated scores are kept inside {}..{}\n",
            study.rounded_values, grid.min, grid.max
        ));
    }
    for fold in &study.folds {
        let residuals: Vec<String> = study
            .targets
            .iter()
            .zip(&fold.mean_residual)
            .map(|(t, r)| format!("{t} {r:+.3}"))
            .collect();
        out.push_str(&format!(
            "held out {}: {} essays, uncalibrated MCRMSE {:.4}, mean of teacher minus model: {}\n",
            fold.held_out,
            fold.n,
            fold.uncalibrated_mcrmse,
            residuals.join(", ")
        ));
    }
    let header = [
        "held out",
        "k",
        "method",
        "MCRMSE mean",
        "sd",
        "p10",
        "p90",
        "gain mean",
        "gain sd",
        "worse draws",
        "outside range",
    ];
    let mut rows = Vec::new();
    let mut add = |label: &str, row: &StudyRow| {
        let f = |x: f64| format!("{x:.4}");
        rows.push(vec![
            label.to_owned(),
            row.k.to_string(),
            "none (uncalibrated)".to_owned(),
            f(row.uncalibrated.mean),
            f(row.uncalibrated.sd),
            f(row.uncalibrated.p10),
            f(row.uncalibrated.p90),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ]);
        for c in &row.candidates {
            rows.push(vec![
                label.to_owned(),
                row.k.to_string(),
                c.method.clone(),
                f(c.mcrmse.mean),
                f(c.mcrmse.sd),
                f(c.mcrmse.p10),
                f(c.mcrmse.p90),
                format!("{:+.4}", c.gain.mean),
                f(c.gain.sd),
                format!("{:.0}%", c.worse_share * 100.0),
                c.outside_range.to_string(),
            ]);
        }
    };
    for fold in &study.folds {
        for row in &fold.rows {
            add(&fold.held_out, row);
        }
    }
    for row in &study.pooled {
        add("pooled", row);
    }
    out.push_str(&table(&header, &rows));
    out
}
