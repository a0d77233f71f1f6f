//! A TCP proxy the test controls, between an application and a server
//! (RabbitMQ, PostgreSQL): [`Proxy::cut`] closes every connection through it
//! and refuses new ones, as if the server went away, without touching the
//! shared server that other tests use; [`Proxy::stall`] forwards nothing
//! more but closes nothing, as a network partition does (a black hole);
//! [`Proxy::restore`] lets connections through again.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A running proxy on `127.0.0.1` at a port of its own.
pub struct Proxy {
    addr: SocketAddr,
    state: Arc<State>,
    _runtime: tokio::runtime::Runtime,
}

struct State {
    /// Whether connections go through.
    up: AtomicBool,
    /// Bumped by every cut: live connections end when it changes.
    cuts: watch::Sender<u64>,
    /// Bumped by every stall: live connections stop forwarding.
    stalls: watch::Sender<u64>,
    /// Whether new connections are held without forwarding (a stall).
    stalled: AtomicBool,
    /// Connections refused while cut.
    refused: AtomicUsize,
}

impl Proxy {
    /// Listens on a port of its own and forwards every connection to `upstream`.
    pub fn start(upstream: SocketAddr) -> Proxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("proxy runtime");
        let (cuts, _) = watch::channel(0);
        let (stalls, _) = watch::channel(0);
        let state = Arc::new(State {
            up: AtomicBool::new(true),
            cuts,
            stalls,
            stalled: AtomicBool::new(false),
            refused: AtomicUsize::new(0),
        });
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("proxy listener");
        let addr = listener.local_addr().expect("proxy address");
        runtime.spawn(accept(listener, upstream, state.clone()));
        Proxy {
            addr,
            state,
            _runtime: runtime,
        }
    }

    /// Where the application should connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `url` (`scheme://user:pass@host:port/path`) with this proxy's address
    /// in place of `host:port`.
    pub fn url(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
        let (userinfo, hostpath) = match rest.rsplit_once('@') {
            Some((userinfo, hostpath)) => (format!("{userinfo}@"), hostpath),
            None => (String::new(), rest),
        };
        let path = hostpath.find('/').map_or("", |i| &hostpath[i..]);
        format!("{scheme}://{userinfo}{}{path}", self.addr)
    }

    /// Closes every connection through the proxy and refuses new ones (they
    /// are accepted and closed at once) until [`restore`](Proxy::restore).
    pub fn cut(&self) {
        self.state.up.store(false, Ordering::SeqCst);
        self.state.cuts.send_modify(|n| *n += 1);
    }

    /// Forwards nothing more and closes nothing: live connections and new
    /// ones hang, as behind a network partition, until a [`cut`](Proxy::cut)
    /// closes them.
    pub fn stall(&self) {
        self.state.stalled.store(true, Ordering::SeqCst);
        self.state.stalls.send_modify(|n| *n += 1);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.state.stalled.store(false, Ordering::SeqCst);
        self.state.up.store(true, Ordering::SeqCst);
    }

    /// How many connections were refused while cut.
    pub fn refused(&self) -> usize {
        self.state.refused.load(Ordering::SeqCst)
    }
}

/// The `host:port` of `url`, resolved.
pub fn upstream_of(url: &str) -> SocketAddr {
    let rest = url.split_once("://").expect("a URL with a scheme").1;
    let hostpath = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let hostport = hostpath.split(['/', '?']).next().unwrap_or(hostpath);
    use std::net::ToSocketAddrs;
    hostport
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .unwrap_or_else(|| panic!("cannot resolve {hostport}"))
}

async fn accept(listener: TcpListener, upstream: SocketAddr, state: Arc<State>) {
    while let Ok((client, _)) = listener.accept().await {
        if !state.up.load(Ordering::SeqCst) {
            state.refused.fetch_add(1, Ordering::SeqCst);
            drop(client);
            continue;
        }
        let mut cuts = state.cuts.subscribe();
        if state.stalled.load(Ordering::SeqCst) {
            // Held open, answered never, until the next cut.
            tokio::spawn(async move {
                let _held = client;
                let _ = cuts.changed().await;
            });
            continue;
        }
        let mut stalls = state.stalls.subscribe();
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(upstream).await else {
                return;
            };
            let (mut client, mut server) = (client, server);
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => return,
                _ = cuts.changed() => return,
                _ = stalls.changed() => {}
            }
            // Stalled: both sides stay open, nothing moves, until a cut.
            let _ = cuts.changed().await;
            // Both sides closed: the application sees its connection end.
        });
    }
}
