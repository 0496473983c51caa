//! Build script: re-runs the build when a migration or the default model
//! changes, because `sqlx::migrate!()` embeds the files of migrations/ and
//! `include_bytes!` embeds models/default.json, and Cargo would not otherwise
//! notice a new migration file.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=models");
}
