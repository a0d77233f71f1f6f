//! What a component is: the [`Service`] behaviour users write, and the
//! [`Component`] facts `#[derive(Component)]` generates.

pub(crate) mod cycle;
pub(crate) mod deps;
pub(crate) mod supply;

use crate::component::cycle::Link;
use crate::component::deps::{DepStore, Deps};
use crate::context::health::ReadinessCheck;
use crate::context::Context;
use crate::error::Result;
use crate::phase::{Phase, Timeouts};
use crate::restart::Restart;
use futures_util::future::BoxFuture;
use std::any::{Any, TypeId};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{self, Poll};

/// The behaviour of a component: how it is built and what it does in each phase.
///
/// Only [`init`](Service::init) is required; the four hooks default to doing
/// nothing. Write them as `async fn`; their futures must be `Send`.
///
/// ```
/// use lifecycle::{Component, Context, Deps, Service};
///
/// #[derive(Component)]
/// struct Cache;
///
/// impl Service for Cache {
///     async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
///         Ok(Cache)
///     }
///     async fn teardown(&self, cx: &Context) -> lifecycle::Result<()> {
///         tracing::info!(component = cx.name(), "flushed");
///         Ok(())
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is a component but does not implement `lifecycle::Service`",
    label = "`#[derive(Component)]` needs `impl lifecycle::Service for {Self}`",
    note = "add `impl lifecycle::Service for {Self} {{ async fn init(deps: lifecycle::Deps<'_, Self>) -> lifecycle::Result<Self> {{ .. }} }}`"
)]
pub trait Service: Sized + Send + Sync + 'static {
    /// Builds the component once every dependency has started.
    /// [`Deps::get`] hands out the declared dependencies.
    fn init(deps: Deps<'_, Self>) -> impl Future<Output = Result<Self>> + Send;

    /// Starts serving: bind listeners, subscribe consumers, spawn loops with
    /// [`Context::spawn`]. Runs right after `init`, under the start deadline.
    fn start(&self, cx: &Context) -> impl Future<Output = Result<()>> + Send {
        let _ = cx;
        NoHook
    }

    /// Stops taking new work: close listeners, pause consumers. When it
    /// returns, the component's [`Gate`](crate::Gate) closes too.
    fn stop_intake(&self, cx: &Context) -> impl Future<Output = Result<()>> + Send {
        let _ = cx;
        NoHook
    }

    /// Lets in-flight work finish. The runtime also waits for the component's
    /// [`Gate`](crate::Gate) to empty and its tracked tasks to end.
    fn drain(&self, cx: &Context) -> impl Future<Output = Result<()>> + Send {
        let _ = cx;
        NoHook
    }

    /// Releases resources: close pools and clients, flush buffers.
    fn teardown(&self, cx: &Context) -> impl Future<Output = Result<()>> + Send {
        let _ = cx;
        NoHook
    }

    /// The component's own readiness check, asked by
    /// [`Health::readiness`](crate::Health::readiness) (and so by the
    /// `/health/ready` probe) once the application has started. `Err` says
    /// why it cannot take traffic now (a lost database connection, say).
    /// Keep it quick: probes call it often.
    fn ready(&self) -> impl Future<Output = Result<()>> + Send {
        NoHook
    }
}

