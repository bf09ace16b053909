//! The supervisor as an operator sees it.
//!
//! - `workers`: one port shared by the workers, respawn, crash-loop backoff, TTIN/TTOU.
//! - `reload`: SIGHUP under load, a rejected reload, the notify protocol.
//! - `reopen`: SIGUSR1 log reopening.
//! - `stop`: SIGTERM drain, the grace period, second SIGTERM, a killed master.
//! - `signals`: SIGUSR2 and signals sent to a worker.
//! - `pidfile`: the pid file's lifecycle.
//! - `startup`: command line and configuration errors.
//! - `timeouts`: clients that stall in their headers or body.
//! - `full_disk`: the log file's filesystem fills up and frees again.

mod full_disk;
mod pidfile;
mod reload;
mod reopen;
mod signals;
mod startup;
mod stop;
mod timeouts;
mod workers;

use std::collections::BTreeSet;

use crate::harness::cluster::Api;
use crate::harness::http::{self, Connection, Request};
use crate::harness::logs::LogLine;

/// Sends `n` concurrent `GET /v1` on fresh connections; each must get a 200.
fn burst(api: &Api, n: usize) {
    let port = api.port();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|_| s.spawn(move || http::get(port, "/v1")))
            .collect();
        for handle in handles {
            let response = handle
                .join()
                .expect("a client thread panicked")
                .expect("GET /v1");
            assert_eq!(response.status, 200, "GET /v1: {}", response.text());
        }
    });
}

/// Pids that wrote an access line to the current log file.
fn access_pids(api: &Api) -> BTreeSet<i32> {
    api.log_lines()
        .iter()
        .filter(|l| l.access().is_some())
        .map(|l| l.pid)
        .collect()
}

/// Lines of the master matching `pred`.
fn master_lines(api: &Api, pred: impl Fn(&LogLine) -> bool) -> Vec<LogLine> {
    let master = api.master_pid();
    api.log_lines()
        .into_iter()
        .filter(|l| l.pid == master && pred(l))
        .collect()
}

fn mentions(line: &LogLine, words: &[&str]) -> bool {
    let message = line.message.to_lowercase();
    words.iter().all(|w| message.contains(w))
}

/// Opens a connection a worker has surely accepted (it answered on it), then
/// sends the head of a `POST /v1` announcing `len` body bytes and `sent` of them.
fn start_slow_request(api: &Api, len: usize, sent: usize) -> Connection {
    let mut conn = Connection::open(api.port()).expect("connect");
    let warmup = conn.send(&Request::get("/v1")).expect("GET /v1");
    assert_eq!(warmup.status, 200);
    assert!(conn.is_open(), "the server closed a keep-alive connection");
    conn.write_head(
        &Request::new("POST", "/v1").header("Content-Type", "application/json"),
        len,
    )
    .expect("send the request head");
    conn.write_body(&vec![b' '; sent])
        .expect("send the start of the body");
    conn
}
