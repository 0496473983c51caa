//! Admission to the grading CPU: a fixed number of slots (one per core by
//! default) and a bounded number of requests waiting for one. Every piece of
//! CPU-heavy request work (grading one essay, grading a batch, preparing a
//! prompt) holds a slot while it runs; when all slots are busy and the
//! waiting room is full, the request is shed at once with 503 and
//! `Retry-After`, instead of stacking up work and memory.
//!
//! Admission must cost next to nothing: a single explained grading takes
//! about 85 µs, so a slot is a semaphore permit taken without waiting when one
//! is free (one atomic operation), and the waiting count is one atomic
//! counter. A single essay keeps its slot while it runs on the async executor
//! (tokio runs one worker per core, so slots = cores keeps the executor from
//! being oversubscribed); batches and prompt preparation move to blocking
//! threads and take their slots with them, releasing them only when the CPU
//! work itself ends, even if the request was abandoned.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::ApiError;

/// Seconds a shed client is told to wait before retrying: the waiting room
/// of a saturated server drains in well under that.
pub const RETRY_AFTER_SECS: u64 = 1;

/// The slots and the waiting room. Cloning shares them.
#[derive(Debug, Clone)]
pub struct GradingSlots {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// One permit per slot.
    semaphore: Arc<Semaphore>,
    /// How many slots there are.
    slots: usize,
    /// Requests waiting for a slot now.
    waiting: AtomicUsize,
    /// The most requests that may wait; one more is shed.
    max_waiting: usize,
    /// Requests shed since start (also in `grading_shed_total`).
    shed: AtomicU64,
    /// Essays graded in batches since start, counted as each chunk finishes:
    /// shows that an abandoned batch stopped.
    batch_essays_graded: AtomicU64,
}

/// Held CPU slots; dropping it frees them.
#[derive(Debug)]
pub struct CpuSlot {
    permit: OwnedSemaphorePermit,
}

impl CpuSlot {
    /// How many slots this holds (the threads its work may use).
    pub fn count(&self) -> usize {
        self.permit.num_permits()
    }
}

impl Default for GradingSlots {
    fn default() -> Self {
        let settings = crate::config::Settings::default();
        Self::new(settings.grading_cpu_slots(), settings.grading_queue)
    }
}

/// What a slot is taken for: the `kind` label of `grading_shed_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotUse {
    /// Grading one essay.
    Single,
    /// Grading a batch.
    Batch,
    /// Preparing a registered or inline prompt.
    Prompt,
}

impl SlotUse {
    fn label(self) -> &'static str {
        match self {
            Self::Single => "single",
            Self::Batch => "batch",
            Self::Prompt => "prompt",
        }
    }
}

impl GradingSlots {
    /// `slots` CPU slots (at least one) and room for `max_waiting` requests
    /// waiting for one.
    pub fn new(slots: usize, max_waiting: usize) -> Self {
        let slots = slots.max(1);
        Self {
            inner: Arc::new(Inner {
                semaphore: Arc::new(Semaphore::new(slots)),
                slots,
                waiting: AtomicUsize::new(0),
                max_waiting,
                shed: AtomicU64::new(0),
                batch_essays_graded: AtomicU64::new(0),
            }),
        }
    }

    /// A slot: at once when one is free, after waiting when the waiting room
    /// has space, or else a 503 [`ApiError::Overloaded`]. A request that is
    /// dropped while waiting leaves the waiting room.
    pub async fn acquire(&self, purpose: SlotUse) -> Result<CpuSlot, ApiError> {
        if let Ok(permit) = self.inner.semaphore.clone().try_acquire_owned() {
            return Ok(CpuSlot { permit });
        }
        if self.inner.waiting.fetch_add(1, Ordering::AcqRel) >= self.inner.max_waiting {
            self.inner.waiting.fetch_sub(1, Ordering::AcqRel);
            self.inner.shed.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("grading_shed_total", "kind" => purpose.label()).increment(1);
            return Err(ApiError::Overloaded {
                retry_after_secs: RETRY_AFTER_SECS,
            });
        }
        let _waiting = LeaveWaitingRoom(&self.inner.waiting);
        self.wait_for_slot().await
    }

    /// A slot, waiting for as long as it takes and outside the waiting room:
    /// for work that must not be shed because its request has already
    /// written something (a calibration refit after its examples are stored)
    /// and that is serialised elsewhere, so it cannot pile up.
    pub async fn acquire_patiently(&self) -> Result<CpuSlot, ApiError> {
        self.wait_for_slot().await
    }

