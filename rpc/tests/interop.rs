//! Interoperability with stock Python oslo.messaging 18.3.1, both ways:
//! a Python `RPCClient` calls our server, our client calls a Python server.

mod common;

#[path = "common/python.rs"]
mod python;

use std::time::Duration;

use common::{BROKER, PATIENCE, RunningServer, args, client, connected, unique};
use python::{PythonServer, python_client};
use rpc::{Context, Error, Target};
use serde_json::{Value, json};

// --- Python client → Rust server -------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_call_reaches_our_server_with_its_request_id() {
    let (exchange, topic) = unique("py2rs_call");
    let transport = connected(BROKER, &exchange).await;
    let server = RunningServer::start(&transport, Target::new(&topic), "rust").await;

    let answer = tokio::task::spawn_blocking(move || {
        python_client(
            "call",
            BROKER,
            &exchange,
            &topic,
            &["--request-id", "req-42"],
            "ping",
            &json!({"a": 1}),
        )
    })
    .await
    .expect("python");

    assert_eq!(
        answer,
        json!({"ok": true, "result": {"pong": {"a": 1}, "request_id": "req-42"}})
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_cast_runs_on_our_server() {
    let (exchange, topic) = unique("py2rs_cast");
    let transport = connected(BROKER, &exchange).await;
    let server = RunningServer::start(&transport, Target::new(&topic), "rust").await;

    let (ex, to) = (exchange.clone(), topic.clone());
    let answer = tokio::task::spawn_blocking(move || {
        python_client(
            "cast",
            BROKER,
            &ex,
            &to,
            &[],
            "record",
            &json!({"value": "py"}),
        )
    })
    .await
    .expect("python");

    assert_eq!(answer["ok"], json!(true));
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while server.recorded.lock().expect("lock").is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the cast never ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(*server.recorded.lock().expect("lock"), vec![json!("py")]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sees_our_failures_and_dispatch_errors_as_oslo_servers_send_them() {
    let (exchange, topic) = unique("py2rs_errors");
    let transport = connected(BROKER, &exchange).await;
    let server = RunningServer::start(&transport, Target::new(&topic), "rust").await;

    let (ex, to) = (exchange.clone(), topic.clone());
    let answers = tokio::task::spawn_blocking(move || {
        [
            python_client(
                "call",
                BROKER,
                &ex,
                &to,
                &[],
                "fail",
                &json!({"message": "no good"}),
            ),
            python_client("call", BROKER, &ex, &to, &[], "nosuch", &json!({})),
            python_client(
                "call",
                BROKER,
                &ex,
                &to,
                &["--version", "2.0"],
                "ping",
                &json!({}),
            ),
        ]
    })
    .await
    .expect("python");

    let remote = |answer: &Value| (answer["ok"].clone(), answer["exc_type"].clone());
    assert_eq!(remote(&answers[0]), (json!(false), json!("Invalid")));
    assert_eq!(answers[0]["value"], json!("no good"));
    assert_eq!(remote(&answers[1]), (json!(false), json!("NoSuchMethod")));
    assert_eq!(
        remote(&answers[2]),
        (json!(false), json!("UnsupportedVersion"))
    );
    assert_eq!(
        answers[2]["value"],
        json!("Endpoint does not support RPC version 2.0. Attempted method: ping")
    );
    server.stop().await;
}

// --- Rust client → Python server -------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_call_and_cast_reach_a_python_server() {
    let (exchange, topic) = unique("rs2py");
    let _python = PythonServer::start(BROKER, &exchange, &topic);
    let transport = connected(BROKER, &exchange).await;
    let client = client(&transport, &topic);
    let context = Context::with_request_id("req-7");

    let pong = client
        .call(&context, "ping", args(json!({"b": 2})))
        .await
        .expect("call");
    let echoed = client
        .call(&context, "echo", args(json!({"value": [1, "two"]})))
        .await
        .expect("call");
    client
        .cast(&context, "record", args(json!({"value": 3})))
        .await
        .expect("cast");

    assert_eq!(pong, json!({"pong": {"b": 2}, "request_id": "req-7"}));
    assert_eq!(echoed, json!([1, "two"]));
    // A Python server acknowledges a cast before running it: poll.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let recorded = client
            .call(&context, "recorded", args(json!({})))
            .await
            .expect("call");
        if recorded == json!([3]) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the cast never ran: {recorded}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_exception_becomes_a_typed_remote_error() {
    let (exchange, topic) = unique("rs2py_fail");
    let _python = PythonServer::start(BROKER, &exchange, &topic);
    let transport = connected(BROKER, &exchange).await;

    let error = client(&transport, &topic)
        .call(
            &Context::default(),
            "fail",
            args(json!({"message": "boom"})),
        )
        .await
        .expect_err("a failure");

    let remote = error.remote().expect("a remote error");
    assert_eq!(
        (remote.class.as_str(), remote.module.as_str()),
        ("ValueError", "builtins")
    );
    assert_eq!(remote.message, "boom");
    assert!(!remote.tb.is_empty(), "Python sends its traceback");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_python_server_makes_our_call_time_out() {
    let (exchange, topic) = unique("rs2py_slow");
    let _python = PythonServer::start(BROKER, &exchange, &topic);
    let transport = connected(BROKER, &exchange).await;

    let outcome = client(&transport, &topic)
        .with_timeout(Duration::from_secs(1))
        .call(&Context::default(), "slow", args(json!({"seconds": 3})))
        .await;

    assert!(matches!(outcome, Err(Error::Timeout { .. })), "{outcome:?}");
}
