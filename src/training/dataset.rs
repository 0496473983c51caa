//! Labelled essay datasets read from CSV: the column layout (CommonLit by
//! default, or any CSV through a mapping), the score grid of ordinal targets,
//! and the checks that turn a bad file into an error naming the file, line
//! and column. It does not compute features or split folds.
//!
//! Line numbers are those of a text editor: the header is line 1, and a record
//! whose quoted text spans several lines is reported at the line where it
//! starts. Columns are reported by 1-based position and by name.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::features::Prompt;

/// At most this many row problems are collected before reading stops: enough
/// to show a pattern, few enough to read.
const MAX_PROBLEMS: usize = 50;

/// The columns of the prompts file (CommonLit's names). Only `prompt_id` is
/// required; a missing title, question or text column means "unknown".
pub const PROMPT_ID_COL: &str = "prompt_id";
/// Column of the prompts file holding the question the students answered.
pub const PROMPT_QUESTION_COL: &str = "prompt_question";
/// Column of the prompts file holding the short title of the source.
pub const PROMPT_TITLE_COL: &str = "prompt_title";
/// Column of the prompts file holding the full source text.
pub const PROMPT_TEXT_COL: &str = "prompt_text";

/// Which columns of an essays CSV hold what. The default is the CommonLit
/// layout (`student_id, prompt_id, text, content, wording`); the service's
/// upload `mapping` and the CLI's `--id-col …` flags fill the same struct.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatasetLayout {
    /// Column holding each essay's unique id.
    pub id_col: String,
    /// Column holding the essay text.
    pub text_col: String,
    /// Column holding the prompt id the essay answers (joins the prompts file).
    pub prompt_col: String,
    /// Numeric target columns, in output order. May be empty for unlabelled
    /// essays (feature extraction, batch grading).
    pub targets: Vec<String>,
    /// Declares the targets ordinal on this grid (e.g. `"1:5:0.5"`), which
    /// adds quadratic weighted kappa to the metrics.
    pub score_grid: Option<ScoreGrid>,
}

impl Default for DatasetLayout {
    fn default() -> Self {
        DatasetLayout {
            id_col: "student_id".into(),
            text_col: "text".into(),
            prompt_col: "prompt_id".into(),
            targets: vec!["content".into(), "wording".into()],
            score_grid: None,
        }
    }
}

impl DatasetLayout {
    /// The same layout with no targets: for reading essays that carry no
    /// scores (feature extraction), so target columns are not required.
    pub fn without_targets(&self) -> DatasetLayout {
        DatasetLayout {
            targets: Vec::new(),
            score_grid: None,
            ..self.clone()
        }
    }
}

/// An ordinal score scale `min:max:step`, e.g. 1 to 5 in steps of 0.5.
/// Serialised as that string so a mapping reads `"score_grid": "1:5:0.5"`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ScoreGrid {
    /// Lowest score on the scale.
    pub min: f64,
    /// Highest score on the scale.
    pub max: f64,
    /// Distance between neighbouring scores.
    pub step: f64,
}

/// Why a score grid string was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("score grid {input:?} is invalid: {reason} (expected min:max:step, e.g. 1:5:0.5)")]
pub struct ScoreGridError {
    /// The string as given.
    pub input: String,
    /// What was wrong with it.
    pub reason: String,
}

impl ScoreGrid {
    /// Builds a grid, checking min < max, step > 0 and that the range holds a
    /// whole number of steps (at least one, within 1e-6 of a step) and at
    /// most 10,000 levels.
    pub fn new(min: f64, max: f64, step: f64) -> Result<ScoreGrid, String> {
        if !(min.is_finite() && max.is_finite() && step.is_finite()) {
            return Err("min, max and step must be finite numbers".into());
        }
        if min >= max {
            return Err(format!("min {min} must be below max {max}"));
        }
        if step <= 0.0 {
            return Err(format!("step {step} must be positive"));
        }
        let steps = (max - min) / step;
        // A step beyond the range would leave a grid of one level, on which
        // every score is the same and kappa is undefined.
        if steps.round() < 1.0 {
            return Err(format!("step {step} is larger than the range {min}..{max}"));
        }
        if (steps - steps.round()).abs() > 1e-6 {
            return Err(format!(
                "the range {min}..{max} is not a whole number of steps of {step}"
            ));
        }
        if steps.round() > 10_000.0 {
            return Err(format!(
                "{} levels are too many (at most 10,001)",
                steps.round() + 1.0
            ));
        }
        Ok(ScoreGrid { min, max, step })
    }

