//! Figure 1: idle shutdown latency, from the trigger to `run()` returning, for
//! 10, 100, 1,000 and 10,000 components with no-op hooks; against
//! tokio-graceful-shutdown with as many subsystems, and a hand-rolled
//! `CancellationToken` + `TaskTracker` with as many tasks.
//!
//! `cargo bench -p lifecycle-benches --bench idle_shutdown`

use lifecycle::{Lifecycle, Phase};
use lifecycle_benches::families::FAMILIES;
use lifecycle_benches::{
    invoked_as_bench, ratio, repeats, runtime, secs, secs_spread, tgs_idle, tracker_idle,
    tracker_main, wait_until, Samples, Table,
};
use std::convert::Infallible;
use std::future::Future as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;

const READY_LIMIT: Duration = Duration::from_secs(60);
/// Left between "everything is up" and the trigger, so start-up work is over.
const SETTLE: Duration = Duration::from_millis(20);

/// Ours: N components, trigger through a `ShutdownHandle`.
/// Returns (trigger → `run()` returned, the report's own shutdown duration,
/// each phase's span from its first hook's start to its last hook's end).
fn ours(
    rt: &Runtime,
    family: fn(lifecycle::Builder) -> lifecycle::Builder,
    n: usize,
) -> (Duration, Duration, [Duration; 3], Duration) {
    let builder = family(Lifecycle::builder().handle_signals(false));
    let handle = builder.shutdown_handle();
    let health = builder.health();
    let run = rt.spawn(builder.run_with_report());
    wait_until(READY_LIMIT, || health.is_ready());
    std::thread::sleep(SETTLE);
    let began = Instant::now();
    handle.shutdown();
    let report = rt.block_on(run).expect("run task").expect("run");
    let took = began.elapsed();
    assert!(report.is_clean(), "unclean: {}", report.failures());
    assert_eq!(
        report.shutdown.len(),
        3 * n,
        "one record per component and phase"
    );
    let span = |phase: Phase| {
        let records = report.shutdown.iter().filter(|r| r.phase == phase);
        let first = records.clone().map(|r| r.began).min().unwrap_or_default();
        let last = records
            .map(|r| r.began + r.duration)
            .max()
            .unwrap_or_default();
        last.saturating_sub(first)
    };
    // The mean time inside one hook's task (its record's duration).
    let inside =
        report.shutdown.iter().map(|r| r.duration).sum::<Duration>() / report.shutdown.len() as u32;
    (
        took,
        report.shutdown_duration,
        Phase::SHUTDOWN.map(span),
        inside,
    )
}

/// tokio-graceful-shutdown: N subsystems that wait for the shutdown request.
fn tgs(rt: &Runtime, n: usize) -> Duration {
    let token = CancellationToken::new();
    let up = Arc::new(AtomicUsize::new(0));
    let run = tgs_idle(rt, n, &token, &up);
    wait_until(READY_LIMIT, || up.load(Ordering::Acquire) == n);
    std::thread::sleep(SETTLE);
    let began = Instant::now();
    token.cancel();
    rt.block_on(run).expect("run task").expect("clean shutdown");
    began.elapsed()
}

/// Hand-rolled: N tasks on a `TaskTracker` waiting on a `CancellationToken`;
/// the "main" task waits for the token, closes the tracker and waits for it.
fn hand_rolled(rt: &Runtime, n: usize) -> Duration {
    let token = CancellationToken::new();
    let up = Arc::new(AtomicUsize::new(0));
    let tracker = tracker_idle(rt, n, &token, &up);
    let main = tracker_main(rt, &token, tracker);
    wait_until(READY_LIMIT, || up.load(Ordering::Acquire) == n);
    std::thread::sleep(SETTLE);
    let began = Instant::now();
    token.cancel();
    rt.block_on(main).expect("main task");
    began.elapsed()
}

/// One no-op hook as the walk runs it: timed, under a deadline.
async fn model_job(i: usize, deadline: tokio::time::Instant) -> (usize, Duration) {
    let began = tokio::time::Instant::now();
    let _ = tokio::time::timeout_at(deadline, async { Ok::<(), Infallible>(()) }).await;
    (i, began.elapsed())
}

/// A model of three shutdown phases over `n` independent no-op hooks (not
/// lifecycle's code): the walk's loop (a `select!` on an interrupt token and
/// a `JoinSet`), with every job spawned as a task (what `walk` does today),
/// or polled once inline first and spawned only if it is still pending (the
/// suggested fast path). Returns the time the three phases take.
fn model(rt: &Runtime, n: usize, inline: bool) -> Duration {
    rt.block_on(rt.spawn(async move {
        let began = Instant::now();
        let interrupt = CancellationToken::new();
        let mut records = Vec::with_capacity(3 * n);
        for _phase in 0..3 {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            let mut set = tokio::task::JoinSet::new();
            for i in 0..n {
                if inline {
                    let mut job = Box::pin(model_job(i, deadline));
                    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                    match job.as_mut().poll(&mut cx) {
                        std::task::Poll::Ready(record) => records.push(record),
                        std::task::Poll::Pending => {
                            set.spawn(job);
                        }
                    }
                } else {
                    set.spawn(model_job(i, deadline));
                }
            }
            while !set.is_empty() {
                tokio::select! {
                    biased;
                    _ = interrupt.cancelled() => break,
                    Some(joined) = set.join_next() => records.push(joined.expect("job")),
                }
            }
        }
        assert_eq!(records.len(), 3 * n);
        began.elapsed()
    }))
    .expect("model task")
}

