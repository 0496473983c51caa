//! `essay-grader bench nn`: trains the reference network (80 inputs,
//! 64-32-2, ReLU, MSE, Adam) on 6,000 synthetic rows with batch 64 and prints
//! ms per epoch and the GFLOP/s achieved, next to what ndarray's own matrix
//! multiply reaches on the same matrix shapes on this machine.

use std::time::Instant;

use ndarray::{Array2, linalg::general_mat_mul};
use rand::{RngExt, SeedableRng, rngs::StdRng};

use crate::nn::{
    Control, FitConfig, LayerConfig, Network, NetworkConfig, OptimizerConfig, OutputConfig, fit,
};

const ROWS: usize = 6_000;
const INPUTS: usize = 80;
const HIDDEN: [usize; 2] = [64, 32];
const OUTPUTS: usize = 2;
const BATCH: usize = 64;
const EPOCHS: usize = 50;

/// Runs the benchmark and prints its table.
pub fn run() -> anyhow::Result<()> {
    let (x, y) = synthetic_data();
    let config = NetworkConfig {
        layers: HIDDEN
            .iter()
            .map(|&u| LayerConfig::dense(u, "relu"))
            .collect(),
        output: OutputConfig::new(OUTPUTS, "identity"),
        seed: Some(42),
        ..NetworkConfig::default()
    };
    let mut network = Network::<f32>::new(&config, INPUTS)?;
    let fit_config = FitConfig {
        optimizer: OptimizerConfig::named("adam"),
        epochs: EPOCHS,
        batch_size: BATCH,
        seed: 42,
        ..FitConfig::default()
    };

    let mut epoch_ms = Vec::with_capacity(EPOCHS);
    let mut last = Instant::now();
    let started = last;
    let report = fit(&mut network, x.view(), y.view(), &fit_config, &mut |_| {
        let now = Instant::now();
        epoch_ms.push((now - last).as_secs_f64() * 1e3);
        last = now;
        Control::Continue
    })?;
    let total_s = started.elapsed().as_secs_f64();
    let first = report.history.first().map_or(f64::NAN, |r| r.train_loss);
    let final_loss = report.history.last().map_or(f64::NAN, |r| r.train_loss);

    let flop = flop_per_epoch();
    let median = median(&mut epoch_ms.clone());
    let best = epoch_ms.iter().copied().fold(f64::INFINITY, f64::min);
    let matmul_gflops = matmul_same_shapes();
    let big_gflops = matmul_big();

    println!(
        "bench nn: {INPUTS}-{}-{}-{OUTPUTS} ReLU network, MSE, Adam, f32",
        HIDDEN[0], HIDDEN[1]
    );
    println!("data: {ROWS} synthetic rows, batch {BATCH}, {EPOCHS} epochs ({total_s:.2} s in all)");
    println!("machine: {}", super::machine());
    println!("matrix multiply: single-threaded (ndarray without matrixmultiply-threading)");
    println!("train loss: epoch 1 {first:.4} -> epoch {EPOCHS} {final_loss:.4}");
    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!("| ms per epoch (median of {EPOCHS}) | {median:.2} |");
    println!("| ms per epoch (fastest) | {best:.2} |");
    println!("| matrix-multiply FLOP per epoch | {:.1} M |", flop / 1e6);
    println!(
        "| achieved GFLOP/s (median epoch) | {:.1} |",
        flop / median / 1e6
    );
    println!(
        "| achieved GFLOP/s (fastest epoch) | {:.1} |",
        flop / best / 1e6
    );
    println!("| ndarray matmul, the same shapes, GFLOP/s | {matmul_gflops:.1} |");
    println!("| ndarray matmul, 7000x64 by 64x64, GFLOP/s | {big_gflops:.1} |");
    println!("| target | <= 20 ms per epoch |");
    Ok(())
}

