//! Names the library crate, so its components are linked in and run.

use lifecycle_library_app as _;

#[tokio::main]
async fn main() -> lifecycle::Result<()> {
    lifecycle_library_app::run().await
}
