//! Errors that interoperate: `?` in `init`, the hooks and `ready` takes std
//! errors, `anyhow::Error` and `Box<dyn Error + Send + Sync>`, keeping the
//! cause chain and the original error; the run's failure is a typed
//! `std::error::Error` naming every component and phase that failed; a
//! `Server` whose hooks were never wired fails start-up; hooks a component
//! did not write never show up in a failure.

use anyhow::Context as _;
use lifecycle::{BoxError, Component, Context, Deps, Lifecycle, Outcome, Phase, RunError, Service};
use std::io;
use std::time::Duration;

fn quiet() -> lifecycle::Builder {
    Lifecycle::builder()
        .handle_signals(false)
        .print_report(false)
}

fn not_found() -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, "no such file: key.pem")
}

// --- `?` in init: std, anyhow, BoxError -------------------------------------

/// `init` fails with a std error under two layers of anyhow context.
#[derive(Component)]
struct KeyStore;

impl Service for KeyStore {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        let key = Err::<Vec<u8>, _>(not_found()).context("reading the signing key")?;
        let _ = key;
        Ok(KeyStore)
    }
}

#[tokio::test(start_paused = true)]
async fn anyhow_in_init_keeps_its_chain_and_the_original_error() {
    let error = quiet().only::<KeyStore>().try_run().await.unwrap_err();
    let RunError::Startup { component, report } = &error else {
        panic!("expected a start-up failure, got {error:?}");
    };
    assert_eq!(*component, "KeyStore");
    let Outcome::Failed(failure) = &report.record("KeyStore", Phase::Init).unwrap().outcome else {
        panic!("{}", report.table());
    };
    assert_eq!(
        failure.to_string(),
        "reading the signing key: no such file: key.pem"
    );
    let io = failure
        .downcast_ref::<io::Error>()
        .expect("the io::Error in the chain");
    assert_eq!(io.kind(), io::ErrorKind::NotFound);
    // The top of the chain is the context, its source the io::Error.
    let chain: Vec<String> = failure.error().chain().map(|e| e.to_string()).collect();
    assert_eq!(chain, ["reading the signing key", "no such file: key.pem"]);
    // The run's failure names the component and phase, with the causes.
    assert_eq!(
        error.to_string(),
        "start-up failed: KeyStore init failed: reading the signing key: no such file: key.pem"
    );
}

/// `init` fails with a tower/axum-style `BoxError`.
#[derive(Component)]
struct Pool;

async fn connect() -> Result<(), BoxError> {
    Err(Box::new(io::Error::new(
        io::ErrorKind::ConnectionRefused,
        "connection refused",
    )))
}

impl Service for Pool {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        connect().await?;
        Ok(Pool)
    }
}

#[tokio::test(start_paused = true)]
async fn a_box_error_in_init_is_kept_as_it_was() {
    let error = quiet().only::<Pool>().try_run().await.unwrap_err();
    let report = error.report().expect("a report");
    let Outcome::Failed(failure) = &report.record("Pool", Phase::Init).unwrap().outcome else {
        panic!("{}", report.table());
    };
    assert_eq!(
        failure.downcast_ref::<io::Error>().map(io::Error::kind),
        Some(io::ErrorKind::ConnectionRefused)
    );
}

/// A std error with a source, from a hook; and a readiness check failing
/// with anyhow.
#[derive(Debug)]
struct FlushError(io::Error);

impl std::fmt::Display for FlushError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("flushing the buffer")
    }
}

impl std::error::Error for FlushError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[derive(Component)]
struct Buffer;

impl Service for Buffer {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        let port: u16 = "8080".parse()?; // a std error type, `?` as is
        assert_eq!(port, 8080);
        Ok(Buffer)
    }
    async fn teardown(&self, _cx: &Context) -> lifecycle::Result<()> {
        Err(FlushError(io::Error::other("disk full")))?
    }
    async fn ready(&self) -> lifecycle::Result<()> {
        Err(anyhow::anyhow!("replica lag 30s").context("behind the primary"))?
    }
}

#[tokio::test(start_paused = true)]
async fn std_errors_with_sources_and_readiness_errors_keep_their_chain() {
    let app = quiet().only::<Buffer>().start().await.expect("starts");
    let readiness = app.health().readiness().await;
    assert!(!readiness.ready);
    assert_eq!(
        readiness.not_ready,
        [("Buffer", "behind the primary: replica lag 30s".to_owned())]
    );
    let error = readiness.error("Buffer").expect("the check's error");
    assert_eq!(error.error().chain().count(), 2);

    let report = app.shutdown().await;
    let Outcome::Failed(failure) = &report.record("Buffer", Phase::Teardown).unwrap().outcome
    else {
        panic!("{}", report.table());
    };
    assert_eq!(failure.to_string(), "flushing the buffer: disk full");
    assert!(failure.downcast_ref::<FlushError>().is_some());
    assert_eq!(
        failure.downcast_ref::<io::Error>().map(|e| e.to_string()),
        Some("disk full".to_owned())
    );
    // `Error`'s own formatting: `{}` the top, `{:#}` the chain, `{:?}` the causes.
    let error = failure.error();
    assert_eq!(error.to_string(), "flushing the buffer");
    assert_eq!(format!("{error:#}"), "flushing the buffer: disk full");
    assert_eq!(
        format!("{error:?}"),
        "flushing the buffer\n\nCaused by:\n    disk full"
    );
}

// --- the run's failure -------------------------------------------------------

