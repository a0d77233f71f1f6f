//! A log of what test components did, with the (virtual) time of each
//! entry: `"Component.hook"` strings in the order they happened.

use std::sync::Mutex;
use tokio::time::Instant;

/// A log of `"Component.hook"` entries with the (virtual) time they began.
#[derive(Default)]
pub struct Log(Mutex<Vec<(String, Instant)>>);

impl Log {
    /// An empty log, for a `static`.
    pub const fn new() -> Self {
        Log(Mutex::new(Vec::new()))
    }
    /// Records `entry` now.
    pub fn push(&self, entry: impl Into<String>) {
        self.0.lock().unwrap().push((entry.into(), Instant::now()));
    }
    /// The entries, in order.
    pub fn entries(&self) -> Vec<String> {
        self.0.lock().unwrap().iter().map(|e| e.0.clone()).collect()
    }
    /// How many times `entry` was logged.
    pub fn count(&self, entry: &str) -> usize {
        self.entries().iter().filter(|e| *e == entry).count()
    }
    /// When the `n`th (from 0) `entry` was logged.
    pub fn at(&self, entry: &str, n: usize) -> Instant {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.0 == entry)
            .nth(n)
            .unwrap_or_else(|| panic!("{entry} #{n} not in {:?}", self.entries()))
            .1
    }
    /// Where the `n`th `entry` is in the log.
    pub fn index(&self, entry: &str, n: usize) -> usize {
        self.entries()
            .iter()
            .enumerate()
            .filter(|e| e.1 == entry)
            .nth(n)
            .unwrap_or_else(|| panic!("{entry} #{n} not in {:?}", self.entries()))
            .0
    }
}
