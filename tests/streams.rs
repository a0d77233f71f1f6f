//! Long-lived responses at shutdown: a WebSocket session (a real
//! tokio-tungstenite client) and a server-sent event stream are told when
//! draining begins, and whatever is still open at the drain deadline is
//! closed and reported as forced.

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::sse::{Event, Sse};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use lifecycle::http::{Server, ShutdownSignal};
use lifecycle::{Component, Context, Deps, Lifecycle, Phase, Service};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite;

static STUBBORN: Mutex<Option<SocketAddr>> = Mutex::new(None);
static POLITE: Mutex<Option<SocketAddr>> = Mutex::new(None);

async fn addr_of(slot: &Mutex<Option<SocketAddr>>) -> SocketAddr {
    for _ in 0..500 {
        if let Some(addr) = *slot.lock().unwrap() {
            return addr;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the server never started listening");
}

/// A WebSocket echo that, told of the drain, says so and carries on (a
/// session with work left), or closes with 1001 "going away".
async fn session(mut socket: WebSocket, shutdown: ShutdownSignal, polite: bool) {
    let mut told = false;
    loop {
        tokio::select! {
            () = shutdown.fired(), if !told => {
                told = true;
                if polite {
                    let close = CloseFrame { code: 1001, reason: "server draining".into() };
                    let _ = socket.send(Message::Close(Some(close))).await;
                    // Wait for the client's close reply, then end.
                    while let Some(Ok(message)) = socket.recv().await {
                        if matches!(message, Message::Close(_)) {
                            break;
                        }
                    }
                    return;
                }
                if socket.send(Message::Text("draining".into())).await.is_err() {
                    return;
                }
            }
            message = socket.recv() => match message {
                Some(Ok(Message::Text(text))) => {
                    if socket.send(Message::Text(text)).await.is_err() {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            },
        }
    }
}

fn router(polite: bool) -> Router {
    Router::new()
        .route(
            "/ws",
            get(
                move |ws: WebSocketUpgrade, shutdown: ShutdownSignal| async move {
                    ws.on_upgrade(move |socket| session(socket, shutdown, polite))
                },
            ),
        )
        .route(
            "/events",
            get(|shutdown: ShutdownSignal| async move {
                // Ticks forever; says once that draining began.
                let ticks = futures_util::stream::unfold(
                    (0u64, shutdown, false),
                    |(n, shutdown, told)| async move {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        let event = if shutdown.has_fired() && !told {
                            Event::default().event("draining").data("bye soon")
                        } else {
                            Event::default().data(n.to_string())
                        };
                        let told = told || shutdown.has_fired();
                        Some((Ok::<_, Infallible>(event), (n + 1, shutdown, told)))
                    },
                );
                Sse::new(ticks)
            }),
        )
}

#[derive(Component)]
struct StubbornStreams {
    server: Server,
}

impl Service for StubbornStreams {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(StubbornStreams {
            server: Server::new(router(false)).bind(([127, 0, 0, 1], 0)),
        })
    }
    async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
        self.server.start(cx).await?;
        *STUBBORN.lock().unwrap() = self.server.local_addr();
        Ok(())
    }
    async fn stop_intake(&self, cx: &Context) -> lifecycle::Result<()> {
        self.server.stop_intake(cx).await
    }
    async fn drain(&self, cx: &Context) -> lifecycle::Result<()> {
        self.server.drain(cx).await
    }
}

#[derive(Component)]
struct PoliteWebSocket {
    server: Server,
}

impl Service for PoliteWebSocket {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(PoliteWebSocket {
            server: Server::new(router(true)).bind(([127, 0, 0, 1], 0)),
        })
    }
    async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
        self.server.start(cx).await?;
        *POLITE.lock().unwrap() = self.server.local_addr();
        Ok(())
    }
    async fn stop_intake(&self, cx: &Context) -> lifecycle::Result<()> {
        self.server.stop_intake(cx).await
    }
    async fn drain(&self, cx: &Context) -> lifecycle::Result<()> {
        self.server.drain(cx).await
    }
}

