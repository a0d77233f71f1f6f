//! The accept loop of one listener: takes connections until intake stops,
//! takes the backlog, closes the listener, then waits for every connection;
//! cut off at the drain deadline, it closes what is left and says what went.

use crate::http::connection::{Closing, Registry};
use crate::http::server::connection;
use crate::http::server::service::App;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The accept loop, then the wait for every connection to close. Cancelling
/// (aborting) it, as the drain deadline does, closes whatever is left:
/// hyper's connections with their tasks, upgraded ones through the registry.
pub(super) async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    intake: CancellationToken,
    listener_closed: Arc<Closing>,
) -> crate::Result<()> {
    // Declared before the listener so that, even when aborted, the listener
    // is dropped (closed) before `listener_closed` is marked.
    let _closed = CloseOnDrop(listener_closed.clone());
    let listener = listener;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // What `axum::serve` sets (CONNECT for WebSocket over HTTP/2), plus a
    // timer, without which hyper ignores its header-read timeout.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(app.policy.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .enable_connect_protocol();
    let builder = Arc::new(builder);
    let registry = Arc::new(Registry::default());
    let mut connections = JoinSet::new();
    // Declared after `connections`, so dropped before it when aborted: it
    // counts what is still open before the tasks go.
    let _cut = CutOnDrop(registry.clone());
    let accept = |stream: TcpStream, connections: &mut JoinSet<()>| {
        // Small writes (event streams, HTTP/2 frames) go out at once rather
        // than wait on the peer's delayed ACK.
        let _ = stream.set_nodelay(true);
        let (socket, shared) = registry.open(stream, listener_closed.clone());
        connections.spawn(connection::serve(
            builder.clone(),
            socket,
            shared,
            app.clone(),
        ));
    };
    loop {
        tokio::select! {
            biased;
            _ = intake.cancelled() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => accept(stream, &mut connections),
                Err(e) if is_connection_error(&e) => {}
                Err(e) => {
                    // Resource exhaustion (EMFILE) must not end the server.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
        }
    }
    // Closing a listener resets the connections still waiting in its
    // backlog, on which a client may have sent a request already: take them
    // first (they are told to close like every other connection). Tokio's
    // accept only tries when epoll said so; the std listener asks the kernel.
    if let Ok(listener) = listener.into_std() {
        while let Ok((stream, _peer)) = listener.accept() {
            let stream = stream
                .set_nonblocking(true)
                .and_then(|()| TcpStream::from_std(stream));
            if let Ok(stream) = stream {
                accept(stream, &mut connections);
            }
        }
    }
    drop(_closed);
    while connections.join_next().await.is_some() {}
    // Upgraded connections outlive hyper's connection futures.
    registry.emptied().await;
    Ok(())
}

/// Marks the listener closed when dropped.
struct CloseOnDrop(Arc<Closing>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Errors of one connection that `accept` reports, not of the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    )
}

/// Cuts every connection still open when the serving task is dropped
/// before it finished (the drain deadline aborted it), and says what went.
struct CutOnDrop(Arc<Registry>);

impl Drop for CutOnDrop {
    fn drop(&mut self) {
        let cut = self.0.cut_all();
        if cut.connections > 0 {
            tracing::warn!(
                connections = cut.connections,
                websockets = cut.websockets,
                event_streams = cut.event_streams,
                requests = cut.requests,
                "drain deadline: closed {} connection(s): {} WebSocket, {} event stream(s), {} request(s) in progress",
                cut.connections,
                cut.websockets,
                cut.event_streams,
                cut.requests,
            );
        }
    }
}
