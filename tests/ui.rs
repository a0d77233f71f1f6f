//! Compile-time guarantees: each mistake in `tests/ui/fail/` must fail to
//! compile with the message in its `.stderr`, pointing at the user's token;
//! `tests/ui/pass/` must compile and run.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/fail/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}