    /// Number of distinct scores on the grid (5 for 1:5:1, 9 for 1:5:0.5).
    pub fn levels(&self) -> usize {
        ((self.max - self.min) / self.step).round() as usize + 1
    }

    /// The 0-based level nearest to `x`, clamped to the grid.
    pub fn level(&self, x: f64) -> usize {
        let k = ((x - self.min) / self.step).round();
        if k.is_nan() || k <= 0.0 {
            0
        } else {
            (k as usize).min(self.levels() - 1)
        }
    }

    /// `x` rounded to the nearest score on the grid (clamped to min..max).
    pub fn round(&self, x: f64) -> f64 {
        self.min + self.level(x) as f64 * self.step
    }
}

impl FromStr for ScoreGrid {
    type Err = ScoreGridError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fail = |reason: String| ScoreGridError {
            input: s.to_string(),
            reason,
        };
        let parts: Vec<&str> = s.split(':').map(str::trim).collect();
        if parts.len() != 3 {
            return Err(fail(format!("it has {} parts, not 3", parts.len())));
        }
        let mut nums = [0.0; 3];
        for (slot, (part, name)) in nums
            .iter_mut()
            .zip(parts.iter().zip(["min", "max", "step"]))
        {
            *slot = part
                .parse::<f64>()
                .map_err(|_| fail(format!("{name} {part:?} is not a number")))?;
        }
        ScoreGrid::new(nums[0], nums[1], nums[2]).map_err(fail)
    }
}

impl TryFrom<String> for ScoreGrid {
    type Error = ScoreGridError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ScoreGrid> for String {
    fn from(g: ScoreGrid) -> String {
        g.to_string()
    }
}

impl fmt::Display for ScoreGrid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.min, self.max, self.step)
    }
}

/// One essay row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EssayRecord {
    /// The essay's id, unique within the dataset.
    pub id: String,
    /// The prompt it answers; a key of [`Dataset::prompts`].
    pub prompt_id: String,
    /// The essay as written.
    pub text: String,
    /// Scores in the order of [`Dataset::target_names`] (empty when unlabelled).
    pub targets: Vec<f64>,
}

/// A set of essays with their prompts and scores, checked on construction:
/// ids are unique, texts non-empty, targets finite, every prompt id known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// Names of the target columns, in the order of each record's `targets`.
    pub target_names: Vec<String>,
    /// The ordinal grid of the targets, if declared.
    pub score_grid: Option<ScoreGrid>,
    /// Every prompt an essay refers to, by id.
    pub prompts: BTreeMap<String, Prompt>,
    /// The essays in file order.
    pub essays: Vec<EssayRecord>,
}

