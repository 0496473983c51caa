//! `essay-grader bench features`: the speed of feature extraction.
//!
//! Two figures: essays per second on one core for the e_ and r_ features with
//! the prompt prepared beforehand (synthetic essays by default, or the
//! essays of a CSV), and, given `--essays`/`--prompts`, the whole pipeline
//! from CSV files to feature rows (read, prepare each prompt, extract).
//! Synthetic text is drawn from the compiled-in word list with a fixed seed,
//! so every run measures the same input.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::features::{self, Extractor, PreparedPrompt, Prompt, feature_count};
use crate::training::dataset::{Dataset, DatasetLayout};

/// Synthetic essays per timed round.
const SYNTHETIC_ESSAYS: usize = 20_000;
/// Timed rounds; the best is reported (the machine is shared, so the best is
/// the least disturbed).
const ROUNDS: usize = 5;

/// A small xorshift generator: the bench needs reproducible text, not
/// statistical quality, and this keeps it independent of `rand`'s API.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// An index in 0..n drawn from a Zipf-like law (rank r with weight about
    /// 1/r), as word frequencies are in real text.
    fn zipf(&mut self, n: usize) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        (((n as f64 + 1.0).powf(u) - 1.0) as usize).min(n - 1)
    }
}

const FUNCTION_WORDS: &[&str] = &[
    "the", "of", "and", "to", "a", "in", "that", "it", "was", "they", "would", "with", "for", "as",
    "on", "by", "were", "not", "this", "but", "from", "their", "so", "also", "because",
];

/// A synthetic prompt of about `words` words, and `count` essays of 20 to 300
/// words mixing copied stretches of the prompt, common words, rarer words and
/// a few misspellings.
fn synthetic_corpus(words: usize, count: usize) -> (Prompt, Vec<String>) {
    let mut rng = XorShift(0x5eed_1234_abcd_0001);
    let dictionary: Vec<&str> = features::lexicon::dictionary_words().collect();
    // A fixed "topic vocabulary" of 3,000 dictionary words, ranked for Zipf draws.
    let vocabulary: Vec<&str> = (0..3000)
        .map(|_| dictionary[rng.below(dictionary.len())])
        .collect();
    let word = |rng: &mut XorShift| -> String {
        if rng.below(2) == 0 {
            FUNCTION_WORDS[rng.zipf(FUNCTION_WORDS.len())].to_string()
        } else {
            vocabulary[rng.zipf(vocabulary.len())].to_string()
        }
    };
    let mut prompt_words = Vec::with_capacity(words);
    let mut text = String::new();
    while prompt_words.len() < words {
        let len = 8 + rng.below(20);
        for i in 0..len {
            let w = word(&mut rng);
            if i == 0 {
                let mut c = w.chars();
                let first = c
                    .next()
                    .map(|f| f.to_uppercase().collect::<String>())
                    .unwrap_or_default();
                text.push_str(&first);
                text.push_str(c.as_str());
            } else {
                text.push(' ');
                text.push_str(&w);
            }
            prompt_words.push(w);
            if i + 1 < len && rng.below(8) == 0 {
                text.push(',');
            }
        }
        text.push_str(if rng.below(6) == 0 { ".\n\n" } else { ". " });
    }
    let prompt = Prompt {
        title: "A Synthetic Source".into(),
        question: "Summarize at least 3 ideas of the source. Cite evidence from the text.".into(),
        text,
    };

    let essays = (0..count)
        .map(|_| {
            let target = 20 + rng.zipf(280);
            let mut essay = String::new();
            let mut n = 0;
            let mut in_sentence = 0;
            while n < target {
                let chunk: Vec<String> = if rng.below(5) < 2 {
                    let len = 3 + rng.below(10);
                    let start = rng.below(prompt_words.len().saturating_sub(len));
                    prompt_words[start..(start + len).min(prompt_words.len())].to_vec()
                } else {
                    (0..1 + rng.below(6)).map(|_| word(&mut rng)).collect()
                };
                for mut w in chunk {
                    if rng.below(30) == 0 && w.len() > 3 {
                        // A transposition typo.
                        let mut b: Vec<char> = w.chars().collect();
                        let i = 1 + rng.below(b.len() - 2);
                        b.swap(i, i + 1);
                        w = b.into_iter().collect();
                    }
                    if !essay.is_empty() {
                        essay.push(' ');
                    }
                    essay.push_str(&w);
                    n += 1;
                    in_sentence += 1;
                    if in_sentence > 6 && rng.below(12) == 0 {
                        essay.push('.');
                        in_sentence = 0;
                    }
                }
            }
            essay.push('.');
            essay
        })
        .collect();
    (prompt, essays)
}

/// CPU time this thread has run, from the kernel's scheduler statistics
/// (nanoseconds, first field of /proc/thread-self/schedstat). On a shared
/// machine wall time includes waiting for a core; CPU time does not.
pub(super) fn thread_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// Wall and CPU time of one timed round.
#[derive(Debug, Clone, Copy)]
struct Timing {
    wall: Duration,
    cpu: Option<Duration>,
}