fn main() {
    if !invoked_as_bench("idle_shutdown") {
        return;
    }
    // `BENCH_REPORT_TABLE=1`: keep the runtime's default of printing its
    // report table on stderr at the end of a run, to measure what that costs.
    // (Still one thread here.)
    if std::env::var("BENCH_REPORT_TABLE").as_deref() == Ok("1") {
        std::env::remove_var("LIFECYCLE_REPORT_TABLE");
    }
    let rt = runtime();
    let runs = repeats(7);
    // `BENCH_SIZES=1000,10000` runs only those sizes; `BENCH_PEERS=0` only ours
    // (for profiling).
    let sizes: Option<Vec<usize>> = std::env::var("BENCH_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect());
    let peers = std::env::var("BENCH_PEERS").as_deref() != Ok("0");
    println!("Figure 1: idle shutdown latency, trigger -> run() returns (median of {runs} runs, min-max)\n");
    let mut table = Table::new(&[
        "components",
        "lifecycle",
        "(its report)",
        "tokio-graceful-shutdown",
        "TaskTracker + token",
        "vs tgs",
        "vs TaskTracker",
        "target",
    ]);
    let mut models = Table::new(&[
        "hooks per phase",
        "spawn each (`walk` before d60127a)",
        "poll inline first (`walk` since d60127a)",
        "ratio",
    ]);
    let mut phases = Table::new(&[
        "components",
        "trigger -> run() returns",
        "stop_intake",
        "drain",
        "teardown",
        "rest",
        "mean time inside one hook",
    ]);
    for &(n, family) in FAMILIES
        .iter()
        .filter(|f| sizes.as_ref().is_none_or(|s| s.contains(&f.0)))
    {
        let [mut o, mut own, mut g, mut h] = <[Samples; 4]>::default();
        let mut spans = <[Samples; 4]>::default();
        let mut hook = Samples::default();
        // Interleaved, so noise from other work on the machine spreads evenly.
        for _ in 0..runs {
            let (took, reported, by_phase, inside) = ours(&rt, family, n);
            hook.push(inside);
            o.push(took);
            own.push(reported);
            for (i, d) in by_phase.iter().enumerate() {
                spans[i].push(*d);
            }
            spans[3].push(took.saturating_sub(by_phase.iter().sum()));
            if peers {
                g.push(tgs(&rt, n));
                h.push(hand_rolled(&rt, n));
            }
        }
        let [mut spawned, mut inline] = <[Samples; 2]>::default();
        for _ in 0..runs {
            spawned.push(model(&rt, n, false));
            inline.push(model(&rt, n, true));
        }
        models.row(vec![
            n.to_string(),
            secs_spread(&spawned),
            secs_spread(&inline),
            ratio(inline.median(), spawned.median()),
        ]);
        phases.row(
            std::iter::once(n.to_string())
                .chain(std::iter::once(secs(o.median())))
                .chain(spans.iter().map(|s| secs(s.median())))
                .chain(std::iter::once(format!("{:.1} µs", hook.median() * 1e6)))
                .collect(),
        );
        let best = g.median().min(h.median());
        let mut target = if o.median() <= best {
            "met".to_owned()
        } else {
            "MISSED (> best peer)".to_owned()
        };
        if n == 10_000 {
            let under = o.median() < 0.050;
            target = match (target.as_str(), under) {
                ("met", true) => "met (< 50 ms)".to_owned(),
                ("met", false) => "MISSED (>= 50 ms)".to_owned(),
                (_, true) => "MISSED (> best peer; < 50 ms met)".to_owned(),
                (_, false) => "MISSED (> best peer, >= 50 ms)".to_owned(),
            };
        }
        table.row(vec![
            n.to_string(),
            secs_spread(&o),
            secs(own.median()),
            secs_spread(&g),
            secs_spread(&h),
            ratio(o.median(), g.median()),
            ratio(o.median(), h.median()),
            target,
        ]);
        eprintln!("  {n} components done");
    }
    table.print();
    println!("Where lifecycle's time goes (medians; a phase from its first hook's start to its last hook's end):\n");
    phases.print();
    println!(
        "A model of the walk, not lifecycle's code: three phases of no-op hooks, each under a \
         deadline, through a JoinSet:\n"
    );
    models.print();
}
