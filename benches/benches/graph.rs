//! Figure 5: building and validating the graph of 10,000 registered
//! components, and memory per component.
//!
//! The graph is timed through public API: `Builder::budget()` (resolve the
//! graph: find the `only` closure among every registered component, index
//! the edges, check names, apply the environment's deadline settings, and
//! compute the shutdown budget; starts nothing), and a run whose shutdown was
//! triggered before it began (the same, plus the run's own set-up and three
//! empty shutdown phases). Memory is the heap a counting global allocator
//! sees held once the run is ready, divided by the number of components;
//! against tokio-graceful-shutdown with as many idle subsystems and a
//! `TaskTracker` with as many idle tasks.
//!
//! `cargo bench -p lifecycle-benches --bench graph`

use lifecycle::Lifecycle;
use lifecycle_benches::families::FAMILIES;
use lifecycle_benches::{
    invoked_as_bench, ratio, repeats, runtime, secs_spread, tgs_idle, tracker_idle, wait_until,
    Samples, Table,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;

/// The system allocator, counting the bytes it holds.
struct Counting;

static HELD: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to `System` unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            HELD.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            HELD.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        HELD.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            HELD.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn held() -> isize {
    HELD.load(Ordering::Relaxed)
}

/// Left after everything is up before reading the heap, so start-up's
/// temporaries are gone.
const SETTLE: Duration = Duration::from_millis(30);
const LIMIT: Duration = Duration::from_secs(60);

/// What one of our runs costs: graph via `budget()`, a pre-triggered run,
/// time to ready, heap held at ready.
struct Ours {
    budget: Duration,
    pre_triggered: Duration,
    to_ready: Duration,
    bytes: isize,
}

fn ours(rt: &Runtime, family: fn(lifecycle::Builder) -> lifecycle::Builder, n: usize) -> Ours {
    // 1. The graph alone, through `Builder::budget`.
    let builder = family(Lifecycle::builder().handle_signals(false));
    let began = Instant::now();
    std::hint::black_box(builder.budget().expect("a valid graph"));
    let budget_took = began.elapsed();

    // 2. A run told to stop before it begins: graph, set-up, empty phases.
    let builder = family(Lifecycle::builder().handle_signals(false));
    builder.shutdown_handle().shutdown();
    let began = Instant::now();
    let report = rt.block_on(builder.run_with_report()).expect("run");
    let pre_triggered = began.elapsed();
    assert!(report.startup.is_empty(), "nothing starts");

    // 3. A real run: time to ready and the heap it holds then.
    let builder = family(Lifecycle::builder().handle_signals(false));
    let handle = builder.shutdown_handle();
    let health = builder.health();
    let before = held();
    let began = Instant::now();
    let run = rt.spawn(builder.run_with_report());
    let ready = wait_until(LIMIT, || health.is_ready());
    std::thread::sleep(SETTLE);
    let bytes = held() - before;
    handle.shutdown();
    let report = rt.block_on(run).expect("run task").expect("run");
    assert!(report.is_clean(), "unclean: {}", report.failures());
    assert_eq!(report.shutdown.len(), 3 * n);
    Ours {
        budget: budget_took,
        pre_triggered,
        to_ready: ready - began,
        bytes,
    }
}

/// tokio-graceful-shutdown: time until N idle subsystems run, and heap held then.
fn tgs(rt: &Runtime, n: usize) -> (Duration, isize) {
    let token = CancellationToken::new();
    let up = Arc::new(AtomicUsize::new(0));
    let before = held();
    let began = Instant::now();
    let run = tgs_idle(rt, n, &token, &up);
    let ready = wait_until(LIMIT, || up.load(Ordering::Acquire) == n);
    std::thread::sleep(SETTLE);
    let bytes = held() - before;
    token.cancel();
    rt.block_on(run).expect("run task").expect("clean shutdown");
    (ready - began, bytes)
}

/// TaskTracker: time until N idle tasks run, and heap held then.
fn hand_rolled(rt: &Runtime, n: usize) -> (Duration, isize) {
    let token = CancellationToken::new();
    let up = Arc::new(AtomicUsize::new(0));
    let before = held();
    let began = Instant::now();
    let tracker = tracker_idle(rt, n, &token, &up);
    let ready = wait_until(LIMIT, || up.load(Ordering::Acquire) == n);
    std::thread::sleep(SETTLE);
    let bytes = held() - before;
    token.cancel();
    tracker.close();
    rt.block_on(tracker.wait());
    (ready - began, bytes)
}

fn main() {
    if !invoked_as_bench("graph") {
        return;
    }
    let rt = runtime();
    let runs = repeats(5);
    let registered = FAMILIES.iter().map(|f| f.0).sum::<usize>();
    println!(
        "Figure 5: graph build + validation, and memory per component \
         ({registered}+ components registered in this binary; median of {runs} runs, min-max)\n"
    );
    let mut graph = Table::new(&[
        "components run",
        "Builder::budget() (graph only)",
        "pre-triggered run",
        "per component",
    ]);
    let mut start = Table::new(&[
        "components",
        "lifecycle: run() to ready",
        "tgs: subsystems running",
        "TaskTracker: tasks running",
        "vs tgs",
        "vs TaskTracker",
    ]);
    let mut memory = Table::new(&[
        "components",
        "lifecycle",
        "tokio-graceful-shutdown",
        "TaskTracker + token",
        "vs tgs",
        "vs TaskTracker",
    ]);
    for &(n, family) in FAMILIES
        .iter()
        .filter(|f| f.0 == 10 || f.0 == 10_000 || !lifecycle_benches::families::FULL)
    {
        let [mut budget, mut pre, mut ready, mut bytes] = <[Samples; 4]>::default();
        let [mut g_ready, mut g_bytes, mut h_ready, mut h_bytes] = <[Samples; 4]>::default();
        for _ in 0..runs {
            let o = ours(&rt, family, n);
            budget.push(o.budget);
            pre.push(o.pre_triggered);
            ready.push(o.to_ready);
            bytes.push_value(o.bytes as f64 / n as f64);
            let (t, b) = tgs(&rt, n);
            g_ready.push(t);
            g_bytes.push_value(b as f64 / n as f64);
            let (t, b) = hand_rolled(&rt, n);
            h_ready.push(t);
            h_bytes.push_value(b as f64 / n as f64);
        }
        graph.row(vec![
            n.to_string(),
            secs_spread(&budget),
            secs_spread(&pre),
            format!("{:.2} µs", budget.median() * 1e6 / n as f64),
        ]);
        start.row(vec![
            n.to_string(),
            secs_spread(&ready),
            secs_spread(&g_ready),
            secs_spread(&h_ready),
            ratio(ready.median(), g_ready.median()),
            ratio(ready.median(), h_ready.median()),
        ]);
        let b = |s: &Samples| format!("{:.0} B", s.median());
        memory.row(vec![
            n.to_string(),
            b(&bytes),
            b(&g_bytes),
            b(&h_bytes),
            ratio(bytes.median(), g_bytes.median()),
            ratio(bytes.median(), h_bytes.median()),
        ]);
        eprintln!("  {n} components done");
    }
    println!("Graph build and validation (nothing started):\n");
    graph.print();
    println!("Heap held per component once running (bytes):\n");
    memory.print();
    println!("Start-up to running, no-op init (for scale; figure 3 is the start-up figure):\n");
    start.print();
}