/// Extracts every essay once with one extractor on this thread, and returns
/// the time taken and a checksum (so the work cannot be optimised away).
fn time_extraction(pairs: &[(&PreparedPrompt, &str)], extractor: &mut Extractor) -> (Timing, f64) {
    let mut row = vec![0.0f32; feature_count()];
    let mut checksum = 0.0f64;
    let cpu_start = thread_cpu_time();
    let start = Instant::now();
    for &(prompt, essay) in pairs {
        extractor
            .extract_into(prompt, essay, &mut row)
            .expect("the row has one slot per feature");
        checksum +=
            f64::from(row[row.len() - 1]) + f64::from(row[features::Feature::EWordCount as usize]);
    }
    let wall = start.elapsed();
    let cpu = thread_cpu_time()
        .zip(cpu_start)
        .map(|(end, start)| end.saturating_sub(start));
    (Timing { wall, cpu }, checksum)
}

fn report_throughput(label: &str, pairs: &[(&PreparedPrompt, &str)]) {
    let mut extractor = Extractor::new();
    // Warm-up: fills the stem cache and the buffers, as in a long-running service.
    time_extraction(pairs, &mut extractor);
    let mut best_wall = Duration::MAX;
    let mut best_cpu: Option<Duration> = None;
    let mut checksum = 0.0;
    for _ in 0..ROUNDS {
        let (timing, sum) = time_extraction(pairs, &mut extractor);
        best_wall = best_wall.min(timing.wall);
        best_cpu = match (best_cpu, timing.cpu) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        checksum = sum;
    }
    let n = pairs.len().max(1) as f64;
    let bytes: usize = pairs.iter().map(|(_, e)| e.len()).sum();
    let wall = best_wall.as_secs_f64();
    println!(
        "{label}: {} essays ({:.0} bytes mean), best of {ROUNDS} rounds on one thread:",
        pairs.len(),
        bytes as f64 / n,
    );
    println!(
        "  wall time {:.1} ms: {:.0} essays/s, {:.2} µs/essay, {:.1} MB/s",
        wall * 1e3,
        n / wall,
        wall * 1e6 / n,
        bytes as f64 / wall / 1e6,
    );
    if let Some(cpu) = best_cpu {
        let cpu = cpu.as_secs_f64().max(1e-9);
        println!(
            "  CPU time  {:.1} ms: {:.0} essays per CPU-second, {:.2} µs/essay (checksum {checksum:.0})",
            cpu * 1e3,
            n / cpu,
            cpu * 1e6 / n,
        );
    }
}

/// Runs the bench; `essays` and `prompts` are optional CommonLit-layout CSVs.
pub fn run(essays: Option<&Path>, prompts: Option<&Path>) -> anyhow::Result<()> {
    println!("machine: {}", super::machine());
    println!("features: {} per essay", feature_count());

    let (prompt, synthetic) = synthetic_corpus(700, SYNTHETIC_ESSAYS);
    let start = Instant::now();
    let prepared = PreparedPrompt::new(&prompt);
    println!(
        "prepare a {}-word synthetic prompt: {:.2} ms",
        prompt.text.split_whitespace().count(),
        start.elapsed().as_secs_f64() * 1e3
    );
    let pairs: Vec<(&PreparedPrompt, &str)> =
        synthetic.iter().map(|e| (&prepared, e.as_str())).collect();
    report_throughput("synthetic essays, prompt prepared", &pairs);

    let Some(essays) = essays else {
        println!(
            "(give --essays FILE.csv [--prompts FILE.csv] for the end-to-end figure on real essays)"
        );
        return Ok(());
    };
    // End to end, cold: read the CSVs, prepare each prompt, extract every essay.
    let cpu_start = thread_cpu_time();
    let start = Instant::now();
    let layout = DatasetLayout::default().without_targets();
    let dataset = Dataset::from_paths(essays, prompts, &layout)
        .with_context(|| format!("reading {}", essays.display()))?;
    let read = start.elapsed();
    let prepared: std::collections::BTreeMap<&str, PreparedPrompt> = dataset
        .prompts
        .iter()
        .map(|(id, p)| {
            let prompt = Prompt {
                title: p.title.clone(),
                question: p.question.clone(),
                text: p.text.clone(),
            };
            (id.as_str(), PreparedPrompt::new(&prompt))
        })
        .collect();
    let prepare = start.elapsed() - read;
    let pairs: Vec<(&PreparedPrompt, &str)> = dataset
        .essays
        .iter()
        .map(|e| (&prepared[e.prompt_id.as_str()], e.text.as_str()))
        .collect();
    let mut matrix = vec![0.0f32; pairs.len() * feature_count()];
    let mut extractor = Extractor::new();
    for (row, &(prompt, essay)) in matrix.chunks_mut(feature_count()).zip(&pairs) {
        extractor.extract_into(prompt, essay, row)?;
    }
    let total = start.elapsed();
    let cpu = thread_cpu_time()
        .zip(cpu_start)
        .map(|(end, start)| end.saturating_sub(start));
    println!(
        "end to end from CSV: {} essays, {} prompts: read {:.1} ms + prepare prompts {:.1} ms + extract {:.1} ms = {:.1} ms on one core ({:.0} essays/s)",
        pairs.len(),
        prepared.len(),
        read.as_secs_f64() * 1e3,
        prepare.as_secs_f64() * 1e3,
        (total - read - prepare).as_secs_f64() * 1e3,
        total.as_secs_f64() * 1e3,
        pairs.len() as f64 / total.as_secs_f64(),
    );
    if let Some(cpu) = cpu {
        println!(
            "  CPU time of the same: {:.1} ms on one thread",
            cpu.as_secs_f64() * 1e3
        );
    }
    report_throughput("CSV essays, prompts prepared", &pairs);
    Ok(())
}