/// Where in which file a problem is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    /// File name as given to the reader (a path, or an upload's field name).
    pub file: String,
    /// 1-based line (the header is line 1); 0 when the whole file is at fault.
    pub line: u64,
    /// 1-based column position and its header name, when one column is at fault.
    pub column: Option<(usize, String)>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ", line {}", self.line)?;
        }
        if let Some((index, name)) = &self.column {
            write!(f, ", column {index} ({name})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Why a dataset could not be read. Every variant names the file; row-level
/// problems are collected (up to 50) so one run shows them all.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// The file could not be opened or read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The file.
        file: String,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// The file has no header, or a header and no rows.
    #[error("{file}: the file is empty{detail}")]
    Empty {
        /// The file.
        file: String,
        /// Whether a header was present (", it has a header but no rows").
        detail: &'static str,
    },
    /// Required columns are absent from the header (line 1).
    #[error("{file}, line 1: missing column(s) {}; the header has: {}", missing.join(", "), found.join(", "))]
    MissingColumns {
        /// The file.
        file: String,
        /// The required names that are absent.
        missing: Vec<String>,
        /// The header as read.
        found: Vec<String>,
    },
    /// One or more rows are invalid.
    #[error("{}", format_problems(problems, *truncated))]
    Rows {
        /// Each problem with its file, line and column.
        problems: Vec<Problem>,
        /// True when reading stopped after [`MAX_PROBLEMS`] problems.
        truncated: bool,
    },
}

fn format_problems(problems: &[Problem], truncated: bool) -> String {
    let mut out = if problems.len() == 1 {
        problems[0].to_string()
    } else {
        let lines: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
        format!("{} problems:\n{}", problems.len(), lines.join("\n"))
    };
    if truncated {
        out.push_str(&format!("\n  (stopped after {MAX_PROBLEMS} problems)"));
    }
    out
}

impl DatasetError {
    /// Every problem as structured data (one entry for a whole-file error),
    /// for APIs that return them as JSON.
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            DatasetError::Rows { problems, .. } => problems.clone(),
            DatasetError::Io { file, .. } | DatasetError::Empty { file, .. } => vec![Problem {
                file: file.clone(),
                line: 0,
                column: None,
                message: self.to_string(),
            }],
            DatasetError::MissingColumns { file, .. } => vec![Problem {
                file: file.clone(),
                line: 1,
                column: None,
                message: self.to_string(),
            }],
        }
    }
}

/// Collects row problems, stopping at [`MAX_PROBLEMS`].
struct Problems {
    list: Vec<Problem>,
    truncated: bool,
}

impl Problems {
    fn new() -> Self {
        Problems {
            list: Vec::new(),
            truncated: false,
        }
    }

    /// Adds a problem; returns false once the list is full.
    fn push(&mut self, problem: Problem) -> bool {
        if self.list.len() >= MAX_PROBLEMS {
            self.truncated = true;
            return false;
        }
        self.list.push(problem);
        true
    }

    fn is_full(&self) -> bool {
        self.truncated || self.list.len() >= MAX_PROBLEMS
    }

    fn into_result(self) -> Result<(), DatasetError> {
        if self.list.is_empty() {
            Ok(())
        } else {
            Err(DatasetError::Rows {
                problems: self.list,
                truncated: self.truncated,
            })
        }
    }
}

/// A CSV file read into memory: the header and each record with its line.
struct Table {
    name: String,
    header: Vec<String>,
    rows: Vec<(u64, csv::StringRecord)>,
}

impl Table {
    /// Reads a whole CSV. Malformed records (bad UTF-8, wrong field count) are
    /// collected as problems rather than stopping at the first.
    fn read<R: Read>(reader: R, name: &str) -> Result<Table, DatasetError> {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(reader);
        let header = match csv.headers() {
            Ok(h) => h.iter().map(|s| s.trim().to_string()).collect::<Vec<_>>(),
            Err(e) => return Err(csv_error(name, e, None)),
        };
        if header.is_empty() || header.iter().all(String::is_empty) {
            return Err(DatasetError::Empty {
                file: name.to_string(),
                detail: "",
            });
        }
        let mut rows = Vec::new();
        let mut problems = Problems::new();
        for result in csv.records() {
            match result {
                Ok(record) => {
                    let line = record.position().map_or(0, |p| p.line());
                    rows.push((line, record));
                }
                Err(e) => {
                    match csv_error(name, e, Some(&header)) {
                        DatasetError::Rows { problems: ps, .. } => {
                            for p in ps {
                                problems.push(p);
                            }
                        }
                        // An I/O error ends reading: nothing after it can be trusted.
                        other => return Err(other),
                    }
                    if problems.is_full() {
                        break;
                    }
                }
            }
        }
        problems.into_result()?;
        if rows.is_empty() {
            return Err(DatasetError::Empty {
                file: name.to_string(),
                detail: ": it has a header but no rows",
            });
        }
        Ok(Table {
            name: name.to_string(),
            header,
            rows,
        })
    }

