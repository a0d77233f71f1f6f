//! One accepted connection's task: serves it with the per-connection service
//! until it ends, and once the listener closed, closes it as the drain
//! policy says. (What the task reads to decide, the connection's counters
//! and socket, is kept in [`crate::http::connection`].)

use crate::http::connection::{Idle, Shared, Socket};
use crate::http::server::service::{App, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::sync::Arc;
use tokio::time::Instant;

/// Serves one connection until it ends, then applies the drain policy once
/// the listener closed: HTTP/2 gets a GOAWAY (hyper finishes the streams it
/// accepted); an HTTP/1 connection's responses say `Connection: close`
/// (hyper closes after them), and one left idle, or on an incomplete request
/// head, for a whole idle-grace window is closed.
pub(super) async fn serve(
    builder: Arc<auto::Builder<TokioExecutor>>,
    socket: Socket,
    shared: Arc<Shared>,
    app: Arc<App>,
) {
    let accepted = Instant::now();
    let conn = builder.serve_connection_with_upgrades(
        TokioIo::new(socket),
        Connection {
            app: app.clone(),
            shared: shared.clone(),
        },
    );
    tokio::pin!(conn);
    let first_head = tokio::time::sleep_until(accepted + app.policy.header_read_timeout);
    tokio::pin!(first_head);
    let mut first_head_due = true;
    loop {
        tokio::select! {
            biased;
            result = conn.as_mut() => return finished(result),
            () = shared.closing() => break,
            () = &mut first_head, if first_head_due => {
                first_head_due = false;
                // hyper-util's version detection waits for bytes without a
                // timeout, and hyper's own starts after it: enforce it here.
                if shared.never_served() {
                    tracing::debug!("no request head within the header-read timeout; closing");
                    return;
                }
            }
        }
    }
    if shared.is_h2() {
        // GOAWAY, with the right last stream id once the client answered
        // hyper's ping; accepted streams finish.
        conn.as_mut().graceful_shutdown();
        return finished(conn.await);
    }
    let mut idle = Idle::new(shared.snapshot());
    loop {
        let window = app.policy.window(app.drain_deadline.get().copied());
        tokio::select! {
            biased;
            result = conn.as_mut() => return finished(result),
            () = tokio::time::sleep(window) => {}
        }
        if idle.close_now(shared.snapshot()) {
            tracing::debug!("idle through the idle grace; closing");
            // Dropping the connection closes the socket.
            return;
        }
    }
}

/// Logs how a connection ended, when it ended with an error.
fn finished(result: Result<(), Box<dyn std::error::Error + Send + Sync>>) {
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}