/// Reads an event stream until it ends; sends what arrived, and how it ended.
async fn read_events(addr: SocketAddr) -> (String, Result<(), String>) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = http::Request::get("/events")
        .header(http::header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), http::StatusCode::OK);
    let mut body = response.into_body();
    let mut text = String::new();
    loop {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    text.push_str(&String::from_utf8_lossy(data));
                }
            }
            Some(Err(e)) => return (text, Err(e.to_string())),
            None => return (text, Ok(())),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_and_event_stream_are_told_then_cut_at_the_deadline() {
    const DEADLINE: Duration = Duration::from_millis(1500);
    let builder = Lifecycle::builder()
        .only::<StubbornStreams>()
        .handle_signals(false)
        .drain_timeout(DEADLINE);
    let shutdown = builder.shutdown_handle();
    let run = tokio::spawn(builder.run_with_report());
    let addr = addr_of(&STUBBORN).await;

    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .expect("WebSocket handshake");
    ws.send(tungstenite::Message::text("hello")).await.unwrap();
    let echo = ws.next().await.unwrap().unwrap();
    assert_eq!(echo, tungstenite::Message::text("hello"));
    let events = tokio::spawn(read_events(addr));
    tokio::time::sleep(Duration::from_millis(200)).await;

    let began = Instant::now();
    shutdown.shutdown();
    // Told: the handler heard the signal.
    let told = tokio::time::timeout(Duration::from_secs(1), ws.next())
        .await
        .expect("told within a second")
        .unwrap()
        .unwrap();
    assert_eq!(told, tungstenite::Message::text("draining"));
    // Cut: the session ends at the drain deadline, not before.
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                Some(Ok(tungstenite::Message::Text(_))) => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("the WebSocket is closed at the drain deadline");
    let cut_after = began.elapsed();
    assert!(
        !matches!(end, Some(Ok(tungstenite::Message::Close(_)))),
        "cut, not closed politely: {end:?}"
    );
    assert!(
        cut_after >= DEADLINE - Duration::from_millis(100),
        "cut before the deadline: {cut_after:?}"
    );

    let (text, ended) = tokio::time::timeout(Duration::from_secs(5), events)
        .await
        .expect("the event stream is closed at the drain deadline")
        .unwrap();
    assert!(text.contains("data: 0"), "{text}");
    assert!(
        text.contains("event: draining"),
        "the stream was told: {text}"
    );
    assert!(ended.is_err(), "cut, not ended: {ended:?}");

    let report = run.await.unwrap().unwrap();
    assert!(!report.is_clean(), "a cut drain is not clean: {report:?}");
    let drain = report
        .record("StubbornStreams", Phase::Drain)
        .expect("drain record");
    assert!(drain.outcome.is_forced(), "{drain:?}");
    let said = drain.outcome.to_string();
    assert!(
        said.contains("2 still in flight"),
        "the report counts the WebSocket and the event stream: {said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_handler_closes_with_going_away_when_told() {
    let builder = Lifecycle::builder()
        .only::<PoliteWebSocket>()
        .handle_signals(false)
        .drain_timeout(Duration::from_secs(5));
    let shutdown = builder.shutdown_handle();
    let run = tokio::spawn(builder.run_with_report());
    let addr = addr_of(&POLITE).await;

    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .expect("WebSocket handshake");
    ws.send(tungstenite::Message::text("hi")).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        tungstenite::Message::text("hi")
    );
    let began = Instant::now();
    shutdown.shutdown();
    let close = tokio::time::timeout(Duration::from_secs(2), ws.next())
        .await
        .expect("closed promptly")
        .unwrap()
        .unwrap();
    let tungstenite::Message::Close(Some(frame)) = close else {
        panic!("expected a close frame, got {close:?}");
    };
    assert_eq!(u16::from(frame.code), 1001);
    // The client answers the close (tungstenite does as it reads on); the
    // session ends and drain with it.
    while let Some(Ok(_)) = ws.next().await {}
    let report = run.await.unwrap().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "drain did not wait for the deadline: {:?}",
        began.elapsed()
    );
}
