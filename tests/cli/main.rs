//! Integration tests of the command line: each runs the built binary on small
//! fixture files written to a temporary directory, and checks its output.

mod commands;
mod fixtures;
mod serve;
