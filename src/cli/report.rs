//! How the CLI shows results: plain-text tables for people, JSON for
//! programs, and a progress bar on stderr for long work. Formatting only.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::training::metrics::Metrics;

/// Renders rows under a header with columns padded to their widest cell;
/// numeric-looking cells are right-aligned.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let numeric = |s: &str| !s.is_empty() && s.parse::<f64>().is_ok();
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| {
                if numeric(c) {
                    format!("{c:>w$}")
                } else {
                    format!("{c:<w$}")
                }
            })
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = line(header.to_vec());
    out.push('\n');
    out.push_str(
        &widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("  "),
    );
    out.push('\n');
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

/// A number with 4 decimals, or "-" when absent.
pub fn num(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), |v| format!("{v:.4}"))
}

/// One table row per target of `metrics`, prefixed by `label` cells.
pub fn metric_rows(label: &[String], metrics: &Metrics) -> Vec<Vec<String>> {
    metrics
        .targets
        .0
        .iter()
        .map(|(name, m)| {
            let mut row = label.to_vec();
            row.extend([
                metrics.n.to_string(),
                name.clone(),
                num(m.rmse),
                num(m.mae),
                num(m.r2),
                num(m.pearson),
                num(m.qwk),
                num(m.accuracy),
                num(m.auc),
            ]);
            row
        })
        .collect()
}

/// The header matching [`metric_rows`] after the label columns.
pub const METRIC_HEADER: [&str; 9] = [
    "n", "target", "rmse", "mae", "r2", "pearson", "qwk", "accuracy", "auc",
];

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub fn progress_bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} {elapsed_precise}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_pads_columns_and_right_aligns_numbers() {
        let t = table(
            &["name", "value"],
            &[
                vec!["a".into(), "1.5".into()],
                vec!["longer".into(), "10.25".into()],
            ],
        );
        assert_eq!(
            t,
            "name    value\n------  -----\na         1.5\nlonger  10.25\n"
        );
    }
}
