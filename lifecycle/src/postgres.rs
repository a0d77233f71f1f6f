//! A PostgreSQL pool that closes last, and idempotent handlers, on [`sqlx`].
//! Enabled by the cargo feature `postgres`.
//!
//! - [`Pool`]: hold it in a component that the components using the
//!   database depend on, and call [`Pool::teardown`] from its `teardown`
//!   hook. Teardown runs dependents first, and every component drains before
//!   any tears down, so the pool closes only once nothing can use it.
//! - [`Idempotency`]: records a key in the caller's transaction, beside the
//!   effect, and says whether this is the first time; a redelivered message
//!   or a retried request then does nothing twice.
//!
//! # Transactions at shutdown
//! A transaction is never left open, whatever the shutdown does:
//! 1. Work that finishes in time commits (or rolls back) itself, before its
//!    request or message counts as done.
//! 2. Work cut off at a drain deadline is cancelled: its future is dropped,
//!    and with it the [`sqlx::Transaction`], which rolls back. sqlx sends the
//!    `ROLLBACK` when the connection returns to the pool.
//! 3. [`Pool::teardown`] waits, under the teardown deadline, for every
//!    connection to come back, then closes each one (the server ends its
//!    session). A connection still out at the deadline (a task that ignored
//!    cancellation) makes the hook fail, so the exit is non-zero; PostgreSQL
//!    rolls back its transaction when the process exits and the session ends.
//!
//! Keep each transaction shorter than the drain deadline, and do not hold
//! one across an `await` on anything but the database.
//!
//! ```no_run
//! use lifecycle::postgres::{sqlx, Pool};
//! use lifecycle::{Component, Context, Dep, Deps, Lifecycle, Service};
//!
//! #[derive(Component)]
//! struct Db {
//!     pool: Pool,
//! }
//!
//! impl Service for Db {
//!     async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
//!         let pool = Pool::connect_env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test").await?;
//!         Ok(Db { pool })
//!     }
//!     async fn teardown(&self, cx: &Context) -> lifecycle::Result<()> {
//!         self.pool.teardown(cx).await
//!     }
//!     async fn ready(&self) -> lifecycle::Result<()> {
//!         self.pool.check().await
//!     }
//! }
//!
//! #[derive(Component)]
//! #[component(depends_on = [Db])] // so Db tears down after Orders drained
//! struct Orders {
//!     db: Dep<Db>,
//! }
//!
//! impl Service for Orders {
//!     async fn init(deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
//!         Ok(Orders { db: deps.get::<Db>() })
//!     }
//!     async fn start(&self, _cx: &Context) -> lifecycle::Result<()> {
//!         let mut tx = self.db.pool.begin().await?;
//!         sqlx::query("INSERT INTO audit(event) VALUES ('started')").execute(&mut *tx).await?;
//!         tx.commit().await?;
//!         Ok(())
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> lifecycle::Result<()> {
//!     Lifecycle::run().await
//! }
//! ```

use crate::context::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, PgExecutor, PgPool, Postgres, Transaction};
use std::ops::Deref;
use std::str::FromStr;
use std::time::Duration;

/// The database client this module is built on.
pub use sqlx;

/// A failure of the PostgreSQL integration that is not the database's own error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The teardown deadline came with connections still checked out.
    #[error("the pool closed with {checked_out} connection(s) still in use at the teardown deadline (their transactions roll back when the process exits)")]
    ConnectionsInUse {
        /// How many.
        checked_out: usize,
    },
    /// A table name that is not a plain SQL identifier.
    #[error("invalid table name {0:?}: use letters, digits and `_`, optionally `schema.table`")]
    TableName(String),
}

/// Whether `error` says the database cannot be reached now (no connection
/// within the acquire timeout, the connection lost, the pool closed) rather
/// than that the query was wrong: answer it with `503 Service Unavailable`
/// and let the client retry.
///
/// ```
/// use lifecycle::postgres::{is_unavailable, sqlx};
/// assert!(is_unavailable(&sqlx::Error::PoolTimedOut));
/// assert!(!is_unavailable(&sqlx::Error::RowNotFound));
/// ```
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        // The server ending the session: class 08 (connection exception),
        // and 57P01-57P03 (shut down, crash recovery, cannot connect now), as
        // in a restart or a failover.
        sqlx::Error::Database(error) => error.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

/// A PostgreSQL connection pool ([`sqlx::PgPool`], which it derefs to) that
/// closes at teardown. See the [module documentation](self).
#[derive(Debug, Clone)]
pub struct Pool {
    pool: PgPool,
}

impl Pool {
    /// Connects to `url` (`postgres://user@host:5432/db?application_name=..`)
    /// with default pool settings (at most 10 connections, 5 s to acquire
    /// one). Fails now if the database cannot be reached.
    pub async fn connect(url: &str) -> crate::Result<Self> {
        Pool::connect_with(PgConnectOptions::from_str(url)?, Pool::options()).await
    }

    /// [`connect`](Pool::connect) to the URL in environment variable `var`,
    /// or to `default` when it is unset or blank; a value that is not UTF-8
    /// is an error naming the variable.
    pub async fn connect_env(var: &str, default: &str) -> crate::Result<Self> {
        Pool::connect(&crate::config::env_or(var, default.to_owned())?).await
    }

