//! The components of a service, in its library crate. A binary runs them
//! only if it names this crate (`use lifecycle_library_app as _;`): the
//! linker drops the registrations of a crate nothing refers to.

use lifecycle::{Component, Context, Dep, Deps, Service};

/// Settings read once.
#[derive(Component)]
pub struct Settings {
    /// Whom to greet.
    pub name: String,
}

impl Service for Settings {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Settings {
            name: "library".to_owned(),
        })
    }
}

/// Says hello when it starts.
#[derive(Component)]
#[component(depends_on = [Settings])]
pub struct Greeter {
    settings: Dep<Settings>,
}

impl Service for Greeter {
    async fn init(deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Greeter {
            settings: deps.get::<Settings>(),
        })
    }
    async fn start(&self, _cx: &Context) -> lifecycle::Result<()> {
        println!("hello from the {} crate", self.settings.name);
        Ok(())
    }
}

/// The `main` both binaries share: run until a short timer asks for shutdown.
pub async fn run() -> lifecycle::Result<()> {
    lifecycle::Lifecycle::builder()
        .shutdown_on(tokio::time::sleep(std::time::Duration::from_millis(50)))
        .run()
        .await
}
