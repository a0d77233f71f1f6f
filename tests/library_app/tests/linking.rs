//! A binary whose components live in a library crate it never names has no
//! component at all: it must fail at start-up saying why and how to fix it,
//! never report ready with nothing running. Naming the crate makes it run.

use std::process::{Command, Output};

fn run(binary: &str) -> (Output, String, String) {
    let output = Command::new(binary)
        .env_remove("LIFECYCLE_PRINT_GRAPH")
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stdout, stderr)
}

#[test]
fn a_binary_that_never_names_the_library_fails_with_the_reason_and_the_fix() {
    let (output, stdout, stderr) = run(env!("CARGO_BIN_EXE_forgets-the-library"));
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("no component is registered in this binary"),
        "{stderr}"
    );
    assert!(stderr.contains("library crate"), "{stderr}");
    assert!(stderr.contains("use my_app as _;"), "{stderr}");
    assert!(!stdout.contains("hello"), "nothing ran: {stdout}");
}

#[test]
fn a_binary_that_names_the_library_runs_its_components() {
    let (output, stdout, stderr) = run(env!("CARGO_BIN_EXE_names-the-library"));
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("hello from the library crate"), "{stdout}");
    assert!(stderr.contains(": clean"), "the report table: {stderr}");
}