    /// Index of each required column, or the error listing every absent one.
    fn require(&self, names: &[&str]) -> Result<Vec<usize>, DatasetError> {
        let mut missing = Vec::new();
        let mut found = Vec::new();
        for name in names {
            match self.header.iter().position(|h| h == name) {
                Some(i) => found.push(i),
                None => missing.push(name.to_string()),
            }
        }
        if missing.is_empty() {
            Ok(found)
        } else {
            Err(DatasetError::MissingColumns {
                file: self.name.clone(),
                missing,
                found: self.header.clone(),
            })
        }
    }

    fn optional(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    fn problem(&self, line: u64, col: usize, message: String) -> Problem {
        Problem {
            file: self.name.clone(),
            line,
            column: Some((col + 1, self.header[col].clone())),
            message,
        }
    }
}

/// Turns a csv crate error into our error with the file, line and column.
fn csv_error(name: &str, e: csv::Error, header: Option<&[String]>) -> DatasetError {
    let line = e.position().map_or(0, |p| p.line());
    let (column, message) = match e.kind() {
        csv::ErrorKind::Io(io) => {
            return DatasetError::Io {
                file: name.to_string(),
                source: std::io::Error::new(io.kind(), io.to_string()),
            };
        }
        csv::ErrorKind::Utf8 { err, .. } => {
            let col = err.field();
            let col_name = header.and_then(|h| h.get(col)).cloned().unwrap_or_default();
            (
                Some((col + 1, col_name)),
                "the text is not valid UTF-8".to_string(),
            )
        }
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => (
            None,
            format!("the row has {len} fields but the header has {expected_len}"),
        ),
        _ => (None, format!("malformed CSV: {e}")),
    };
    DatasetError::Rows {
        problems: vec![Problem {
            file: name.to_string(),
            line,
            column,
            message,
        }],
        truncated: false,
    }
}

/// Reads a prompts CSV (`prompt_id`, and optionally `prompt_title`,
/// `prompt_question`, `prompt_text`) into a map by id. Duplicate ids are errors.
pub fn read_prompts<R: Read>(
    reader: R,
    name: &str,
) -> Result<BTreeMap<String, Prompt>, DatasetError> {
    let table = Table::read(reader, name)?;
    let id_col = table.require(&[PROMPT_ID_COL])?[0];
    let title_col = table.optional(PROMPT_TITLE_COL);
    let question_col = table.optional(PROMPT_QUESTION_COL);
    let text_col = table.optional(PROMPT_TEXT_COL);
    let cell = |record: &csv::StringRecord, col: Option<usize>| {
        col.and_then(|c| record.get(c)).unwrap_or("").to_string()
    };
    let mut problems = Problems::new();
    let mut prompts = BTreeMap::new();
    let mut first_line: HashMap<String, u64> = HashMap::new();
    for (line, record) in &table.rows {
        let id = record.get(id_col).unwrap_or("").trim().to_string();
        if id.is_empty() {
            problems.push(table.problem(*line, id_col, "the prompt id is empty".into()));
            continue;
        }
        if let Some(first) = first_line.get(&id) {
            problems.push(table.problem(
                *line,
                id_col,
                format!("duplicate prompt id {id:?} (first on line {first})"),
            ));
            continue;
        }
        first_line.insert(id.clone(), *line);
        prompts.insert(
            id,
            Prompt {
                title: cell(record, title_col),
                question: cell(record, question_col),
                text: cell(record, text_col),
            },
        );
    }
    problems.into_result()?;
    Ok(prompts)
}

impl Dataset {
    /// Reads essays (and optionally prompts) from readers. `essays_name` and
    /// the prompts' name appear in error messages. Without a prompts file each
    /// prompt is known only by its id, which becomes its title.
    pub fn from_readers<E: Read, P: Read>(
        essays: E,
        essays_name: &str,
        prompts: Option<(P, &str)>,
        layout: &DatasetLayout,
    ) -> Result<Dataset, DatasetError> {
        let known_prompts = match prompts {
            Some((reader, name)) => Some(read_prompts(reader, name)?),
            None => None,
        };
        let table = Table::read(essays, essays_name)?;
        let mut required: Vec<&str> = vec![&layout.id_col, &layout.prompt_col, &layout.text_col];
        required.extend(layout.targets.iter().map(String::as_str));
        let cols = table.require(&required)?;
        let (id_col, prompt_col, text_col) = (cols[0], cols[1], cols[2]);
        let target_cols = &cols[3..];

        let mut problems = Problems::new();
        let mut essays = Vec::with_capacity(table.rows.len());
        let mut first_line: HashMap<String, u64> = HashMap::with_capacity(table.rows.len());
        let mut prompts = BTreeMap::new();
        for (line, record) in &table.rows {
            if problems.is_full() {
                problems.truncated = true;
                break;
            }
            let line = *line;
            let mut ok = true;
            let id = record.get(id_col).unwrap_or("").trim().to_string();
            if id.is_empty() {
                ok &= problems.push(table.problem(line, id_col, "the id is empty".into()));
            } else if let Some(first) = first_line.get(&id) {
                problems.push(table.problem(
                    line,
                    id_col,
                    format!("duplicate id {id:?} (first on line {first})"),
                ));
                ok = false;
            } else {
                first_line.insert(id.clone(), line);
            }
            let prompt_id = record.get(prompt_col).unwrap_or("").trim().to_string();
            if prompt_id.is_empty() {
                problems.push(table.problem(line, prompt_col, "the prompt id is empty".into()));
                ok = false;
            } else {
                match &known_prompts {
                    Some(known) => match known.get(&prompt_id) {
                        Some(p) => {
                            prompts
                                .entry(prompt_id.clone())
                                .or_insert_with(|| p.clone());
                        }
                        None => {
                            problems.push(table.problem(
                                line,
                                prompt_col,
                                format!("prompt id {prompt_id:?} is not in the prompts file"),
                            ));
                            ok = false;
                        }
                    },
                    None => {
                        prompts.entry(prompt_id.clone()).or_insert_with(|| Prompt {
                            title: prompt_id.clone(),
                            question: String::new(),
                            text: String::new(),
                        });
                    }
                }
            }
            let text = record.get(text_col).unwrap_or("");
            if text.trim().is_empty() {
                problems.push(table.problem(line, text_col, "the essay text is empty".into()));
                ok = false;
            }
            let mut targets = Vec::with_capacity(target_cols.len());
            for &col in target_cols {
                let raw = record.get(col).unwrap_or("").trim();
                match raw.parse::<f64>() {
                    Ok(v) if v.is_finite() => targets.push(v),
                    Ok(v) => {
                        problems.push(table.problem(
                            line,
                            col,
                            format!("the target {raw:?} is not finite ({v})"),
                        ));
                        ok = false;
                    }
                    Err(_) if raw.is_empty() => {
                        problems.push(table.problem(line, col, "the target is empty".into()));
                        ok = false;
                    }
                    Err(_) => {
                        problems.push(table.problem(
                            line,
                            col,
                            format!("the target {raw:?} is not a number"),
                        ));
                        ok = false;
                    }
                }
            }
            if ok {
                essays.push(EssayRecord {
                    id,
                    prompt_id,
                    text: text.to_string(),
                    targets,
                });
            }
        }
        problems.into_result()?;
        Ok(Dataset {
            target_names: layout.targets.clone(),
            score_grid: layout.score_grid,
            prompts,
            essays,
        })
    }

