//! Stopping: SIGTERM drains requests in flight, a new client is refused
//! during the drain, the grace period is enforced, a second SIGTERM is
//! immediate, and workers die with a killed master.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
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
fn during_a_graceful_stop_a_new_connection_is_refused_at_once_or_answered_never_left_hanging() {
    // Arrange: a request stuck in flight keeps its worker, and so the
    // master, in the drain.
    let mut api = Api::start(
        ApiConfig::default()
            .workers(2)
            .graceful_shutdown_timeout(15),
    );
    let body_len = 1000;
    let mut slow = start_slow_request(&api, body_len, 1);
    let addr = SocketAddr::from(([127, 0, 0, 1], api.port()));
    let mark = api.notify().mark();

    // Act: stop; once every copy of the listening socket is closed, the
    // kernel refuses instead of queueing for a drain that never accepts.
    // Bounded well inside the 15 s grace: a refusal that only comes when the
    // grace ends and the workers are killed is the behaviour this rules out.
    api.term();
    api.notify().wait_line(mark, "STOPPING=1");
    eventually_within(
        Duration::from_secs(5),
        "a new connection to be refused during the drain",
        || {
            api.assert_running();
            match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => Ok(()),
                Err(e) => Err(format!("connect: {e}")),
                Ok(_) => Err("accepted".to_owned()),
            }
        },
    );
    assert!(
        api.try_exit().is_none(),
        "refused while the slow request is still in flight, not because the master is gone"
    );
    // Then clients keep coming for a while; the pauses are their pace.
    let fates: Vec<Result<Fate, String>> = (0..20)
        .map(|_| {
            let fate = new_connection_fate(addr);
            std::thread::sleep(Duration::from_millis(50));
            fate
        })
        .collect();
    let still_draining = api.try_exit().is_none();
    // The rest of the body lets the drain end.
    slow.write_body(&vec![b' '; body_len - 1])
        .expect("send the rest of the body");
    let response = slow
        .read_response("POST")
        .expect("the in-flight request completes");
    let status = api.wait_exit();

    // Assert
    let seen: Vec<String> = fates
        .iter()
        .map(|fate| match fate {
            Ok(Fate::Refused) => "refused".to_owned(),
            Ok(Fate::Answered(status_line)) => format!("answered {status_line}"),
            Err(why) => format!("HUNG: {why}"),
        })
        .collect();
    trace!("new connections during the drain: {seen:#?}");
    assert!(
        fates.iter().all(Result::is_ok),
        "new connections during the drain were neither refused nor answered: {seen:#?}"
    );
    assert!(
        still_draining,
        "the master exited while the slow request was in flight"
    );
    assert_eq!(
        response.status,
        405,
        "POST /v1 after its body arrived: {}",
        response.text()
    );
    assert!(status.success(), "exit status {status}");
}

/// What became of a new connection during a drain.
#[derive(Debug)]
enum Fate {
    /// The kernel refused it at once.
    Refused,
    /// It was accepted and `GET /v1` got a whole answer; its status line.
    Answered(String),
}

/// Connects to `addr` and, if accepted, sends `GET /v1` and reads the whole
/// answer. `Err` when the connection hangs (nothing within 2 s) or is reset.
fn new_connection_fate(addr: SocketAddr) -> Result<Fate, String> {
    let mut stream = match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => return Ok(Fate::Refused),
        Err(e) => return Err(format!("connect: {e}")),
        Ok(stream) => stream,
    };
    let limit = Some(Duration::from_secs(2));
    stream
        .set_read_timeout(limit)
        .and_then(|()| stream.set_write_timeout(limit))
        .map_err(|e| format!("set timeouts: {e}"))?;
    let accepted = Instant::now();
    stream
        .write_all(b"GET /v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("accepted, then sending failed: {e}"))?;
    let mut answer = Vec::new();
    let read = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    if let Err(e) = read {
        return Err(format!(
            "accepted, then {e} after {:?}; received {text:?}",
            accepted.elapsed()
        ));
    }
    let status_line = text.lines().next().unwrap_or_default();
    if !status_line.starts_with("HTTP/1.1 ") {
        return Err(format!("accepted, then closed without an answer: {text:?}"));
    }
    Ok(Fate::Answered(status_line.to_owned()))
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
