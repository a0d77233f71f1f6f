//! What each of a [`Server`]'s hooks does, phase by phase: `start` binds
//! and serves, `stop_intake` withdraws and closes the listener, `drain`
//! tells long-lived responses, `teardown` closes the health listener; and
//! what dropping a server stops.

use crate::context::gate::Gate;
use crate::context::Context;
use crate::http::drain::LateRequests;
use crate::http::error::Error;
use crate::http::listen;
use crate::http::server::accept;
use crate::http::server::listener::health_listener;
use crate::http::server::service::App;
use crate::http::server::Server;
use crate::http::signal::ShutdownSignal;
use std::sync::{Arc, PoisonError};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

impl Server {
    /// Binds the listener(s) and starts serving. The connections are a task
    /// tracked by the runtime, so drain waits for them to close.
    pub async fn start(&self, cx: &Context) -> crate::Result<()> {
        self.wired.keep();
        if self.running.local_addr.get().is_some() {
            return Err(Error::AlreadyStarted.into());
        }
        // Bind everything first, so a failure leaves nothing running.
        let (listener, name, origin) = self.main_listener().await?;
        let local = listener.local_addr()?;
        let health = match (self.health_addr, &self.probes) {
            (Some(addr), Some(probes)) => {
                let name = listen::health_name(&name);
                let listener = health_listener(&name, addr).await?;
                let local = listener.local_addr()?;
                listen::record(&name, &listener, local);
                Some((listener, local, probes.clone()))
            }
            _ => None,
        };
        listen::record(&name, &listener, local);

        let _ = self.running.local_addr.set(local);
        let app = Arc::new(App {
            router: Some(self.router.clone()),
            probes: self.probes.clone().filter(|_| health.is_none()),
            health: cx.health().clone(),
            gate: cx.gate().clone(),
            signal: self.running.draining.with_gate(cx.gate().clone()),
            policy: self.policy,
            drain_deadline: self.running.drain_deadline.clone(),
        });
        cx.spawn(
            format!("http connections on {local}"),
            accept::serve(
                listener,
                app,
                self.running.intake.clone(),
                self.running.listener_closed.clone(),
            ),
        );
        let health_local = health.map(|(listener, local, probes)| {
            let _ = self.running.health_local_addr.set(local);
            let app = Arc::new(App {
                router: None,
                probes: Some(probes),
                health: cx.health().clone(),
                gate: Gate::new(),
                signal: ShutdownSignal::new(),
                policy: self.policy,
                drain_deadline: Arc::default(),
            });
            // Not tracked: it outlives drain, and teardown ends it.
            let task = tokio::spawn(accept::serve(
                listener,
                app,
                CancellationToken::new(),
                Arc::default(),
            ));
            *self
                .running
                .health_task
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(task);
            local
        });
        tracing::info!(
            component = cx.name(),
            addr = %local,
            health_addr = health_local.map(tracing::field::display),
            from = %origin,
            "listening"
        );
        Ok(())
    }

    /// Waits the withdrawal delay (readiness is already failing), then closes
    /// the listener. Requests keep being served meanwhile.
    pub async fn stop_intake(&self, cx: &Context) -> crate::Result<()> {
        let delay = self.withdrawal_delay;
        if !delay.is_zero() {
            // Leave a little of the deadline for closing the listener.
            let budget = cx
                .remaining()
                .map_or(delay, |left| left.saturating_sub(left / 10));
            let wait = delay.min(budget);
            if wait < delay {
                tracing::warn!(
                    component = cx.name(),
                    "withdrawal delay {delay:?} cut to {wait:?} to fit the stop_intake deadline"
                );
            }
            tracing::info!(
                component = cx.name(),
                delay = ?wait,
                "readiness failing; still serving while load balancers withdraw this instance"
            );
            tokio::time::sleep(wait).await;
        }
        self.close_listener().await;
        let late = match self.policy.late_requests {
            LateRequests::Refuse => "refused with 503 + Connection: close",
            _ => "served with Connection: close",
        };
        tracing::info!(
            component = cx.name(),
            "listener closed; requests on open connections are now {late}, HTTP/2 connections got a GOAWAY"
        );
        Ok(())
    }

    /// Fires [`ShutdownSignal`] and bounds the idle grace by the drain
    /// deadline. The runtime then waits for in-flight requests and the
    /// connections, which close as the drain policy says (see [`Server`]).
    pub async fn drain(&self, cx: &Context) -> crate::Result<()> {
        if let Some(deadline) = cx.deadline() {
            let _ = self.running.drain_deadline.set(deadline);
        }
        // In case stop_intake was cut short before it could close it.
        self.close_listener().await;
        self.running.draining.fire();
        tracing::info!(
            component = cx.name(),
            in_flight = cx.gate().in_flight(),
            idle_grace = ?self.policy.idle_grace,
            "draining: busy connections close after their response, idle ones after the idle grace"
        );
        Ok(())
    }

    /// Closes the separate health listener, if any (and the main one, in
    /// case a second `SIGINT` skipped the earlier phases).
    pub async fn teardown(&self, cx: &Context) -> crate::Result<()> {
        if let Some(task) = self.stop_all() {
            // Aborting takes effect when the task is next polled: wait, so
            // that the port is closed when teardown returns.
            let _ = task.await;
            tracing::info!(component = cx.name(), "health listener closed");
        }
        Ok(())
    }

    /// Closes the main listener and waits until the accept loop let it go
    /// (if the server started).
    async fn close_listener(&self) {
        self.running.intake.cancel();
        if self.running.local_addr.get().is_some() {
            self.running.listener_closed.closed().await;
        }
    }

    /// Stops everything at once, as teardown and a drop do: closes the main
    /// listener, fires [`ShutdownSignal`], and aborts the health listener's
    /// task, if any, handing it back so teardown can wait until the listener
    /// is actually closed.
    fn stop_all(&self) -> Option<JoinHandle<crate::Result<()>>> {
        self.running.intake.cancel();
        self.running.draining.fire();
        let task = self
            .running
            .health_task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()?;
        task.abort();
        Some(task)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop_all();
    }
}
