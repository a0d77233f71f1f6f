//! Never names the library crate: its components are not linked in, and the
//! run refuses to start with nothing to run, saying why.
//!
//! (This `main` cannot call `lifecycle_library_app::run`, which would name
//! the crate; it is the same run.)

#[tokio::main]
async fn main() -> lifecycle::Result<()> {
    lifecycle::Lifecycle::builder()
        .shutdown_on(tokio::time::sleep(std::time::Duration::from_millis(50)))
        .run()
        .await
}
