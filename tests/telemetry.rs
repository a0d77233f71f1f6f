//! Telemetry's place in the lifecycle (`#[component(telemetry)]`): it starts
//! before every other component, whatever the edges, and stops after all of
//! them, after the report is written, under its own deadline inside the
//! budget; what it depends on comes along. On tokio's paused clock, with a
//! telemetry component that buffers log lines (as `tracing-appender`'s
//! non-blocking writer does) and flushes them only at its teardown: the
//! shutdown's report must be in what it flushed.

use lifecycle::testing::Fault;
use lifecycle::{Component, Context, Deps, Lifecycle, Outcome, Phase, Service};
use lifecycle_suite::log::Log;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Log lines written, and those flushed: the buffer a non-blocking writer
/// keeps, and the file it writes to.
#[derive(Clone, Default)]
struct Lines {
    buffered: Arc<Mutex<Vec<u8>>>,
    flushed: Arc<Mutex<String>>,
}

impl Lines {
    fn flush(&self) {
        let buffered = std::mem::take(&mut *self.buffered.lock().unwrap());
        self.flushed
            .lock()
            .unwrap()
            .push_str(&String::from_utf8_lossy(&buffered));
    }
}

impl Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffered.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

mod ordered {
    use super::*;
    pub static LOG: Log = Log::new();

    /// What the log writer needs (an address from configuration, say): not
    /// telemetry itself, but it must come and go with it.
    #[derive(Component)]
    pub struct WriterConfig;
    impl Service for WriterConfig {
        async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
            LOG.push("WriterConfig.init");
            Ok(WriterConfig)
        }
        async fn teardown(&self, _: &Context) -> lifecycle::Result<()> {
            LOG.push("WriterConfig.teardown");
            Ok(())
        }
    }

    /// The log writer's guard: flushes the buffered lines at teardown.
    #[derive(Component)]
    #[component(telemetry, depends_on = [WriterConfig])]
    pub struct LogWriter {
        pub lines: Lines,
    }
    impl Service for LogWriter {
        async fn init(deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
            LOG.push("LogWriter.init");
            Ok(LogWriter {
                lines: deps.supplied::<Lines>()?.clone(),
            })
        }
        async fn stop_intake(&self, _: &Context) -> lifecycle::Result<()> {
            LOG.push("LogWriter.stop_intake");
            Ok(())
        }
        async fn teardown(&self, _: &Context) -> lifecycle::Result<()> {
            LOG.push("LogWriter.teardown");
            self.lines.flush();
            Ok(())
        }
    }

    /// An ordinary component, with no edge to the telemetry.
    #[derive(Component)]
    pub struct Api;
    impl Service for Api {
        async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
            LOG.push("Api.init");
            Ok(Api)
        }
        async fn drain(&self, _: &Context) -> lifecycle::Result<()> {
            LOG.push("Api.drain");
            tracing::info!("the last request answered");
            Ok(())
        }
        async fn teardown(&self, _: &Context) -> lifecycle::Result<()> {
            LOG.push("Api.teardown");
            Ok(())
        }
    }
}

#[tokio::test(start_paused = true)]
async fn telemetry_starts_first_stops_last_and_carries_the_report() {
    use ordered::*;
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);

    let builder = || {
        Lifecycle::builder()
            .handle_signals(false)
            .print_report(false)
            .only::<Api>()
            .only::<LogWriter>()
    };
    let budget = builder().budget().unwrap();
    assert_eq!(budget.telemetry(), Some(Duration::from_secs(2)));
    assert_eq!(budget.total(), Duration::from_secs(27));
    assert!(
        budget
            .to_string()
            .contains("teardown 5s + telemetry 2s = 27s"),
        "{budget}"
    );

    let app = builder().supply(lines.clone()).start().await.unwrap();
    let report = app.shutdown().await;
    assert!(report.is_clean(), "{}", report.failures());

    // Started first, with what it needs; stopped after everything else.
    let i = |e: &str| LOG.index(e, 0);
    assert!(i("WriterConfig.init") < i("LogWriter.init"));
    assert!(i("LogWriter.init") < i("Api.init"));
    assert!(i("Api.teardown") < i("LogWriter.stop_intake"));
    assert!(i("LogWriter.teardown") < i("WriterConfig.teardown"));
    // The report, logged at the end, reached it before it flushed.
    let flushed = lines.flushed.lock().unwrap().clone();
    assert!(flushed.contains("the last request answered"), "{flushed}");
    assert!(flushed.contains("shutdown complete: clean"), "{flushed}");
    // In the report: telemetry's records come last.
    let teardown = report.order(Phase::Teardown);
    assert_eq!(teardown, ["Api", "LogWriter", "WriterConfig"]);
}

mod hanging {
    use super::*;

    #[derive(Component)]
    #[component(telemetry)]
    pub struct Exporter;
    impl Service for Exporter {
        async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
            Ok(Exporter)
        }
    }

    #[derive(Component)]
    #[component(drain_timeout = "3s")]
    pub struct Worker;
    impl Service for Worker {
        async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
            Ok(Worker)
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_telemetry_flush_that_hangs_is_cut_at_its_deadline_within_the_budget() {
    use hanging::*;
    let builder = || {
        Lifecycle::builder()
            .hermetic()
            .print_report(false)
            .only::<Worker>()
            .only::<Exporter>()
    };
    let budget = builder().budget().unwrap();
    let app = builder()
        .fault::<Exporter>(Phase::Teardown, Fault::Hang)
        .fault::<Worker>(Phase::Drain, Fault::Hang)
        .start()
        .await
        .unwrap();
    let began = Instant::now();
    let report = app.shutdown().await;
    assert_eq!(
        report.outcome::<Exporter>(Phase::Teardown),
        Some(&Outcome::TimedOut {
            deadline: Duration::from_secs(2),
            detail: None
        })
    );
    assert!(!report.is_clean(), "a flush that was cut is not clean");
    // Worker's drain (3 s) + telemetry (2 s): the budget holds.
    assert_eq!(began.elapsed(), Duration::from_secs(5));
    assert!(report.shutdown_duration <= budget.total(), "{budget}");
}
