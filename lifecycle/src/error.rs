//! Errors: [`Error`], the one type `init`, the hooks and readiness checks
//! return, and [`RunError`], why a run did not end cleanly.

use std::error::Error as StdError;
use std::fmt;

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed standard error: what tower and axum call `BoxError`.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// An error from `init`, a hook, a readiness check, or from
/// [`Lifecycle::run`](crate::Lifecycle::run).
///
/// `?` converts into it whatever converts into a [`BoxError`]: any
/// `std::error::Error + Send + Sync + 'static`, an `anyhow::Error`, a
/// `Box<dyn Error + Send + Sync>` (tower's and axum's `BoxError`), a `&str`
/// or a `String`. The error is kept as it was: its cause chain prints with
/// `{:#}` (`reading PORT: invalid digit found in string`) and
/// [`downcast_ref`](Error::downcast_ref) finds the original anywhere in it.
///
/// ```
/// # use std::io;
/// fn load() -> anyhow::Result<Vec<u8>> {
///     use anyhow::Context as _;
///     Err(io::Error::from(io::ErrorKind::NotFound)).context("reading the signing key")
/// }
/// fn init() -> lifecycle::Result<()> {
///     let port: u16 = "80a".parse()?;   // std errors
///     # Ok(())
/// }
/// fn init2() -> lifecycle::Result<Vec<u8>> {
///     let key = load()?;                // anyhow
///     Ok(key)
/// }
/// let error = init2().unwrap_err();
/// assert_eq!(format!("{error:#}"), "reading the signing key: entity not found");
/// assert!(error.downcast_ref::<io::Error>().is_some());
/// # assert!(init().is_err());
/// ```
///
/// It does not implement `std::error::Error` itself: coherence forbids having
/// both that and the conversion from every error, as with `anyhow::Error`.
/// [`into_std`](Error::into_std) and [`as_std`](Error::as_std) give the standard
/// error it holds. For a `main` that returns `anyhow::Result<()>`, see
/// [`Lifecycle::try_run`](crate::Lifecycle::try_run): its failure, a
/// [`RunError`](crate::RunError), implements `std::error::Error`.
pub struct Error {
    pub(crate) inner: BoxError,
}

impl Error {
    /// An error from a plain message.
    pub fn msg(message: impl fmt::Display + Send + Sync + 'static) -> Self {
        Error {
            inner: Box::new(Message(message.to_string())),
        }
    }

    /// The first error in the [`chain`](Error::chain) that is an `E`: the
    /// original error, or one of its causes (an `io::Error` under an
    /// `anyhow` context, say).
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        self.chain().find_map(|e| e.downcast_ref::<E>())
    }

    /// The error, then its cause, and so on (`source()` after `source()`).
    pub fn chain(&self) -> impl Iterator<Item = &(dyn StdError + 'static)> {
        let first: &(dyn StdError + 'static) = &*self.inner;
        std::iter::successors(Some(first), |&e| e.source())
    }

    /// The underlying error as a standard error trait object.
    pub fn as_std(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.inner
    }

    /// Turns this into the boxed standard error it wraps.
    pub fn into_std(self) -> BoxError {
        self.inner
    }
}

/// Everything that converts into a [`BoxError`]. (`Error` itself does not,
/// which is what lets this impl coexist with `From<Error> for Error`.)
impl<E: Into<BoxError>> From<E> for Error {
    fn from(error: E) -> Self {
        Error {
            inner: error.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)?;
        if f.alternate() {
            for cause in self.chain().skip(1) {
                write!(f, ": {cause}")?;
            }
        }
        Ok(())
    }
}

/// Prints the message and its causes, so `main` returning `Err` reads well.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)?;
        let mut causes = self.chain().skip(1).peekable();
        if causes.peek().is_some() {
            f.write_str("\n\nCaused by:")?;
        }
        for cause in causes {
            write!(f, "\n    {cause}")?;
        }
        Ok(())
    }
}

#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Message {}
