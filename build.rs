//! Build script.
//!
//! - Re-runs the build when a migration is added or edited, because
//!   `sqlx::migrate!()` embeds the files of migrations/ and Cargo would not
//!   otherwise notice a new file there.
//! - Sets `cfg(essay_grader_default_model)` when models/default.json exists,
//!   so the binary embeds it (`startup::DEFAULT_MODEL`). A checkout without it
//!   still builds; the service then starts with no model unless
//!   `--default-model` names one.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=models");
    println!("cargo::rustc-check-cfg=cfg(essay_grader_default_model)");
    if std::path::Path::new("models/default.json").exists() {
        println!("cargo:rustc-cfg=essay_grader_default_model");
    }
}
