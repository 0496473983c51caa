//! A shared map bounded by the memory of its values, not only their count:
//! the prompt caches hold prepared prompts whose size runs from kilobytes to
//! megabytes, so a count alone bounds nothing. When an insertion would pass
//! the budget, the least recently used entries are dropped first.
//!
//! A hit takes only a read lock and stamps the entry with an atomic clock, so
//! concurrent grading requests do not serialise on the cache; an insertion
//! takes the write lock and, when over budget, scans the entries for the
//! oldest stamp (the caches hold hundreds of entries, not millions).

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// Values by key, at most `budget` bytes of them (as their inserter sized them).
#[derive(Debug)]
pub struct BoundedCache<K, V> {
    /// The entries and their total size.
    inner: RwLock<Entries<K, V>>,
    /// Ticks once per use; an entry's stamp is the tick of its last use.
    clock: AtomicU64,
    /// The most bytes the entries may hold together.
    budget: usize,
    /// The `cache` label of its eviction metric.
    name: &'static str,
}

#[derive(Debug)]
struct Entries<K, V> {
    map: HashMap<K, Entry<V>>,
    bytes: usize,
}

#[derive(Debug)]
struct Entry<V> {
    value: Arc<V>,
    bytes: usize,
    last_used: AtomicU64,
}

impl<K: Eq + Hash + Clone, V> BoundedCache<K, V> {
    /// An empty cache that holds at most `budget` bytes; `name` labels its
    /// evictions in `prompt_cache_evictions_total`.
    pub fn new(name: &'static str, budget: usize) -> Self {
        Self {
            inner: RwLock::new(Entries {
                map: HashMap::new(),
                bytes: 0,
            }),
            clock: AtomicU64::new(0),
            budget,
            name,
        }
    }

    /// The value under `key`, marked as just used.
    pub fn get<Q>(&self, key: &Q) -> Option<Arc<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let entry = inner.map.get(key)?;
        entry.last_used.store(self.tick(), Ordering::Relaxed);
        Some(entry.value.clone())
    }

    /// Adds (or replaces) the value under `key`, which holds `bytes`, dropping
    /// the least recently used entries until it fits. A value larger than the
    /// whole budget is not kept; returns whether this one was.
    pub fn insert(&self, key: K, value: Arc<V>, bytes: usize) -> bool {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = inner.map.remove(&key) {
            inner.bytes -= old.bytes;
        }
        if bytes > self.budget {
            return false;
        }
        while inner.bytes + bytes > self.budget {
            let oldest = inner
                .map
                .iter()
                .min_by_key(|(_, e)| e.last_used.load(Ordering::Relaxed))
                .map(|(k, _)| k.clone());
            let Some(oldest) = oldest else { break };
            if let Some(evicted) = inner.map.remove(&oldest) {
                inner.bytes -= evicted.bytes;
                metrics::counter!("prompt_cache_evictions_total", "cache" => self.name)
                    .increment(1);
            }
        }
        inner.bytes += bytes;
        let last_used = AtomicU64::new(self.tick());
        inner.map.insert(
            key,
            Entry {
                value,
                bytes,
                last_used,
            },
        );
        true
    }

    /// Drops the value under `key`, if any.
    pub fn remove<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = inner.map.remove(key) {
            inner.bytes -= old.bytes;
        }
    }

    /// How many values are held.
    pub fn len(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .map
            .len()
    }

    /// Whether no value is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes held, as the inserters sized them (never above the budget).
    pub fn bytes(&self) -> usize {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).bytes
    }

    /// The budget in bytes.
    pub fn budget(&self) -> usize {
        self.budget
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_entry_goes_first_when_the_budget_is_passed() {
        let cache = BoundedCache::new("test", 100);
        cache.insert("a", Arc::new(1), 40);
        cache.insert("b", Arc::new(2), 40);
        assert_eq!(cache.get("a").as_deref(), Some(&1)); // b is now the oldest
        cache.insert("c", Arc::new(3), 40);
        assert!(cache.get("b").is_none());
        assert_eq!(cache.get("a").as_deref(), Some(&1));
        assert_eq!(cache.get("c").as_deref(), Some(&3));
        assert_eq!(cache.bytes(), 80);
    }

    #[test]
    fn many_small_entries_never_hold_more_than_the_budget() {
        let cache = BoundedCache::new("test", 1000);
        for i in 0..500 {
            cache.insert(i, Arc::new(i), 7 + i % 13);
            assert!(cache.bytes() <= 1000);
        }
        assert!(cache.len() < 500);
        assert!(cache.get(&499).is_some(), "the newest entry is kept");
    }

    #[test]
    fn a_value_larger_than_the_budget_is_not_kept() {
        let cache = BoundedCache::new("test", 100);
        cache.insert("small", Arc::new(1), 10);
        assert!(!cache.insert("huge", Arc::new(2), 101));
        assert!(cache.get("huge").is_none());
        assert!(cache.get("small").is_some(), "nothing was evicted for it");
    }

    #[test]
    fn replacing_and_removing_keep_the_byte_count_right() {
        let cache = BoundedCache::new("test", 100);
        cache.insert("a", Arc::new(1), 30);
        cache.insert("a", Arc::new(2), 50);
        assert_eq!((cache.len(), cache.bytes()), (1, 50));
        cache.remove("a");
        assert_eq!((cache.len(), cache.bytes()), (0, 0));
        assert!(cache.is_empty());
    }
}
