//! What can go wrong when configuring or starting a [`Server`](super::Server).

use std::net::SocketAddr;

/// A failure of the HTTP integration, at start-up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting (an environment variable, a flag) has a value that cannot work.
    #[error("invalid setting `{setting}` = {value:?}: {reason}")]
    Config {
        /// The setting at fault, as the user spells it (`ORDERS_ADDR`).
        setting: String,
        /// Its value.
        value: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// A socket passed to the process (systemd socket activation,
    /// `LISTEN_FDS`, an upgrade) is not a usable TCP listener.
    #[error("cannot serve on passed socket fd {fd} ({name:?}): {source}")]
    Passed {
        /// Its file descriptor.
        fd: i32,
        /// Its name (`LISTEN_FDNAMES`; `unknown` when unnamed).
        name: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// [`Server::start`](super::Server::start) was called twice.
    #[error("the server was already started")]
    AlreadyStarted,
}