    /// Reads essays (and optionally prompts) from files; messages name the paths.
    pub fn from_paths(
        essays: &Path,
        prompts: Option<&Path>,
        layout: &DatasetLayout,
    ) -> Result<Dataset, DatasetError> {
        let open = |path: &Path| {
            File::open(path).map_err(|source| DatasetError::Io {
                file: path.display().to_string(),
                source,
            })
        };
        let essays_file = open(essays)?;
        let prompts_file = match prompts {
            Some(p) => Some((open(p)?, p.display().to_string())),
            None => None,
        };
        Dataset::from_readers(
            std::io::BufReader::new(essays_file),
            &essays.display().to_string(),
            prompts_file
                .as_ref()
                .map(|(f, name)| (std::io::BufReader::new(f), name.as_str())),
            layout,
        )
    }

    /// Number of essays.
    pub fn len(&self) -> usize {
        self.essays.len()
    }

    /// True when there are no essays (never the case for a dataset read from CSV).
    pub fn is_empty(&self) -> bool {
        self.essays.is_empty()
    }

    /// The distinct prompt ids that essays refer to, in sorted order.
    pub fn prompt_ids(&self) -> Vec<String> {
        self.prompts.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROMPTS: &str = "prompt_id,prompt_question,prompt_title,prompt_text\n\
        p1,\"Summarise the text.\",Rivers,\"Rivers flow to the sea.\nThey carry silt.\"\n\
        p2,Explain the idea.,Bees,Bees make honey.\n";

    fn read(essays: &str) -> Result<Dataset, DatasetError> {
        Dataset::from_readers(
            essays.as_bytes(),
            "essays.csv",
            Some((PROMPTS.as_bytes(), "prompts.csv")),
            &DatasetLayout::default(),
        )
    }

    #[test]
    fn reads_the_commonlit_layout_with_a_multi_line_quoted_essay() {
        let essays = "student_id,prompt_id,text,content,wording\n\
            a1,p1,\"Rivers go to the sea,\nand carry \"\"silt\"\".\",0.5,-0.25\n\
            a2,p2,Bees make honey.,1.5,2\n";
        let ds = read(essays).unwrap();
        assert_eq!(ds.target_names, vec!["content", "wording"]);
        assert_eq!(ds.essays.len(), 2);
        assert_eq!(
            ds.essays[0].text,
            "Rivers go to the sea,\nand carry \"silt\"."
        );
        assert_eq!(ds.essays[0].targets, vec![0.5, -0.25]);
        assert_eq!(ds.prompts["p1"].title, "Rivers");
        assert_eq!(
            ds.prompts["p1"].text,
            "Rivers flow to the sea.\nThey carry silt."
        );
        assert_eq!(ds.prompt_ids(), vec!["p1", "p2"]);
    }

    #[test]
    fn a_missing_target_column_is_named_with_the_header() {
        let err = read("student_id,prompt_id,text,content\na1,p1,hi,1\n").unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, DatasetError::MissingColumns { .. }));
        assert!(msg.contains("essays.csv, line 1"), "{msg}");
        assert!(msg.contains("missing column(s) wording"), "{msg}");
    }

