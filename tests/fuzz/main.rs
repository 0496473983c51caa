//! Fuzzing on stable Rust: proptest-driven random inputs against the
//! service's four input surfaces, one module each. Every target asserts what
//! must hold for *any* input (no panic, finite numbers, errors that are
//! typed and say where), not just that nothing crashed.
//!
//! - [`features`]: feature extraction with arbitrary bytes as essay and prompt.
//! - [`dataset`]: the CSV dataset loader, its layouts and score grids.
//! - [`artifact`]: model artifact loading, from arbitrary bytes and from
//!   mutated valid artifacts, then grading with what loads.
//! - [`http_bodies`]: every JSON request body of the HTTP API, through the
//!   real router in process.
//!
//! Why proptest and not cargo-fuzz or bolero: cargo-fuzz needs a nightly
//! toolchain, which these machines cannot fetch; bolero's coverage-guided
//! engines need `cargo bolero` with nightly sanitizer flags too, and on
//! stable its `cargo test` engine generates random inputs, which proptest
//! (already a pinned dev-dependency) does as well, with shrinking to a
//! minimal failing input and a fixed seed. See docs/security.md, "Fuzzing".
//!
//! A plain `cargo test` runs a short fixed-seed pass (a few seconds). The
//! long run sets the number of cases, and optionally another seed:
//!
//! ```text
//! ESSAY_GRADER_FUZZ_CASES=5000 ESSAY_GRADER_FUZZ_SEED=7 cargo test --locked --release --test fuzz
//! ```
//!
//! The whole binary runs under [`CappedAllocator`], which refuses any single
//! allocation above [`ALLOCATION_CAP`] bytes, so an input that declares a
//! huge size and gets it allocated fails the run (the process aborts with
//! "memory allocation of N bytes failed") instead of passing on a machine
//! with enough memory or overcommit.

mod artifact;
mod dataset;
mod features;
mod http_bodies;

use std::alloc::{GlobalAlloc, Layout, System};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::Value;

/// The largest single allocation any fuzz target may make: far above what a
/// real input needs (the biggest is a 16 MB batch body), far below what a
/// forged size field would ask for.
pub const ALLOCATION_CAP: usize = 256 * 1024 * 1024;

/// The system allocator, refusing single allocations above [`ALLOCATION_CAP`].
pub struct CappedAllocator;

// SAFETY: every call is forwarded unchanged to `System`, or refused with a
// null pointer, which `GlobalAlloc` allows for any request.
unsafe impl GlobalAlloc for CappedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > ALLOCATION_CAP {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > ALLOCATION_CAP {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > ALLOCATION_CAP {
            return std::ptr::null_mut();
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CappedAllocator = CappedAllocator;

/// The variable that sets how many cases each target runs (the long run).
pub const CASES_VAR: &str = "ESSAY_GRADER_FUZZ_CASES";
/// The variable that sets the seed (default [`DEFAULT_SEED`]).
pub const SEED_VAR: &str = "ESSAY_GRADER_FUZZ_SEED";
/// The seed of the default, short run: fixed, so `cargo test` is repeatable.
pub const DEFAULT_SEED: u64 = 20_261_202;

/// The proptest config of one target: `short_cases` cases with the fixed
/// seed unless [`CASES_VAR`] / [`SEED_VAR`] say otherwise. Failures are not
/// persisted to files: each one found is kept as a named regression test
/// beside the code it broke.
pub fn fuzz_config(short_cases: u32) -> Config {
    let cases = std::env::var(CASES_VAR)
        .ok()
        .map(|v| {
            v.parse::<u32>()
                .unwrap_or_else(|_| panic!("{CASES_VAR}={v:?} is not a whole number"))
        })
        .unwrap_or(short_cases);
    let seed = std::env::var(SEED_VAR)
        .ok()
        .map(|v| {
            v.parse::<u64>()
                .unwrap_or_else(|_| panic!("{SEED_VAR}={v:?} is not a whole number"))
        })
        .unwrap_or(DEFAULT_SEED);
    Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        max_shrink_iters: 2_000,
        ..Config::default()
    }
}

/// Any JSON value, nested up to four levels: the numbers JSON can carry at
/// their edges, strings from [`features::odd_text`], and keys that are near
/// misses of real field names.
pub fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        proptest::sample::select(&[0.0, -0.0, 1e308, -1e308, 5e-324, 1e12, 0.5][..])
            .prop_map(Value::from),
        features::odd_text(4).prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(json_key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Object keys: the API's field names and a few that are not.
pub fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(&[
            "essay", "prompt_id", "prompt", "title", "question", "text", "calibrate", "items",
            "explain", "id", "examples", "scores", "content", "wording", "name", "prompt_ids",
            "merge_dataset_ids", "kind", "dataset_id", "config", "grid", "folds", "model_kind",
            "cv", "token", "network", "layers", "units", "epochs", "ensemble", "batch_size",
            "id_col", "text_col", "prompt_col", "targets", "score_grid", "",
        ][..]).prop_map(str::to_owned),
        1 => "[a-z_]{1,12}",
    ]
}