#[derive(Component)]
#[component(drain_timeout = "1s")]
struct Stuck;

impl Service for Stuck {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Stuck)
    }
    async fn drain(&self, _cx: &Context) -> lifecycle::Result<()> {
        std::future::pending().await
    }
}

#[derive(Component)]
#[component(depends_on = [Stuck])]
struct Leaky;

impl Service for Leaky {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Leaky)
    }
    async fn stop_intake(&self, _cx: &Context) -> lifecycle::Result<()> {
        Err("the listener was already closed")?
    }
}

/// What a `main` returning `anyhow::Result<()>` does with a run.
async fn anyhow_main(builder: lifecycle::Builder) -> anyhow::Result<()> {
    builder.try_run().await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn the_runs_failure_is_a_std_error_naming_every_component_and_phase() {
    let builder = quiet()
        .only::<Leaky>()
        .shutdown_on(tokio::time::sleep(Duration::from_millis(10)));
    let error = anyhow_main(builder).await.unwrap_err();
    let message = error.to_string();
    assert_eq!(
        message,
        "shutdown was not clean: Leaky stop_intake failed: the listener was already closed; \
         Stuck drain timed out after 1s"
    );
    // Typed, with the report, through anyhow.
    let run_error = error.downcast_ref::<RunError>().expect("a RunError");
    let report = run_error.report().expect("the report");
    assert!(report.started && !report.is_clean());
    assert!(report.failures().to_string().contains("Stuck drain"));
    // A std error: it goes in a Box<dyn Error> as well.
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(
        quiet()
            .only::<Leaky>()
            .shutdown_on(std::future::ready(()))
            .try_run()
            .await
            .unwrap_err(),
    );
    assert!(boxed.to_string().starts_with("shutdown was not clean"));
}

/// Takes its time to stop intake; writes no other hook.
#[derive(Component)]
#[component(depends_on = [Stuck])]
struct Doorman;

impl Service for Doorman {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Doorman)
    }
    async fn stop_intake(&self, _cx: &Context) -> lifecycle::Result<()> {
        tokio::time::sleep(Duration::from_secs(3)).await;
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn hooks_not_written_are_never_reported_skipped() {
    // A second Ctrl+C while Doorman stops intake: the rest of stop_intake
    // and all of drain are skipped. Stuck's drain was written, so its skip
    // is news; the defaults (Stuck's stop_intake, Doorman's drain, both
    // teardowns) are not.
    let builder = quiet().only::<Doorman>();
    let handle = builder.shutdown_handle();
    let app = builder.start().await.unwrap();
    let hurry = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        handle.skip_to_teardown();
    });
    let report = app.shutdown().await;
    hurry.await.unwrap();
    assert_eq!(
        report.failures().to_string(),
        "Doorman stop_intake interrupted; Stuck drain skipped"
    );
    // The defaults that were skipped are still in the report, marked.
    let stuck_stop = report.record("Stuck", Phase::StopIntake).unwrap();
    assert_eq!(
        (&stuck_stop.outcome, stuck_stop.idle),
        (&Outcome::Skipped, true)
    );
    let table = report.table().to_string();
    let rows: Vec<&str> = table.lines().filter(|l| l.contains("skipped")).collect();
    assert_eq!(rows.len(), 1, "{table}");
    assert!(
        rows[0].starts_with("Stuck") && rows[0].contains("drain"),
        "{table}"
    );
}

// --- a Server whose hooks were never wired -----------------------------------

#[derive(Component)]
struct Forgetful {
    #[allow(dead_code)] // the point: `server_hooks!(server)` was forgotten
    server: lifecycle::http::Server,
}

impl Service for Forgetful {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        let router = axum::Router::new();
        Ok(Forgetful {
            server: lifecycle::http::Server::new(router).bind(([127, 0, 0, 1], 0)),
        })
    }
}

#[derive(Component)]
struct Wired {
    server: lifecycle::http::Server,
}

impl Service for Wired {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        let router = axum::Router::new();
        Ok(Wired {
            server: lifecycle::http::Server::new(router).bind(([127, 0, 0, 1], 0)),
        })
    }
    lifecycle::http::server_hooks!(server);
}

#[tokio::test]
async fn a_server_whose_hooks_were_never_wired_fails_start_up() {
    let error = quiet().only::<Forgetful>().start().await.unwrap_err();
    let RunError::Startup { component, report } = &error else {
        panic!("expected a start-up failure, got {error:?}");
    };
    assert_eq!(*component, "Forgetful");
    let message = error.to_string();
    assert!(
        message.contains("Forgetful start failed")
            && message.contains("lifecycle::http::Server")
            && message.contains("server_hooks!"),
        "{message}"
    );
    assert!(!report.started);

    // Wired, the same server starts and listens.
    let app = quiet().only::<Wired>().start().await.expect("starts");
    let addr = app.get::<Wired>().server.local_addr().expect("listening");
    tokio::net::TcpStream::connect(addr).await.expect("accepts");
    assert!(app.shutdown().await.is_clean());
}

/// A server built and dropped in `init` owes nothing.
#[derive(Component)]
struct Changed;

impl Service for Changed {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        drop(lifecycle::http::Server::new(axum::Router::new()));
        Ok(Changed)
    }
}

#[tokio::test(start_paused = true)]
async fn a_server_dropped_in_init_owes_nothing() {
    let app = quiet().only::<Changed>().start().await.expect("starts");
    assert!(app.shutdown().await.is_clean());
}
