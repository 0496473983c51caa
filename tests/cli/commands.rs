//! The subcommands train, evaluate, cv, grade, config and features, run as a
//! user would run them, with their JSON and their errors checked.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use super::fixtures::{
    ANALYTIC_TARGETS, essay, write_analytic_essays, write_essays, write_graded_essays,
    write_prompts, write_quick_config,
};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_essay-grader"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn ok_json(args: &[&str]) -> Value {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

fn failure(args: &[&str]) -> String {
    let out = run(args);
    assert!(!out.status.success(), "{args:?} should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn assert_regression_metrics(m: &Value, targets: &[&str], qwk: bool) {
    assert!(m["n"].as_u64().unwrap() > 0);
    assert!(m["mcrmse"].as_f64().unwrap().is_finite());
    let names: Vec<&str> = m["targets"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(names, targets);
    for t in targets {
        for key in ["rmse", "mae", "r2", "pearson"] {
            assert!(m["targets"][t][key].is_f64(), "{t}.{key} in {m}");
        }
        assert_eq!(m["targets"][t]["qwk"].is_f64(), qwk, "{t}.qwk in {m}");
    }
}

#[test]
fn config_default_prints_a_whole_config_that_validates_again() {
    let dir = tempfile::tempdir().unwrap();
    let config = ok_json(&["config", "--default"]);
    for key in [
        "network",
        "optimizer",
        "schedule",
        "features",
        "epochs",
        "batch_size",
        "early_stopping",
        "seed",
        "ensemble",
    ] {
        assert!(config.get(key).is_some(), "{key} missing");
    }
    let path = dir.path().join("printed.json");
    std::fs::write(&path, config.to_string()).unwrap();
    assert_eq!(ok_json(&["config", "--check", s(&path)]), config);
}

#[test]
fn a_bad_config_is_refused_listing_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.json");
    std::fs::write(
        &path,
        r#"{"epochs": -3, "optimizer": {"name": "adamm", "nme": 1}, "batch_size": 0}"#,
    )
    .unwrap();
    let err = failure(&["config", "--check", s(&path)]);
    for field in [
        "epochs:",
        "optimizer.name:",
        "optimizer.nme:",
        "batch_size:",
    ] {
        assert!(err.contains(field), "{field} not in {err}");
    }
}

#[test]
fn features_list_prints_the_whole_catalogue() {
    let out = run(&["features", "--list"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let count = essay_grader::features::catalogue().len();
    assert!(count >= 80);
    assert!(text.contains(&format!("{count} features")));
    for def in essay_grader::features::catalogue() {
        assert!(text.contains(def.name), "{} missing", def.name);
    }
}

#[test]
fn features_writes_ids_then_every_feature_with_or_without_prompts() {
    let dir = tempfile::tempdir().unwrap();
    let essays = write_essays(dir.path(), 4);
    let prompts = write_prompts(dir.path());
    let out = dir.path().join("features.csv");
    let status = run(&[
        "features",
        "--essays",
        s(&essays),
        "--prompts",
        s(&prompts),
        "--out",
        s(&out),
    ]);
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let mut reader = csv::Reader::from_path(&out).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let names: Vec<&str> = essay_grader::features::catalogue()
        .iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(&header[..2], ["student_id", "prompt_id"]);
    assert_eq!(&header[2..], names.as_slice());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 12);
    assert!(rows.iter().all(|r| {
        r.iter()
            .skip(2)
            .all(|v| v.parse::<f32>().unwrap().is_finite())
    }));

    // The generic layout, no prompts file: relation features degrade, not fail.
    let graded = write_graded_essays(dir.path(), 3);
    let out2 = dir.path().join("generic.csv");
    let status = run(&[
        "features",
        "--essays",
        s(&graded),
        "--id-col",
        "essay",
        "--text-col",
        "body",
        "--prompt-col",
        "task",
        "--out",
        s(&out2),
    ]);
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let text = std::fs::read_to_string(&out2).unwrap();
    assert!(text.starts_with("essay,task,p_"));
    assert_eq!(text.lines().count(), 10);
}

#[test]
fn train_evaluate_and_grade_work_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let essays = write_essays(dir.path(), 16);
    let prompts = write_prompts(dir.path());
    let config = write_quick_config(dir.path());
    let model = dir.path().join("model.json");
    let summary = ok_json(&[
        "train",
        "--essays",
        s(&essays),
        "--prompts",
        s(&prompts),
        "--config",
        s(&config),
        "--out",
        s(&model),
        "--json",
    ]);
    assert_eq!(summary["rows"], 48);
    assert_eq!(summary["members"].as_array().unwrap().len(), 2);
    // Only the model is left in the directory: no temporary file.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["essays.csv", "model.json", "prompts.csv", "train.json"]
    );

    let eval = ok_json(&[
        "evaluate",
        "--model",
        s(&model),
        "--essays",
        s(&essays),
        "--prompts",
        s(&prompts),
        "--json",
    ]);
    assert_regression_metrics(&eval, &["content", "wording"], false);
    assert_eq!(eval["n"], 48);

    let essay_file = dir.path().join("essay.txt");
    std::fs::write(&essay_file, essay(0, 7).0).unwrap();
    let grade = ok_json(&[
        "grade",
        "--model",
        s(&model),
        "--prompts",
        s(&prompts),
        "--prompt-id",
        "rivers",
        "--essay",
        s(&essay_file),
        "--json",
    ]);
    for t in ["content", "wording"] {
        assert!(grade["scores"][t].as_f64().unwrap().is_finite());
        let p = grade["percentiles"][t].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&p));
    }
    let explanation = grade["explanation"].as_array().unwrap();
    assert!(!explanation.is_empty());
    for concept in explanation {
        for t in ["content", "wording"] {
            assert!(concept["effects"][t].as_f64().unwrap().is_finite());
        }
        assert!(concept["concept"].is_string() && concept["label"].is_string());
        assert!(!concept["features"].as_array().unwrap().is_empty());
    }
    assert!(grade["warnings"].is_array());

    // The same prompt given on the command line grades the same.
    let text_file = dir.path().join("source.txt");
    let prompts_csv = std::fs::read_to_string(&prompts).unwrap();
    let mut reader = csv::Reader::from_reader(prompts_csv.as_bytes());
    let rivers = reader.records().next().unwrap().unwrap();
    std::fs::write(&text_file, &rivers[3]).unwrap();
    let again = ok_json(&[
        "grade",
        "--model",
        s(&model),
        "--prompt-text",
        s(&text_file),
        "--title",
        &rivers[2],
        "--question",
        &rivers[1],
        "--essay",
        s(&essay_file),
        "--json",
    ]);
    assert_eq!(again["scores"], grade["scores"]);

    // The readable table names the targets.
    let out = run(&[
        "grade",
        "--model",
        s(&model),
        "--prompts",
        s(&prompts),
        "--prompt-id",
        "rivers",
        "--essay",
        s(&essay_file),
    ]);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains("content") && table.contains("percentile"),
        "{table}"
    );
    // Each concept is printed with its label, its effects and its sentence.
    assert!(
        table.contains("why these scores, strongest first:"),
        "{table}"
    );
    for concept in explanation {
        let label = concept["label"].as_str().unwrap();
        let content = concept["effects"]["content"].as_f64().unwrap();
        assert!(
            table.contains(&format!("  {label} (content {content:+.3}, wording ")),
            "{label} in {table}"
        );
        let sentence = concept["sentence"].as_str().unwrap();
        assert!(
            table.contains(&format!("    {sentence}\n")),
            "{sentence} in {table}"
        );
    }

    let err = failure(&[
        "grade",
        "--model",
        s(&model),
        "--prompts",
        s(&prompts),
        "--prompt-id",
        "volcanoes",
        "--essay",
        s(&essay_file),
    ]);
    assert!(err.contains("no prompt with id \"volcanoes\""), "{err}");
}

