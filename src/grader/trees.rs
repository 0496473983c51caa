//! The gradient-boosted trees of a blended grader: fitting them (the
//! `forust-ml` booster, one squared-loss booster per target), flattening
//! them into the arrays the artifact stores, checking those arrays when a
//! model loads, and walking them when it grades.
//!
//! A stored booster is its base score plus, per node, the feature it splits
//! on, the threshold (a value below it goes left), the left, right and
//! missing-value children, and a leaf's output; `left == 0` marks a leaf
//! (node 0 is the first tree's root, never a child). Every child comes after
//! its parent, which loading checks, so a walk always ends. A missing value
//! must go to the left or the right child (as every tree trained here does:
//! features are never missing), and a tree may be at most
//! `MAX_TREE_DEPTH` levels deep, as training allows.
//!
//! Loading lays each tree out for grading as a complete binary tree in heap
//! order (see `Booster`): its splits in 8 bytes each, one cache line for a
//! tree of depth 3, and its leaves' outputs in another. A walk is then a
//! fixed number of steps, each an index computed from a comparison, with no
//! branch that depends on the essay: two cache lines and no mispredicted
//! jumps per tree, where a walk over the stored arrays touched three or four
//! lines and guessed each direction. Eight trees are walked side by side, so
//! that their loads overlap.
//!
//! Trees read the model's features as they are (no scaling: a split does not
//! care), straight from the catalogue vector grading extracts, so training
//! and grading see the same numbers to the last bit.
//!
//! For an explanation a concept is occluded through the trees exactly as
//! through the networks: its features set to their training means and the
//! trees walked again. Only a tree whose path for the essay reached a split
//! on one of the concept's features whose training mean goes the other way
//! can end in another leaf, so only those trees are walked again, from that
//! split on; a path of depth 3 has at most three such splits, and the whole
//! explanation costs the trees a few part-walks more than the score. (Path
//! attribution in one pass would be cheaper still, but it measures something
//! else: the change from the average prediction along the path, not the
//! change when the concept is at its mean, so the network's and the trees'
//! shares of one concept would not add up to the blended score's change.)

use forust_ml::{GradientBooster, Matrix, objective::ObjectiveType, sampler::SampleMethod};
use ndarray::{ArrayView2, ArrayViewMut2};
use serde::{Deserialize, Serialize};

use crate::features::Concept;
use crate::training::TreesConfig;
use crate::training::config::MAX_TREE_DEPTH;

use super::artifact::ModelError;

/// The most concepts an explanation occludes (a bit each in a path's mask).
const MAX_GROUPS: usize = Concept::ALL.len();

/// One target's booster as the artifact stores it: flattened node arrays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BoosterFile {
    /// Added to the sum of the trees' outputs.
    pub(super) base_score: f64,
    /// The root node of each tree.
    pub(super) roots: Vec<u32>,
    /// Per node, the model input it splits on (0 for a leaf).
    pub(super) feature: Vec<u32>,
    /// Per node, the split: an input below it goes left (0 for a leaf).
    pub(super) threshold: Vec<f64>,
    /// Per node, the left child; 0 for a leaf.
    pub(super) left: Vec<u32>,
    /// Per node, the right child (0 for a leaf).
    pub(super) right: Vec<u32>,
    /// Per node, where a missing (NaN) input goes (0 for a leaf).
    pub(super) missing: Vec<u32>,
    /// Per node, a leaf's output (learning rate applied; 0 for a split).
    pub(super) value: Vec<f64>,
}

/// The blend's part of the artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TreesFile {
    /// Per target, the network ensemble's weight `w` in [0, 1]; the trees
    /// get `1 − w`. Fitted on out-of-fold predictions inside the training
    /// prompts (`blend.rs`).
    pub(super) network_weight: Vec<f64>,
    /// One booster per target, in target order.
    pub(super) boosters: Vec<BoosterFile>,
}

/// A split as grading walks it: 8 bytes, so that the seven splits of a
/// tree of depth 3 share one cache line.
///
/// It keeps its threshold as the least f32 at or above the stored f64 one:
/// an f32 feature value lies below the one exactly when it lies below the
/// other, so every walk ends in the leaf the f64 threshold would give, and
/// predictions are the same to the last bit.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
struct Split {
    /// A value below it goes left.
    threshold: f32,
    /// Catalogue index of the feature split on.
    feature: u16,
    /// The concept group (explanation order) of the feature, or
    /// [`NO_GROUP`] for a split that leads to the same leaf both ways.
    group: u8,
    /// Bit 0: the feature's training mean goes left (occlusion); bit 1: a
    /// missing (NaN) value goes left.
    flags: u8,
}

const MEAN_LEFT: u8 = 1;
const MISSING_LEFT: u8 = 2;

/// The group of a padding split: a bit beyond every concept group's.
const NO_GROUP: u8 = 31;

const _: () = assert!(MAX_GROUPS < NO_GROUP as usize);

/// Eight splits, aligned to a cache line.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
struct SplitLine([Split; 8]);

/// Eight leaf outputs, aligned to a cache line.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
struct LeafLine([f64; 8]);

/// The least f32 whose value is at or above `threshold`: for every f32 `v`
/// (infinities and NaN included), `v < f32_threshold(t)` exactly when
/// `f64::from(v) < t`.
fn f32_threshold(threshold: f64) -> f32 {
    let rounded = threshold as f32;
    if f64::from(rounded) < threshold {
        rounded.next_up()
    } else {
        rounded
    }
}

/// Trees walked side by side: their walks do not depend on each other, so
/// written one step of each in turn, the processor overlaps their loads
/// instead of waiting on one tree's chain of them at a time.
const SIDE_BY_SIDE: usize = 8;

