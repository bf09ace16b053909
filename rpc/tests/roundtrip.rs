//! RPC against the real RabbitMQ: call, cast, fanout, server-targeted calls,
//! timeouts, remote errors, dispatch errors, concurrency, failover.

mod common;

use std::time::Duration;

use common::{BROKER, RunningServer, args, client, connected, settings, unique};
use rpc::{Context, Error, Target, Transport};
use serde_json::json;

#[tokio::test]
async fn a_call_returns_the_result_and_carries_the_request_id() {
    let (exchange, topic) = unique("call");
    let transport = connected(BROKER, &exchange).await;
    let server = RunningServer::start(&transport, Target::new(&topic), "a").await;

    let context = Context::with_request_id("req-6f1c2b1e-4b4e-4d0e-9d2f-0a1b2c3d4e5f");
    let result = client(&transport, &topic)
        .call(&context, "ping", args(json!({"n": 1})))
        .await
        .expect("call");

    assert_eq!(
        result,
        json!({"pong": {"n": 1}, "request_id": "req-6f1c2b1e-4b4e-4d0e-9d2f-0a1b2c3d4e5f"})
    );
    server.stop().await;
}

#[tokio::test]
async fn a_cast_runs_without_a_reply() {
    let (exchange, topic) = unique("cast");
    let transport = connected(BROKER, &exchange).await;
    let server = RunningServer::start(&transport, Target::new(&topic), "a").await;
    let client = client(&transport, &topic);

    client
        .cast(&Context::default(), "record", args(json!({"value": 7})))
        .await
        .expect("cast");
    // A call after the cast on the same topic is served after it on this single server.
    let recorded = client
        .call(&Context::default(), "recorded", args(json!({})))
        .await
        .expect("call");

    assert_eq!(recorded, json!([7]));
    server.stop().await;
}

#[tokio::test]
async fn a_fanout_cast_reaches_every_server() {
    let (exchange, topic) = unique("fanout");
    let transport = connected(BROKER, &exchange).await;
    let first = RunningServer::start(&transport, Target::new(&topic).server("one"), "one").await;
    let second = RunningServer::start(&transport, Target::new(&topic).server("two"), "two").await;
    let client = client(&transport, &topic);

    client
        .prepare(client.target().clone().fanout())
        .cast(&Context::default(), "record", args(json!({"value": "all"})))
        .await
        .expect("fanout cast");

    for server in ["one", "two"] {
        let targeted = client.prepare(client.target().clone().server(server));
        let recorded = targeted
            .call(&Context::default(), "recorded", args(json!({})))
            .await
            .expect("call");
        assert_eq!(recorded, json!(["all"]), "server {server}");
    }
    first.stop().await;
    second.stop().await;
}

#[tokio::test]
async fn a_server_targeted_call_reaches_that_server_only() {
    let (exchange, topic) = unique("targeted");
    let transport = connected(BROKER, &exchange).await;
    let first = RunningServer::start(&transport, Target::new(&topic).server("one"), "one").await;
    let second = RunningServer::start(&transport, Target::new(&topic).server("two"), "two").await;
    let client = client(&transport, &topic);

    for _ in 0..5 {
        let answer = client
            .prepare(client.target().clone().server("two"))
            .call(&Context::default(), "whoami", args(json!({})))
            .await;
        assert_eq!(answer.expect("call"), json!("two"));
    }
    first.stop().await;
    second.stop().await;
}

#[tokio::test]
async fn a_call_nobody_answers_times_out() {
    // Arrange: the topic's queue exists (a server declared it), but nobody consumes it.
    let (exchange, topic) = unique("timeout");
    let transport = connected(BROKER, &exchange).await;
    RunningServer::start(&transport, Target::new(&topic), "gone")
        .await
        .stop()
        .await;

    // Act
    let outcome = client(&transport, &topic)
        .with_timeout(Duration::from_millis(500))
        .call(&Context::default(), "ping", args(json!({})))
        .await;

    assert!(matches!(outcome, Err(Error::Timeout { .. })), "{outcome:?}");
    assert!(outcome.expect_err("timeout").is_unavailable());
}

