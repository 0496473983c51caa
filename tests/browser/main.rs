//! The browser tests as a cargo test target, so that `cargo test --locked`
//! stays the one test command: this runs the end-to-end tests in
//! tests/browser/*.test.mjs (Node's test runner, playwright-core driving
//! Debian's headless Chromium) against the binary cargo just built.
//!
//! They need `/usr/bin/chromium` (`apt-get install -y chromium`) and the Node
//! packages of package-lock.json (`npm ci`); `.ci/run` installs both. Without
//! them this test fails and says what to install: it never passes silently.
//! On a failure each scenario saves a screenshot and the page's HTML under
//! target/browser-failures/ and names them in its message.

use std::path::Path;
use std::process::Command;

#[test]
fn the_web_pages_work_in_a_real_browser() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: install Debian's chromium (`apt-get install -y chromium`), as .ci/run does"
    );
    assert!(
        root.join("node_modules/playwright-core/package.json")
            .exists(),
        "playwright-core is not installed: run `npm ci` in {} (as .ci/run does)",
        root.display()
    );

    let mut files: Vec<String> = std::fs::read_dir(root.join("tests/browser"))
        .expect("tests/browser is readable")
        .map(|entry| entry.expect("a directory entry").file_name())
        .filter_map(|name| name.into_string().ok())
        .filter(|name| name.ends_with(".test.mjs"))
        .map(|name| format!("tests/browser/{name}"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no tests/browser/*.test.mjs found");

    let status = Command::new("node")
        .args(["--test", "--test-concurrency=1", "--test-reporter=spec"])
        .args(&files)
        .current_dir(root)
        .env("ESSAY_GRADER_BIN", env!("CARGO_BIN_EXE_essay-grader"))
        .env("CHROMIUM", &chromium)
        .status()
        .unwrap_or_else(|err| panic!("could not run `node` (is Node.js installed?): {err}"));

    assert!(
        status.success(),
        "the browser tests failed ({status}); their report is above, and the screenshots \
         and HTML of the failing pages are under target/browser-failures/"
    );
}