/// One target's booster, checked and laid out for walking.
///
/// Each tree is a complete binary tree of the booster's `height` in heap
/// order: split `i` has children `2i + 1` (left) and `2i + 2` (right), and
/// the `2^height` leaves follow the `2^height − 1` splits. A stored leaf
/// above the last level is spread over the leaves below it, under padding
/// splits that lead to it both ways, and so is every tree shallower than the
/// deepest; so every walk takes `height` steps with no branch on where it
/// stands. Tree `t`'s splits start at line `t · split_lines` of `splits`, its
/// leaves at line `t · leaf_lines` of `leaves`.
#[derive(Debug, Clone)]
struct Booster {
    base_score: f64,
    trees: usize,
    height: u32,
    split_lines: usize,
    leaf_lines: usize,
    splits: Vec<SplitLine>,
    leaves: Vec<LeafLine>,
    /// Per tree of one line of splits (depth 1 to 3), the masks an
    /// explanation walks with; empty for deeper trees.
    masks: Vec<TreeMasks>,
}

/// Bit i of each mask stands for split i of a tree of depth 1 to 3.
#[derive(Debug, Clone, Copy, Default)]
struct TreeMasks {
    /// The splits whose feature's training mean goes right.
    mean_right: u8,
    /// Per split, the splits on the same concept group (none for padding).
    same_group: [u8; 7],
}

impl Booster {
    /// Lays out the stored booster `b` (checked: children after their
    /// parents, every feature an input) whose node `i` splits on input
    /// `b.feature[i]`, read from the catalogue at `feature_idx`; `group_of`
    /// and `means` per input. Errors name the stored field at fault.
    fn lay_out(
        b: &BoosterFile,
        feature_idx: &[usize],
        group_of: &[u8],
        means: &[f32],
        at: &dyn Fn(&str) -> String,
    ) -> Result<Booster, ModelError> {
        let n = b.left.len();
        // Levels below each node; children come after their parents, so
        // backwards every child is done first.
        let mut below = vec![0u32; n];
        for i in (0..n).rev() {
            if b.left[i] != 0 {
                if b.missing[i] != b.left[i] && b.missing[i] != b.right[i] {
                    return Err(invalid(
                        at(&format!("missing[{i}]")),
                        "a missing value must go to the left or the right child",
                    ));
                }
                below[i] = 1 + below[b.left[i] as usize].max(below[b.right[i] as usize]);
            }
        }
        let mut height = 0;
        for &root in &b.roots {
            let h = below[root as usize];
            if h as usize > MAX_TREE_DEPTH {
                return Err(invalid(
                    at("roots"),
                    format!(
                        "the tree at node {root} is {h} levels deep; at most {MAX_TREE_DEPTH} are allowed"
                    ),
                ));
            }
            height = height.max(h);
        }
        let splits = (1usize << height) - 1;
        let (split_lines, leaf_lines) = (splits.div_ceil(8), (1usize << height).div_ceil(8));
        let trees = b.roots.len();
        let mut booster = Booster {
            base_score: b.base_score,
            trees,
            height,
            split_lines,
            leaf_lines,
            splits: vec![SplitLine::default(); trees * split_lines],
            leaves: vec![LeafLine::default(); trees * leaf_lines],
            masks: Vec::new(),
        };
        for (t, &root) in b.roots.iter().enumerate() {
            // (stored node, heap position) pairs still to place.
            let mut pending = vec![(root as usize, 0usize)];
            while let Some((node, pos)) = pending.pop() {
                if pos >= splits {
                    let leaf = pos - splits;
                    booster.leaves[t * leaf_lines + leaf / 8].0[leaf % 8] = b.value[node];
                    continue;
                }
                let split = &mut booster.splits[t * split_lines + pos / 8].0[pos % 8];
                if b.left[node] == 0 {
                    // A leaf above the last level: a padding split.
                    *split = Split {
                        threshold: 0.0,
                        feature: 0,
                        group: NO_GROUP,
                        flags: 0,
                    };
                    pending.push((node, 2 * pos + 1));
                    pending.push((node, 2 * pos + 2));
                    continue;
                }
                let j = b.feature[node] as usize;
                let threshold = b.threshold[node];
                let mut flags = 0;
                if f64::from(means[j]) < threshold {
                    flags |= MEAN_LEFT;
                }
                if b.missing[node] == b.left[node] {
                    flags |= MISSING_LEFT;
                }
                *split = Split {
                    threshold: f32_threshold(threshold),
                    feature: u16::try_from(feature_idx[j])
                        .expect("the catalogue has fewer than 65,536 features"),
                    group: group_of[j],
                    flags,
                };
                pending.push((b.left[node] as usize, 2 * pos + 1));
                pending.push((b.right[node] as usize, 2 * pos + 2));
            }
        }
        if split_lines == 1 {
            booster.masks = booster
                .splits
                .iter()
                .map(|line| {
                    let mut masks = TreeMasks::default();
                    for (i, s) in line.0.iter().enumerate().take(splits) {
                        masks.mean_right |= u8::from(s.flags & MEAN_LEFT == 0) << i;
                        for (j, other) in line.0.iter().enumerate().take(splits) {
                            if s.group != NO_GROUP && other.group == s.group {
                                masks.same_group[i] |= 1 << j;
                            }
                        }
                    }
                    masks
                })
                .collect();
        }
        Ok(booster)
    }

    /// Split `i` (heap order) of tree `t`.
    #[inline(always)]
    fn split(&self, t: usize, i: usize) -> &Split {
        &self.splits[t * self.split_lines + i / 8].0[i % 8]
    }