#[test]
fn cv_json_reports_every_fold_and_the_pooled_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let essays = write_essays(dir.path(), 12);
    let prompts = write_prompts(dir.path());
    let config = write_quick_config(dir.path());
    let cv = ok_json(&[
        "cv",
        "--essays",
        s(&essays),
        "--prompts",
        s(&prompts),
        "--config",
        s(&config),
        "--json",
    ]);
    let folds = cv["folds"].as_array().unwrap();
    let held: Vec<&str> = folds
        .iter()
        .map(|f| f["held_out"].as_str().unwrap())
        .collect();
    assert_eq!(held, ["bees", "rivers", "tides"]);
    for fold in folds {
        assert_regression_metrics(fold, &["content", "wording"], false);
        assert_eq!(fold["n"], 12);
    }
    assert_regression_metrics(&cv["pooled"], &["content", "wording"], false);
    assert_eq!(cv["pooled"]["n"], 36);
    assert!(cv["seconds"].as_f64().unwrap() >= 0.0);

    let kfold = ok_json(&[
        "cv",
        "--essays",
        s(&essays),
        "--prompts",
        s(&prompts),
        "--config",
        s(&config),
        "--folds",
        "4",
        "--json",
    ]);
    assert_eq!(kfold["folds"].as_array().unwrap().len(), 4);
    assert_eq!(kfold["pooled"]["n"], 36);
}