    #[test]
    fn a_byte_order_mark_and_crlf_line_ends_are_read_as_plain_csv() {
        let essays =
            "\u{feff}student_id,prompt_id,text,content,wording\r\na1,p1,\"x\r\ny\",1,2\r\n";
        let ds = read(essays).unwrap();
        assert_eq!(ds.essays[0].id, "a1");
        assert_eq!(ds.essays[0].text, "x\r\ny");
        assert_eq!(ds.essays[0].targets, vec![1.0, 2.0]);
    }

    #[test]
    fn a_non_numeric_target_names_file_line_and_column() {
        let essays = "student_id,prompt_id,text,content,wording\n\
            a1,p1,\"two\nlines\",0.5,1\n\
            a2,p1,fine,high,1\n";
        let msg = read(essays).unwrap_err().to_string();
        assert_eq!(
            msg,
            "essays.csv, line 4, column 4 (content): the target \"high\" is not a number"
        );
    }

    #[test]
    fn non_finite_and_empty_targets_are_both_reported() {
        let essays = "student_id,prompt_id,text,content,wording\n\
            a1,p1,x,NaN,1\n\
            a2,p1,y,1,\n";
        let err = read(essays).unwrap_err();
        let problems = err.problems();
        assert_eq!(problems.len(), 2);
        assert_eq!(problems[0].line, 2);
        assert_eq!(problems[0].column, Some((4, "content".to_string())));
        assert!(problems[0].message.contains("not finite"));
        assert_eq!(problems[1].line, 3);
        assert_eq!(problems[1].column, Some((5, "wording".to_string())));
        assert!(problems[1].message.contains("empty"));
    }

