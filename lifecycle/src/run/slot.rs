//! Where a component's built value lives for the run: set by start-up,
//! emptied and set again by a restart.

use crate::component::Instance;
use crate::phase::Phase;
use std::sync::{Mutex, PoisonError};

/// One component's built value, if it has one now.
#[derive(Default)]
pub(crate) struct Slot {
    value: Mutex<Option<Instance>>,
}

impl Slot {
    /// The value now (cheap: three `Arc`s).
    pub(crate) fn get(&self) -> Option<Instance> {
        self.value
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether the value now wrote its own hook for `phase` (`false` if none).
    pub(crate) fn writes(&self, phase: Phase) -> bool {
        self.value
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|instance| instance.hooks.writes(phase))
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
