//! The `essay-grader` binary: parse the command line and hand over to the
//! library. Everything else lives in `essay_grader::cli`.

use std::process::ExitCode;

/// mimalloc instead of the system allocator: every request allocates many
/// small, short-lived blocks (the body, the feature vectors, the response),
/// and glibc's malloc spent about a tenth of the service's CPU time on them
/// (docs/benchmarks.md). The library and its tests keep the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    essay_grader::cli::main()
}