/// x uniform in [−1, 1]; two smooth nonlinear targets of a few inputs each, plus noise.
fn synthetic_data() -> (Array2<f32>, Array2<f32>) {
    let mut rng = StdRng::seed_from_u64(7);
    let x = Array2::from_shape_simple_fn((ROWS, INPUTS), || rng.random_range(-1.0f32..1.0));
    let y = Array2::from_shape_fn((ROWS, OUTPUTS), |(r, t)| {
        let row = x.row(r);
        let base = if t == 0 {
            (row[0] * 2.0).sin() + row[1] * row[2] + 0.5 * row[3]
        } else {
            row[4].abs() - row[5] + (row[6] + row[7]).tanh()
        };
        base + 0.1 * rng.random_range(-1.0f32..1.0)
    });
    (x, y)
}

/// Layer (inputs, outputs) pairs of the benchmark network.
fn layer_shapes() -> Vec<(usize, usize)> {
    let widths = [INPUTS, HIDDEN[0], HIDDEN[1], OUTPUTS];
    widths.windows(2).map(|w| (w[0], w[1])).collect()
}

/// Floating-point operations of the matrix products of one epoch: per layer and row,
/// 2·in·out for X·W, 2·in·out for Xᵀ·G (dW), and 2·in·out for G·Wᵀ (dX, not needed
/// by the first layer). Element-wise work is left out, so this under-counts slightly.
fn flop_per_epoch() -> f64 {
    layer_shapes()
        .iter()
        .enumerate()
        .map(|(i, &(n_in, n_out))| {
            let products = if i == 0 { 2.0 } else { 3.0 };
            products * 2.0 * (n_in * n_out) as f64 * ROWS as f64
        })
        .sum()
}

/// GFLOP/s of ndarray's f32 matrix multiply on exactly the products of one epoch
/// (every batch's forward, dW and dX products), best of five epochs' worth.
fn matmul_same_shapes() -> f64 {
    let shapes = layer_shapes();
    let mut rng = StdRng::seed_from_u64(1);
    let mut rand = |r: usize, c: usize| {
        Array2::from_shape_simple_fn((r, c), || rng.random_range(-1.0f32..1.0))
    };
    let bufs: Vec<_> = shapes
        .iter()
        .map(|&(n_in, n_out)| {
            (
                rand(BATCH, n_in),
                rand(n_in, n_out),
                rand(BATCH, n_out),
                Array2::<f32>::zeros((BATCH, n_out)),
                Array2::<f32>::zeros((n_in, n_out)),
                Array2::<f32>::zeros((BATCH, n_in)),
            )
        })
        .collect();
    let batches = ROWS.div_ceil(BATCH);
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let mut bufs = bufs.clone();
        let t = Instant::now();
        for _ in 0..batches {
            for (i, (x, w, g, z, dw, dx)) in bufs.iter_mut().enumerate() {
                general_mat_mul(1.0, &x.view(), &w.view(), 0.0, z);
                general_mat_mul(1.0, &x.t(), &g.view(), 0.0, dw);
                if i > 0 {
                    general_mat_mul(1.0, &g.view(), &w.t(), 0.0, dx);
                }
            }
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    // The last batch is smaller in training; scale the count to full batches here.
    flop_per_epoch() * (batches * BATCH) as f64 / ROWS as f64 / best / 1e9
}

/// GFLOP/s of ndarray's f32 7000×64 by 64×64 product (the reference point), best of 20.
fn matmul_big() -> f64 {
    let mut rng = StdRng::seed_from_u64(2);
    let a = Array2::from_shape_simple_fn((7000, 64), || rng.random_range(-1.0f32..1.0));
    let b = Array2::from_shape_simple_fn((64, 64), || rng.random_range(-1.0f32..1.0));
    let mut c = Array2::<f32>::zeros((7000, 64));
    let mut best = f64::INFINITY;
    for _ in 0..20 {
        let t = Instant::now();
        general_mat_mul(1.0, &a, &b, 0.0, &mut c);
        best = best.min(t.elapsed().as_secs_f64());
    }
    2.0 * 7000.0 * 64.0 * 64.0 / best / 1e9
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
