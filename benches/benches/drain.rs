//! Figure 2: drain latency. N = 1, 100, 10,000 in-flight operations, each
//! finishing 100 ms after the shutdown trigger; what is reported is the time
//! from the moment they finish to the moment the run returns (the overhead).
//! Ours holds each operation in the component's `Gate`; the peers hold it in a
//! `TaskTracker`, and as a tokio-graceful-shutdown subsystem.
//!
//! `cargo bench -p lifecycle-benches --bench drain`

use lifecycle::{Component, Context, Deps, Lifecycle, Service};
use lifecycle_benches::{
    invoked_as_bench, ratio, repeats, runtime, secs, tracker_main, wait_until, Samples, Table,
};
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;
use tokio_graceful_shutdown::{SubsystemBuilder, SubsystemHandle, Toplevel};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

type Boxed = Box<dyn std::error::Error + Send + Sync>;

const SIZES: [usize; 3] = [1, 100, 10_000];
/// How long after the trigger each operation finishes.
const WORK: Duration = Duration::from_millis(100);
/// From the start of a run to the trigger: room to resolve the graph and
/// start `n` operations (and ten times more in a debug build).
fn lead(n: usize) -> Duration {
    let lead = Duration::from_millis(300) + Duration::from_micros(50) * n as u32;
    if lifecycle_benches::families::FULL {
        lead
    } else {
        lead * 10
    }
}

/// This run's operations: how many, and the instant they finish.
static PLAN: Mutex<Option<(usize, Instant)>> = Mutex::new(None);

/// A component with N requests in flight through its gate, each ending at
/// the planned instant (like a handler answering a slow request).
#[derive(Component)]
pub struct Intake;

impl Service for Intake {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Intake)
    }

    async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
        let (n, at) = PLAN.lock().unwrap().expect("a plan");
        let at = tokio::time::Instant::from_std(at);
        for _ in 0..n {
            let guard = cx.gate().enter_owned()?;
            tokio::spawn(async move {
                tokio::time::sleep_until(at).await;
                drop(guard);
            });
        }
        Ok(())
    }
}

/// When to trigger, and when the operations finish.
fn schedule(n: usize) -> (Instant, Instant) {
    let trigger = Instant::now() + lead(n);
    (trigger, trigger + WORK)
}

/// Sleeps until `trigger`, checking it was not reached during set-up.
fn sleep_until(trigger: Instant) {
    let now = Instant::now();
    assert!(now < trigger, "set-up took too long; raise `lead`");
    std::thread::sleep(trigger - now);
}

/// Ours: returns the time from the operations' end to `run()` returning.
fn ours(rt: &Runtime, n: usize) -> Duration {
    let (trigger, finish) = schedule(n);
    *PLAN.lock().unwrap() = Some((n, finish));
    let builder = Lifecycle::builder().only::<Intake>().handle_signals(false);
    let handle = builder.shutdown_handle();
    let health = builder.health();
    let run = rt.spawn(builder.run_with_report());
    wait_until(lead(n), || health.is_ready());
    sleep_until(trigger);
    handle.shutdown();
    let report = rt.block_on(run).expect("run task").expect("run");
    let end = Instant::now();
    assert!(report.is_clean(), "unclean: {}", report.failures());
    end.saturating_duration_since(finish)
}

/// tokio-graceful-shutdown: each operation a subsystem, which the toplevel
/// waits for once shutdown is requested.
fn tgs(rt: &Runtime, n: usize) -> Duration {
    let (trigger, finish) = schedule(n);
    let at = tokio::time::Instant::from_std(finish);
    let token = CancellationToken::new();
    let up = Arc::new(AtomicUsize::new(0));
    let counter = up.clone();
    let toplevel = rt.block_on(async {
        Toplevel::<Boxed>::new_with_shutdown_token(
            async move |s: &mut SubsystemHandle| {
                for i in 0..n {
                    let up = counter.clone();
                    s.start(SubsystemBuilder::new(
                        format!("op{i}"),
                        async move |_: &mut SubsystemHandle| {
                            up.fetch_add(1, Ordering::Release);
                            tokio::time::sleep_until(at).await;
                            Ok::<(), Infallible>(())
                        },
                    ));
                }
            },
            token.clone(),
        )
    });
    let run = rt.spawn(toplevel.handle_shutdown_requests(Duration::from_secs(30)));
    wait_until(lead(n), || up.load(Ordering::Acquire) == n);
    sleep_until(trigger);
    token.cancel();
    rt.block_on(run).expect("run task").expect("clean shutdown");
    Instant::now().saturating_duration_since(finish)
}

/// Hand-rolled: operations spawned on a `TaskTracker`; "main" waits for the
/// token, closes the tracker and waits for it to empty.
fn hand_rolled(rt: &Runtime, n: usize) -> Duration {
    let (trigger, finish) = schedule(n);
    let at = tokio::time::Instant::from_std(finish);
    let token = CancellationToken::new();
    let tracker = TaskTracker::new();
    let _enter = rt.enter();
    for _ in 0..n {
        tracker.spawn(tokio::time::sleep_until(at));
    }
    let main = tracker_main(rt, &token, tracker);
    sleep_until(trigger);
    token.cancel();
    rt.block_on(main).expect("main task");
    Instant::now().saturating_duration_since(finish)
}

fn main() {
    if !invoked_as_bench("drain") {
        return;
    }
    let rt = runtime();
    let runs = repeats(7);
    println!(
        "Figure 2: drain overhead: time from the in-flight operations' end (100 ms after the trigger) \
         to run() returning (median of {runs} runs, min-max)\n"
    );
    let mut table = Table::new(&[
        "in flight",
        "lifecycle (Gate)",
        "tokio-graceful-shutdown",
        "TaskTracker + token",
        "vs tgs",
        "vs TaskTracker",
        "target (< 5 ms at 10,000)",
    ]);
    let spread = |s: &Samples| {
        format!(
            "{} ({:.2}–{:.2} ms)",
            secs(s.median()),
            s.min() * 1e3,
            s.max() * 1e3
        )
    };
    for n in SIZES {
        let (mut o, mut g, mut h) = (Samples::default(), Samples::default(), Samples::default());
        for _ in 0..runs {
            o.push(ours(&rt, n));
            g.push(tgs(&rt, n));
            h.push(hand_rolled(&rt, n));
        }
        let target = match n {
            10_000 if o.median() < 0.005 => "met",
            10_000 => "MISSED",
            _ => "",
        };
        table.row(vec![
            n.to_string(),
            spread(&o),
            spread(&g),
            spread(&h),
            ratio(o.median(), g.median()),
            ratio(o.median(), h.median()),
            target.to_owned(),
        ]);
        eprintln!("  {n} in flight done");
    }
    table.print();
}
