//! Slow clients: a body that stalls is answered 408 after
//! `client_socket_timeout`, headers that stall are cut after
//! `client_header_timeout`, and a body that is slow without ever stalling
//! that long is served as usual.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::harness::cluster::{Api, ApiConfig};
use crate::harness::http::{Connection, Request, assert_error};
use crate::harness::trace;

/// The timeouts these tests configure, in seconds.
const TIMEOUT: &str = "2";
/// No cut comes before this, with a margin for the clocks of two processes.
const NOT_BEFORE: Duration = Duration::from_millis(1500);
/// A cut that comes after this did not come from the 2 s timeout (the
/// defaults are 900 s and 30 s).
const NOT_AFTER: Duration = Duration::from_secs(10);

#[test]
fn a_client_that_stalls_in_the_middle_of_a_body_is_answered_408_and_disconnected_after_client_socket_timeout()
 {
    // Arrange
    let api = Api::start(ApiConfig::default().workers(1).set(
        "api",
        "client_socket_timeout",
        TIMEOUT,
    ));
    let mut conn = Connection::open(api.port()).expect("connect");

    // Act: announce 100 bytes, send 10, then nothing.
    let post = Request::new("POST", "/v1/movies").header("Content-Type", "application/json");
    conn.write_head(&post, 100).expect("send the request head");
    conn.write_body(&[b' '; 10])
        .expect("send the start of the body");
    let stalled = Instant::now();
    let response = conn
        .read_response("POST")
        .expect("an answer to the stalled request");
    let answered = stalled.elapsed();
    let after = conn.read_response("GET");
    let closed = stalled.elapsed();

    // Assert
    trace!("stalled body answered after {answered:?}, connection closed after {closed:?}");
    assert_error("a stalled body", &response, 408);
    assert!(
        response.closes(),
        "the rest of the body never came, so the connection cannot carry another request: \
         the 408 says Connection: close"
    );
    assert!(
        (NOT_BEFORE..NOT_AFTER).contains(&answered),
        "answered {answered:?} after the client stalled, not about {TIMEOUT} s"
    );
    match after {
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => {}
        other => panic!("after the 408 the server closes the connection; got {other:?}"),
    }
    assert!(
        closed < NOT_AFTER,
        "closed {closed:?} after the client stalled"
    );
    assert_eq!(
        api.get("/v1").expect("GET /v1").status,
        200,
        "the worker serves on"
    );
}

#[test]
fn a_client_that_stalls_in_the_middle_of_its_headers_is_disconnected_after_client_header_timeout() {
    // Arrange
    let api = Api::start(ApiConfig::default().workers(1).set(
        "api",
        "client_header_timeout",
        TIMEOUT,
    ));
    let mut stream = TcpStream::connect(("127.0.0.1", api.port())).expect("connect");
    // Far above the bound, so a server that never cuts fails the test instead of hanging it.
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("set a read timeout");

    // Act: a request line and one header, but never the blank line that ends them.
    stream
        .write_all(b"GET /v1 HTTP/1.1\r\nHost: x\r\n")
        .expect("send the start of the headers");
    let stalled = Instant::now();
    let mut received = Vec::new();
    let outcome = stream.read_to_end(&mut received);
    let cut = stalled.elapsed();

    // Assert: a 408 then the end of the stream, or the end (or a reset) alone.
    let text = String::from_utf8_lossy(&received);
    trace!("stalled headers cut after {cut:?} with {outcome:?}: {text:?}");
    match &outcome {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Err(e) => panic!("still connected after {cut:?} ({e}); received {text:?}"),
    }
    assert!(
        received.is_empty() || text.starts_with("HTTP/1.1 408 "),
        "the only answer to stalled headers is a 408: {text:?}"
    );
    assert!(
        (NOT_BEFORE..NOT_AFTER).contains(&cut),
        "disconnected {cut:?} after the client stalled, not about {TIMEOUT} s"
    );
    assert_eq!(
        api.get("/v1").expect("GET /v1").status,
        200,
        "the worker serves on"
    );
}

#[test]
fn a_body_that_trickles_in_for_longer_than_client_socket_timeout_without_a_long_pause_gets_its_normal_answer()
 {
    // Arrange
    let api = Api::start(ApiConfig::default().workers(1).set(
        "api",
        "client_socket_timeout",
        TIMEOUT,
    ));
    let mut conn = Connection::open(api.port()).expect("connect");
    let parts = 6;
    let pause = Duration::from_millis(500);

    // Act: the pauses are the client's pace, well under the timeout each,
    // over it in all (the timeout is about a stall, not about the whole body).
    let post = Request::new("POST", "/v1").header("Content-Type", "application/json");
    conn.write_head(&post, parts)
        .expect("send the request head");
    let started = Instant::now();
    for _ in 0..parts {
        std::thread::sleep(pause);
        conn.write_body(b" ").expect("send one byte of the body");
    }
    let sent_in = started.elapsed();
    let response = conn.read_response("POST").expect("an answer");

    // Assert
    trace!("a body sent over {sent_in:?} answered {}", response.status);
    assert_eq!(
        response.status,
        405,
        "POST /v1 once its body arrived: {}",
        response.text()
    );
    assert!(
        !response.closes(),
        "the body was read to its end: the connection stays open"
    );
}
