//! `essay-grader cv --calibration-examples 5,10,20,50`: the calibration study
//! (see `experiments::calibration_study`), its flags and its tables. It parses
//! and prints; the study itself is in the library.

use super::report::{self, table};
use crate::experiments::calibration_study::{
    CalibrationStudy, Candidate, StudyRow, StudySpec, calibration_study,
};
use crate::training::Dataset;
use crate::training::ValidTrainConfig;

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
    /// `clamp` (no calibration, raw scores clamped to the range),
    /// `mean` (the examples' mean offset, unshrunk), `shrunk[:NAME=VALUE...]`
    /// (the production method; bare `shrunk` is the production default, and
    /// each NAME=VALUE replaces one prior field: offset_sd, shifted_offset_sd,
    /// shift_probability, slope_sd, noise_sd, noise_weight), and
    /// `ridge:feature_sd=V[:NAME=VALUE...]` (plus a residual ridge on six
    /// features). Default: mean, the default with a single narrow and a
    /// single wide normal prior on the offset, the default, and the default
    /// plus a ridge (feature_sd 0.02).
    #[arg(long, value_name = "METHOD,METHOD", value_delimiter = ',')]
    pub calibration_methods: Vec<Candidate>,
    /// With --calibration-examples: add this to every score of the held-out
    /// prompt, simulating a prompt the model is off on by that much.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub planted_shift: f64,
}

impl CalibrationArgs {
    /// Whether the study was asked for.
    pub fn requested(&self) -> bool {
        !self.calibration_examples.is_empty()
    }

    fn spec(&self) -> StudySpec {
        let candidates = if self.calibration_methods.is_empty() {
            [
                "mean",
                "shrunk:shift_probability=0",
                "shrunk:offset_sd=0.15:shift_probability=0",
                "shrunk",
                "ridge:feature_sd=0.02",
            ]
            .iter()
            .map(|m| m.parse().expect("the default methods parse"))
            .collect()
        } else {
            self.calibration_methods.clone()
        };
        StudySpec {
            ks: self.calibration_examples.clone(),
            draws: self.draws,
            seed: self.draw_seed,
            candidates,
            planted_shift: self.planted_shift,
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
    if study.planted_shift != 0.0 {
        out.push_str(&format!(
            "simulation: {:+} added to every score of each held-out prompt\n",
            study.planted_shift
        ));
    }
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
            "held out {}: {} essays, uncalibrated MCRMSE {:.4}, ceiling {:.4} (offset and slope fitted to all its essays), mean of teacher minus model: {}\n",
            fold.held_out,
            fold.n,
            fold.uncalibrated_mcrmse,
            fold.oracle_mcrmse,
            residuals.join(", ")
        ));
    }
    out.push_str(&format!(
        "pooled ceiling {:.4} (each prompt's offset and slope fitted to all its essays)\n",
        study.pooled_oracle_mcrmse
    ));
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
            row.uncalibrated_outside_range.to_string(),
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