    /// Waits for a free slot (the semaphore is never closed, so the error
    /// arm is only a guard).
    async fn wait_for_slot(&self) -> Result<CpuSlot, ApiError> {
        let permit = self
            .inner
            .semaphore
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("grading slots")))?;
        Ok(CpuSlot { permit })
    }

    /// Adds up to `extra` free slots to `slot` without waiting (a batch
    /// spreading over idle cores); returns how many it now holds.
    pub fn take_idle(&self, slot: &mut CpuSlot, extra: usize) -> usize {
        for _ in 0..extra {
            match self.inner.semaphore.clone().try_acquire_owned() {
                Ok(more) => slot.permit.merge(more),
                Err(_) => break,
            }
        }
        slot.count()
    }

    /// How many slots there are.
    pub fn slots(&self) -> usize {
        self.inner.slots
    }

    /// How many slots are free now.
    pub fn free(&self) -> usize {
        self.inner.semaphore.available_permits()
    }

    /// How many requests wait for a slot now.
    pub fn waiting(&self) -> usize {
        self.inner.waiting.load(Ordering::Acquire)
    }

    /// Requests shed with 503 since start.
    pub fn shed(&self) -> u64 {
        self.inner.shed.load(Ordering::Relaxed)
    }

    /// Counts essays a batch has graded (called per chunk).
    pub fn count_batch_essays(&self, n: usize) {
        self.inner
            .batch_essays_graded
            .fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Essays graded in batches since start, including those of batches whose
    /// requests were abandoned before they stopped.
    pub fn batch_essays_graded(&self) -> u64 {
        self.inner.batch_essays_graded.load(Ordering::Relaxed)
    }
}

/// Decrements the waiting count when a waiter gets its slot or is dropped.
struct LeaveWaitingRoom<'a>(&'a AtomicUsize);

impl Drop for LeaveWaitingRoom<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_free_slot_is_taken_at_once_and_freed_on_drop() {
        let slots = GradingSlots::new(2, 0);
        let a = slots.acquire(SlotUse::Single).await.unwrap();
        let b = slots.acquire(SlotUse::Single).await.unwrap();
        assert_eq!(slots.free(), 0);
        drop((a, b));
        assert_eq!(slots.free(), 2);
    }

    #[tokio::test]
    async fn with_every_slot_busy_and_the_waiting_room_full_a_request_is_shed() {
        let slots = GradingSlots::new(1, 1);
        let busy = slots.acquire(SlotUse::Single).await.unwrap();
        let waiter = {
            let slots = slots.clone();
            tokio::spawn(async move { slots.acquire(SlotUse::Batch).await.map(|s| s.count()) })
        };
        while slots.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        let shed = slots.acquire(SlotUse::Single).await.unwrap_err();
        assert!(matches!(shed, ApiError::Overloaded { .. }), "{shed:?}");
        assert_eq!(slots.shed(), 1);
        drop(busy);
        assert_eq!(waiter.await.unwrap().unwrap(), 1, "the waiter got the slot");
        assert_eq!(slots.waiting(), 0);
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_leaves_the_waiting_room() {
        let slots = GradingSlots::new(1, 1);
        let _busy = slots.acquire(SlotUse::Single).await.unwrap();
        let gave_up = tokio::time::timeout(
            std::time::Duration::from_millis(20),
            slots.acquire(SlotUse::Single),
        )
        .await;
        assert!(gave_up.is_err());
        assert_eq!(slots.waiting(), 0);
        // So the room has space again: this one waits instead of being shed.
        let again = tokio::time::timeout(
            std::time::Duration::from_millis(20),
            slots.acquire(SlotUse::Single),
        )
        .await;
        assert!(
            again.is_err(),
            "it waited (and timed out) rather than being shed"
        );
        assert_eq!(slots.shed(), 0);
    }

    #[tokio::test]
    async fn patient_work_waits_even_when_the_waiting_room_is_full() {
        let slots = GradingSlots::new(1, 0);
        let busy = slots.acquire(SlotUse::Single).await.unwrap();
        assert!(slots.acquire(SlotUse::Prompt).await.is_err(), "shed");
        let patient = {
            let slots = slots.clone();
            tokio::spawn(async move { slots.acquire_patiently().await.map(|s| s.count()) })
        };
        tokio::task::yield_now().await;
        drop(busy);
        assert_eq!(patient.await.unwrap().unwrap(), 1);
    }

    #[tokio::test]
    async fn a_batch_takes_idle_slots_without_waiting() {
        let slots = GradingSlots::new(3, 0);
        let other = slots.acquire(SlotUse::Single).await.unwrap();
        let mut batch = slots.acquire(SlotUse::Batch).await.unwrap();
        assert_eq!(slots.take_idle(&mut batch, 5), 2);
        assert_eq!(slots.free(), 0);
        drop(batch);
        assert_eq!(slots.free(), 2);
        drop(other);
    }
}
