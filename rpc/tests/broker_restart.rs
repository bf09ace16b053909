//! A broker restart in the middle of a stream of calls, on a private RabbitMQ
//! node: calls wait a few seconds for it while it is down, then fail; they
//! succeed again within seconds after it returns, with the same transport,
//! server and client (no process restart).

mod common;

use std::time::{Duration, Instant};

use common::{PATIENCE, RunningServer, args, client, connected, unique};
use rpc::test_util::PrivateBroker;
use rpc::{Context, Target};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_fail_after_a_short_wait_while_the_broker_is_down_and_recover_after_it_returns() {
    let broker = tokio::task::spawn_blocking(PrivateBroker::start)
        .await
        .expect("task")
        .expect("private broker");
    let url = broker.transport_url();
    let (exchange, topic) = unique("restart");
    let server_transport = connected(&url, &exchange).await;
    let client_transport = connected(&url, &exchange).await;
    let server = RunningServer::start(&server_transport, Target::new(&topic), "a").await;
    let client = client(&client_transport, &topic);
    let context = Context::default();
    let ping = || client.call(&context, "echo", args(json!({"value": 1})));
    assert_eq!(ping().await.expect("a call before the restart"), json!(1));

    let broker = tokio::task::spawn_blocking(move || broker.stop_app().map(|()| broker))
        .await
        .expect("task")
        .expect("stop_app");
    // The client notices the lost connection; from then on a call waits for
    // a connection for `ROUTE_WAIT`, not for its whole timeout, then fails.
    let deadline = Instant::now() + PATIENCE;
    while client_transport.is_connected() {
        assert!(
            Instant::now() < deadline,
            "the client never noticed the broker going away"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for _ in 0..2 {
        let started = Instant::now();
        let outcome = ping().await;
        assert!(
            matches!(outcome, Err(rpc::Error::Unavailable)),
            "{outcome:?}"
        );
        assert!(
            started.elapsed() < rpc::ROUTE_WAIT + Duration::from_secs(2),
            "a call while down took {:?}",
            started.elapsed()
        );
    }

    let broker = tokio::task::spawn_blocking(move || broker.start_app().map(|()| broker))
        .await
        .expect("task")
        .expect("start_app");
    let restarted = Instant::now();
    let recovered = loop {
        if ping().await.is_ok() {
            break restarted.elapsed();
        }
        assert!(
            restarted.elapsed() < PATIENCE,
            "calls never succeeded again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    eprintln!("calls succeeded again {recovered:?} after the broker came back");
    for n in 0..20 {
        assert_eq!(
            client
                .call(&Context::default(), "echo", args(json!({"value": n})))
                .await
                .expect("call"),
            json!(n)
        );
    }
    server.stop().await;
    drop(broker);
}