    /// The output of leaf `i` (a heap position past the splits) of tree `t`.
    #[inline(always)]
    fn leaf_value(&self, t: usize, i: usize) -> f64 {
        let leaf = i + 1 - (1usize << self.height);
        self.leaves[t * self.leaf_lines + leaf / 8].0[leaf % 8]
    }

    /// Whether split `s` sends `values` right; with `NAN`, a missing value
    /// goes where the split says (without, `values` holds none).
    #[inline(always)]
    fn goes_right<const NAN: bool>(s: &Split, values: &[f32]) -> bool {
        let v = values[usize::from(s.feature)];
        if NAN && v.is_nan() {
            s.flags & MISSING_LEFT == 0
        } else {
            !(v < s.threshold)
        }
    }

    /// The leaves (heap positions past the splits) that `values` reaches in
    /// the trees `first..first + N`, walked side by side. With
    /// `OCCLUSION`, also per tree the concept groups whose training means
    /// would have sent the walk the other way at some split (only those can
    /// end in another leaf when occluded) and, per group, the first such
    /// split.
    #[inline(always)]
    fn walk<const NAN: bool, const OCCLUSION: bool, const N: usize>(
        &self,
        first: usize,
        values: &[f32],
        diverging: &mut [u32; N],
        first_split: &mut [[u8; 32]; N],
    ) -> [usize; N] {
        let mut at = [0usize; N];
        for _ in 0..self.height {
            for k in 0..N {
                let i = at[k];
                let s = self.split(first + k, i);
                let right = Self::goes_right::<NAN>(s, values);
                if OCCLUSION {
                    let mean_right = s.flags & MEAN_LEFT == 0;
                    let bit = u32::from(right != mean_right) << s.group;
                    // The first split of a group that diverges is kept.
                    if bit & !diverging[k] != 0 {
                        first_split[k][usize::from(s.group)] = i as u8;
                    }
                    diverging[k] |= bit;
                }
                at[k] = 2 * i + 1 + usize::from(right);
            }
        }
        if OCCLUSION {
            for d in diverging.iter_mut() {
                *d &= !(1 << NO_GROUP);
            }
        }
        at
    }

    /// The leaf reached in tree `t` with the features of concept group
    /// `group` at their training means, given that the walk with the actual
    /// values first parts from that one at split `from`: the two are the
    /// same walk up to there, and from there on every split on the group
    /// goes the way of its mean.
    #[inline(always)]
    fn walk_occluded<const NAN: bool>(
        &self,
        t: usize,
        values: &[f32],
        group: u8,
        from: usize,
    ) -> usize {
        let mut i = from;
        for _ in (from + 1).ilog2()..self.height {
            let s = self.split(t, i);
            let right = if s.group == group {
                s.flags & MEAN_LEFT == 0
            } else {
                Self::goes_right::<NAN>(s, values)
            };
            i = 2 * i + 1 + usize::from(right);
        }
        i
    }

    /// The booster's output for catalogue vector `values` (`out[0]`) and,
    /// for each of the first `groups` concept groups g, its output with that
    /// group occluded (`out[1 + g]`).
    fn predict_occlusions(&self, values: &[f32], groups: usize, out: &mut [f64]) {
        // Features are never NaN; a NaN anywhere takes the slower walk.
        let nan = values.iter().fold(false, |nan, v| nan | v.is_nan());
        if self.split_lines == 1 {
            // Trees of depth 1 to 3: a tree's splits are one line.
            match (nan, groups) {
                (false, 0) => self.predict_small::<false>(values, out),
                (false, _) => self.occlusions_small::<false>(values, groups, out),
                (true, 0) => self.predict_small::<true>(values, out),
                (true, _) => self.occlusions_small::<true>(values, groups, out),
            }
            return;
        }
        match (nan, groups) {
            (false, 0) => self.predict_with::<false, false>(values, groups, out),
            (false, _) => self.predict_with::<false, true>(values, groups, out),
            (true, 0) => self.predict_with::<true, false>(values, groups, out),
            (true, _) => self.predict_with::<true, true>(values, groups, out),
        }
    }

    /// [`Self::predict_occlusions`] without groups for trees whose splits
    /// are one line (depth 1 to 3): the same walks, side by side, each split
    /// found in its tree's line without further arithmetic.
    #[inline(always)]
    fn predict_small<const NAN: bool>(&self, values: &[f32], out: &mut [f64]) {
        let mut total = self.base_score;
        let leaf_base = (1usize << self.height) - 1;
        let mut trees = self.splits.chunks_exact(SIDE_BY_SIDE);
        let mut first = 0;
        for lines in &mut trees {
            let mut at = [0usize; SIDE_BY_SIDE];
            for _ in 0..self.height {
                for (i, line) in at.iter_mut().zip(lines) {
                    let right = Self::goes_right::<NAN>(&line.0[*i & 7], values);
                    *i = 2 * *i + 1 + usize::from(right);
                }
            }
            for (k, &i) in at.iter().enumerate() {
                total += self.leaves[first + k].0[(i - leaf_base) & 7];
            }
            first += SIDE_BY_SIDE;
        }
        for (k, line) in trees.remainder().iter().enumerate() {
            let mut i = 0;
            for _ in 0..self.height {
                i = 2 * i + 1 + usize::from(Self::goes_right::<NAN>(&line.0[i & 7], values));
            }
            total += self.leaves[first + k].0[(i - leaf_base) & 7];
        }
        out[0] = total;
    }

