//! Figure 3: start-up of a wide graph: 1,000 components in 10 levels of 100,
//! each depending on three of the level below, each `init` sleeping 10 ms
//! (plus a no-op `WideTop` over the last level, for `Builder::only`).
//! Ours (from `run()` to ready) against a sequential start (one component at a
//! time in dependency order, as fx, .NET's host and OTP supervisors do) and
//! against the critical path (10 levels x 10 ms).
//!
//! `cargo bench -p lifecycle-benches --bench startup`
//! (`BENCH_SEQUENTIAL=0` skips the ~11 s sequential run and prints its
//! nominal 10 s instead.)

use lifecycle::Lifecycle;
use lifecycle_benches::{
    invoked_as_bench, ratio, repeats, runtime, secs, secs_spread, wait_until, Samples, Table,
};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

use lifecycle_benches::families::{
    WideTop, WIDE_INIT as INIT, WIDE_LEVELS as LEVELS, WIDE_PER_LEVEL as PER_LEVEL,
};

/// How long resolving the graph alone takes (`Builder::budget()`): part of
/// what `run()` does before starting anything.
fn resolve() -> Duration {
    let builder = Lifecycle::builder().only::<WideTop>().handle_signals(false);
    let began = Instant::now();
    std::hint::black_box(builder.budget().expect("a valid graph"));
    began.elapsed()
}

/// Ours: from calling `run()` to ready.
fn ours(rt: &Runtime) -> Duration {
    let builder = Lifecycle::builder().only::<WideTop>().handle_signals(false);
    let handle = builder.shutdown_handle();
    let health = builder.health();
    let began = Instant::now();
    let run = rt.spawn(builder.run_with_report());
    let ready = wait_until(Duration::from_secs(60), || health.is_ready());
    handle.shutdown();
    let report = rt.block_on(run).expect("run task").expect("run");
    assert!(report.is_clean(), "unclean: {}", report.failures());
    assert_eq!(
        report.startup.len(),
        2 * (LEVELS * PER_LEVEL + 1),
        "init + start per component"
    );
    ready - began
}

/// `count` inits of 10 ms, one after the other, on the same runtime.
fn sequential(rt: &Runtime, count: usize) -> Duration {
    rt.block_on(async {
        let began = Instant::now();
        for _ in 0..count {
            tokio::time::sleep(INIT).await;
        }
        began.elapsed()
    })
}

fn main() {
    if !invoked_as_bench("startup") {
        return;
    }
    let rt = runtime();
    let runs = repeats(7);
    let total = LEVELS * PER_LEVEL;
    println!(
        "Figure 3: start-up of {total} components in {LEVELS} levels, each init sleeping {INIT:?} \
         (median of {runs} runs, min-max)\n"
    );
    let [mut o, mut path, mut graph] = <[Samples; 3]>::default();
    for _ in 0..runs {
        graph.push(resolve());
        o.push(ours(&rt));
        // The critical path as tokio's 1 ms timer delivers it: 10 sleeps in a row.
        path.push(sequential(&rt, LEVELS));
    }
    let nominal_critical = INIT.as_secs_f64() * LEVELS as f64;
    let (seq, seq_note) = if std::env::var("BENCH_SEQUENTIAL").as_deref() == Ok("0") {
        (INIT.as_secs_f64() * total as f64, "nominal, not run")
    } else {
        (sequential(&rt, total).as_secs_f64(), "measured once")
    };
    let within = o.median() / nominal_critical - 1.0;
    let mut table = Table::new(&["start-up", "time to ready", "lifecycle vs this", "note"]);
    table.row(vec![
        "lifecycle".to_owned(),
        secs_spread(&o),
        "1.00x".to_owned(),
        format!(
            "{:+.0}% over the 100 ms critical path: target (within 20%) {}",
            within * 100.0,
            if within <= 0.20 { "met" } else { "MISSED" }
        ),
    ]);
    table.row(vec![
        "of which: resolving the graph".to_owned(),
        secs_spread(&graph),
        String::new(),
        format!(
            "`Builder::budget()` alone, {} of {} components registered in this binary",
            total + 1,
            lifecycle_benches::families::FAMILIES
                .iter()
                .map(|f| f.0)
                .sum::<usize>()
                + total
                + 1
        ),
    ]);
    table.row(vec![
        "sequential (fx, .NET, OTP)".to_owned(),
        secs(seq),
        ratio(o.median(), seq),
        format!("{total} x 10 ms, {seq_note}"),
    ]);
    table.row(vec![
        "critical path, nominal".to_owned(),
        secs(nominal_critical),
        ratio(o.median(), nominal_critical),
        format!("{LEVELS} levels x 10 ms"),
    ]);
    table.row(vec![
        "critical path, tokio timer".to_owned(),
        secs_spread(&path),
        ratio(o.median(), path.median()),
        format!("{LEVELS} sleeps of 10 ms in a row: what the timer's 1 ms ticks allow"),
    ]);
    table.print();
}