#[test]
fn cv_on_a_score_grid_reports_quadratic_weighted_kappa() {
    let dir = tempfile::tempdir().unwrap();
    let graded = write_graded_essays(dir.path(), 12);
    let config = write_quick_config(dir.path());
    let cv = ok_json(&[
        "cv",
        "--essays",
        s(&graded),
        "--id-col",
        "essay",
        "--text-col",
        "body",
        "--prompt-col",
        "task",
        "--targets",
        "Overall",
        "--score-grid",
        "1:5:0.5",
        "--config",
        s(&config),
        "--json",
    ]);
    assert_eq!(cv["folds"].as_array().unwrap().len(), 3);
    assert_regression_metrics(&cv["pooled"], &["Overall"], true);
}

/// Another rubric through the same binary and the generic column flags:
/// argumentative essays with no source text, six 1–5 analytic scores on a
/// grid. With no `--config`, the default config applies its layout rule
/// (essay features alone when no prompt has a source text), and it must beat
/// predicting the mean on every target by a wide margin.
#[test]
fn the_default_config_learns_an_analytic_rubric_without_a_source_text() {
    let dir = tempfile::tempdir().unwrap();
    let essays = write_analytic_essays(dir.path(), 200);
    let targets = ANALYTIC_TARGETS.join(",");
    let layout = [
        "--essays",
        s(&essays),
        "--id-col",
        "text_id",
        "--text-col",
        "full_text",
        "--prompt-col",
        "task",
        "--targets",
        &targets,
        "--score-grid",
        "1:5:0.5",
    ];
    let cv_of = |kind: &str| {
        let mut args = vec!["cv"];
        args.extend(layout);
        args.extend(["--folds", "4", "--model-kind", kind, "--json"]);
        ok_json(&args)
    };
    let model = cv_of("mlp");
    let mean = cv_of("mean");
    let mut sorted = ANALYTIC_TARGETS;
    sorted.sort_unstable();
    assert_regression_metrics(&model["pooled"], &sorted, true);
    for t in ANALYTIC_TARGETS {
        let rmse = model["pooled"]["targets"][t]["rmse"].as_f64().unwrap();
        let baseline = mean["pooled"]["targets"][t]["rmse"].as_f64().unwrap();
        assert!(
            rmse < 0.6 * baseline,
            "{t}: RMSE {rmse} against the mean's {baseline}"
        );
    }

    let out = dir.path().join("model.json");
    let mut args = vec!["train"];
    args.extend(layout);
    args.extend(["--out", s(&out), "--json"]);
    ok_json(&args);
    let trained =
        essay_grader::grader::GraderModel::from_json(&std::fs::read(&out).unwrap()).unwrap();
    let essay_features = essay_grader::features::catalogue()
        .iter()
        .filter(|d| d.group == essay_grader::features::FeatureGroup::Essay)
        .count();
    assert_eq!(trained.feature_names().len(), essay_features);
    assert!(trained.feature_names().iter().all(|n| n.starts_with("e_")));
}

