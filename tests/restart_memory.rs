//! A process that lives for months and restarts a component now and then
//! must not grow: 10,000 restarts, on tokio's paused clock, with a counting
//! allocator that measures the bytes still allocated. The report keeps the
//! most recent restarts and a count of all (`Report::RECENT_RESTARTS`,
//! `Report::restart_count`); the failures waiting for the supervisor are at
//! most one per incarnation (a component that asks for a restart in a loop).
//! This binary holds one test, so nothing else allocates meanwhile.

use lifecycle::{Component, Context, Deps, Lifecycle, Report, Restart, Service};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicU64, Ordering};
use std::time::Duration;

/// The system allocator, counting the bytes allocated and not yet freed.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

static INCARNATIONS: AtomicU64 = AtomicU64::new(0);

/// Asks for its restart a hundred times as soon as it starts (a loop that
/// keeps failing), and again on every new incarnation.
#[derive(Component)]
struct Flaky;

impl Service for Flaky {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        INCARNATIONS.fetch_add(1, Ordering::Relaxed);
        Ok(Flaky)
    }
    async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
        for _ in 0..100 {
            cx.request_restart("the link keeps dropping");
        }
        Ok(())
    }
}

/// Waits until `Flaky` has had `n` incarnations.
async fn until(n: u64) {
    while INCARNATIONS.load(Ordering::Relaxed) < n {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_restarts_leave_memory_flat() {
    let policy = Restart::on_failure()
        .backoff(Duration::from_millis(1), Duration::from_millis(1))
        .jitter(0.0)
        // About a restart a millisecond: within the limit, and the window's
        // history (bounded by the limit) full from the start.
        .intensity(2_000, Duration::from_secs(1));
    let app = Lifecycle::builder()
        .handle_signals(false)
        .print_report(false)
        .only::<Flaky>()
        .restart::<Flaky>(policy)
        .start()
        .await
        .expect("starts");
    until(1_000).await;
    let after_a_thousand = LIVE.load(Ordering::Relaxed);
    until(10_000).await;
    let after_ten_thousand = LIVE.load(Ordering::Relaxed);
    let report = app.shutdown().await;
    let grew = after_ten_thousand - after_a_thousand;
    println!(
        "live bytes after 1,000 restarts: {after_a_thousand}, after 10,000: {after_ten_thousand} ({grew:+} bytes)"
    );
    assert!(report.restart_count >= 9_999, "{}", report.restart_count);
    assert_eq!(report.restarts.len(), Report::RECENT_RESTARTS);
    // 9,000 more restarts: a few kilobytes of noise at most (buffers that
    // happened to be larger at one moment), not bytes per restart.
    assert!(
        grew < 64 * 1024,
        "memory grew by {grew} bytes over 9,000 restarts"
    );
}
