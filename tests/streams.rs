//! Long-lived responses at shutdown, with real clients (tokio-tungstenite
//! for WebSocket): told when draining begins; a WebSocket handler that
//! closes with 1001 ends cleanly; a WebSocket session and an event stream
//! still open at the drain deadline are closed there and reported as forced.

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::sse::{Event, Sse};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use lifecycle::http::{Server, ShutdownSignal};
use lifecycle::{Component, Deps, Lifecycle, Phase, Service};
use lifecycle_suite::haproxy::free_port;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite;

/// Where the server listens: a free port picked at run time.
static ADDR: OnceLock<SocketAddr> = OnceLock::new();

fn addr() -> SocketAddr {
    *ADDR.get_or_init(|| SocketAddr::from(([127, 0, 0, 1], free_port())))
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

fn router() -> Router {
    let ws = |polite: bool| {
        get(
            move |ws: WebSocketUpgrade, shutdown: ShutdownSignal| async move {
                ws.on_upgrade(move |socket| session(socket, shutdown, polite))
            },
        )
    };
    Router::new()
        .route("/ws", ws(false))
        .route("/ws/polite", ws(true))
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
struct Streams {
    server: Server,
}

impl Service for Streams {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Streams {
            server: Server::new(router()).bind(addr()),
        })
    }
    lifecycle::http::server_hooks!(server);
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

async fn wait_listening() {
    for _ in 0..500 {
        if tokio::net::TcpStream::connect(addr()).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the server never started listening");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_lived_responses_are_told_then_closed_at_the_drain_deadline() {
    const DEADLINE: Duration = Duration::from_millis(1500);
    let builder = Lifecycle::builder()
        .only::<Streams>()
        .handle_signals(false)
        .drain_timeout(DEADLINE);
    let shutdown = builder.shutdown_handle();
    let run = tokio::spawn(builder.run_with_report());
    wait_listening().await;
    let addr = addr();

    let (mut stubborn, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .expect("WebSocket handshake");
    let (mut polite, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws/polite"))
        .await
        .expect("WebSocket handshake");
    for ws in [&mut stubborn, &mut polite] {
        ws.send(tungstenite::Message::text("hello")).await.unwrap();
        let echo = ws.next().await.unwrap().unwrap();
        assert_eq!(echo, tungstenite::Message::text("hello"));
    }
    let events = tokio::spawn(read_events(addr));
    tokio::time::sleep(Duration::from_millis(200)).await;

    let began = Instant::now();
    shutdown.shutdown();

    // The polite handler closes with 1001 "going away"; the client answers
    // (tungstenite does as it reads on) and that session is over.
    let close = tokio::time::timeout(Duration::from_secs(1), polite.next())
        .await
        .expect("closed promptly")
        .unwrap()
        .unwrap();
    let tungstenite::Message::Close(Some(frame)) = close else {
        panic!("expected a close frame, got {close:?}");
    };
    assert_eq!(u16::from(frame.code), 1001);
    while let Some(Ok(_)) = polite.next().await {}

    // The stubborn one is told, carries on, and is cut at the deadline.
    let told = tokio::time::timeout(Duration::from_secs(1), stubborn.next())
        .await
        .expect("told within a second")
        .unwrap()
        .unwrap();
    assert_eq!(told, tungstenite::Message::text("draining"));
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match stubborn.next().await {
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

    // So is the event stream, after its "draining" event.
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

    // The report says so: forced, the two cut off counted; exit non-zero.
    let report = run.await.unwrap().unwrap();
    assert!(!report.is_clean(), "a cut drain is not clean: {report:?}");
    let drain = report
        .record("Streams", Phase::Drain)
        .expect("drain record");
    assert!(drain.outcome.is_forced(), "{drain:?}");
    let said = drain.outcome.to_string();
    assert!(
        said.contains("2 still in flight"),
        "the report counts the WebSocket and the event stream: {said}"
    );
}
