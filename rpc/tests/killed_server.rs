//! A server killed in the middle of a call: the request was not acknowledged,
//! so the broker hands it to another server, and the caller gets its answer
//! before its timeout instead of waiting for nothing.
//!
//! The doomed server runs in a child process (this test binary run again with
//! `PYMSBOOT_TEST_ROLE=doomed-server`), so it can be killed with SIGKILL.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BROKER, PATIENCE, RunningServer, args, client, connected};
use rpc::{Context, Target};
use serde_json::json;

const ROLE: &str = "PYMSBOOT_TEST_ROLE";
const TEST: &str = "a_call_whose_server_is_killed_is_answered_by_another_server";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_whose_server_is_killed_is_answered_by_another_server() {
    if std::env::var(ROLE).as_deref() == Ok("doomed-server") {
        return doomed_server().await;
    }
    let (exchange, topic) = common::unique("killed");
    let mut doomed = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", TEST, "--nocapture"])
        .env(ROLE, "doomed-server")
        .env("TEST_EXCHANGE", &exchange)
        .env("TEST_TOPIC", &topic)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the doomed server");
    let mut lines = BufReader::new(doomed.stdout.take().expect("stdout")).lines();
    let wait_for = |lines: &mut std::io::Lines<_>, word: &str| loop {
        let line: String = lines
            .next()
            .expect("the doomed server ended early")
            .expect("read");
        if line.trim() == word {
            return;
        }
    };
    wait_for(&mut lines, "READY");
    let transport = connected(BROKER, &exchange).await;
    let client = client(&transport, &topic).with_timeout(Duration::from_secs(20));

    let started = Instant::now();
    let call = tokio::spawn(async move {
        client
            .call(&Context::default(), "slow", args(json!({"seconds": 2})))
            .await
    });
    let lines = tokio::task::spawn_blocking(move || {
        wait_for(&mut lines, "WORKING");
        lines
    })
    .await
    .expect("task");
    let survivor = RunningServer::start(&transport, Target::new(&topic), "survivor").await;
    doomed.kill().expect("SIGKILL the doomed server");
    let _ = doomed.wait();
    drop(lines);

    let answer = tokio::time::timeout(PATIENCE, call)
        .await
        .expect("answered in time")
        .expect("task");
    assert_eq!(answer.expect("the survivor's answer"), json!("done"));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    survivor.stop().await;
}

/// The child: serves `slow` on the test's topic, saying `WORKING` when a call
/// starts; it never finishes one, as it is killed meanwhile.
async fn doomed_server() {
    use std::sync::Arc;

    use rpc::{Dispatcher, Endpoint, MethodFuture, RpcServer};
    use serde_json::{Map, Value};

    struct Stalls;
    impl Endpoint for Stalls {
        fn namespace(&self) -> Option<&str> {
            Some("engine")
        }
        fn version(&self) -> &str {
            "1.0"
        }
        fn has_method(&self, method: &str) -> bool {
            method == "slow"
        }
        fn call<'a>(&'a self, _: Context, _: &'a str, _: Map<String, Value>) -> MethodFuture<'a> {
            Box::pin(async {
                println!("WORKING");
                std::future::pending().await
            })
        }
    }

    let exchange = std::env::var("TEST_EXCHANGE").expect("exchange");
    let topic = std::env::var("TEST_TOPIC").expect("topic");
    let transport = connected(BROKER, &exchange).await;
    let server = RpcServer::new(
        &transport,
        Target::new(&topic),
        Dispatcher::new(vec![Arc::new(Stalls)]),
    );
    let _ = server
        .serve(|| println!("READY"), std::future::pending())
        .await;
}
