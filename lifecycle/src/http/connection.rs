//! One accepted connection as the drain policy sees it: requests started and
//! in progress, bytes read, HTTP/2 or not, upgraded or not; the socket
//! wrapper that records it; and the registry that closes what is still open
//! when the drain deadline cuts the server off.
//!
//! hyper tells none of this from outside a connection (whether it is idle,
//! sitting on half a request head, or upgraded), and hyper-util's
//! `GracefulShutdown` shuts every watched connection down at once, which
//! closes idle HTTP/1 keep-alive connections at the very moment a balancer
//! may be sending on them. Hence this by-hand bookkeeping: a few uncontended
//! atomics per connection and per request.

use crate::context::gate::OwnedGuard;
use futures_util::task::AtomicWaker;
use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Whether a listener has closed, read on every response: an atomic flag,
/// because a `CancellationToken` takes a mutex shared by every connection to
/// answer that; and the token, to wait on.
#[derive(Debug, Default)]
pub(crate) struct Closing {
    closed: AtomicBool,
    token: CancellationToken,
}

impl Closing {
    /// Marks the listener closed and wakes whoever waits for it.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.token.cancel();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Resolves once [`close`](Closing::close) was called.
    pub(crate) async fn closed(&self) {
        self.token.cancelled().await;
    }
}

/// `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`.
const H2_PREFACE_LEN: u64 = 24;

/// What one connection's serving task, its service and its socket share.
#[derive(Debug)]
pub(crate) struct Shared {
    id: u64,
    /// Once the listener closed, responses say `Connection: close`.
    closing: Arc<Closing>,
    bytes_read: AtomicU64,
    requests: AtomicU64,
    in_progress: AtomicUsize,
    event_streams: AtomicUsize,
    h2: AtomicBool,
    upgraded: AtomicBool,
    /// Set at the drain deadline: the socket fails every read and write.
    cut: AtomicBool,
    /// The task reading an upgraded socket, woken when it is cut.
    reader: AtomicWaker,
    /// An upgraded connection's request stays counted in the gate until the
    /// socket closes.
    upgrade_guard: Mutex<Option<OwnedGuard>>,
}

/// The counters the idle policy compares window after window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) bytes_read: u64,
    pub(crate) requests: u64,
    pub(crate) in_progress: usize,
}

impl Shared {
    /// Whether intake has stopped, so responses tell the client to go.
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.is_closed()
    }

    /// Resolves once intake has stopped.
    pub(crate) async fn closing(&self) {
        self.closing.closed().await;
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        Snapshot {
            bytes_read: self.bytes_read.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            in_progress: self.in_progress.load(Ordering::Acquire),
        }
    }

    /// Whether the client speaks HTTP/2: it sent the whole preface.
    pub(crate) fn is_h2(&self) -> bool {
        self.h2.load(Ordering::Relaxed) && self.bytes_read.load(Ordering::Relaxed) >= H2_PREFACE_LEN
    }

    /// No request head completed yet (and not HTTP/2, whose clients may
    /// connect ahead of their first request).
    pub(crate) fn never_served(&self) -> bool {
        self.requests.load(Ordering::Relaxed) == 0 && !self.is_h2()
    }

    /// A request head arrived: counts it as in progress until the returned
    /// guard drops (with the response body).
    pub(crate) fn request(self: &Arc<Self>, version: http::Version) -> InProgress {
        if version == http::Version::HTTP_2 {
            self.h2.store(true, Ordering::Relaxed);
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.in_progress.fetch_add(1, Ordering::AcqRel);
        InProgress {
            shared: self.clone(),
            event_stream: false,
        }
    }
}

/// One request in progress on a connection, until its response body is sent
/// or dropped.
#[derive(Debug)]
pub(crate) struct InProgress {
    shared: Arc<Shared>,
    event_stream: bool,
}

impl InProgress {
    /// Whether intake has stopped (the response must say `Connection: close`).
    pub(crate) fn is_closing(&self) -> bool {
        self.shared.is_closing()
    }

