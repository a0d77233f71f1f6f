//! The proof that the shop's API fails fast while its database is away: a
//! TCP proxy between the API (`examples/shop --role api`) and PostgreSQL
//! cuts every connection and refuses new ones for 3 s, three times, then
//! stalls them (forwards nothing, closes nothing: a network partition) for
//! 3 s, under a steady load of orders from four clients. Every request made during a
//! cut is answered `503` within 1 s (the pool's bounded acquire), none
//! hangs; readiness is false during each cut and true after; afterwards
//! orders succeed again, and every `201` is a row.
//!
//! Needs PostgreSQL and RabbitMQ (see `tests/support/services.rs`);
//! otherwise prints `SKIPPED` and passes, unless `LIFECYCLE_REQUIRE_SERVICES=1`.

use lifecycle_suite::proxy::{upstream_of, Proxy};
use lifecycle_suite::services::services;
use lifecycle_suite::shop::{addr_in, ready, request, ORDER};
use lifecycle_suite::Process;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Three cuts, then a stall.
const CUTS: usize = 4;
const CUT_FOR: Duration = Duration::from_secs(3);
const CLIENTS: usize = 4;
/// A request not answered within this is a hang.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// One request: when it began and ended, and its status (`None`: no answer).
#[derive(Debug, Clone, Copy)]
struct Call {
    began: Instant,
    took: Duration,
    status: Option<u16>,
}

#[test]
fn requests_get_503_within_a_second_while_the_database_is_cut_and_recover() {
    let Some(services) = services("faults_database") else {
        return;
    };
    let proxy = Proxy::start(upstream_of(&services.database_url));
    let database_url = proxy.url(&services.database_url_as(&format!("{}_api", services.name)));
    let mut api = Process::start(
        "shop",
        &[
            ("SHOP_ROLE", "api"),
            ("SHOP_ADDR", "127.0.0.1:0"),
            ("DATABASE_URL", &database_url),
            ("AMQP_URL", &services.amqp_url),
            ("SHOP_SCHEMA", &services.name),
            ("SHOP_QUEUE", &services.name),
            ("SHOP_DB_ACQUIRE_MS", "500"),
            ("SHOP_DB_TIMEOUT_MS", "800"),
        ],
    );
    let addr = addr_in(&api.wait_for("listening", Duration::from_secs(30)), "addr");
    api.wait_for("ready components=", Duration::from_secs(30));

    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(Mutex::new(Vec::<Call>::new()));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (stop, calls) = (stop.clone(), calls.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let began = Instant::now();
                    let answer = request(addr, "POST", "/orders", ORDER, CLIENT_TIMEOUT);
                    let call = Call {
                        began,
                        took: began.elapsed(),
                        status: answer.ok().map(|(status, _)| status),
                    };
                    calls.lock().unwrap().push(call);
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        })
        .collect();

    let mut windows = Vec::new();
    let mut readiness = Vec::new();
    for _ in 0..CUTS {
        std::thread::sleep(Duration::from_secs(2));
        let cut_at = Instant::now();
        let stall = windows.len() == CUTS - 1;
        if stall {
            proxy.stall();
        } else {
            proxy.cut();
        }
        let mut not_ready_after = None;
        while cut_at.elapsed() < CUT_FOR {
            if not_ready_after.is_none() && !ready(addr).0 {
                not_ready_after = Some(cut_at.elapsed());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let (is_ready, body) = ready(addr);
        assert!(!is_ready, "ready while the database is cut: {body}");
        assert!(body.contains("Db"), "{body}");
        if stall {
            proxy.cut();
        }
        proxy.restore();
        let restored_at = Instant::now();
        while !ready(addr).0 {
            assert!(
                restored_at.elapsed() < Duration::from_secs(15),
                "not ready 15 s after the database came back"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        readiness.push((not_ready_after, restored_at.elapsed(), body));
        windows.push((cut_at, restored_at));
    }
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.join().expect("client thread");
    }
    assert!(api.is_running(), "the api exited");

    let calls = calls.lock().unwrap().clone();
    let hung: Vec<_> = calls.iter().filter(|c| c.status.is_none()).collect();
    // Requests that began during a cut, after the cut had taken effect.
    let during: Vec<&Call> = calls
        .iter()
        .filter(|c| {
            windows
                .iter()
                .any(|(cut, restored)| c.began > *cut && c.began + c.took < *restored)
        })
        .collect();
    let slowest = during.iter().map(|c| c.took).max().unwrap_or_default();
    let unavailable = calls.iter().filter(|c| c.status == Some(503)).count();
    let created = calls.iter().filter(|c| c.status == Some(201)).count() as i64;
    let last_restore = windows.last().expect("a cut").1;
    let after = calls
        .iter()
        .filter(|c| c.began > last_restore + Duration::from_millis(500))
        .collect::<Vec<_>>();
    let orders = services.count("SELECT count(*) FROM {schema}.orders");

    for (i, (not_ready_after, ready_after, body)) in readiness.iter().enumerate() {
        println!(
            "{} {}: not ready after {not_ready_after:?}, ready again {ready_after:?} after the database came back; body while cut: {body}",
            if i + 1 == CUTS { "stall" } else { "cut" },
            i + 1
        );
    }
    println!(
        "requests: {} in all, {} during the cuts (all 503, the slowest answered in {slowest:?}), {unavailable} answered 503 in all, {created} created, {} hung; {} after the last cut, {} of them 201; {orders} order rows",
        calls.len(),
        during.len(),
        hung.len(),
        after.len(),
        after.iter().filter(|c| c.status == Some(201)).count()
    );

    assert!(hung.is_empty(), "requests hung: {hung:?}");
    assert!(!during.is_empty(), "no request made during the cuts");
    for call in &during {
        assert_eq!(call.status, Some(503), "{call:?}");
        assert!(call.took < Duration::from_secs(1), "{call:?}");
    }
    assert!(
        !after.is_empty() && after.iter().all(|c| c.status == Some(201)),
        "after the last cut: {after:?}"
    );
    // A request cut between its COMMIT and the answer is a 503 whose order
    // exists: the rows are at least the 201s, at most the 201s and the 503s.
    assert!(
        orders >= created && orders <= created + unavailable as i64,
        "{orders} rows for {created} created and {unavailable} unavailable"
    );

    api.terminate_cleanly(Duration::from_secs(30));
}

/// A session the server ends (`pg_terminate_backend`, as in a restart or a
/// failover) is "unavailable" (`503`, retry), not a bad query (`500`).
#[test]
fn a_session_the_server_ends_is_unavailable_not_a_bad_query() {
    use lifecycle::postgres::{is_unavailable, sqlx};
    let Some(services) = services("terminated") else {
        return;
    };
    services.runtime.block_on(async {
        let mut victim = <sqlx::PgConnection as sqlx::Connection>::connect(&services.database_url)
            .await
            .expect("connect");
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut victim)
            .await
            .expect("its pid");
        let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .fetch_one(&services.db)
            .await
            .expect("terminate it");
        assert!(ended);
        let error = sqlx::query("SELECT 1")
            .execute(&mut victim)
            .await
            .expect_err("its session is gone");
        assert!(
            is_unavailable(&error),
            "not counted as unavailable: {error:?}"
        );
        assert!(!is_unavailable(
            &sqlx::query("SELECT * FROM no_such_table_here")
                .execute(&services.db)
                .await
                .expect_err("a bad query")
        ));
    });
}
