//! The CSV dataset loader with arbitrary input: random bytes, CSV assembled
//! from plausible and hostile cells (quotes, embedded line ends, invalid
//! UTF-8, ragged rows, non-numeric and non-finite targets), arbitrary
//! column layouts (the CLI's column flags and the upload's mapping), and
//! arbitrary score-grid strings. For each: no panic; a refusal is a
//! `DatasetError` whose every problem names its file and, for a row, its
//! line; an accepted dataset keeps every promise `Dataset` makes.

use std::collections::HashSet;

use essay_grader::training::{Dataset, DatasetError, DatasetLayout, ScoreGrid};
use proptest::prelude::*;

use crate::features::odd_text;
use crate::fuzz_config;

const ESSAYS: &str = "essays.csv";
const PROMPTS: &str = "prompts.csv";

/// Column names: CommonLit's, the prompt file's, and near misses.
const COLUMNS: &[&str] = &[
    "student_id",
    "prompt_id",
    "text",
    "content",
    "wording",
    "prompt_title",
    "prompt_question",
    "prompt_text",
    "id",
    "essay",
    "score",
    "",
    " text ",
    "TEXT",
    "content\u{0}",
    "\u{feff}student_id",
];

/// Cells: ids, numbers that are and are not targets, and text.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(&[
            "a", "b", "p1", "p2", "", " ", "1", "1.5", "-0", "NaN", "inf", "-inf", "1e999",
            "0x10", "3,5", "\"", "\"\"", "a\"b", "\r\n", "\n", ",",
        ][..]).prop_map(str::to_owned),
        2 => odd_text(6),
        1 => any::<f64>().prop_map(|v| v.to_string()),
    ]
}

/// How the rows are written: through a CSV writer (always well-formed), or
/// joined with commas and line ends as they come (quotes unbalanced, fields
/// ragged), or that with invalid UTF-8 spliced in.
#[derive(Debug, Clone, Copy)]
enum Writing {
    Quoted,
    Raw,
    RawWithBadBytes,
}

fn csv_file(columns: Vec<String>, rows: Vec<Vec<String>>, writing: Writing) -> Vec<u8> {
    match writing {
        Writing::Quoted => {
            let mut writer = csv::WriterBuilder::new()
                .flexible(true)
                .from_writer(Vec::new());
            writer.write_record(&columns).unwrap();
            for row in &rows {
                writer.write_record(row).unwrap();
            }
            writer.into_inner().unwrap()
        }
        Writing::Raw | Writing::RawWithBadBytes => {
            let mut out = columns.join(",").into_bytes();
            for (i, row) in rows.iter().enumerate() {
                out.extend_from_slice(if i % 3 == 2 { b"\r\n" } else { b"\n" });
                out.extend_from_slice(row.join(",").as_bytes());
                if matches!(writing, Writing::RawWithBadBytes) && i % 2 == 0 {
                    out.extend_from_slice(&[0xff, 0xc3, b',', 0x80]);
                }
            }
            out
        }
    }
}

fn table(max_columns: usize, max_rows: usize) -> impl Strategy<Value = Vec<u8>> {
    let columns = proptest::collection::vec(
        prop_oneof![
            4 => proptest::sample::select(COLUMNS).prop_map(str::to_owned),
            1 => "[a-z_]{0,8}",
        ],
        0..max_columns,
    );
    let rows = proptest::collection::vec(
        proptest::collection::vec(cell(), 0..max_columns),
        0..max_rows,
    );
    let writing = prop_oneof![
        4 => Just(Writing::Quoted),
        2 => Just(Writing::Raw),
        1 => Just(Writing::RawWithBadBytes),
    ];
    (columns, rows, writing).prop_map(|(c, r, w)| csv_file(c, r, w))
}

fn score_grid_text() -> impl Strategy<Value = String> {
    let number = prop_oneof![
        3 => proptest::sample::select(&[
            "0", "1", "5", "0.5", "0.1", "-1", "1e308", "-1e308", "5e-324", "1e-7", "NaN", "inf",
            "", " ", "x", "1:2", "10000", "0.0001",
        ][..]).prop_map(str::to_owned),
        1 => any::<f64>().prop_map(|v| v.to_string()),
    ];
    prop_oneof![
        4 => proptest::collection::vec(number, 0..5).prop_map(|parts| parts.join(":")),
        1 => any::<String>(),
    ]
}

