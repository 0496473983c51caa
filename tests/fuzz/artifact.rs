//! Model artifact loading with arbitrary input: random bytes, truncated and
//! byte-flipped copies of the built-in model, and the built-in model with
//! its JSON mutated where it matters (sizes, shapes, names, versions,
//! scalers, quantiles, configs). For each: no panic, no allocation of a
//! declared size (the binary's [`crate::CappedAllocator`] would abort), a
//! refusal is a `ModelError` that says what is wrong; and a model that loads
//! grades essays with finite scores, percentiles in 0..=100 and finite
//! explanation effects.

use std::sync::LazyLock;

use essay_grader::features::{PreparedPrompt, Prompt};
use essay_grader::grader::{Explain, GraderModel};
use essay_grader::startup::DEFAULT_MODEL;
use proptest::prelude::*;
use serde_json::Value;

use crate::features::any_text;
use crate::{fuzz_config, json_value};

/// The built-in model as JSON, parsed once.
static VALID: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_slice(DEFAULT_MODEL).expect("the built-in model is JSON"));

/// Where a mutation may land: every object member and array element,
/// except that a long array (weights, quantiles, scaler vectors) offers
/// itself, its first and its last element rather than every element.
static PLACES: LazyLock<Vec<String>> = LazyLock::new(|| {
    fn walk(value: &Value, at: String, out: &mut Vec<String>) {
        out.push(at.clone());
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    let key = key.replace('~', "~0").replace('/', "~1");
                    walk(child, format!("{at}/{key}"), out);
                }
            }
            Value::Array(items) if items.len() <= 16 => {
                for (i, child) in items.iter().enumerate() {
                    walk(child, format!("{at}/{i}"), out);
                }
            }
            Value::Array(items) => {
                walk(&items[0], format!("{at}/0"), out);
                let last = items.len() - 1;
                walk(&items[last], format!("{at}/{last}"), out);
            }
            _ => {}
        }
    }
    let mut places = Vec::new();
    walk(&VALID, String::new(), &mut places);
    places.retain(|p| !p.is_empty());
    places
});

/// One edit of the JSON tree.
#[derive(Debug, Clone)]
enum Mutation {
    /// Put this value there.
    Replace(Value),
    /// Remove the member or element.
    Remove,
    /// Drop the last element of an array (or all but `keep`).
    Truncate(usize),
    /// Repeat an array's first element `times` more times.
    Duplicate(usize),
    /// Multiply every number in an array (a weight matrix, a scaler) by this.
    Scale(f64),
}

fn edge_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        proptest::sample::select(
            &[
                0.0, -1.0, 1.0, 0.5, 1e12, -1e12, 1e38, 3.4e38, 1e300, -1e300, 5e-324, 1e-45,
            ][..]
        )
        .prop_map(Value::from),
        proptest::sample::select(&[0u64, 1, 2, 7, 88, 1_000_000_000_000, u64::MAX][..])
            .prop_map(Value::from),
        Just(Value::from(-1)),
        Just(Value::from(usize::MAX as u64 / 2)),
        Just(serde_json::json!([1_000_000_000_000u64, 16])),
        Just(serde_json::json!([16, 1_000_000_000_000u64])),
        Just(Value::String("e_word_count".into())),
        Just(Value::String("softmax".into())),
        Just(Value::String("maxout".into())),
        Just(serde_json::json!({"units": 1_000_000_000_000u64, "activation": "relu"})),
        Just(serde_json::json!({"kind": "maxout", "units": 8, "pieces": usize::MAX as u64})),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => edge_value().prop_map(Mutation::Replace),
        2 => json_value().prop_map(Mutation::Replace),
        1 => Just(Mutation::Remove),
        1 => (0usize..3).prop_map(Mutation::Truncate),
        1 => (1usize..4).prop_map(Mutation::Duplicate),
        2 => proptest::sample::select(&[1e-40, 1e10, 1e20, 3e38, -1e30][..]).prop_map(Mutation::Scale),
    ]
}

