//! Feature extraction for a whole dataset, done once: each prompt is prepared
//! once, then every essay's full catalogue vector is computed, split over
//! threads in contiguous blocks of rows (each row depends only on its essay
//! and prompt, so the matrix is the same for any thread count). Model inputs
//! are column selections of this matrix.

use std::collections::BTreeMap;

use ndarray::{Array2, Axis};

use crate::features::{self, Extractor, PreparedPrompt};

use super::dataset::Dataset;

/// Rows per unit of work (and per fresh extractor).
const BLOCK_ROWS: usize = 256;

/// A dataset with its features extracted: reuse it across cross-validation
/// runs (a sweep) so extraction is paid once.
pub struct FeaturedDataset<'a> {
    /// The essays, prompts and targets.
    pub dataset: &'a Dataset,
    /// Every catalogue feature of every essay: rows in dataset order,
    /// columns in catalogue order.
    pub features: Array2<f32>,
}

/// Prepares every prompt of the dataset (the prompt-only work, once each).
pub fn prepare_prompts(dataset: &Dataset) -> BTreeMap<String, PreparedPrompt> {
    dataset
        .prompts
        .iter()
        .map(|(id, p)| (id.clone(), PreparedPrompt::new(p)))
        .collect()
}

impl<'a> FeaturedDataset<'a> {
    /// Extracts the features of every essay on up to `threads` threads.
    pub fn new(dataset: &'a Dataset, threads: usize) -> FeaturedDataset<'a> {
        let prepared = prepare_prompts(dataset);
        let n = dataset.essays.len();
        let width = features::feature_count();
        let mut matrix = Array2::<f32>::zeros((n, width));
        // Fixed blocks, each with a fresh extractor, handed out to the threads:
        // an extractor's reused buffers can change the last bits of a value
        // (summation order), so blocks must not depend on the thread count.
        let blocks: Vec<_> = matrix
            .axis_chunks_iter_mut(Axis(0), BLOCK_ROWS)
            .enumerate()
            .collect();
        let blocks = std::sync::Mutex::new(blocks);
        std::thread::scope(|scope| {
            for _ in 0..threads.clamp(1, n.div_ceil(BLOCK_ROWS).max(1)) {
                let (prepared, blocks) = (&prepared, &blocks);
                scope.spawn(move || {
                    loop {
                        let next = blocks.lock().unwrap_or_else(|p| p.into_inner()).pop();
                        let Some((b, mut rows)) = next else { break };
                        let mut extractor = Extractor::new();
                        for (k, mut row) in rows.axis_iter_mut(Axis(0)).enumerate() {
                            let essay = &dataset.essays[b * BLOCK_ROWS + k];
                            let prompt = &prepared[&essay.prompt_id];
                            let out = row
                                .as_slice_mut()
                                .expect("rows of a standard-layout matrix are contiguous");
                            extractor
                                .extract_into(prompt, &essay.text, out)
                                .expect("the row holds one value per catalogue feature");
                        }
                    }
                });
            }
        });
        FeaturedDataset {
            dataset,
            features: matrix,
        }
    }

    /// The columns `indices` (catalogue positions) of the given rows.
    pub fn select(&self, rows: &[usize], indices: &[usize]) -> Array2<f32> {
        Array2::from_shape_fn((rows.len(), indices.len()), |(i, j)| {
            self.features[[rows[i], indices[j]]]
        })
    }

    /// The targets of the given rows: rows × targets.
    pub fn targets(&self, rows: &[usize]) -> Array2<f64> {
        let t = self.dataset.target_names.len();
        Array2::from_shape_fn((rows.len(), t), |(i, j)| {
            self.dataset.essays[rows[i]].targets[j]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::dataset::{Dataset, DatasetLayout};

    #[test]
    fn the_feature_matrix_is_the_same_for_any_thread_count() {
        let prompts = "prompt_id,prompt_title,prompt_question,prompt_text\n\
            p,Rivers,Summarise the text.,\"Rivers flow to the sea. They carry silt and sand. Floods spread it on fields.\"\n";
        let mut essays = String::from("student_id,prompt_id,text,content,wording\n");
        // More rows than one block, with varied words, so blocks and threads matter.
        let words = ["silt", "sand", "fields", "sea", "floods", "rivers", "honey"];
        for i in 0..600 {
            let (a, b) = (words[i % 7], words[(i / 7) % 7]);
            essays.push_str(&format!(
                "s{i},p,\"Rivers carry {a} {i} times. They flood {b}, and it is good for {a}.\",{i},1\n"
            ));
        }
        let ds = Dataset::from_readers(
            essays.as_bytes(),
            "essays.csv",
            Some((prompts.as_bytes(), "prompts.csv")),
            &DatasetLayout::default(),
        )
        .unwrap();
        let one = FeaturedDataset::new(&ds, 1);
        let three = FeaturedDataset::new(&ds, 3);
        assert_eq!(one.features, three.features);
        assert_eq!(one.features.nrows(), 600);
        assert!(one.features.iter().all(|v| v.is_finite()));
        let word_count = features::feature_index("e_word_count").unwrap();
        assert!(one.features[[0, word_count]] >= 10.0);
        assert_eq!(one.targets(&[2, 3])[[1, 0]], 3.0);
        assert_eq!(one.select(&[1], &[word_count]).shape(), &[1, 1]);
    }
}