/// A registered part of the application. Implemented by `#[derive(Component)]`;
/// do not implement it by hand.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a component",
    label = "not a component",
    note = "add `#[derive(Component)]` to the definition of `{Self}`"
)]
pub trait Component: Service {
    /// The component's name in logs and reports: its type name.
    const NAME: &'static str;
    /// Its depth in the dependency graph: 0 without dependencies, otherwise one
    /// more than its deepest dependency. Components of equal depth may start
    /// together. (A dependency cycle is a compile error, so there is always
    /// one.)
    const DEPTH: usize;
    #[doc(hidden)]
    const DEPENDENCIES: &'static [Dependency];
    /// Deadlines set with `#[component(start_timeout = "..", ...)]`.
    const TIMEOUTS: Timeouts;
    /// The restart policy set with `#[component(restart = "on_failure", ...)]`;
    /// [`Restart::never`] without one. [`Builder::restart`](crate::Builder::restart)
    /// wins over it.
    const RESTART: Restart = Restart::never();
    /// Whether it is telemetry (`#[component(telemetry)]`): a metrics
    /// exporter, a tracer or logger provider, a log writer's guard. Telemetry
    /// starts before every other component and stops after all of them,
    /// after the report is written, so the last lines, spans and samples of
    /// a shutdown reach it: see the crate docs, "Telemetry".
    const TELEMETRY: bool = false;
}

/// What other components' derives read of a component: its node in the
/// graph and its depth. Apart from [`Component`], which requires [`Service`],
/// so that a component without `impl Service` is reported once, at itself,
/// and not again at every dependent.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a component",
    label = "not a component",
    note = "add `#[derive(Component)]` to the definition of `{Self}`"
)]
pub trait ComponentGraph {
    /// Its node, for the cycle check.
    const NODE: Link;
    /// Its depth; see [`Component::DEPTH`].
    const DEPTH: usize;
}

/// Evidence that a component declared `depends_on = [T]`; it is what lets
/// [`Deps::get::<T>()`](Deps::get) compile. Generated by the derive, once per
/// entry: the only generated item that names `T` as a component, so a `T`
/// that is not one is reported once, at the user's entry.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not declare a dependency on `{T}`",
    label = "`{T}` is not in `{Self}`'s `depends_on`",
    note = "declare it: `#[component(depends_on = [{T}])]` on `{Self}`"
)]
pub trait DependsOn<T: ?Sized> {
    /// `T`'s node in the graph, for the cycle check.
    #[doc(hidden)]
    const NODE: Link;
    /// `T`'s depth.
    #[doc(hidden)]
    const DEPTH: usize;
}

/// A dependency edge, as the derive records it.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct Dependency {
    pub(crate) name: &'static str,
    pub(crate) type_id: fn() -> TypeId,
}

impl Dependency {
    /// The dependency whose node `link` points at.
    #[doc(hidden)]
    pub const fn new(link: Link) -> Self {
        Dependency {
            name: link.name(),
            type_id: link.type_id(),
        }
    }
}

/// Folds one dependency's depth into a component's: a component sits one
/// level below its deepest dependency, at 0 when it has none.
#[doc(hidden)]
pub const fn deeper(depth: usize, dependency: usize) -> usize {
    if dependency + 1 > depth {
        dependency + 1
    } else {
        depth
    }
}

/// `T`'s depth, as a dependency of `C`: a function, so that `T`'s depth is
/// evaluated only when this is called, not whenever `C`'s depth is (which
/// would go round a cycle).
#[doc(hidden)]
pub const fn depth<C: DependsOn<T>, T: ?Sized>() -> usize {
    <C as DependsOn<T>>::DEPTH
}

/// What the derive submits to `inventory` for each component.
#[doc(hidden)]
pub struct Registration {
    pub(crate) name: &'static str,
    pub(crate) type_name: fn() -> &'static str,
    pub(crate) type_id: fn() -> TypeId,
    pub(crate) depth: usize,
    pub(crate) dependencies: &'static [Dependency],
    pub(crate) timeouts: Timeouts,
    pub(crate) restart: Restart,
    pub(crate) telemetry: bool,
    pub(crate) build: fn(DepStore) -> BoxFuture<'static, Result<Instance>>,
}

impl Registration {
    #[doc(hidden)]
    pub const fn of<T: Component>() -> Self {
        Registration {
            name: T::NAME,
            type_name: std::any::type_name::<T>,
            type_id: TypeId::of::<T>,
            depth: T::DEPTH,
            dependencies: T::DEPENDENCIES,
            timeouts: T::TIMEOUTS,
            restart: T::RESTART,
            telemetry: T::TELEMETRY,
            build: build::<T>,
        }
    }
}

