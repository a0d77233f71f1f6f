//! What the examples share: their log setup, their command-line flags and
//! their settings in milliseconds. Each example includes this file with
//! `#[path = "common/mod.rs"] mod common;` (a folder without a `main.rs` is
//! not an example of its own), so a copied example takes it along.

// Each example uses what it needs of this; the rest is not dead code.
#![allow(dead_code)]

use lifecycle::config::{self, ConfigError};
use std::time::Duration;

/// Logs to stdout at `info`, or as `RUST_LOG` says; without colours when
/// `NO_COLOR` is set (as the process tests set it, to match lines).
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_ansi(std::env::var_os("NO_COLOR").is_none())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
}

/// The value of command-line flag `name`, written `--addr 1.2.3.4:80` or
/// `--addr=1.2.3.4:80`; `None` when it is not given.
pub fn flag(name: &str) -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == name {
            return args.next();
        }
        if let Some(value) = arg
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('='))
        {
            return Some(value.to_owned());
        }
    }
    None
}

/// Environment variable `var` as a duration in milliseconds, or `default`
/// milliseconds when it is unset or empty; a value that does not parse is an
/// error naming the variable and its value, and saying milliseconds were
/// expected.
pub fn millis(var: &str, default: u64) -> Result<Duration, ConfigError> {
    config::env_or(var, default)
        .map(Duration::from_millis)
        .map_err(|mut error| {
            error.reason.push_str(" (expected milliseconds)");
            error
        })
}