#[test]
fn a_dataset_error_names_the_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let prompts = write_prompts(dir.path());
    let essays = dir.path().join("bad.csv");
    std::fs::write(
        &essays,
        "student_id,prompt_id,text,content,wording\na,rivers,\"Two\nlines\",1,1\nb,rivers,fine,lots,1\n",
    )
    .unwrap();
    let model = dir.path().join("m.json");
    let err = failure(&[
        "train",
        "--essays",
        s(&essays),
        "--prompts",
        s(&prompts),
        "--out",
        s(&model),
    ]);
    assert!(
        err.contains("bad.csv, line 4, column 4 (content): the target \"lots\" is not a number"),
        "{err}"
    );
    assert!(!model.exists(), "nothing is written on failure");

    let missing = dir.path().join("missing.csv");
    std::fs::write(&missing, "student_id,prompt_id,text\na,rivers,hello\n").unwrap();
    let err = failure(&["cv", "--essays", s(&missing), "--prompts", s(&prompts)]);
    assert!(
        err.contains("missing.csv, line 1: missing column(s) content, wording"),
        "{err}"
    );
}

#[test]
fn an_unreadable_or_incompatible_model_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let essays = write_essays(dir.path(), 2);
    let prompts = write_prompts(dir.path());
    let model = dir.path().join("model.json");
    std::fs::write(&model, r#"{"format_version": 7}"#).unwrap();
    let err = failure(&[
        "evaluate",
        "--model",
        s(&model),
        "--essays",
        s(&essays),
        "--prompts",
        s(&prompts),
    ]);
    assert!(
        err.contains("model.json") && err.contains("format version 7"),
        "{err}"
    );
    std::fs::write(&model, "not json at all").unwrap();
    let err = failure(&[
        "evaluate",
        "--model",
        s(&model),
        "--essays",
        s(&essays),
        "--prompts",
        s(&prompts),
    ]);
    assert!(err.contains("not readable"), "{err}");
}

#[test]
fn the_committed_default_model_loads_and_grades_a_fixture_essay_sanely() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/default.json");
    let bytes = std::fs::read(&path).expect("models/default.json is committed");
    let model = essay_grader::grader::GraderModel::from_json(&bytes).unwrap();
    assert_eq!(model.target_names(), ["content", "wording"]);
    let prompt = essay_grader::features::Prompt {
        title: "How Rivers Shape Land".into(),
        question: "Summarize at least 2 main ideas of the text.".into(),
        text:
            "Rivers begin as small streams in the hills. They carry sand and silt toward the sea. \
               When a river floods, it spreads that silt across the plain. Farmers value the rich \
               soil left behind. Over many years a river can carve a deep valley."
                .into(),
    };
    let prepared = essay_grader::features::PreparedPrompt::new(&prompt);
    let grade = model.grade(
        &prepared,
        "The text explains that rivers start in the hills and carry silt to the sea. When they \
         flood, the silt spreads over the plain, which gives farmers rich soil. Over a long time \
         rivers also cut valleys into the land.",
    );
    // CommonLit scores run from about -2 to 4; a plain, decent summary sits inside.
    for (target, score) in &grade.scores.0 {
        assert!((-2.5..=4.5).contains(score), "{target} = {score}");
    }
    for (_, p) in &grade.percentiles.0 {
        assert!((0.0..=100.0).contains(p));
    }
}

/// The accuracy claim of the README, checked wherever the CommonLit data is
/// at hand (.ci/run runs the ignored tests when it is): the default config,
/// five networks blended with trees on the `"default"` features, left one
/// prompt out at a time, keeps its pooled MCRMSE (0.4780 at seed 42; 0.4799
/// and 0.4816 at seeds 142 and 242) and each held-out prompt's figure
/// (0.4529, 0.5264, 0.4504 at seed 42; at most 0.4554, 0.5305, 0.4541 over
/// the three seeds), with a margin for seed noise of 0.005 pooled and about
/// 0.008 a prompt over seed 42 (docs/experiments.md, section 7). About two
/// minutes in a debug build.
#[test]
#[ignore = "needs ../shared/data/commonlit (ESSAY_GRADER_COMMONLIT)"]
fn the_default_config_keeps_its_leave_one_prompt_out_accuracy_on_commonlit() {
    commonlit_cv_stays_under(
        None,
        [("39c16e", 0.461), ("3b9047", 0.534), ("ebad26", 0.459)],
        0.483,
    );
}