    #[test]
    fn an_empty_file_and_a_header_only_file_are_refused() {
        let msg = read("").unwrap_err().to_string();
        assert_eq!(msg, "essays.csv: the file is empty");
        let msg = read("student_id,prompt_id,text,content,wording\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            "essays.csv: the file is empty: it has a header but no rows"
        );
    }

    #[test]
    fn a_prompt_id_with_no_prompt_names_the_line_and_column() {
        let essays = "student_id,prompt_id,text,content,wording\na1,zz,x,1,1\n";
        let msg = read(essays).unwrap_err().to_string();
        assert_eq!(
            msg,
            "essays.csv, line 2, column 2 (prompt_id): prompt id \"zz\" is not in the prompts file"
        );
    }

    #[test]
    fn duplicate_ids_name_both_lines() {
        let essays = "student_id,prompt_id,text,content,wording\n\
            a1,p1,x,1,1\n\
            a2,p1,y,1,1\n\
            a1,p2,z,1,1\n";
        let msg = read(essays).unwrap_err().to_string();
        assert_eq!(
            msg,
            "essays.csv, line 4, column 1 (student_id): duplicate id \"a1\" (first on line 2)"
        );
    }

    #[test]
    fn a_row_with_empty_text_names_the_text_column() {
        let essays = "student_id,prompt_id,text,content,wording\na1,p1,\"  \",1,1\n";
        let msg = read(essays).unwrap_err().to_string();
        assert_eq!(
            msg,
            "essays.csv, line 2, column 3 (text): the essay text is empty"
        );
    }

    #[test]
    fn a_row_with_too_few_fields_names_its_line() {
        let essays = "student_id,prompt_id,text,content,wording\na1,p1,x,1\n";
        let msg = read(essays).unwrap_err().to_string();
        assert_eq!(
            msg,
            "essays.csv, line 2: the row has 4 fields but the header has 5"
        );
    }