    /// The response is a stream of server-sent events.
    pub(crate) fn event_stream(&mut self) {
        if !self.event_stream {
            self.event_stream = true;
            self.shared.event_streams.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The response switched protocols: the socket now belongs to the
    /// upgrade's handler, and `guard` (the request's place in the gate)
    /// stays taken until the socket closes.
    pub(crate) fn upgraded(&self, guard: Option<OwnedGuard>) {
        self.shared.upgraded.store(true, Ordering::Release);
        *lock(&self.shared.upgrade_guard) = guard;
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        if self.event_stream {
            self.shared.event_streams.fetch_sub(1, Ordering::Relaxed);
        }
        self.shared.in_progress.fetch_sub(1, Ordering::AcqRel);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing here can be left inconsistent by a panic.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Every open connection of one listener, upgraded ones included (they
/// outlive hyper's connection future), so the server waits for them all and
/// can cut them at the drain deadline.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    state: Mutex<RegistryState>,
    emptied: Notify,
}

#[derive(Debug, Default)]
struct RegistryState {
    next_id: u64,
    open: HashMap<u64, Arc<Shared>>,
}

/// What was still open when the drain deadline cut a server off.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cut {
    pub(crate) connections: usize,
    pub(crate) websockets: usize,
    pub(crate) event_streams: usize,
    pub(crate) requests: usize,
}

impl Registry {
    /// Records an accepted connection and wraps its socket.
    pub(crate) fn open(
        self: &Arc<Self>,
        stream: TcpStream,
        closing: Arc<Closing>,
    ) -> (Socket, Arc<Shared>) {
        let mut state = lock(&self.state);
        let id = state.next_id;
        state.next_id += 1;
        let shared = Arc::new(Shared {
            id,
            closing,
            bytes_read: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            in_progress: AtomicUsize::new(0),
            event_streams: AtomicUsize::new(0),
            h2: AtomicBool::new(false),
            upgraded: AtomicBool::new(false),
            cut: AtomicBool::new(false),
            reader: AtomicWaker::new(),
            upgrade_guard: Mutex::new(None),
        });
        state.open.insert(id, shared.clone());
        let socket = Socket {
            stream,
            shared: shared.clone(),
            registry: self.clone(),
            first_read: true,
        };
        (socket, shared)
    }

    fn close(&self, id: u64) {
        let mut state = lock(&self.state);
        state.open.remove(&id);
        if state.open.is_empty() {
            self.emptied.notify_waiters();
        }
    }

    /// Resolves once every connection, upgraded ones included, has closed.
    pub(crate) async fn emptied(&self) {
        loop {
            let notified = self.emptied.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if lock(&self.state).open.is_empty() {
                return;
            }
            notified.await;
        }
    }

    /// Makes every open socket fail its reads and writes (waking upgraded
    /// ones, whose tasks hyper no longer drives) and says what was open.
    pub(crate) fn cut_all(&self) -> Cut {
        let state = lock(&self.state);
        let mut cut = Cut::default();
        for shared in state.open.values() {
            cut.connections += 1;
            let events = shared.event_streams.load(Ordering::Relaxed);
            cut.event_streams += events;
            cut.requests += shared
                .in_progress
                .load(Ordering::Acquire)
                .saturating_sub(events);
            if shared.upgraded.load(Ordering::Acquire) {
                cut.websockets += 1;
            }
            shared.cut.store(true, Ordering::Release);
            shared.reader.wake();
        }
        cut
    }
}

/// An accepted TCP stream that counts the bytes it reads, notices an
/// HTTP/2 preface, fails once cut, and leaves the registry when dropped.
#[derive(Debug)]
pub(crate) struct Socket {
    stream: TcpStream,
    shared: Arc<Shared>,
    registry: Arc<Registry>,
    first_read: bool,
}

fn cut_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "closed at the drain deadline",
    )
}

impl Socket {
    fn check_cut(&self, cx: &Context<'_>) -> io::Result<()> {
        // Only upgraded sockets need waking: hyper's connections are
        // dropped with their task when the server is cut.
        if self.shared.upgraded.load(Ordering::Relaxed) {
            self.shared.reader.register(cx.waker());
        }
        if self.shared.cut.load(Ordering::Acquire) {
            return Err(cut_error());
        }
        Ok(())
    }
}

impl AsyncRead for Socket {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check_cut(cx)?;
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        let read = &buf.filled()[before..];
        if !read.is_empty() {
            if std::mem::take(&mut self.first_read) && read.starts_with(b"PRI ") {
                self.shared.h2.store(true, Ordering::Relaxed);
            }
            self.shared
                .bytes_read
                .fetch_add(read.len() as u64, Ordering::Relaxed);
        }
        polled
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check_cut(cx)?;
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.check_cut(cx)?;
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        lock(&self.shared.upgrade_guard).take();
        self.registry.close(self.shared.id);
    }
}

/// Decides, at the end of each idle-grace window once intake stopped,
/// whether an HTTP/1 connection should be closed now.
#[derive(Debug)]
pub(crate) struct Idle {
    last: Snapshot,
    head_windows: u32,
}

impl Idle {
    pub(crate) fn new(now: Snapshot) -> Self {
        Idle {
            last: now,
            head_windows: 0,
        }
    }

    /// `true` to close: no request in progress or started during the last
    /// window, and either nothing read (idle, or stalled in the middle of a
    /// request head) or bytes trickling in for two windows without ever
    /// completing a head. A request in progress is answered with
    /// `Connection: close` instead, and hyper closes after it.
    pub(crate) fn close_now(&mut self, now: Snapshot) -> bool {
        let last = std::mem::replace(&mut self.last, now);
        if now.in_progress > 0 || now.requests != last.requests {
            self.head_windows = 0;
            return false;
        }
        if now.bytes_read == last.bytes_read {
            return true;
        }
        self.head_windows += 1;
        self.head_windows >= 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(bytes_read: u64, requests: u64, in_progress: usize) -> Snapshot {
        Snapshot {
            bytes_read,
            requests,
            in_progress,
        }
    }

    #[test]
    fn an_idle_connection_closes_after_one_quiet_window() {
        let mut idle = Idle::new(at(100, 1, 0));
        assert!(idle.close_now(at(100, 1, 0)));
    }

    #[test]
    fn a_busy_connection_is_never_closed_by_the_idle_policy() {
        let mut idle = Idle::new(at(100, 1, 1));
        assert!(!idle.close_now(at(100, 1, 1)));
        assert!(!idle.close_now(at(100, 1, 1)));
        // Its request finished; a new one came and went in the window.
        assert!(!idle.close_now(at(180, 2, 0)));
        assert!(idle.close_now(at(180, 2, 0)));
    }

    #[test]
    fn a_trickling_head_closes_after_two_windows() {
        let mut idle = Idle::new(at(0, 0, 0));
        assert!(!idle.close_now(at(3, 0, 0)));
        assert!(idle.close_now(at(6, 0, 0)));
    }
}
