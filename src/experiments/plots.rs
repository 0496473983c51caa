//! SVG charts of experiments, drawn with plotters' SVG backend into a
//! `String`: loss curves (validation loss per epoch, one line per run or per
//! optimizer) and strip charts of a score by category (MCRMSE by depth, by
//! activation).
//!
//! Text is written as SVG `<text>` elements, so no font file is read or
//! downloaded; plotters only estimates label widths. These functions never
//! fail: a chart that cannot be drawn becomes an SVG that says why, because a
//! missing picture must not lose a sweep's results. Files and routes that
//! serve the SVG belong to their callers.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

/// Width and height of every chart, in SVG pixels.
const SIZE: (u32, u32) = (800, 480);

/// A qualitative palette that stays distinguishable in print (Tableau 10).
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Escapes text placed inside the fallback SVG.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A valid SVG carrying only a message, for empty data or a drawing error.
fn message_svg(title: &str, message: &str) -> String {
    format!(
        "<svg width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" xmlns=\"http://www.w3.org/2000/svg\">\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\
         <text x=\"20\" y=\"40\" font-family=\"sans-serif\" font-size=\"22\">{t}</text>\
         <text x=\"20\" y=\"80\" font-family=\"sans-serif\" font-size=\"16\">{m}</text></svg>",
        w = SIZE.0,
        h = SIZE.1,
        t = escape(title),
        m = escape(message)
    )
}

/// Runs a drawing closure on a fresh SVG canvas and returns the document.
fn render(
    title: &str,
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), String>,
) -> String {
    let mut out = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        let r = root
            .fill(&WHITE)
            .map_err(|e| e.to_string())
            .and_then(|_| draw(&root))
            .and_then(|_| root.present().map_err(|e| e.to_string()));
        drop(root);
        r
    };
    match result {
        Ok(()) => out,
        Err(e) => message_svg(title, &format!("chart could not be drawn: {e}")),
    }
}

/// Draws one coloured line per series and the legend, on any y scale.
fn draw_lines<'a, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, Y>>,
    series: &[(&str, Vec<(f64, f64)>)],
) -> Result<(), String>
where
    Y: Ranged<ValueType = f64>,
{
    for (i, (label, pts)) in series.iter().enumerate() {
        let c = colour(i);
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(*label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| e.to_string())
}

/// Draws loss curves: one line per series, step on x, loss on y.
///
/// `series` holds `(label, points)` with points as `(step, value)`, e.g. an
/// epoch and its validation loss. Non-finite values are skipped (a diverged
/// run simply stops). The y axis turns logarithmic when the finite values
/// span more than a factor of 20, so one bad early epoch does not flatten the
/// rest. Returns a complete SVG document.
pub fn loss_curves_svg(title: &str, series: &[(String, Vec<(usize, f64)>)]) -> String {
    let clean: Vec<(&str, Vec<(f64, f64)>)> = series
        .iter()
        .map(|(label, pts)| {
            let pts = pts
                .iter()
                .filter(|(_, v)| v.is_finite())
                .map(|&(s, v)| (s as f64, v))
                .collect();
            (label.as_str(), pts)
        })
        .filter(|(_, pts): &(&str, Vec<(f64, f64)>)| !pts.is_empty())
        .collect();
    if clean.is_empty() {
        return message_svg(title, "no finite loss values to plot");
    }
    let all = clean.iter().flat_map(|(_, p)| p.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let log = y0 > 0.0 && y1 / y0 > 20.0;
    let pad = ((y1 - y0) * 0.05).max(1e-9);
    render(title, |root| {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let mut builder = ChartBuilder::on(root);
        builder
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60);
        if log {
            let mut chart = builder
                .build_cartesian_2d(x0..x1, (y0 * 0.9..y1 * 1.1).log_scale())
                .map_err(|e| err(&e))?;
            chart
                .configure_mesh()
                .x_desc("epoch")
                .y_desc("loss (log scale)")
                .draw()
                .map_err(|e| err(&e))?;
            draw_lines(&mut chart, &clean)
        } else {
            let mut chart = builder
                .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))
                .map_err(|e| err(&e))?;
            chart
                .configure_mesh()
                .x_desc("epoch")
                .y_desc("loss")
                .draw()
                .map_err(|e| err(&e))?;
            draw_lines(&mut chart, &clean)
        }
    })
}