fn apply(root: &mut Value, place: &str, mutation: &Mutation) {
    let (parent_at, last) = place.rsplit_once('/').expect("a place starts with /");
    match mutation {
        Mutation::Replace(v) => {
            if let Some(slot) = root.pointer_mut(place) {
                *slot = v.clone();
            }
        }
        Mutation::Remove => match root.pointer_mut(parent_at) {
            Some(Value::Object(map)) => {
                map.remove(&last.replace("~1", "/").replace("~0", "~"));
            }
            Some(Value::Array(items)) => {
                if let Ok(i) = last.parse::<usize>() {
                    if i < items.len() {
                        items.remove(i);
                    }
                }
            }
            _ => {}
        },
        Mutation::Truncate(keep) => {
            if let Some(Value::Array(items)) = root.pointer_mut(place) {
                let keep = (*keep).min(items.len().saturating_sub(1));
                items.truncate(keep);
            }
        }
        Mutation::Scale(factor) => {
            if let Some(Value::Array(items)) = root.pointer_mut(place) {
                for item in items.iter_mut() {
                    if let Some(x) = item.as_f64() {
                        *item = Value::from(x * factor);
                    }
                }
            }
        }
        Mutation::Duplicate(times) => {
            if let Some(Value::Array(items)) = root.pointer_mut(place) {
                if let Some(first) = items.first().cloned() {
                    items.extend(std::iter::repeat_n(first, *times));
                }
            }
        }
    }
}

fn mutated_model() -> impl Strategy<Value = Vec<u8>> {
    let edit = (proptest::sample::select(PLACES.clone()), mutation());
    proptest::collection::vec(edit, 1..4).prop_map(|edits| {
        let mut value = VALID.clone();
        for (place, mutation) in &edits {
            apply(&mut value, place, mutation);
        }
        serde_json::to_vec(&value).expect("a Value serialises")
    })
}

fn damaged_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..1_000),
        (0..DEFAULT_MODEL.len()).prop_map(|n| DEFAULT_MODEL[..n].to_vec()),
        proptest::collection::vec((0..DEFAULT_MODEL.len(), any::<u8>()), 1..8).prop_map(|flips| {
            let mut bytes = DEFAULT_MODEL.to_vec();
            for (at, byte) in flips {
                bytes[at] = byte;
            }
            bytes
        }),
    ]
}

fn prompt() -> PreparedPrompt {
    // Written for these tests.
    PreparedPrompt::new(&Prompt {
        title: "Tides".into(),
        question: "Explain what causes the tides.".into(),
        text: "The moon pulls on the oceans. Where the pull is strongest the water bulges, \
               and as the earth turns each coast passes under two bulges a day."
            .into(),
    })
}

/// Loads the bytes; a refusal must say what is wrong, a model must grade.
fn load_then_grade(bytes: &[u8], essays: &[String]) -> Result<(), TestCaseError> {
    let model = match GraderModel::from_json(bytes) {
        Err(err) => {
            let message = err.to_string();
            prop_assert!(
                message.starts_with("the model"),
                "unclear refusal: {message}"
            );
            return Ok(());
        }
        Ok(model) => model,
    };
    let prompt = prompt();
    let items: Vec<(&PreparedPrompt, &str)> =
        essays.iter().map(|e| (&prompt, e.as_str())).collect();
    let grades = model.grade_batch_with(&items, Explain::Yes);
    prop_assert_eq!(grades.len(), essays.len());
    for grade in &grades {
        for (target, score) in &grade.scores.0 {
            prop_assert!(score.is_finite(), "{target} scored {score}");
        }
        for (target, p) in &grade.percentiles.0 {
            prop_assert!((0.0..=100.0).contains(p), "{target} at percentile {p}");
        }
        for effect in &grade.explanation {
            for (target, v) in &effect.effects.0 {
                prop_assert!(v.is_finite(), "{:?} on {target}: {v}", effect.concept);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(fuzz_config(24))]

    #[test]
    fn damaged_bytes_are_refused_with_a_clear_error_or_grade(bytes in damaged_bytes(), essay in any_text()) {
        load_then_grade(&bytes, &[essay])?;
    }

    #[test]
    fn a_mutated_model_is_refused_with_a_clear_error_or_grades(bytes in mutated_model(), essay in any_text()) {
        load_then_grade(&bytes, &[essay, "The moon pulls the water into two bulges.".into()])?;
    }
}

#[test]
fn the_built_in_model_loads_and_grades() {
    load_then_grade(DEFAULT_MODEL, &["The moon pulls the oceans.".into()]).unwrap();
}
