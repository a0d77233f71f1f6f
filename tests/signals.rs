#![cfg(unix)]
//! Process-level tests: start `examples/service.rs`, send it real signals,
//! and check the order of its hooks in its output and its exit code.

use lifecycle_suite::{position, Process};
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

const READY: &str = "ready components=4";
const LONG: Duration = Duration::from_secs(20);

#[test]
fn sigterm_mid_job_lets_the_job_finish_then_tears_down_in_reverse_order() {
    let mut service = Process::start("service", &[("SERVICE_JOB_MS", "1500")]);
    service.wait_for("[Jobs] job started job=1", LONG);
    service.signal("TERM");
    let (status, out) = service.wait(LONG);

    assert_eq!(
        status.code(),
        Some(0),
        "clean drain exits 0:\n{}",
        out.join("\n")
    );
    let at = |needle: &str| position(&out, needle);
    // Intake stops first, the job in flight then finishes, and only then do
    // the components go down, dependents before dependencies.
    assert!(at("signal received: shutting down") < at("[Jobs] stop_intake"));
    assert!(at("[Jobs] stop_intake") < at("[Jobs] job finished job=1"));
    assert!(at("[Jobs] job finished job=1") < at("[Jobs] teardown done=1"));
    assert!(at("[Jobs] teardown") < at("[Database] teardown: pool closed queries=1"));
    assert!(at("[Jobs] teardown") < at("[Cache] teardown"));
    assert!(
        !out.iter().any(|l| l.contains("job started job=2")),
        "no new job after intake stopped"
    );
}

#[test]
fn a_repeated_sigterm_is_idempotent() {
    let mut service = Process::start("service", &[("SERVICE_JOB_MS", "1500")]);
    service.wait_for("[Jobs] job started job=1", LONG);
    service.signal("TERM");
    service.wait_for("[Jobs] drain", LONG);
    service.signal("TERM");
    let (status, out) = service.wait(LONG);

    assert_eq!(status.code(), Some(0), "{}", out.join("\n"));
    position(&out, "signal received again: already shutting down");
    position(&out, "[Jobs] job finished job=1");
}

#[test]
fn a_second_sigint_skips_the_waiting_and_goes_to_teardown() {
    let mut service = Process::start("service", &[("SERVICE_JOB_MS", "10000")]);
    service.wait_for("[Jobs] job started job=1", LONG);
    service.signal("INT");
    service.wait_for("[Jobs] drain", LONG);
    let second = Instant::now();
    service.signal("INT");
    let (status, out) = service.wait(LONG);

    assert!(
        second.elapsed() < Duration::from_secs(5),
        "did not wait for the 10 s job"
    );
    assert_eq!(
        status.code(),
        Some(1),
        "forced shutdown exits non-zero:\n{}",
        out.join("\n")
    );
    let at = |needle: &str| position(&out, needle);
    assert!(at("second interrupt: skipping to teardown") < at("[Jobs] teardown"));
    assert!(at("[Jobs] teardown") < at("[Database] teardown"));
    assert!(
        !out.iter().any(|l| l.contains("job finished")),
        "the job was cut, not awaited"
    );
}

#[test]
fn a_signal_during_start_up_is_handled_and_shuts_down_what_started() {
    let mut service = Process::start("service", &[("SERVICE_INIT_DELAY_MS", "30000")]);
    service.wait_for("[Database] init: connecting", LONG);
    service.signal("TERM");
    let (status, out) = service.wait(LONG);

    // The handler was installed before the first init: the process was not
    // killed by the signal, it returned an error naming the interruption.
    assert_eq!(
        status.signal(),
        None,
        "killed by the signal:\n{}",
        out.join("\n")
    );
    assert_eq!(status.code(), Some(1), "{}", out.join("\n"));
    position(&out, "start-up interrupted: SIGTERM");
    // Cache had started (it does not need the database): it was torn down.
    position(&out, "[Cache] teardown: flushed");
    assert!(!out.iter().any(|l| l.contains("[Jobs] start")));
}

#[test]
fn a_drain_past_its_deadline_is_cut_and_the_exit_code_says_so() {
    let mut service = Process::start("service", &[("SERVICE_HANG_DRAIN", "1")]);
    service.wait_for(READY, LONG);
    service.signal("TERM");
    let (status, out) = service.wait(LONG);

    assert_eq!(status.code(), Some(1), "{}", out.join("\n"));
    // The run's error names the component, the phase and the deadline...
    position(
        &out,
        "Error: shutdown was not clean: Jobs drain timed out after 2s",
    );
    // ...and the sequence went on after the forced drain.
    assert!(
        position(&out, "timed out after 2s") < position(&out, "[Database] teardown: pool closed")
    );
}

#[test]
fn an_idle_service_exits_right_after_the_signal() {
    let mut service = Process::start("service", &[("SERVICE_JOB_MS", "50")]);
    service.wait_for("[Jobs] job finished job=1", LONG);
    service.signal("TERM");
    let sent = Instant::now();
    let (status, out) = service.wait(LONG);
    // Generous for a loaded CI machine; a polling design would take seconds.
    // The exact figure is asserted on the paused clock in tests/runtime.rs.
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "{:?}",
        sent.elapsed()
    );
    assert_eq!(status.code(), Some(0), "{}", out.join("\n"));
}

#[test]
fn the_contract_example_starts_and_stops_cleanly_and_rejects_bad_settings() {
    let mut contract = Process::start("contract", &[("PORT", "9090")]);
    contract.wait_for("port=9090", LONG);
    contract.wait_for("ready components=2", LONG);
    contract.signal("TERM");
    let (status, out) = contract.wait(LONG);
    assert_eq!(status.code(), Some(0), "{}", out.join("\n"));

    // `?` on a std error inside `init` fails start-up with a clear message.
    let (status, out) = Process::start("contract", &[("PORT", "eighty")]).wait(LONG);
    assert_eq!(status.code(), Some(1), "{}", out.join("\n"));
    position(&out, "Settings init failed: invalid digit found in string");
}
