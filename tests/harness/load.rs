//! Client threads that keep `GET` requests flowing (`/v1`, or a path of the
//! test's choosing that goes through the engine) while a test signals the
//! services, and report every request that did not get its 200.
//!
//! Loops are bounded in count and time, and stop on [`Load::stop`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::eventually::{eventually, patience};
use super::http::{Connection, Request};
use super::new_request_id;

/// Requests per client thread at most.
const MAX_REQUESTS_PER_CLIENT: usize = 20_000;
/// Pause between two requests of one client, to leave the machine some air.
const PACE: Duration = Duration::from_millis(2);

/// How the clients use connections.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Mode {
    /// One request per connection (`Connection: close`).
    Close,
    /// Keep connections alive; reconnect only when the server says `close`.
    KeepAlive,
}

/// What the clients saw.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// Request ids (sent by the client) of the requests that got a 200 echoing them.
    pub ok: Vec<String>,
    /// One description per failed request.
    pub failures: Vec<String>,
}

impl Report {
    /// Panics, listing them, when any request failed `during` something.
    pub(crate) fn assert_no_failures(&self, during: &str) {
        assert!(
            self.failures.is_empty(),
            "{} of {} requests failed {during}:\n{}",
            self.failures.len(),
            self.failures.len() + self.ok.len(),
            self.failures.join("\n")
        );
    }
}

/// Running client threads.
pub(crate) struct Load {
    stop: Arc<AtomicBool>,
    done: Arc<AtomicUsize>,
    threads: Vec<JoinHandle<Report>>,
}

impl Load {
    /// Starts one `GET /v1` client thread against `127.0.0.1:port` per mode.
    pub(crate) fn start(port: u16, modes: &[Mode]) -> Load {
        Load::start_on(port, "/v1", modes)
    }

    /// Starts one `GET path` client thread against `127.0.0.1:port` per mode.
    pub(crate) fn start_on(port: u16, path: &str, modes: &[Mode]) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicUsize::new(0));
        let threads = modes
            .iter()
            .map(|&mode| {
                let (stop, done, path) = (stop.clone(), done.clone(), path.to_string());
                std::thread::spawn(move || client(port, &path, mode, &stop, &done))
            })
            .collect();
        Load {
            stop,
            done,
            threads,
        }
    }

    /// Successful requests so far.
    pub(crate) fn completed(&self) -> usize {
        self.done.load(Ordering::Relaxed)
    }

    /// Waits until `n` more requests have succeeded, so a test knows traffic flows.
    pub(crate) fn wait_progress(&self, n: usize) {
        let target = self.completed() + n;
        eventually(&format!("{n} more successful requests"), || {
            let done = self.completed();
            if done >= target { Ok(()) } else { Err(done) }
        });
    }

    /// Stops the clients and gathers what they saw.
    pub(crate) fn stop(self) -> Report {
        self.stop.store(true, Ordering::Relaxed);
        let mut report = Report::default();
        for thread in self.threads {
            let part = thread.join().expect("a load client panicked");
            report.ok.extend(part.ok);
            report.failures.extend(part.failures);
        }
        report
    }
}

fn client(port: u16, path: &str, mode: Mode, stop: &AtomicBool, done: &AtomicUsize) -> Report {
    let started = Instant::now();
    let max_time = patience() * 10;
    let mut report = Report::default();
    let mut conn: Option<Connection> = None;
    for _ in 0..MAX_REQUESTS_PER_CLIENT {
        if stop.load(Ordering::Relaxed) || started.elapsed() > max_time {
            break;
        }
        let id = new_request_id();
        let mut request = Request::get(path).header("x-openstack-request-id", &id);
        if mode == Mode::Close {
            request = request.header("Connection", "close");
        }
        let at = started.elapsed();
        let result = match conn.take() {
            Some(c) if c.is_open() => Ok(c),
            _ => Connection::open(port),
        }
        .and_then(|mut c| c.send(&request).map(|r| (c, r)));
        match result {
            Ok((c, response))
                if response.status == 200 && response.request_id() == Some(id.as_str()) =>
            {
                if mode == Mode::KeepAlive {
                    conn = Some(c);
                }
                report.ok.push(id);
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok((_, response)) => report.failures.push(format!(
                "{id} at {at:?} ({mode:?}): status {} request id {:?} body {:?}",
                response.status,
                response.request_id(),
                response.text()
            )),
            Err(e) => report
                .failures
                .push(format!("{id} at {at:?} ({mode:?}): {e}")),
        }
        std::thread::sleep(PACE);
    }
    report
}