    /// [`Self::predict_occlusions`] with groups for trees whose splits are
    /// one line (depth 1 to 3). Every split's direction is found first, as
    /// bits of one byte (the comparisons do not depend on each other); a
    /// walk, actual or occluded, is then arithmetic on those bits. Group g
    /// occluded: the splits on g go the way of their means, the others as
    /// the essay's values send them; only a group whose mean goes the other
    /// way at a split on the essay's path can end in another leaf.
    #[inline(always)]
    fn occlusions_small<const NAN: bool>(&self, values: &[f32], groups: usize, out: &mut [f64]) {
        let mut total = self.base_score;
        out[1..=groups].fill(0.0);
        let leaf_base = (1usize << self.height) - 1;
        let walk = |directions: u32| {
            let mut i = 0;
            for _ in 0..self.height {
                i = 2 * i + 1 + ((directions >> (i & 7)) & 1) as usize;
            }
            i - leaf_base
        };
        for ((line, masks), leaves) in self.splits.iter().zip(&self.masks).zip(&self.leaves) {
            let mut right = 0u32;
            for (i, s) in line.0.iter().enumerate().take(leaf_base) {
                right |= u32::from(Self::goes_right::<NAN>(s, values)) << i;
            }
            let leaf = walk(right);
            let value = leaves.0[leaf & 7];
            total += value;
            // The splits on the essay's path where the mean goes elsewhere.
            let mut path = 0u32;
            let mut i = 0;
            for _ in 0..self.height {
                path |= 1 << (i & 7);
                i = 2 * i + 1 + ((right >> (i & 7)) & 1) as usize;
            }
            let mean_right = u32::from(masks.mean_right);
            let mut diverging = path & (right ^ mean_right);
            while diverging != 0 {
                let split = diverging.trailing_zeros() as usize & 7;
                let on_group = u32::from(masks.same_group[split.min(6)]);
                // The group's other diverging splits give the same walk; a
                // padding split (on no group) leads to one leaf either way.
                diverging &= !on_group & (diverging - 1);
                if on_group == 0 {
                    continue;
                }
                let other = walk((right & !on_group) | (mean_right & on_group));
                let g = line.0[split].group;
                out[1 + g as usize] += leaves.0[other & 7] - value;
            }
        }
        out[0] = total;
        for o in &mut out[1..=groups] {
            *o += total;
        }
    }

    #[inline(always)]
    fn predict_with<const NAN: bool, const OCCLUSION: bool>(
        &self,
        values: &[f32],
        groups: usize,
        out: &mut [f64],
    ) {
        let mut total = self.base_score;
        if OCCLUSION {
            out[1..=groups].fill(0.0);
        }
        let mut first = 0;
        while first + SIDE_BY_SIDE <= self.trees {
            self.predict_trees::<NAN, OCCLUSION, SIDE_BY_SIDE>(first, values, &mut total, out);
            first += SIDE_BY_SIDE;
        }
        while first < self.trees {
            self.predict_trees::<NAN, OCCLUSION, 1>(first, values, &mut total, out);
            first += 1;
        }
        out[0] = total;
        if OCCLUSION {
            for o in &mut out[1..=groups] {
                *o += total;
            }
        }
    }

    /// Adds the outputs of trees `first..first + N`, in order, to `total`
    /// and, with `OCCLUSION`, each occluded group's change to `out[1 + g]`.
    #[inline(always)]
    fn predict_trees<const NAN: bool, const OCCLUSION: bool, const N: usize>(
        &self,
        first: usize,
        values: &[f32],
        total: &mut f64,
        out: &mut [f64],
    ) {
        let mut diverging = [0u32; N];
        let mut first_split = [[0u8; 32]; N];
        let leaves =
            self.walk::<NAN, OCCLUSION, N>(first, values, &mut diverging, &mut first_split);
        for k in 0..N {
            let t = first + k;
            let value = self.leaf_value(t, leaves[k]);
            *total += value;
            if OCCLUSION {
                // A group that would not send the walk elsewhere ends in the
                // same leaf and adds 0 to its row, which changes no sum.
                let mut groups = diverging[k];
                while groups != 0 {
                    let g = groups.trailing_zeros() as u8;
                    groups &= groups - 1;
                    let from = usize::from(first_split[k][usize::from(g)]);
                    let other = self.walk_occluded::<NAN>(t, values, g, from);
                    out[1 + g as usize] += self.leaf_value(t, other) - value;
                }
            }
        }
    }
}

/// The trees of a blended model, and the blend's weights.
#[derive(Debug, Clone)]
pub(super) struct Trees {
    network_weight: Vec<f64>,
    boosters: Vec<Booster>,
}

fn invalid(parameter: String, message: impl Into<String>) -> ModelError {
    ModelError::Invalid {
        parameter,
        message: message.into(),
    }
}

