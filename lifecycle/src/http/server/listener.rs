//! Where a server's listeners come from: the socket the program gave, a
//! socket passed to the process, or a bound address (see [`Server`]'s
//! "Where the listener comes from"); and where its separate health listener
//! comes from.

use crate::http::error::Error;
use crate::http::listen;
use crate::http::server::{Server, DEFAULT_ADDR};
use std::net::SocketAddr;
use std::sync::PoisonError;
use tokio::net::TcpListener;

impl Server {
    /// The main listener, its socket name and where it came from.
    pub(super) async fn main_listener(&self) -> Result<(TcpListener, String, Source), Error> {
        let named = |name: Option<&str>| {
            self.socket_name
                .as_deref()
                .or(name)
                .unwrap_or(listen::DEFAULT_NAME)
                .to_owned()
        };
        let given = self
            .given
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(given) = given {
            let addr = given.local_addr().ok();
            let listener = listen_on(given).map_err(|source| Error::Bind {
                addr: addr.unwrap_or(self.addr),
                source,
            })?;
            return Ok((listener, named(None), Source::Given));
        }
        if let Some(taken) = listen::take(self.socket_name.as_deref())? {
            let from = Source::Passed(taken.origin, taken.fd);
            return Ok((
                tokio_listener(taken.listener)?,
                named(Some(&taken.name)),
                from,
            ));
        }
        Ok((bind(self.addr).await?, named(None), Source::Bound))
    }
}

/// The separate health listener: the socket passed to the process under
/// `name`, or else `addr` bound.
pub(super) async fn health_listener(name: &str, addr: SocketAddr) -> Result<TcpListener, Error> {
    match listen::take(Some(name))? {
        Some(taken) => tokio_listener(taken.listener),
        None => bind(addr).await,
    }
}

/// Binds `addr`; the error names it.
async fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })
}

/// Where a server's listener came from, for the `listening` line.
pub(super) enum Source {
    /// The program's own, from [`Server::listener`].
    Given,
    /// Passed to the process, by whom and as which fd.
    Passed(listen::Origin, i32),
    /// Bound to the [`Server::bind`] address.
    Bound,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Given => f.write_str("the program's listener"),
            Source::Passed(origin, fd) => write!(f, "{origin} (fd {fd})"),
            Source::Bound => f.write_str("bound"),
        }
    }
}

/// A listener the program gave (`std::net::TcpListener::bind` listens
/// already), non-blocking, on tokio.
fn listen_on(listener: std::net::TcpListener) -> std::io::Result<TcpListener> {
    listener.set_nonblocking(true)?;
    TcpListener::from_std(listener)
}

/// A passed socket, on tokio; an error names its address.
fn tokio_listener(listener: std::net::TcpListener) -> Result<TcpListener, Error> {
    let addr = listener.local_addr().map_err(|source| Error::Bind {
        addr: DEFAULT_ADDR,
        source,
    })?;
    TcpListener::from_std(listener).map_err(|source| Error::Bind { addr, source })
}
