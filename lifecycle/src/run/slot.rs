//! Where a component's built value lives for the run: set by start-up,
//! emptied and set again by a restart.

use crate::component::Instance;
use std::sync::{Mutex, PoisonError};

/// One component's built value, if it has one now.
#[derive(Default)]
pub(crate) struct Slot {
    value: Mutex<Option<Instance>>,
}

impl Slot {
    /// The value now (cheap: two `Arc`s).
    pub(crate) fn get(&self) -> Option<Instance> {
        self.value
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Holds `instance` from now on.
    pub(crate) fn set(&self, instance: Instance) {
        *self.value.lock().unwrap_or_else(PoisonError::into_inner) = Some(instance);
    }

    /// Drops the value (after its teardown, before a restart builds anew).
    pub(crate) fn clear(&self) {
        self.value
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}
