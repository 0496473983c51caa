//! The small cosine products of the meaning features, without a matrix
//! library: each essay row's best cosine over a set of unit vectors, and
//! each vector's best over the rows. The rows are the essay's (its
//! sentences, its words: a few dozen per essay); the vectors are the
//! prompt's (its sentences, its keywords), stored once per prompt in
//! [`Lanes`], eight vectors to a block, component by component, so that one
//! vector instruction advances eight dot products by one component.
//!
//! At these sizes (a few rows against a few dozen vectors of 100
//! components) a general matrix product spends more time packing its
//! operands than multiplying them; here nothing is packed, and only the
//! blocks a caller asks for are computed (the keywords an essay lacks).
//!
//! Every cosine is the sum over components 0, 1, ..., 99 in that order,
//! accumulated with fused multiply-adds when the CPU has AVX2 and FMA and
//! with a multiply then an add otherwise: the very operations, in the same
//! order, of the `matrixmultiply` kernels that `ndarray`'s product chose on
//! the same CPU, so the features keep their values to the last bit (a test
//! checks this against `ndarray`).

use super::word_vectors::DIMS;

/// Vectors per block: one 256-bit register of f32.
pub(crate) const LANES: usize = 8;

/// One block: component `d` of its eight vectors at `block[d]`.
type Block = [[f32; LANES]; DIMS];

/// Unit vectors (the prompt's), eight to a block; the lanes past the last
/// vector are zero vectors, whose cosine with anything is 0.
#[derive(Debug, Clone, Default)]
pub(crate) struct Lanes {
    blocks: Vec<Block>,
    len: usize,
}

impl Lanes {
    /// The vectors `rows`, in order.
    pub(crate) fn from_rows<'a>(rows: impl IntoIterator<Item = &'a [f32; DIMS]>) -> Lanes {
        let mut lanes = Lanes::default();
        for row in rows {
            if lanes.len % LANES == 0 {
                lanes.blocks.push([[0.0; LANES]; DIMS]);
            }
            let block = lanes.blocks.last_mut().expect("a block was just pushed");
            for (component, &v) in block.iter_mut().zip(row) {
                component[lanes.len % LANES] = v;
            }
            lanes.len += 1;
        }
        lanes
    }

    /// How many vectors.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// How many blocks (`len` rounded up to [`LANES`], over [`LANES`]).
    pub(crate) fn blocks(&self) -> usize {
        self.blocks.len()
    }

    /// The memory the blocks hold, in bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.blocks.capacity() * std::mem::size_of::<Block>()
    }
}

/// For the unit rows `rows` and the vectors of the blocks `b` of `lanes`
/// for which `wanted(b)` holds: raises `row_best[r]` to the best cosine of
/// row `r` with those vectors, and `lane_best[v]` to the best cosine of
/// vector `v` with the rows (both slices start at the caller's floor, 0 for
/// the features). `lane_best` has a slot per lane of every block
/// (`lanes.blocks() * LANES`); slots of blocks not wanted are left alone.
pub(crate) fn best_cosines(
    rows: &[[f32; DIMS]],
    lanes: &Lanes,
    wanted: impl Fn(usize) -> bool,
    row_best: &mut [f32],
    lane_best: &mut [f32],
) {
    assert_eq!(row_best.len(), rows.len(), "one best per row");
    assert_eq!(lane_best.len(), lanes.blocks() * LANES, "one best per lane");
    #[cfg(target_arch = "x86_64")]
    if fused_multiply_add() {
        // SAFETY: `best_cosines_fma` requires only that the CPU has AVX2
        // and FMA, which the line above checked.
        unsafe { best_cosines_fma(rows, lanes, &wanted, row_best, lane_best) };
        return;
    }
    best_cosines_in::<false>(rows, lanes, &wanted, row_best, lane_best);
}