    /// The default pool settings, to adjust and pass to
    /// [`connect_with`](Pool::connect_with).
    ///
    /// The acquire timeout bounds how long a request waits for a connection,
    /// and so how long it hangs while the database is unreachable: lower it
    /// (`.acquire_timeout(..)`) to fail fast, and answer
    /// [`is_unavailable`] errors with `503 Service Unavailable`.
    pub fn options() -> PgPoolOptions {
        PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(5))
    }

    /// Connects with explicit connection and pool settings. Sessions are
    /// named after the executable unless `connect` set `application_name`,
    /// so `pg_stat_activity` tells whose they are.
    pub async fn connect_with(
        connect: PgConnectOptions,
        pool: PgPoolOptions,
    ) -> crate::Result<Self> {
        let connect = match connect.get_application_name() {
            Some(_) => connect,
            None => connect.application_name(&executable_name()),
        };
        let pool = pool.connect_with(connect).await?;
        Ok(Pool { pool })
    }

    /// The sqlx pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// `Ok` when a connection answers `SELECT 1` within a second: for
    /// [`Service::ready`](crate::Service::ready).
    pub async fn check(&self) -> crate::Result<()> {
        tokio::time::timeout(
            Duration::from_secs(1),
            sqlx::query("SELECT 1").execute(&self.pool),
        )
        .await
        .map_err(|_| crate::Error::msg("the database did not answer within 1s"))??;
        Ok(())
    }

    /// Closes the pool: refuses new acquisitions, closes idle connections,
    /// waits for checked-out ones (their transactions commit or roll back)
    /// and closes them, all before the teardown deadline. Connections still
    /// out then are reported as [`Error::ConnectionsInUse`].
    pub async fn teardown(&self, cx: &Context) -> crate::Result<()> {
        let in_use = self.in_use();
        let closing = self.pool.close();
        // Leave a moment of the deadline to report what is left.
        let limit = cx.remaining().map(|left| left.saturating_sub(left / 10));
        let closed = match limit {
            Some(limit) => tokio::time::timeout(limit, closing).await.is_ok(),
            None => {
                closing.await;
                true
            }
        };
        if !closed {
            return Err(Error::ConnectionsInUse {
                checked_out: self.in_use(),
            }
            .into());
        }
        tracing::info!(
            component = cx.name(),
            waited_for = in_use,
            "database pool closed"
        );
        Ok(())
    }

    /// Connections checked out of the pool now.
    fn in_use(&self) -> usize {
        (self.pool.size() as usize).saturating_sub(self.pool.num_idle())
    }
}

impl Deref for Pool {
    type Target = PgPool;

    fn deref(&self) -> &PgPool {
        &self.pool
    }
}

fn executable_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|path| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "lifecycle".to_owned())
}

/// Makes a handler safe to run twice: it records an idempotency key in the
/// caller's transaction, beside the effect, and says whether the key is new.
///
/// A queue consumer acknowledges a message after its transaction committed;
/// killed in between (`SIGKILL`, a lost connection), it sees the message
/// again. Recording the key in the same transaction as the effect makes both
/// happen exactly once: either the transaction committed and the key is
/// there, so the redelivery skips the work, or it did not and neither is.
/// Two deliveries racing each other are serialised by the key's unique
/// index: the second waits for the first to commit, then sees the key.
///
/// ```no_run
/// use lifecycle::postgres::{sqlx, Idempotency, Pool};
///
/// # async fn handle(pool: &Pool, message_id: &str, order_id: i64) -> lifecycle::Result<()> {
/// let processed = Idempotency::new("processed_messages")?;
/// processed.create_table(pool.pool()).await?; // once, at start-up
///
/// let mut tx = pool.begin().await?;
/// if processed.first_time(&mut tx, message_id).await? {
///     sqlx::query("INSERT INTO shipments(order_id) VALUES ($1)")
///         .bind(order_id)
///         .execute(&mut *tx)
///         .await?;
/// }
/// tx.commit().await?; // then acknowledge
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Idempotency {
    table: String,
    insert: String,
}

impl Idempotency {
    /// Keys recorded in `table` (`name` or `schema.name`, plain identifiers).
    pub fn new(table: &str) -> Result<Self, Error> {
        let plain = |part: &str| {
            !part.is_empty()
                && !part.starts_with(|c: char| c.is_ascii_digit())
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        let parts: Vec<&str> = table.split('.').collect();
        if parts.len() > 2 || !parts.iter().all(|p| plain(p)) {
            return Err(Error::TableName(table.to_owned()));
        }
        Ok(Idempotency {
            table: table.to_owned(),
            insert: format!("INSERT INTO {table} (key) VALUES ($1) ON CONFLICT (key) DO NOTHING"),
        })
    }

    /// The table.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table if it does not exist (`key text PRIMARY KEY`,
    /// `recorded_at timestamptz`), through a pool, a connection or a
    /// transaction.
    pub async fn create_table<'e>(&self, executor: impl PgExecutor<'e>) -> crate::Result<()> {
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {} (key text PRIMARY KEY, recorded_at timestamptz NOT NULL DEFAULT now())",
            self.table
        );
        sqlx::query(AssertSqlSafe(sql)).execute(executor).await?;
        Ok(())
    }

    /// Records `key` in `tx` and returns `true` if it was not recorded yet:
    /// do the work. `false`: it was done before, skip it (and still commit
    /// or roll back, then acknowledge). The key counts only if `tx` commits.
    pub async fn first_time(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        key: &str,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(AssertSqlSafe(self.insert.as_str()))
            .bind(key)
            .execute(&mut **tx)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_plain_identifiers() {
        assert!(Idempotency::new("processed").is_ok());
        assert!(Idempotency::new("shop.processed_2").is_ok());
        for bad in ["", "1abc", "a-b", "a;drop table x", "a.b.c", "a.", "\"q\""] {
            assert!(Idempotency::new(bad).is_err(), "{bad:?} accepted");
        }
    }
}