/// Draws a strip chart of scores grouped by category: a dot for every run, a
/// vertical line for the range, and a larger diamond at the best (lowest)
/// score, e.g. MCRMSE of every sweep cell grouped by network depth.
///
/// `groups` holds `(category, scores)` in the order to show them; non-finite
/// scores (diverged runs) are counted in the category label instead of drawn.
pub fn score_by_category_svg(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    groups: &[(String, Vec<f64>)],
) -> String {
    let finite: Vec<Vec<f64>> = groups
        .iter()
        .map(|(_, v)| v.iter().copied().filter(|x| x.is_finite()).collect())
        .collect();
    let values: Vec<f64> = finite.iter().flatten().copied().collect();
    if values.is_empty() {
        return message_svg(title, "no finite scores to plot");
    }
    let lo = values.iter().copied().fold(f64::MAX, f64::min);
    let hi = values.iter().copied().fold(f64::MIN, f64::max);
    let pad = ((hi - lo) * 0.08).max(0.005);
    let labels: Vec<String> = groups
        .iter()
        .zip(&finite)
        .map(|((name, all), ok)| {
            let lost = all.len() - ok.len();
            if lost > 0 {
                format!("{name} ({lost} diverged)")
            } else {
                name.clone()
            }
        })
        .collect();
    let n = groups.len();
    render(title, |root| {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((0..n - 1).into_segmented(), (lo - pad)..(hi + pad))
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_labels(n)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .draw()
            .map_err(|e| err(&e))?;
        for (i, vals) in finite.iter().enumerate() {
            if vals.is_empty() {
                continue;
            }
            let c = colour(i);
            let min = vals.iter().copied().fold(f64::MAX, f64::min);
            let max = vals.iter().copied().fold(f64::MIN, f64::max);
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![
                        (SegmentValue::CenterOf(i), min),
                        (SegmentValue::CenterOf(i), max),
                    ],
                    c.mix(0.5).stroke_width(2),
                )))
                .map_err(|e| err(&e))?;
            chart
                .draw_series(
                    vals.iter().map(|&v| {
                        Circle::new((SegmentValue::CenterOf(i), v), 4, c.mix(0.6).filled())
                    }),
                )
                .map_err(|e| err(&e))?;
            chart
                .draw_series(std::iter::once(TriangleMarker::new(
                    (SegmentValue::CenterOf(i), min),
                    8,
                    c.filled(),
                )))
                .map_err(|e| err(&e))?;
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("{min:.3}"),
                    (SegmentValue::CenterOf(i), min),
                    ("sans-serif", 14).into_font(),
                )))
                .map_err(|e| err(&e))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_curves_svg_draws_every_label_as_svg_text() {
        let series = vec![
            (
                "adam lr=0.001".to_string(),
                vec![(1, 0.9), (2, 0.7), (3, 0.6)],
            ),
            (
                "sgd lr=0.01".to_string(),
                vec![(1, 1.0), (2, 0.95), (3, f64::NAN)],
            ),
        ];
        let svg = loss_curves_svg("Validation loss", &series);
        assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
        assert!(svg.contains("Validation loss"));
        assert!(svg.contains("adam lr=0.001"));
        assert!(svg.contains("sgd lr=0.01"));
        assert!(
            svg.contains("<polyline") || svg.contains("<path"),
            "no line drawn"
        );
        assert!(svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn loss_curves_svg_explains_an_empty_plot_instead_of_failing() {
        let svg = loss_curves_svg("Empty <run>", &[("nan".to_string(), vec![(1, f64::NAN)])]);
        assert!(svg.contains("no finite loss values"));
        assert!(svg.contains("Empty &lt;run&gt;"));
        assert!(svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn loss_curves_svg_switches_to_a_log_axis_for_a_wide_range() {
        let series = vec![("wild".to_string(), vec![(1, 100.0), (2, 1.0), (3, 0.5)])];
        assert!(loss_curves_svg("t", &series).contains("log scale"));
        let series = vec![("calm".to_string(), vec![(1, 1.0), (2, 0.8)])];
        assert!(!loss_curves_svg("t", &series).contains("log scale"));
    }

    #[test]
    fn score_by_category_svg_labels_categories_and_counts_diverged_runs() {
        let groups = vec![
            ("depth 1".to_string(), vec![0.55, 0.6]),
            ("depth 2".to_string(), vec![0.52, f64::INFINITY]),
        ];
        let svg = score_by_category_svg("MCRMSE by depth", "depth", "MCRMSE", &groups);
        assert!(svg.contains("depth 1"));
        assert!(svg.contains("depth 2 (1 diverged)"));
        assert!(svg.contains("0.520"));
        assert!(svg.contains("MCRMSE by depth"));
    }
}