/// Every cosine of the unit rows `rows` with the vectors of `lanes`: row
/// `r`'s with vector `v` at `out[r * lanes.blocks() * LANES + v]` (the
/// padding lanes' 0 included), each summed as [`best_cosines`] sums it.
pub(crate) fn all_cosines(rows: &[[f32; DIMS]], lanes: &Lanes, out: &mut Vec<f32>) {
    out.clear();
    out.resize(rows.len() * lanes.blocks() * LANES, 0.0);
    #[cfg(target_arch = "x86_64")]
    if fused_multiply_add() {
        // SAFETY: `all_cosines_fma` requires only that the CPU has AVX2 and
        // FMA, which the line above checked.
        unsafe { all_cosines_fma(rows, lanes, out) };
        return;
    }
    all_cosines_in::<false>(rows, lanes, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn all_cosines_fma(rows: &[[f32; DIMS]], lanes: &Lanes, out: &mut [f32]) {
    all_cosines_in::<true>(rows, lanes, out);
}

#[inline(always)]
fn all_cosines_in<const FUSED: bool>(rows: &[[f32; DIMS]], lanes: &Lanes, out: &mut [f32]) {
    let width = lanes.blocks() * LANES;
    if width == 0 {
        return;
    }
    for (row, out) in rows.iter().zip(out.chunks_exact_mut(width)) {
        for (block, out) in lanes.blocks.iter().zip(out.chunks_exact_mut(LANES)) {
            out.copy_from_slice(&tile::<FUSED, 1, 1>([row], [block])[0][0]);
        }
    }
}

/// Whether this CPU computes the cosines with fused multiply-adds: exactly
/// when `matrixmultiply` picks its FMA kernel (AVX2 and FMA both present).
pub(crate) fn fused_multiply_add() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn best_cosines_fma(
    rows: &[[f32; DIMS]],
    lanes: &Lanes,
    wanted: &dyn Fn(usize) -> bool,
    row_best: &mut [f32],
    lane_best: &mut [f32],
) {
    best_cosines_in::<true>(rows, lanes, wanted, row_best, lane_best);
}

/// The work of [`best_cosines`]; always inlined, so that it is compiled for
/// the instruction set of its caller. Blocks go two at a time and rows four
/// at a time: eight independent sums in flight hide the latency of each.
#[inline(always)]
fn best_cosines_in<const FUSED: bool>(
    rows: &[[f32; DIMS]],
    lanes: &Lanes,
    wanted: &dyn Fn(usize) -> bool,
    row_best: &mut [f32],
    lane_best: &mut [f32],
) {
    let mut pending: Option<usize> = None;
    for b in (0..lanes.blocks()).filter(|&b| wanted(b)) {
        match pending.take() {
            None => pending = Some(b),
            Some(a) => rows_against::<FUSED, 2>([a, b], rows, lanes, row_best, lane_best),
        }
    }
    if let Some(a) = pending {
        rows_against::<FUSED, 1>([a], rows, lanes, row_best, lane_best);
    }
}

/// Every row against the blocks `which`.
#[inline(always)]
fn rows_against<const FUSED: bool, const B: usize>(
    which: [usize; B],
    rows: &[[f32; DIMS]],
    lanes: &Lanes,
    row_best: &mut [f32],
    lane_best: &mut [f32],
) {
    let blocks = which.map(|b| &lanes.blocks[b]);
    let mut quads = rows.chunks_exact(4);
    let mut r = 0;
    for quad in &mut quads {
        let rows4 = [&quad[0], &quad[1], &quad[2], &quad[3]];
        let tile = tile::<FUSED, 4, B>(rows4, blocks);
        keep_best(&tile, r, &which, row_best, lane_best);
        r += 4;
    }
    for row in quads.remainder() {
        let tile = tile::<FUSED, 1, B>([row], blocks);
        keep_best(&tile, r, &which, row_best, lane_best);
        r += 1;
    }
}

/// The cosines of `R` rows with the `B` blocks' vectors, each summed over
/// the components in order, fused or not (see the module's notes).
#[inline(always)]
fn tile<const FUSED: bool, const R: usize, const B: usize>(
    rows: [&[f32; DIMS]; R],
    blocks: [&Block; B],
) -> [[[f32; LANES]; B]; R] {
    let mut sums = [[[0.0f32; LANES]; B]; R];
    for d in 0..DIMS {
        for (sums, row) in sums.iter_mut().zip(&rows) {
            let x = row[d];
            for (sum, block) in sums.iter_mut().zip(&blocks) {
                for (s, &y) in sum.iter_mut().zip(&block[d]) {
                    *s = if FUSED { x.mul_add(y, *s) } else { *s + x * y };
                }
            }
        }
    }
    sums
}

/// Folds a tile's cosines into the running bests.
#[inline(always)]
fn keep_best<const R: usize, const B: usize>(
    tile: &[[[f32; LANES]; B]; R],
    first_row: usize,
    which: &[usize; B],
    row_best: &mut [f32],
    lane_best: &mut [f32],
) {
    for (i, sums) in tile.iter().enumerate() {
        let best = &mut row_best[first_row + i];
        for (sum, &b) in sums.iter().zip(which) {
            let lane = &mut lane_best[b * LANES..(b + 1) * LANES];
            for (l, &c) in lane.iter_mut().zip(sum) {
                *l = l.max(c);
                *best = best.max(c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// `n` pseudo-random unit rows (a fixed linear congruential sequence).
    fn unit_rows(n: usize, seed: u64) -> Vec<[f32; DIMS]> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                let mut row = [0.0f32; DIMS];
                for v in &mut row {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    *v = ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5;
                }
                let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
                row.iter_mut().for_each(|x| *x /= norm);
                row
            })
            .collect()
    }

    fn matrix(rows: &[[f32; DIMS]]) -> Array2<f32> {
        Array2::from_shape_fn((rows.len(), DIMS), |(r, d)| rows[r][d])
    }

    #[test]
    fn the_best_cosines_are_those_of_the_matrix_product_to_the_last_bit() {
        // Row counts around the group of four, vector counts around a block.
        for (n_rows, n_vectors) in [(1, 1), (3, 8), (4, 9), (7, 17), (9, 24), (13, 40)] {
            let rows = unit_rows(n_rows, 3 + n_rows as u64);
            let vectors = unit_rows(n_vectors, 100 + n_vectors as u64);
            let lanes = Lanes::from_rows(&vectors);
            assert_eq!(lanes.len(), n_vectors);
            let mut row_best = vec![0.0; n_rows];
            let mut lane_best = vec![0.0; lanes.blocks() * LANES];
            best_cosines(&rows, &lanes, |_| true, &mut row_best, &mut lane_best);

            let cosines = matrix(&rows).dot(&matrix(&vectors).t());
            for (r, row) in cosines.rows().into_iter().enumerate() {
                let want = row.fold(0.0f32, |best, &c| best.max(c));
                assert_eq!(row_best[r].to_bits(), want.to_bits(), "row {r}");
            }
            for (v, column) in cosines.columns().into_iter().enumerate() {
                let want = column.fold(0.0f32, |best, &c| best.max(c));
                assert_eq!(lane_best[v].to_bits(), want.to_bits(), "vector {v}");
            }
            // The padding lanes are zero vectors: cosine 0 with every row.
            assert!(lane_best[n_vectors..].iter().all(|&b| b == 0.0));
        }
    }

    #[test]
    fn all_cosines_are_those_of_the_matrix_product_to_the_last_bit() {
        let rows = unit_rows(5, 11);
        let vectors = unit_rows(19, 12);
        let lanes = Lanes::from_rows(&vectors);
        let mut out = Vec::new();
        all_cosines(&rows, &lanes, &mut out);
        let width = lanes.blocks() * LANES;
        assert_eq!(out.len(), rows.len() * width);
        let cosines = matrix(&rows).dot(&matrix(&vectors).t());
        for ((r, v), c) in cosines.indexed_iter() {
            assert_eq!(
                out[r * width + v].to_bits(),
                c.to_bits(),
                "row {r}, vector {v}"
            );
        }
        assert!(
            out.chunks(width)
                .all(|row| row[vectors.len()..].iter().all(|&c| c == 0.0))
        );
    }

    #[test]
    fn no_vectors_give_no_cosines() {
        let lanes = Lanes::from_rows(&[]);
        let mut out = vec![1.0];
        all_cosines(&unit_rows(3, 1), &lanes, &mut out);
        assert!(out.is_empty());
        let mut row_best = vec![0.0; 3];
        best_cosines(&unit_rows(3, 1), &lanes, |_| true, &mut row_best, &mut []);
        assert_eq!(row_best, [0.0; 3]);
    }

    #[test]
    fn both_builds_sum_each_cosine_in_component_order() {
        let rows = unit_rows(6, 1);
        let vectors = unit_rows(11, 2);
        let lanes = Lanes::from_rows(&vectors);
        let by_hand = |fused: bool| -> Vec<f32> {
            (0..vectors.len())
                .map(|v| {
                    rows.iter()
                        .map(|row| {
                            row.iter().zip(&vectors[v]).fold(0.0f32, |s, (&x, &y)| {
                                if fused { x.mul_add(y, s) } else { s + x * y }
                            })
                        })
                        .fold(0.0f32, f32::max)
                })
                .collect()
        };
        let mut lane_best = vec![0.0; lanes.blocks() * LANES];
        let mut row_best = vec![0.0; rows.len()];
        best_cosines_in::<false>(&rows, &lanes, &|_| true, &mut row_best, &mut lane_best);
        assert_eq!(lane_best[..vectors.len()], by_hand(false)[..]);
        lane_best.fill(0.0);
        best_cosines(&rows, &lanes, |_| true, &mut row_best, &mut lane_best);
        assert_eq!(
            lane_best[..vectors.len()],
            by_hand(fused_multiply_add())[..]
        );
    }

    #[test]
    fn only_the_wanted_blocks_are_computed() {
        let rows = unit_rows(5, 7);
        let vectors = unit_rows(20, 8);
        let lanes = Lanes::from_rows(&vectors);
        let mut all = vec![0.0; lanes.blocks() * LANES];
        best_cosines(&rows, &lanes, |_| true, &mut vec![0.0; 5], &mut all);
        let mut some = vec![-1.0; lanes.blocks() * LANES];
        best_cosines(&rows, &lanes, |b| b == 1, &mut vec![0.0; 5], &mut some);
        assert!(some[..LANES].iter().all(|&b| b == -1.0));
        assert!(some[2 * LANES..].iter().all(|&b| b == -1.0));
        for l in LANES..2 * LANES {
            // From a floor of −1 instead of 0: the same best, or a negative one.
            assert_eq!(some[l].max(0.0), all[l]);
        }
    }
}
