//! Handing a component its dependencies: [`Deps`] while building, [`Dep`] to keep.

use crate::component::supply::{NotSupplied, Supplies};
use crate::component::{Component, DependsOn};
use std::any::{Any, TypeId};
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

/// The built dependencies of component `C`, passed to [`Service::init`](crate::Service::init).
pub struct Deps<'a, C> {
    store: &'a DepStore,
    _component: PhantomData<fn() -> C>,
}

impl<'a, C> Deps<'a, C> {
    pub(crate) fn new(store: &'a DepStore) -> Self {
        Deps {
            store,
            _component: PhantomData,
        }
    }

    /// A handle to the dependency `T`. Compiles only when `C` lists `T` in
    /// `#[component(depends_on = [...])]`.
    pub fn get<T: Component>(&self) -> Dep<T>
    where
        C: DependsOn<T>,
    {
        match self.store.get::<T>() {
            Some(dep) => dep,
            // Unreachable through the derive, which records every `DependsOn`
            // edge it generates; reachable only by a hand-written `DependsOn`.
            None => panic!(
                "`{}` asked for `{}`, which is not in its `depends_on` list",
                std::any::type_name::<C>(),
                T::NAME
            ),
        }
    }

    /// The value of type `T` the program handed to the run with
    /// [`Builder::supply`](crate::Builder::supply): parsed arguments, a
    /// config file, a client built elsewhere. `Err` names the missing type.
    ///
    /// ```
    /// use lifecycle::{Component, Deps, Service};
    ///
    /// struct Config { port: u16 }
    ///
    /// #[derive(Component)]
    /// struct Api { port: u16 }
    ///
    /// impl Service for Api {
    ///     async fn init(deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
    ///         let config: &Config = deps.supplied::<Config>()?;
    ///         Ok(Api { port: config.port })
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> lifecycle::Result<()> {
    /// let app = lifecycle::Lifecycle::builder()
    ///     .supply(Config { port: 8080 })
    ///     .only::<Api>()
    ///     .handle_signals(false)
    ///     .print_report(false)
    ///     .start()
    ///     .await?;
    /// assert_eq!(app.get::<Api>().port, 8080);
    /// assert!(app.shutdown().await.is_clean());
    /// # Ok(()) }
    /// ```
    pub fn supplied<T: Send + Sync + 'static>(&self) -> Result<&'a T, NotSupplied> {
        self.store.supplies.get::<T>()
    }
}

/// A shared handle to a started dependency: cheap to clone, derefs to `T`.
pub struct Dep<T>(pub(crate) Arc<T>);

impl<T> Dep<T> {
    /// The shared pointer behind the handle.
    pub fn as_arc(&self) -> &Arc<T> {
        &self.0
    }
}

impl<T> Clone for Dep<T> {
    fn clone(&self) -> Self {
        Dep(self.0.clone())
    }
}

impl<T> Deref for Dep<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: fmt::Debug> fmt::Debug for Dep<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The built direct dependencies of one component, by type, and the values
/// supplied to the run.
pub(crate) struct DepStore {
    entries: Vec<(TypeId, Arc<dyn Any + Send + Sync>)>,
    supplies: Arc<Supplies>,
}

impl DepStore {
    pub(crate) fn new(supplies: Arc<Supplies>) -> Self {
        DepStore {
            entries: Vec::new(),
            supplies,
        }
    }

    pub(crate) fn push(&mut self, type_id: TypeId, value: Arc<dyn Any + Send + Sync>) {
        self.entries.push((type_id, value));
    }

    pub(crate) fn get<T: Component>(&self) -> Option<Dep<T>> {
        let (_, value) = self
            .entries
            .iter()
            .find(|(id, _)| *id == TypeId::of::<T>())?;
        value.clone().downcast::<T>().ok().map(Dep)
    }
}