impl Trees {
    /// Checks the stored trees of a model with `targets` targets whose inputs
    /// are the catalogue features `feature_idx`, in concept groups
    /// `group_of` (per input), with training means `means` (per input).
    pub(super) fn load(
        file: &TreesFile,
        targets: usize,
        feature_idx: &[usize],
        group_of: &[u8],
        means: &[f32],
    ) -> Result<Trees, ModelError> {
        let shape = |parameter: String, expected: usize, got: usize| {
            if expected == got {
                Ok(())
            } else {
                Err(ModelError::Shape {
                    parameter,
                    expected,
                    got,
                })
            }
        };
        shape(
            "trees.network_weight".into(),
            targets,
            file.network_weight.len(),
        )?;
        if let Some(w) = file
            .network_weight
            .iter()
            .find(|w| !(0.0..=1.0).contains(*w))
        {
            return Err(invalid(
                "trees.network_weight".into(),
                format!("a weight must be in [0, 1], not {w}"),
            ));
        }
        shape("trees.boosters".into(), targets, file.boosters.len())?;
        let mut boosters = Vec::with_capacity(targets);
        for (t, b) in file.boosters.iter().enumerate() {
            let at = |field: &str| format!("trees.boosters[{t}].{field}");
            let n = b.left.len();
            for (field, len) in [
                ("feature", b.feature.len()),
                ("threshold", b.threshold.len()),
                ("right", b.right.len()),
                ("missing", b.missing.len()),
                ("value", b.value.len()),
            ] {
                shape(at(field), n, len)?;
            }
            if !b.base_score.is_finite() {
                return Err(invalid(at("base_score"), "must be a finite number"));
            }
            if b.roots.is_empty() {
                return Err(invalid(at("roots"), "the booster has no tree"));
            }
            if let Some(r) = b.roots.iter().find(|&&r| r as usize >= n) {
                return Err(invalid(
                    at("roots"),
                    format!("root {r} is not one of the {n} nodes"),
                ));
            }
            for i in 0..n {
                if b.left[i] == 0 {
                    if !b.value[i].is_finite() {
                        return Err(invalid(
                            at(&format!("value[{i}]")),
                            "a leaf's output must be a finite number",
                        ));
                    }
                    continue;
                }
                for (field, child) in [
                    ("left", b.left[i]),
                    ("right", b.right[i]),
                    ("missing", b.missing[i]),
                ] {
                    let c = child as usize;
                    if c <= i || c >= n {
                        return Err(invalid(
                            at(&format!("{field}[{i}]")),
                            format!("child {c} must be a later node, below {n}"),
                        ));
                    }
                }
                let j = b.feature[i] as usize;
                if j >= feature_idx.len() {
                    return Err(invalid(
                        at(&format!("feature[{i}]")),
                        format!(
                            "input {j} does not exist; the model has {}",
                            feature_idx.len()
                        ),
                    ));
                }
                if b.threshold[i].is_nan() {
                    return Err(invalid(
                        at(&format!("threshold[{i}]")),
                        "a split must be a number",
                    ));
                }
            }
            boosters.push(Booster::lay_out(b, feature_idx, group_of, means, &at)?);
        }
        Ok(Trees {
            network_weight: file.network_weight.clone(),
            boosters,
        })
    }

    /// Blends the trees into one essay's block of network scores (target
    /// scale): row 0 is the essay, row `1 + g` (if present) the essay with
    /// concept group g occluded. Each becomes `w·network + (1 − w)·trees`.
    pub(super) fn blend_into(&self, values: &[f32], mut block: ArrayViewMut2<f64>) {
        let groups = block.nrows() - 1;
        debug_assert!(groups <= MAX_GROUPS);
        let mut tree_rows = [0.0; MAX_GROUPS + 1];
        for (t, (booster, &w)) in self.boosters.iter().zip(&self.network_weight).enumerate() {
            booster.predict_occlusions(values, groups, &mut tree_rows);
            for (r, &tree) in tree_rows[..=groups].iter().enumerate() {
                let net = block[[r, t]];
                block[[r, t]] = w * net + (1.0 - w) * tree;
            }
        }
    }

    /// The trees' own predictions for catalogue vectors (rows), target scale.
    pub(super) fn predict(&self, catalogue_rows: ArrayView2<f32>) -> ndarray::Array2<f64> {
        let mut out = ndarray::Array2::zeros((catalogue_rows.nrows(), self.boosters.len()));
        let mut one = [0.0; 1];
        for (r, row) in catalogue_rows.rows().into_iter().enumerate() {
            let values = row.to_slice().expect("feature rows are contiguous");
            for (t, b) in self.boosters.iter().enumerate() {
                b.predict_occlusions(values, 0, &mut one);
                out[[r, t]] = one[0];
            }
        }
        out
    }

    /// Per target, the network ensemble's weight in the blend.
    pub(super) fn network_weight(&self) -> &[f64] {
        &self.network_weight
    }
}

/// Flattens one fitted booster.
fn flatten(booster: &GradientBooster) -> BoosterFile {
    let mut file = BoosterFile {
        base_score: booster.base_score,
        roots: Vec::with_capacity(booster.trees.len()),
        feature: Vec::new(),
        threshold: Vec::new(),
        left: Vec::new(),
        right: Vec::new(),
        missing: Vec::new(),
        value: Vec::new(),
    };
    for tree in &booster.trees {
        let offset = file.left.len() as u32;
        file.roots.push(offset);
        for node in &tree.nodes {
            if node.is_leaf {
                file.feature.push(0);
                file.threshold.push(0.0);
                file.left.push(0);
                file.right.push(0);
                file.missing.push(0);
                file.value.push(f64::from(node.weight_value));
            } else {
                file.feature.push(node.split_feature as u32);
                file.threshold.push(node.split_value);
                file.left.push(offset + node.left_child as u32);
                file.right.push(offset + node.right_child as u32);
                file.missing.push(offset + node.missing_node as u32);
                file.value.push(0.0);
            }
        }
    }
    file
}

/// How a booster samples its rows for each tree: at random when `subsample`
/// is below 1. forust's default samples none, whatever `subsample` says.
pub(crate) fn row_sampling(subsample: f32) -> SampleMethod {
    if subsample < 1.0 {
        SampleMethod::Random
    } else {
        SampleMethod::None
    }
}