#[tokio::test]
async fn a_remote_failure_comes_back_with_its_class_and_message() {
    let (exchange, topic) = unique("failure");
    let transport = connected(BROKER, &exchange).await;
    let server = RunningServer::start(&transport, Target::new(&topic), "a").await;

    let outcome = client(&transport, &topic)
        .call(
            &Context::default(),
            "fail",
            args(json!({"message": "bad name"})),
        )
        .await;

    let error = outcome.expect_err("a failure");
    let remote = error.remote().expect("a remote error");
    assert_eq!(
        (remote.class.as_str(), remote.message.as_str()),
        ("Invalid", "bad name")
    );
    assert!(!error.is_unavailable());
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_method_and_a_wrong_version_are_refused_as_oslo_refuses_them() {
    let (exchange, topic) = unique("dispatch");
    let transport = connected(BROKER, &exchange).await;
    let server = RunningServer::start(&transport, Target::new(&topic), "a").await;
    let client = client(&transport, &topic);

    let unknown = client
        .call(&Context::default(), "nosuch", args(json!({})))
        .await
        .expect_err("refused");
    let newer = client
        .prepare(client.target().clone().version("2.0"))
        .call(&Context::default(), "ping", args(json!({})))
        .await
        .expect_err("refused");

    assert_eq!(
        unknown.remote().map(|r| r.class.as_str()),
        Some("NoSuchMethod")
    );
    assert_eq!(
        newer.remote().map(|r| r.class.as_str()),
        Some("UnsupportedVersion")
    );
    assert_eq!(
        newer.remote().map(|r| r.message.as_str()),
        Some("Endpoint does not support RPC version 2.0. Attempted method: ping")
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_calls_all_get_their_own_answer() {
    let (exchange, topic) = unique("concurrent");
    let transport = connected(BROKER, &exchange).await;
    let server = RunningServer::start(&transport, Target::new(&topic), "a").await;
    let client = client(&transport, &topic);

    let calls = (0..100).map(|n| {
        let client = client.clone();
        tokio::spawn(async move {
            (
                n,
                client
                    .call(&Context::default(), "echo", args(json!({"value": n})))
                    .await,
            )
        })
    });
    let mut answered = 0;
    for call in calls.collect::<Vec<_>>() {
        let (n, outcome) = call.await.expect("task");
        assert_eq!(outcome.expect("call"), json!(n));
        answered += 1;
    }

    assert_eq!(answered, 100);
    server.stop().await;
}

#[tokio::test]
async fn a_call_no_queue_takes_fails_with_no_server_after_the_route_wait_not_the_timeout() {
    // Arrange: no server ever declared the topic; the timeout is far longer
    // than the route wait.
    let (exchange, topic) = unique("noqueue");
    let transport = connected(BROKER, &exchange).await;

    // Act
    let started = std::time::Instant::now();
    let outcome = client(&transport, &topic)
        .with_timeout(Duration::from_secs(60))
        .call(&Context::default(), "ping", args(json!({})))
        .await;

    // Assert
    let took = started.elapsed();
    assert!(
        matches!(&outcome, Err(Error::NoServer { topic: t }) if *t == topic),
        "{outcome:?}"
    );
    assert!(outcome.expect_err("no server").is_unavailable());
    assert!(
        took >= rpc::ROUTE_WAIT - Duration::from_millis(500)
            && took < rpc::ROUTE_WAIT + Duration::from_secs(2),
        "took {took:?}"
    );
}

#[tokio::test]
async fn a_call_made_before_its_server_consumes_is_answered_once_it_does() {
    // Arrange: the call goes out while no queue exists for its topic.
    let (exchange, topic) = unique("early");
    let transport = connected(BROKER, &exchange).await;
    let client = client(&transport, &topic).with_timeout(Duration::from_secs(30));
    let early = tokio::spawn(async move {
        client
            .call(&Context::default(), "whoami", args(json!({})))
            .await
    });
    // The first publish has surely been returned by now (it takes a
    // millisecond); the server then starts within the route wait.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!early.is_finished(), "the early call gave up at once");

    // Act
    let server = RunningServer::start(&transport, Target::new(&topic), "late").await;

    // Assert
    let answer = early.await.expect("task");
    assert_eq!(answer.expect("the early call is answered"), json!("late"));
    server.stop().await;
}

#[tokio::test]
async fn without_a_broker_a_call_fails_after_the_route_wait_instead_of_hanging() {
    let (exchange, topic) = unique("nobroker");
    let dead = format!("rabbit://guest:guest@127.0.0.1:{}//", free_port());
    let transport = Transport::start(settings(&dead, &exchange));

    let started = std::time::Instant::now();
    let outcome = client(&transport, &topic)
        .call(&Context::default(), "ping", args(json!({})))
        .await;

    assert!(matches!(outcome, Err(Error::Unavailable)), "{outcome:?}");
    assert!(
        started.elapsed() < rpc::ROUTE_WAIT + Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_dead_first_host_fails_over_to_the_second() {
    let (exchange, topic) = unique("failover");
    let url = format!(
        "rabbit://guest:guest@127.0.0.1:{},guest:guest@127.0.0.1:5672//",
        free_port()
    );
    let transport = connected(&url, &exchange).await;
    let server = RunningServer::start(&transport, Target::new(&topic), "a").await;

    let answer = client(&transport, &topic)
        .call(&Context::default(), "whoami", args(json!({})))
        .await;

    assert_eq!(answer.expect("call through the second host"), json!("a"));
    server.stop().await;
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_finishes_and_answers_the_call_in_flight() {
    let (exchange, topic) = unique("drain");
    let transport = connected(BROKER, &exchange).await;
    let server = RunningServer::start(&transport, Target::new(&topic), "a").await;
    let client = client(&transport, &topic);

    let slow = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .call(&Context::default(), "slow", args(json!({"seconds": 1})))
                .await
        }
    });
    // Once the call runs on the server, stop the server.
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    while !server
        .recorded
        .lock()
        .expect("lock")
        .contains(&json!("slow started"))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the call never started"
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stopped = tokio::spawn(server.stop());

    assert_eq!(
        slow.await
            .expect("task")
            .expect("the call in flight is answered"),
        json!("done")
    );
    stopped.await.expect("the server stops after answering");
}

#[tokio::test]
async fn closing_the_transport_deletes_its_reply_queue() {
    // Arrange: a call made, so the reply queue exists.
    let (exchange, topic) = unique("replyq");
    let transport = connected(BROKER, &exchange).await;
    let server = RunningServer::start(&transport, Target::new(&topic), "a").await;
    client(&transport, &topic)
        .call(&Context::default(), "whoami", args(json!({})))
        .await
        .expect("call");
    server.stop().await;
    let queue = transport.reply_queue().to_string();
    assert!(
        rpc::test_util::queue_exists(&queue).await,
        "{queue} before close"
    );

    // Act
    transport.close().await;

    // Assert
    assert!(
        !rpc::test_util::queue_exists(&queue).await,
        "{queue} left behind"
    );
}
