//! Build script: re-run the build when a migration is added or edited, because
//! `sqlx::migrate!()` embeds the files of migrations/ into the binary and Cargo
//! would not otherwise notice a new file there.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