inventory::collect!(Registration);

/// Every component linked into this binary.
pub(crate) fn registered() -> impl Iterator<Item = &'static Registration> {
    inventory::iter::<Registration>.into_iter()
}

/// A built component: once as `Any` (for [`Deps`]), once as its hooks and
/// once as its readiness check (for [`Health`](crate::Health)).
#[derive(Clone)]
pub(crate) struct Instance {
    pub(crate) any: Arc<dyn Any + Send + Sync>,
    pub(crate) hooks: Arc<dyn Hooks>,
    pub(crate) check: Arc<dyn ReadinessCheck>,
}

impl Instance {
    /// A value built elsewhere (by `init`, or handed to `Builder::replace`).
    pub(crate) fn of<T: Service>(value: T) -> Instance {
        let value = Arc::new(value);
        Instance {
            any: value.clone(),
            hooks: value.clone(),
            check: value,
        }
    }
}

fn build<T: Component>(store: DepStore) -> BoxFuture<'static, Result<Instance>> {
    Box::pin(async move { Ok(Instance::of(T::init(Deps::new(&store)).await?)) })
}

/// What [`Service`]'s default hooks return. Private, so no user's hook can
/// return it: a hook's future is of this type exactly when the component did
/// not write that hook, which [`Hooks::writes`] tells without running it.
struct NoHook;

impl Future for NoHook {
    type Output = Result<()>;
    fn poll(self: Pin<&mut Self>, _: &mut task::Context<'_>) -> Poll<Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Whether the future type a hook returns is [`NoHook`], decided from the
/// hook's signature alone: nothing is called. `'static` stands in for the
/// hook's lifetimes, which type identity does not depend on.
fn is_no_hook<R: 'static>() -> bool {
    TypeId::of::<R>() == TypeId::of::<NoHook>()
}

fn returns_no_hook<T: 'static, R: 'static>(_hook: fn(&'static T, &'static Context) -> R) -> bool {
    is_no_hook::<R>()
}

fn ready_returns_no_hook<T: 'static, R: 'static>(_hook: fn(&'static T) -> R) -> bool {
    is_no_hook::<R>()
}

/// A component's hooks behind a vtable, so the runtime can hold any of them.
pub(crate) trait Hooks: Send + Sync {
    fn run<'a>(&'a self, phase: Phase, cx: &'a Context) -> BoxFuture<'a, Result<()>>;
    /// Whether the component wrote its own hook for `phase` (`init` always).
    fn writes(&self, phase: Phase) -> bool;
    /// Whether the component wrote its own readiness check.
    fn writes_ready(&self) -> bool;
}

impl<T: Service> Hooks for T {
    fn writes(&self, phase: Phase) -> bool {
        !match phase {
            Phase::Init => false,
            Phase::Start => returns_no_hook::<T, _>(T::start),
            Phase::StopIntake => returns_no_hook::<T, _>(T::stop_intake),
            Phase::Drain => returns_no_hook::<T, _>(T::drain),
            Phase::Teardown => returns_no_hook::<T, _>(T::teardown),
        }
    }

    fn writes_ready(&self) -> bool {
        !ready_returns_no_hook::<T, _>(T::ready)
    }

    fn run<'a>(&'a self, phase: Phase, cx: &'a Context) -> BoxFuture<'a, Result<()>> {
        match phase {
            // `init` builds the value; it is not a hook on an instance.
            Phase::Init => Box::pin(async { Ok(()) }),
            Phase::Start => Box::pin(self.start(cx)),
            Phase::StopIntake => Box::pin(self.stop_intake(cx)),
            Phase::Drain => Box::pin(self.drain(cx)),
            Phase::Teardown => Box::pin(self.teardown(cx)),
        }
    }
}

impl<T: Service> ReadinessCheck for T {
    fn ready(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(Service::ready(self))
    }
}