fn layout() -> impl Strategy<Value = DatasetLayout> {
    let column = || {
        prop_oneof![
            4 => proptest::sample::select(COLUMNS).prop_map(str::to_owned),
            1 => any::<String>(),
        ]
    };
    (
        column(),
        column(),
        column(),
        proptest::collection::vec(column(), 0..4),
        proptest::option::of(
            proptest::sample::select(&["1:5:1", "1:5:0.5", "0:100:1", "-1:1:0.25"][..])
                .prop_map(|s| s.parse::<ScoreGrid>().expect("a valid grid")),
        ),
    )
        .prop_map(
            |(id_col, text_col, prompt_col, targets, score_grid)| DatasetLayout {
                id_col,
                text_col,
                prompt_col,
                targets,
                score_grid,
            },
        )
}

/// What every refusal must hold: each problem names one of our files, a
/// row problem its line, a column problem its 1-based position; the text
/// of each problem starts with its file.
fn assert_refusal_says_where(err: &DatasetError) -> Result<(), TestCaseError> {
    let problems = err.problems();
    prop_assert!(!problems.is_empty(), "{err:?} lists no problem");
    for problem in &problems {
        prop_assert!(
            problem.file == ESSAYS || problem.file == PROMPTS,
            "unknown file {:?}",
            problem.file
        );
        prop_assert!(!problem.message.trim().is_empty());
        prop_assert!(problem.to_string().starts_with(&problem.file));
        if let DatasetError::Rows { .. } = err {
            prop_assert!(problem.line >= 1, "a row problem without a line: {problem}");
        }
        if let Some((position, _)) = &problem.column {
            prop_assert!(*position >= 1, "column positions are 1-based: {problem}");
        }
    }
    Ok(())
}

/// What every accepted dataset must hold.
fn assert_dataset_keeps_its_promises(
    dataset: &Dataset,
    layout: &DatasetLayout,
) -> Result<(), TestCaseError> {
    prop_assert!(!dataset.essays.is_empty());
    prop_assert_eq!(&dataset.target_names, &layout.targets);
    let mut ids = HashSet::new();
    for essay in &dataset.essays {
        prop_assert!(ids.insert(&essay.id), "duplicate id {:?}", essay.id);
        prop_assert!(!essay.id.trim().is_empty());
        prop_assert!(!essay.text.trim().is_empty());
        prop_assert!(dataset.prompts.contains_key(&essay.prompt_id));
        prop_assert_eq!(essay.targets.len(), layout.targets.len());
        prop_assert!(essay.targets.iter().all(|t| t.is_finite()));
    }
    Ok(())
}

fn load(
    essays: &[u8],
    prompts: Option<&[u8]>,
    layout: &DatasetLayout,
) -> Result<(), TestCaseError> {
    match Dataset::from_readers(essays, ESSAYS, prompts.map(|p| (p, PROMPTS)), layout) {
        Ok(dataset) => assert_dataset_keeps_its_promises(&dataset, layout),
        Err(err) => assert_refusal_says_where(&err),
    }
}

proptest! {
    #![proptest_config(fuzz_config(96))]

    #[test]
    fn arbitrary_bytes_are_read_or_refused_with_where(
        essays in proptest::collection::vec(any::<u8>(), 0..2_000),
        prompts in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..500)),
    ) {
        load(&essays, prompts.as_deref(), &DatasetLayout::default())?;
        load(&essays, None, &DatasetLayout::default().without_targets())?;
    }

    #[test]
    fn assembled_csv_under_any_layout_is_read_or_refused_with_where(
        essays in table(7, 12),
        prompts in proptest::option::of(table(5, 6)),
        layout in layout(),
    ) {
        load(&essays, prompts.as_deref(), &layout)?;
    }

    #[test]
    fn a_score_grid_parses_to_a_usable_grid_or_says_why(text in score_grid_text(), x in any::<f64>()) {
        match text.parse::<ScoreGrid>() {
            Ok(grid) => {
                prop_assert!(grid.min < grid.max && grid.step > 0.0);
                prop_assert!((2..=10_001).contains(&grid.levels()), "{} levels", grid.levels());
                prop_assert!(grid.level(x) < grid.levels());
                prop_assert!(grid.round(x).is_finite());
                // The grid's text (as stored in a mapping) reads back as itself.
                prop_assert_eq!(grid.to_string().parse::<ScoreGrid>().ok(), Some(grid));
            }
            Err(err) => {
                prop_assert_eq!(&err.input, &text);
                prop_assert!(!err.reason.is_empty());
            }
        }
    }

    #[test]
    fn an_upload_mapping_from_any_json_is_a_layout_or_a_serde_error(value in crate::json_value()) {
        // Only that it never panics: the mapping is JSON the uploader wrote.
        let _ = serde_json::from_value::<DatasetLayout>(value);
    }
}
