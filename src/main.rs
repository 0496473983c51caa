//! The `essay-grader` binary: parse the command line and hand over to the
//! library. Everything else lives in `essay_grader::cli`.

use std::process::ExitCode;

fn main() -> ExitCode {
    essay_grader::cli::main()
}
