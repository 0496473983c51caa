//! The run metrics a running job produced and has not written yet: buffered
//! between heartbeats, and for as long as the database refuses writes. The
//! buffer is bounded: beyond its cap the oldest points are dropped (a long
//! training on a read-only database must not grow memory without end), and
//! each drop is counted (`job_metric_points_dropped_total` and the log).

use std::collections::VecDeque;

use crate::store::runs::MetricPoint;

/// Unwritten metric points, at most `cap` of them, oldest first.
#[derive(Debug)]
pub struct UnsavedPoints {
    points: VecDeque<MetricPoint>,
    cap: usize,
    dropped: u64,
}

impl UnsavedPoints {
    /// An empty buffer holding at most `cap` points (at least one).
    pub fn with_cap(cap: usize) -> Self {
        Self {
            points: VecDeque::new(),
            cap: cap.max(1),
            dropped: 0,
        }
    }

    /// Adds points at the end, dropping the oldest beyond the cap.
    pub fn extend(&mut self, points: impl IntoIterator<Item = MetricPoint>) {
        self.points.extend(points);
        let over = self.points.len().saturating_sub(self.cap);
        if over > 0 {
            self.points.drain(..over);
            self.dropped += over as u64;
            metrics::counter!("job_metric_points_dropped_total").increment(over as u64);
        }
    }

    /// The points, oldest first, as one slice (for one batched write).
    pub fn as_slice(&mut self) -> &[MetricPoint] {
        self.points.make_contiguous()
    }

    /// Forgets the points: they were written.
    pub fn clear(&mut self) {
        self.points.clear();
    }

    /// How many points are waiting.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether none are waiting.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// How many points were dropped over the buffer's life.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The points left, oldest first.
    pub fn into_vec(self) -> Vec<MetricPoint> {
        self.points.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(step: i64) -> MetricPoint {
        MetricPoint {
            name: "train_loss".to_owned(),
            step,
            value: 1.0 / (step as f64 + 1.0),
            timestamp: "2026-12-02T00:00:00.000Z".to_owned(),
        }
    }

    #[test]
    fn beyond_its_cap_the_buffer_drops_the_oldest_points_and_counts_them() {
        let mut unsaved = UnsavedPoints::with_cap(3);
        unsaved.extend((0..2).map(point));
        unsaved.extend((2..5).map(point));

        let steps: Vec<i64> = unsaved.as_slice().iter().map(|p| p.step).collect();
        assert_eq!(steps, [2, 3, 4]);
        assert_eq!(unsaved.dropped(), 2);
    }

    #[test]
    fn written_points_are_forgotten_but_the_drop_count_stays() {
        let mut unsaved = UnsavedPoints::with_cap(2);
        unsaved.extend((0..3).map(point));
        unsaved.clear();
        unsaved.extend([point(7)]);

        assert_eq!(unsaved.len(), 1);
        assert_eq!(unsaved.dropped(), 1);
        assert_eq!(unsaved.into_vec()[0].step, 7);
    }
}