/// Fits one booster per column of `y` on the model inputs `x` (rows ×
/// inputs, raw values), booster `t` seeded `seed + t`, and returns them
/// flattened. Errors are the booster's own message.
pub(super) fn fit_boosters(
    x: ArrayView2<f32>,
    y: ArrayView2<f64>,
    config: &TreesConfig,
    seed: u64,
) -> Result<Vec<BoosterFile>, String> {
    if x.nrows() == 0 || x.nrows() != y.nrows() {
        return Err(format!(
            "the trees need as many target rows as feature rows (≥ 1): {} and {}",
            x.nrows(),
            y.nrows()
        ));
    }
    // forust reads column-major data.
    let data: Vec<f64> = x.t().iter().map(|&v| f64::from(v)).collect();
    let matrix = Matrix::new(&data, x.nrows(), x.ncols());
    let mut out = Vec::with_capacity(y.ncols());
    for t in 0..y.ncols() {
        let target: Vec<f64> = y.column(t).to_vec();
        let mut booster = GradientBooster::default()
            .set_objective_type(ObjectiveType::SquaredLoss)
            .set_iterations(config.iterations)
            .set_learning_rate(config.learning_rate)
            .set_max_depth(config.max_depth)
            .set_l2(config.l2)
            .set_min_leaf_weight(config.min_leaf_weight)
            .set_subsample(config.subsample)
            .set_sample_method(row_sampling(config.subsample))
            .set_colsample_bytree(config.colsample_bytree)
            .set_nbins(config.nbins)
            .set_seed(seed.wrapping_add(t as u64))
            .set_parallel(false);
        booster
            .fit_unweighted(&matrix, &target, None)
            .map_err(|e| format!("target {t}: {e}"))?;
        out.push(flatten(&booster));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// A step in column 0 plus noise in column 1; inputs are catalogue
    /// positions 0 and 1 (identity), concept groups 0 and 1.
    fn step_data() -> (Array2<f32>, Array2<f64>) {
        let n = 200;
        let x = Array2::from_shape_fn((n, 2), |(i, j)| {
            if j == 0 {
                i as f32 / n as f32
            } else {
                ((i * 7) % 13) as f32
            }
        });
        let y = Array2::from_shape_fn((n, 2), |(i, t)| {
            let s = if x[[i, 0]] > 0.5 { 1.0 } else { -1.0 };
            s * (t + 1) as f64 + f64::from(x[[i, 1]]) * 0.01
        });
        (x, y)
    }

    fn config() -> TreesConfig {
        TreesConfig {
            iterations: 30,
            min_leaf_weight: 1.0,
            ..TreesConfig::default()
        }
    }

    fn loaded(files: Vec<BoosterFile>, weights: Vec<f64>) -> Result<Trees, ModelError> {
        let file = TreesFile {
            network_weight: weights,
            boosters: files,
        };
        Trees::load(&file, 2, &[0, 1], &[0, 1], &[0.5, 6.0])
    }

    #[test]
    fn subsample_below_one_samples_rows_and_one_uses_them_all() {
        let (x, y) = step_data();
        let every_column = |subsample: f32| TreesConfig {
            subsample,
            colsample_bytree: 1.0,
            ..config()
        };
        let fit =
            |cfg: &TreesConfig, seed: u64| fit_boosters(x.view(), y.view(), cfg, seed).unwrap();
        // With every row and every column there is nothing to draw: the seed
        // cannot matter.
        assert_eq!(fit(&every_column(1.0), 7), fit(&every_column(1.0), 8));
        // Half the rows: the trees change, and so with the seed.
        assert_ne!(fit(&every_column(0.5), 7), fit(&every_column(1.0), 7));
        assert_ne!(fit(&every_column(0.5), 7), fit(&every_column(0.5), 8));
    }

    #[test]
    fn flattened_trees_predict_exactly_what_the_booster_predicts() {
        let (x, y) = step_data();
        let cfg = config();
        let trees = loaded(
            fit_boosters(x.view(), y.view(), &cfg, 7).unwrap(),
            vec![0.5; 2],
        )
        .unwrap();
        let ours = trees.predict(x.view());
        let data: Vec<f64> = x.t().iter().map(|&v| f64::from(v)).collect();
        let matrix = Matrix::new(&data, x.nrows(), 2);
        for t in 0..2 {
            let mut booster = GradientBooster::default()
                .set_objective_type(ObjectiveType::SquaredLoss)
                .set_iterations(cfg.iterations)
                .set_learning_rate(cfg.learning_rate)
                .set_max_depth(cfg.max_depth)
                .set_l2(cfg.l2)
                .set_min_leaf_weight(cfg.min_leaf_weight)
                .set_subsample(cfg.subsample)
                .set_sample_method(row_sampling(cfg.subsample))
                .set_colsample_bytree(cfg.colsample_bytree)
                .set_nbins(cfg.nbins)
                .set_seed(7 + t as u64)
                .set_parallel(false);
            booster
                .fit_unweighted(&matrix, &y.column(t).to_vec(), None)
                .unwrap();
            let theirs = booster.predict(&matrix, false);
            for (r, v) in theirs.iter().enumerate() {
                assert!(
                    (ours[[r, t]] - v).abs() < 1e-12,
                    "row {r}: {} vs {v}",
                    ours[[r, t]]
                );
            }
        }
        // And they learnt the step.
        let rmse = ((&ours.column(0) - &y.column(0))
            .mapv(|d| d * d)
            .mean()
            .unwrap())
        .sqrt();
        assert!(rmse < 0.2, "rmse {rmse}");
    }

    #[test]
    fn an_occluded_walk_equals_a_walk_with_the_concept_at_its_mean() {
        let (x, y) = step_data();
        let trees = loaded(
            fit_boosters(x.view(), y.view(), &config(), 1).unwrap(),
            vec![0.0; 2],
        )
        .unwrap();
        let means = [0.5f32, 6.0];
        for r in [3, 60, 150, 199] {
            let values = [x[[r, 0]], x[[r, 1]]];
            let mut block = Array2::zeros((3, 2));
            trees.blend_into(&values, block.view_mut());
            for g in 0..2 {
                let mut at_mean = values;
                at_mean[g] = means[g];
                let by_hand = trees.predict(
                    Array2::from_shape_vec((1, 2), at_mean.to_vec())
                        .unwrap()
                        .view(),
                );
                for t in 0..2 {
                    assert!(
                        (block[[1 + g, t]] - by_hand[[0, t]]).abs() < 1e-9,
                        "row {r} group {g} target {t}"
                    );
                }
            }
            let plain = trees.predict(
                Array2::from_shape_vec((1, 2), values.to_vec())
                    .unwrap()
                    .view(),
            );
            assert_eq!(block.row(0), plain.row(0));
        }
    }

    #[test]
    fn the_blend_weighs_the_network_rows_against_the_trees() {
        let (x, y) = step_data();
        let trees = loaded(
            fit_boosters(x.view(), y.view(), &config(), 1).unwrap(),
            vec![0.25, 1.0],
        )
        .unwrap();
        let values = [x[[10, 0]], x[[10, 1]]];
        let own = trees.predict(
            Array2::from_shape_vec((1, 2), values.to_vec())
                .unwrap()
                .view(),
        );
        let mut block = Array2::from_elem((1, 2), 4.0);
        trees.blend_into(&values, block.view_mut());
        assert!((block[[0, 0]] - (0.25 * 4.0 + 0.75 * own[[0, 0]])).abs() < 1e-12);
        assert_eq!(block[[0, 1]], 4.0, "weight 1 is the network alone");
    }

    #[test]
    fn an_f32_threshold_sends_every_f32_value_the_way_the_f64_one_does() {
        let thresholds = [
            0.1,
            -0.1,
            1.0 / 3.0,
            0.5,
            0.0,
            -0.0,
            1e-45,
            -1e-45,
            f64::from(f32::MAX),
            3.5e38,
            -3.5e38,
            1e300,
            -1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::from(f32::MIN_POSITIVE) * 0.75,
        ];
        for t in thresholds {
            let near = t as f32;
            let mut values = vec![f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 0.0, -0.0];
            let mut v = near;
            for _ in 0..4 {
                v = v.next_down();
            }
            for _ in 0..9 {
                values.push(v);
                v = v.next_up();
            }
            for v in values {
                assert_eq!(
                    v < f32_threshold(t),
                    f64::from(v) < t,
                    "value {v:e}, threshold {t:e}"
                );
            }
        }
    }

    /// Walks a stored booster as the file says, in f64, from the root: the
    /// leaf's output, with `occluded` inputs at `means`.
    fn walk_file(b: &BoosterFile, root: u32, x: &[f32], occluded: Option<(usize, f32)>) -> f64 {
        let mut i = root as usize;
        while b.left[i] != 0 {
            let j = b.feature[i] as usize;
            let v = match occluded {
                Some((o, mean)) if o == j => mean,
                _ => x[j],
            };
            i = if f64::from(v) < b.threshold[i] {
                b.left[i]
            } else if v.is_nan() {
                b.missing[i]
            } else {
                b.right[i]
            } as usize;
        }
        b.value[i]
    }

    #[test]
    fn compact_walks_end_in_the_leaves_the_stored_f64_splits_give() {
        // Depth 3 (a tree's splits in one line) and deeper.
        for max_depth in [3, 6] {
            compact_walks_of_trees_of_depth(max_depth);
        }
    }

    fn compact_walks_of_trees_of_depth(max_depth: usize) {
        let (x, y) = step_data();
        let config = TreesConfig {
            max_depth,
            ..config()
        };
        let files = fit_boosters(x.view(), y.view(), &config, 3).unwrap();
        let trees = loaded(files.clone(), vec![0.0; 2]).unwrap();
        assert_eq!(trees.boosters[0].split_lines > 1, max_depth > 3);
        let means = [0.5f32, 6.0];
        // The training rows, and values on and next to every threshold.
        let mut rows: Vec<[f32; 2]> = x.rows().into_iter().map(|r| [r[0], r[1]]).collect();
        for b in &files {
            for (i, &t) in b.threshold.iter().enumerate() {
                if b.left[i] != 0 {
                    let j = b.feature[i] as usize;
                    for v in [(t as f32).next_down(), t as f32, (t as f32).next_up()] {
                        let mut row = [x[[7, 0]], x[[7, 1]]];
                        row[j] = v;
                        rows.push(row);
                    }
                }
            }
        }
        // A missing value in either input, or both.
        rows.extend([[f32::NAN, 3.0], [0.7, f32::NAN], [f32::NAN, f32::NAN]]);
        for row in rows {
            let mut block = Array2::zeros((3, 2));
            trees.blend_into(&row, block.view_mut());
            for (t, b) in files.iter().enumerate() {
                let leaves: Vec<f64> = b
                    .roots
                    .iter()
                    .map(|&r| walk_file(b, r, &row, None))
                    .collect();
                let total = leaves.iter().fold(b.base_score, |s, v| s + v);
                assert_eq!(block[[0, t]].to_bits(), total.to_bits(), "{row:?}");
                for g in 0..2 {
                    let change = b.roots.iter().zip(&leaves).fold(0.0, |s, (&r, &leaf)| {
                        s + (walk_file(b, r, &row, Some((g, means[g]))) - leaf)
                    });
                    assert_eq!(
                        block[[1 + g, t]].to_bits(),
                        (change + total).to_bits(),
                        "{row:?}, group {g}"
                    );
                }
            }
        }
    }

    /// One booster by hand: a tree whose left child is a leaf (padded to
    /// the second level), whose right split sends a missing value left; and
    /// a tree that is a single leaf.
    fn uneven_booster() -> BoosterFile {
        BoosterFile {
            base_score: 0.5,
            roots: vec![0, 5],
            feature: vec![0, 0, 1, 0, 0, 0],
            threshold: vec![0.5, 0.0, 3.0, 0.0, 0.0, 0.0],
            left: vec![1, 0, 3, 0, 0, 0],
            right: vec![2, 0, 4, 0, 0, 0],
            missing: vec![2, 0, 3, 0, 0, 0],
            value: vec![0.0, 1.0, 0.0, 2.0, 3.0, 0.25],
        }
    }

    #[test]
    fn uneven_trees_single_leaves_and_missing_values_walk_as_stored() {
        let file = uneven_booster();
        let trees = loaded(vec![file.clone(), file.clone()], vec![0.0; 2]).unwrap();
        let means = [0.5f32, 6.0];
        for row in [
            [0.2f32, 9.0],
            // Below the padding split's threshold of 0 as well.
            [-1.0, 9.0],
            [0.9, 1.0],
            [0.9, 5.0],
            [f32::NAN, 1.0],
            [0.9, f32::NAN],
            [0.5, 3.0],
        ] {
            let mut block = Array2::zeros((3, 2));
            trees.blend_into(&row, block.view_mut());
            let leaves: Vec<f64> = file
                .roots
                .iter()
                .map(|&r| walk_file(&file, r, &row, None))
                .collect();
            let total = leaves.iter().fold(file.base_score, |s, v| s + v);
            assert_eq!(block[[0, 0]], total, "{row:?}");
            for g in 0..2 {
                let occluded: f64 = file
                    .roots
                    .iter()
                    .map(|&r| walk_file(&file, r, &row, Some((g, means[g]))))
                    .fold(file.base_score, |s, v| s + v);
                assert_eq!(block[[1 + g, 0]], occluded, "{row:?}, group {g}");
            }
        }
        // By hand: 0.5 + (1.0 or 2.0 or 3.0) + 0.25.
        let mut block = Array2::zeros((1, 2));
        trees.blend_into(&[0.9, 5.0], block.view_mut());
        assert_eq!(block[[0, 0]], 3.75);
        trees.blend_into(&[0.9, f32::NAN], block.view_mut());
        assert_eq!(block[[0, 0]], 2.75, "a missing value goes left here");
    }

    #[test]
    fn a_third_child_for_missing_values_or_a_tree_too_deep_is_refused() {
        let err = |file: BoosterFile| {
            loaded(vec![file.clone(), file], vec![0.5; 2])
                .unwrap_err()
                .to_string()
        };
        let mut third_child = uneven_booster();
        third_child.missing[0] = 3;
        let msg = err(third_child);
        assert!(
            msg.contains("trees.boosters[0].missing[0]") && msg.contains("left or the right child"),
            "{msg}"
        );
        // A chain of nine splits: split 2i has the leaf 2i + 1 on its left
        // and the next split on its right; the last right child is a leaf.
        let splits = 9;
        let mut deep = BoosterFile {
            base_score: 0.0,
            roots: vec![0],
            feature: vec![0; 2 * splits + 1],
            threshold: (0..=2 * splits).map(|i| i as f64 * 0.1).collect(),
            left: Vec::new(),
            right: Vec::new(),
            missing: Vec::new(),
            value: vec![1.0; 2 * splits + 1],
        };
        for i in 0..splits as u32 {
            deep.left.extend([2 * i + 1, 0]);
            deep.right.extend([2 * i + 2, 0]);
            deep.missing.extend([2 * i + 1, 0]);
        }
        deep.left.push(0);
        deep.right.push(0);
        deep.missing.push(0);
        let msg = err(deep);
        assert!(msg.contains("is 9 levels deep; at most 8"), "{msg}");
    }

    #[test]
    fn broken_trees_are_refused_with_the_parameter_named() {
        let (x, y) = step_data();
        let good = fit_boosters(x.view(), y.view(), &config(), 1).unwrap();
        let err = |edit: &dyn Fn(&mut Vec<BoosterFile>, &mut Vec<f64>)| {
            let (mut files, mut weights) = (good.clone(), vec![0.5; 2]);
            edit(&mut files, &mut weights);
            loaded(files, weights).unwrap_err().to_string()
        };
        assert_eq!(
            err(&|_, w| w[1] = 1.5),
            "the model's trees.network_weight is invalid: a weight must be in [0, 1], not 1.5"
        );
        assert_eq!(
            err(&|f, _| {
                f.pop();
            }),
            "the model's trees.boosters has 1 values; expected 2"
        );
        // A split after the first root (left 0 would make it a leaf).
        let split = (1..good[0].left.len())
            .find(|&i| good[0].left[i] != 0)
            .unwrap();
        let msg = err(&|f, _| f[0].left[split] = split as u32);
        assert!(
            msg.contains(&format!("trees.boosters[0].left[{split}]")) && msg.contains("later node"),
            "{msg}"
        );
        let msg = err(&|f, _| f[0].feature[split] = 9);
        assert!(msg.contains("does not exist; the model has 2"), "{msg}");
        let msg = err(&|f, _| {
            f[0].value.pop();
        });
        assert!(
            msg.starts_with("the model's trees.boosters[0].value has"),
            "{msg}"
        );
        let leaf = good[1].left.iter().position(|&l| l == 0).unwrap();
        let msg = err(&|f, _| f[1].value[leaf] = f64::INFINITY);
        assert!(
            msg.contains("a leaf's output must be a finite number"),
            "{msg}"
        );
    }
}
