//! Figure 4: the in-flight gate, enter + exit, on one thread and contended
//! from every core at once; against `TaskTracker::track_future` (creating and
//! dropping a tracked future: what counting in-flight work costs there) and a
//! plain `Arc<AtomicUsize>` `fetch_add` + `fetch_sub` (the floor).
//! `Gate::enter` hands a guard that borrows the gate; `Gate::enter_owned`
//! one that holds an `Arc` (for work moved into a spawned task).
//!
//! `cargo bench -p lifecycle-benches --bench gate`

use lifecycle::Gate;
use lifecycle_benches::{invoked_as_bench, ratio, repeats, Samples, Table};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Instant;
use tokio_util::task::TaskTracker;

/// Enter + exit pairs per thread per measurement.
const ITERS: u64 = 4_000_000;

/// Nanoseconds per enter + exit, each of `threads` threads running `op`
/// `ITERS` times at once (the slowest thread's time counts).
fn per_op<F>(threads: usize, op: F) -> f64
where
    F: Fn() + Sync,
{
    let start = Barrier::new(threads);
    let slowest = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    let began = Instant::now();
                    for _ in 0..ITERS {
                        op();
                    }
                    began.elapsed()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .max()
            .expect("a thread")
    });
    slowest.as_secs_f64() * 1e9 / ITERS as f64
}

fn main() {
    if !invoked_as_bench("gate") {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let runs = repeats(9);
    println!(
        "Figure 4: enter + exit of the in-flight count, ns per pair (median of {runs} runs of {ITERS} pairs per thread, min-max)\n"
    );

    let floor = Arc::new(AtomicUsize::new(0));
    let gate = Gate::new();
    let tracker = TaskTracker::new();
    let ops: [(&str, &(dyn Fn() + Sync)); 4] = [
        ("Arc<AtomicUsize> (floor)", &|| {
            let counter = black_box(&floor);
            counter.fetch_add(1, Ordering::AcqRel);
            counter.fetch_sub(1, Ordering::AcqRel);
        }),
        ("lifecycle Gate::enter", &|| {
            let guard = black_box(&gate).enter().expect("open");
            drop(black_box(guard));
        }),
        ("TaskTracker::track_future", &|| {
            let tracked = black_box(&tracker).track_future(std::future::ready(()));
            drop(black_box(tracked));
        }),
        ("lifecycle Gate::enter_owned", &|| {
            let guard = black_box(&gate).enter_owned().expect("open");
            drop(black_box(guard));
        }),
    ];

    let mut table = Table::new(&[
        "threads",
        "floor: Arc<AtomicUsize>",
        "lifecycle Gate::enter",
        "TaskTracker::track_future",
        "Gate vs floor",
        "Gate vs TaskTracker",
        "target (<= 1.5x floor)",
        "Gate::enter_owned",
        "enter_owned vs floor",
    ]);
    for threads in [1, cores] {
        let mut samples = <[Samples; 4]>::default();
        for _ in 0..runs {
            for (i, (_, op)) in ops.iter().enumerate() {
                samples[i].push_value(per_op(threads, op));
            }
        }
        let cell = |s: &Samples| format!("{:.1} ns ({:.1}–{:.1})", s.median(), s.min(), s.max());
        let [f, g, t, b] = &samples;
        let vs_floor = g.median() / f.median();
        table.row(vec![
            if threads == 1 {
                "1".to_owned()
            } else {
                format!("{threads} (all cores, contended)")
            },
            cell(f),
            cell(g),
            cell(t),
            ratio(g.median(), f.median()),
            ratio(g.median(), t.median()),
            if vs_floor <= 1.5 { "met" } else { "MISSED" }.to_owned(),
            cell(b),
            ratio(b.median(), f.median()),
        ]);
    }
    assert_eq!(gate.in_flight(), 0);
    table.print();
}
