//! A service's own settings: read from the environment (or a flag, or a
//! file) into typed values, with an error that names the setting, its value
//! and what is wrong, so a bad configuration fails start-up saying which.
//!
//! ```
//! use lifecycle::config::{self, ConfigError};
//!
//! # std::env::remove_var("DOC_WORKERS");
//! let workers: usize = config::env_or("DOC_WORKERS", 4)?;   // unset: the default
//! assert_eq!(workers, 4);
//!
//! let error = config::parse::<u16>("--port", "80a").unwrap_err();
//! assert_eq!(error.to_string(), "invalid setting `--port` = \"80a\": invalid digit found in string");
//! # Ok::<(), ConfigError>(())
//! ```
//!
//! Inside `init`, `?` turns a [`ConfigError`] into a [`crate::Error`]; values
//! parsed in `main` reach components through
//! [`Builder::supply`](crate::Builder::supply).

use std::fmt;
use std::str::FromStr;

/// A setting whose value cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting `{setting}` = {value:?}: {reason}")]
#[non_exhaustive]
pub struct ConfigError {
    /// The setting at fault, as the user spells it (`ORDERS_ADDR`, `--role`).
    pub setting: String,
    /// Its value.
    pub value: String,
    /// Why it cannot be used.
    pub reason: String,
}

impl ConfigError {
    /// `setting` has `value`, which cannot work because of `reason`.
    pub fn new(
        setting: impl Into<String>,
        value: impl Into<String>,
        reason: impl fmt::Display,
    ) -> Self {
        ConfigError {
            setting: setting.into(),
            value: value.into(),
            reason: reason.to_string(),
        }
    }
}

/// Parses `value` of `setting` (surrounding spaces ignored); the error names both.
pub fn parse<T>(setting: &str, value: &str) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    value
        .trim()
        .parse()
        .map_err(|error| ConfigError::new(setting, value, error))
}

/// Environment variable `var`, parsed; `None` when it is unset or empty.
pub fn env<T>(var: &str) -> Result<Option<T>, ConfigError>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    match self::var(var)? {
        Some(value) => parse(var, &value).map(Some),
        None => Ok(None),
    }
}

/// Environment variable `name` as text; `None` when it is unset or blank.
/// The one place that reads the process environment: [`env`], the runtime's
/// own settings and the integrations' addresses and URLs all come through it.
pub(crate) fn var(name: &str) -> Result<Option<String>, ConfigError> {
    match std::env::var(name) {
        Ok(value) if value.trim().is_empty() => Ok(None),
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(value)) => Err(ConfigError::new(
            name,
            value.to_string_lossy(),
            "not valid UTF-8",
        )),
    }
}

/// Environment variable `var`, parsed, or `default` when it is unset or empty.
pub fn env_or<T>(var: &str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    Ok(env(var)?.unwrap_or(default))
}
