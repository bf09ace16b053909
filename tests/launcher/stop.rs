//! Stopping: SIGTERM drains requests in flight, the grace period is enforced,
//! a second SIGTERM is immediate, and workers die with a killed master.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::start_slow_request;
use crate::harness::cluster::{Api, ApiConfig, is_alive};
use crate::harness::eventually::{ensure, eventually, eventually_within};
use crate::harness::trace;

#[test]
fn sigterm_lets_a_slow_request_in_flight_complete_then_exits_0() {
    // Arrange
    let mut api = Api::start(
        ApiConfig::default()
            .workers(2)
            .graceful_shutdown_timeout(15),
    );
    let body_len = 20;
    let mut conn = start_slow_request(&api, body_len, 5);
    let mark = api.notify().mark();

    // Act: stop the service, then trickle the rest of the body.
    api.term();
    api.notify().wait_line(mark, "STOPPING=1");
    for _ in 5..body_len {
        conn.write_body(b" ").expect("trickle the body");
        std::thread::sleep(Duration::from_millis(50));
    }
    let response = conn
        .read_response("POST")
        .expect("the in-flight request completes");
    let status = api.wait_exit();

    // Assert
    assert_eq!(
        response.status,
        405,
        "POST /v1 after its body arrived: {}",
        response.text()
    );
    assert!(
        response.closes(),
        "a response during the drain carries Connection: close"
    );
    assert!(status.success(), "exit status {status}");
    assert!(!api.pid_path().exists(), "the pid file is removed on exit");
    eventually("no process of the tree left", || {
        let left = api.process_group();
        ensure(left.is_empty(), || format!("{left:?}"))
    });
}

#[test]
fn a_request_that_never_ends_is_cut_at_graceful_shutdown_timeout_and_nothing_remains() {
    // Arrange
    let mut api = Api::start(ApiConfig::default().workers(2).graceful_shutdown_timeout(2));
    let workers = api.worker_pids();
    let _conn = start_slow_request(&api, 1000, 1);

    // Act
    let asked = Instant::now();
    api.term();
    let status = api.wait_exit();
    let took = asked.elapsed();

    // Assert
    trace!("master exited {took:?} after SIGTERM with a request stuck in flight");
    assert!(status.success(), "exit status {status}");
    assert!(
        took >= Duration::from_millis(1900),
        "exited after {took:?}, before the 2 s grace ended"
    );
    assert!(
        workers.iter().all(|w| !is_alive(*w)),
        "workers still alive after the master exited"
    );
    let left = api.process_group();
    assert!(left.is_empty(), "processes of the tree remain: {left:?}");
}

#[test]
fn a_second_sigterm_stops_at_once() {
    // Arrange: grace 0 waits forever for the stuck request.
    let mut api = Api::start(ApiConfig::default().workers(1).graceful_shutdown_timeout(0));
    let _conn = start_slow_request(&api, 1000, 1);
    let mark = api.notify().mark();
    api.term();
    api.notify().wait_line(mark, "STOPPING=1");
    assert!(
        api.try_exit().is_none(),
        "the first SIGTERM waits for the request in flight"
    );

    // Act
    api.term();

    // Assert
    api.wait_exit();
    eventually("no process of the tree left", || {
        let left = api.process_group();
        ensure(left.is_empty(), || format!("{left:?}"))
    });
}

#[test]
fn killing_the_master_takes_every_worker_down_and_frees_the_port() {
    // Arrange
    let mut api = Api::start(ApiConfig::default().workers(2));
    let workers = api.worker_pids();
    let port = api.port();

    // Act
    let killed = Instant::now();
    api.signal(Signal::SIGKILL);
    api.wait_exit();

    // Assert: the contract's bound is 2 s from the kill.
    let bound = Duration::from_secs(2).saturating_sub(killed.elapsed());
    eventually_within(
        bound,
        "every worker gone within 2 s of the master's SIGKILL",
        || {
            let alive: Vec<i32> = workers.iter().copied().filter(|w| is_alive(*w)).collect();
            ensure(alive.is_empty(), || format!("still alive: {alive:?}"))
        },
    );
    trace!(
        "workers gone {:?} after the master's SIGKILL",
        killed.elapsed()
    );
    TcpListener::bind(("127.0.0.1", port)).expect("the port can be bound again");
}

#[test]
fn sigterm_to_the_whole_process_group_stops_cleanly_without_respawning() {
    // Arrange
    let mut api = Api::start(ApiConfig::default().workers(2));
    let before = api.log_text().len();

    // Act: what systemd's control-group stop or Ctrl-C does.
    killpg(Pid::from_raw(api.master_pid()), Signal::SIGTERM).expect("signal the process group");
    let status = api.wait_exit();

    // Assert
    assert!(status.success(), "exit status {status}");
    let after = api.log_text();
    let complaints: Vec<&str> = after[before..]
        .lines()
        .filter(|l| l.contains(" WARNING ") || l.contains(" ERROR "))
        .collect();
    assert!(
        complaints.is_empty(),
        "workers stopping with their master were treated as failures: {complaints:#?}"
    );
    assert!(api.process_group().is_empty());
}
