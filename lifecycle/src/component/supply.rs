//! Values handed to the run by the program that starts it (parsed arguments,
//! a config file, a client built elsewhere): one per type, read by any
//! component's `init` with [`Deps::supplied`](crate::Deps::supplied).

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

/// The values given to [`Builder::supply`](crate::Builder::supply), by type.
#[derive(Default)]
pub(crate) struct Supplies(HashMap<TypeId, Arc<dyn Any + Send + Sync>>);

impl Supplies {
    /// Adds `value`, replacing an earlier value of the same type.
    pub(crate) fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        self.0.insert(TypeId::of::<T>(), Arc::new(value));
    }

    pub(crate) fn get<T: Send + Sync + 'static>(&self) -> Result<&T, NotSupplied> {
        self.0
            .get(&TypeId::of::<T>())
            .and_then(|value| value.downcast_ref())
            .ok_or(NotSupplied {
                type_name: std::any::type_name::<T>(),
            })
    }
}

/// [`Deps::supplied`](crate::Deps::supplied) asked for a type no one supplied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no value of type `{type_name}` was supplied to this run: \
     give one with `Lifecycle::builder().supply(value)`"
)]
pub struct NotSupplied {
    type_name: &'static str,
}

impl NotSupplied {
    /// The full name of the missing type.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }
}