    #[test]
    fn invalid_utf8_names_its_line_and_column() {
        let mut essays =
            b"student_id,prompt_id,text,content,wording\na1,p1,ok,1,1\na2,p1,".to_vec();
        essays.extend_from_slice(&[0xff, 0xfe]);
        essays.extend_from_slice(b",1,1\n");
        let err = Dataset::from_readers(
            essays.as_slice(),
            "essays.csv",
            Some((PROMPTS.as_bytes(), "prompts.csv")),
            &DatasetLayout::default(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "essays.csv, line 3, column 3 (text): the text is not valid UTF-8"
        );
    }

    #[test]
    fn duplicate_prompt_ids_in_the_prompts_file_are_refused() {
        let prompts = "prompt_id,prompt_text\np1,a\np1,b\n";
        let err = Dataset::from_readers(
            "student_id,prompt_id,text,content,wording\na1,p1,x,1,1\n".as_bytes(),
            "essays.csv",
            Some((prompts.as_bytes(), "prompts.csv")),
            &DatasetLayout::default(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "prompts.csv, line 3, column 1 (prompt_id): duplicate prompt id \"p1\" (first on line 2)"
        );
    }

    #[test]
    fn the_generic_layout_reads_any_columns_without_a_prompts_file() {
        let layout = DatasetLayout {
            id_col: "essay".into(),
            text_col: "body".into(),
            prompt_col: "task".into(),
            targets: vec!["Overall".into()],
            score_grid: Some("1:5:0.5".parse().unwrap()),
        };
        let csv = "essay,task,body,Overall\ne1,Water cycle,Rain falls.,3.5\ne2,Water cycle,Clouds form.,4\n";
        let ds =
            Dataset::from_readers(csv.as_bytes(), "x.csv", None::<(&[u8], &str)>, &layout).unwrap();
        assert_eq!(ds.prompts.len(), 1);
        assert_eq!(ds.prompts["Water cycle"].title, "Water cycle");
        assert_eq!(ds.prompts["Water cycle"].text, "");
        assert_eq!(ds.essays[1].targets, vec![4.0]);
        assert_eq!(ds.score_grid.unwrap().levels(), 9);
    }

    #[test]
    fn several_row_problems_are_collected_in_one_error() {
        let essays = "student_id,prompt_id,text,content,wording\n\
            a1,p1,,1,1\n\
            a2,p9,x,1,1\n\
            a3,p1,y,oops,1\n";
        let err = read(essays).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("3 problems:"), "{msg}");
        assert!(msg.contains("line 2, column 3 (text)"), "{msg}");
        assert!(msg.contains("line 3, column 2 (prompt_id)"), "{msg}");
        assert!(msg.contains("line 4, column 4 (content)"), "{msg}");
    }

    #[test]
    fn a_layout_mapping_parses_from_json_with_defaults_and_a_grid_string() {
        let layout: DatasetLayout =
            serde_json::from_str(r#"{"targets": ["Overall"], "score_grid": "1:5:0.5"}"#).unwrap();
        assert_eq!(layout.id_col, "student_id");
        assert_eq!(
            layout.score_grid,
            Some(ScoreGrid {
                min: 1.0,
                max: 5.0,
                step: 0.5
            })
        );
        let bad = serde_json::from_str::<DatasetLayout>(r#"{"score_grid": "5:1:1"}"#);
        assert!(
            bad.unwrap_err()
                .to_string()
                .contains("min 5 must be below max 1")
        );
        assert!(serde_json::from_str::<DatasetLayout>(r#"{"idcol": "x"}"#).is_err());
    }

    /// Found by fuzzing (tests/fuzz, dataset): "0:1:1e308" passed the
    /// whole-number-of-steps check with zero steps and made a grid of one level.
    #[test]
    fn a_score_grid_whose_step_exceeds_its_range_is_refused() {
        for text in ["0:1:1e308", "0:1:3", "1:5:9"] {
            let err = text.parse::<ScoreGrid>().unwrap_err();
            assert!(
                err.reason.contains("is larger than the range"),
                "{text}: {err}"
            );
        }
        assert_eq!("0:1:1".parse::<ScoreGrid>().unwrap().levels(), 2);
    }

    #[test]
    fn a_score_grid_rounds_and_clamps_to_its_levels() {
        let g: ScoreGrid = "1:5:0.5".parse().unwrap();
        assert_eq!(g.round(3.3), 3.5);
        assert_eq!(g.round(3.2), 3.0);
        assert_eq!(g.round(-7.0), 1.0);
        assert_eq!(g.round(9.0), 5.0);
        assert_eq!(g.level(5.0), 8);
        assert!("1:5".parse::<ScoreGrid>().is_err());
        assert!("1:5:0.3".parse::<ScoreGrid>().is_err());
        assert!("1:x:1".parse::<ScoreGrid>().is_err());
        assert!("1:5:0".parse::<ScoreGrid>().is_err());
    }

    #[test]
    #[ignore = "needs ../shared/data/commonlit (ESSAY_GRADER_COMMONLIT)"]
    fn reads_the_shared_commonlit_data() {
        let dir = std::env::var("ESSAY_GRADER_COMMONLIT")
            .expect("set ESSAY_GRADER_COMMONLIT to the CommonLit folder (.ci/run does when ../shared/data/commonlit exists)");
        let dir = Path::new(&dir);
        let ds = Dataset::from_paths(
            &dir.join("summaries.csv"),
            Some(&dir.join("prompts.csv")),
            &DatasetLayout::default(),
        )
        .unwrap();
        assert_eq!(ds.len(), 6062);
        assert_eq!(ds.prompt_ids(), vec!["39c16e", "3b9047", "ebad26"]);
        assert!(ds.prompts.values().all(|p| p.text.len() > 1000));
    }
}