/// The network alone (ten networks, no trees, the same features) keeps its
/// figures: pooled 0.4838 at seed 42 (0.4846 and 0.4854 at seeds 142 and
/// 242), held-out prompts 0.4581, 0.5340, 0.4545 at seed 42 (at most
/// 0.4597, 0.5372, 0.4573), with the same margins. About a minute in a
/// debug build.
#[test]
#[ignore = "needs ../shared/data/commonlit (ESSAY_GRADER_COMMONLIT)"]
fn the_network_alone_keeps_its_leave_one_prompt_out_accuracy_on_commonlit() {
    commonlit_cv_stays_under(
        Some(r#"{"trees": null, "ensemble": 10}"#),
        [("39c16e", 0.466), ("3b9047", 0.542), ("ebad26", 0.463)],
        0.489,
    );
}

/// Leave-one-prompt-out CV on CommonLit of the default config, or of
/// `config` laid over it, with each held-out prompt and the pooled MCRMSE
/// at or under its ceiling.
fn commonlit_cv_stays_under(config: Option<&str>, ceilings: [(&str, f64); 3], pooled_ceiling: f64) {
    let dir = std::env::var("ESSAY_GRADER_COMMONLIT")
        .expect("set ESSAY_GRADER_COMMONLIT to the CommonLit folder (.ci/run does when ../shared/data/commonlit exists)");
    let dir = Path::new(&dir);
    let tmp = tempfile::tempdir().unwrap();
    let config_file = tmp.path().join("config.json");
    let (essays, prompts) = (dir.join("summaries.csv"), dir.join("prompts.csv"));
    let mut args = vec![
        "cv",
        "--essays",
        s(&essays),
        "--prompts",
        s(&prompts),
        "--json",
    ];
    if let Some(json) = config {
        std::fs::write(&config_file, json).unwrap();
        args.extend(["--config", s(&config_file)]);
    }
    let cv = ok_json(&args);

    let folds = cv["folds"].as_array().unwrap();
    assert_eq!(folds.len(), ceilings.len());
    for (fold, (held_out, ceiling)) in folds.iter().zip(ceilings) {
        assert_eq!(fold["held_out"], held_out);
        let mcrmse = fold["mcrmse"].as_f64().unwrap();
        assert!(
            mcrmse <= ceiling,
            "held-out prompt {held_out}: MCRMSE {mcrmse} is over {ceiling}"
        );
    }
    let pooled = cv["pooled"]["mcrmse"].as_f64().unwrap();
    assert!(
        pooled <= pooled_ceiling,
        "pooled MCRMSE {pooled} is over {pooled_ceiling}"
    );
    assert_eq!(cv["pooled"]["n"], 6062);
}

#[test]
fn serve_refuses_a_database_url_it_cannot_serve_before_touching_anything() {
    let dir = tempfile::tempdir().unwrap();
    let unknown = failure(&[
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--database",
        "mysql://grader:hunter2@db/essays",
    ]);
    // Port 1 on loopback: nothing listens, so the connection is refused.
    let target = dir.path().join("essays.db");
    let postgres_url = format!("postgres://grader:hunter2@127.0.0.1:1/{}", target.display());
    let unreachable = failure(&[
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--database",
        &postgres_url,
    ]);

    assert!(unknown.contains("unsupported database URL"), "{unknown}");
    assert!(
        unknown.contains("sqlite://") && unknown.contains("postgres://"),
        "{unknown}"
    );
    assert!(
        unreachable.contains("cannot open the database"),
        "{unreachable}"
    );
    for message in [&unknown, &unreachable] {
        assert!(
            !message.contains("hunter2"),
            "the password is shown: {message}"
        );
    }
    assert!(!target.exists(), "a postgres:// URL became a SQLite file");
}
