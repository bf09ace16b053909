//! A small HTTP/1.1 file server on 127.0.0.1 for the fetch tests, on plain
//! threads and sockets so it can misbehave exactly as a test needs: stall,
//! lie about lengths, cut a transfer, ignore ranges.
//!
//! Routes (`n` is a byte count, generated from a seeded pattern):
//! - `/file/n`: honours `Range`;
//! - `/stream/n`: no length, ends at close;
//! - `/status/CODE`: that status, empty;
//! - `/stall/n`: sends n of 2n bytes, then waits;
//! - `/silent`: never answers;
//! - `/cut/n`: the first request gets half and a closed connection, later
//!   ones the file with `Range`; `/cut-norange/n` ignores `Range`;
//! - `/liar/n`: declares n, sends 2n; `/declare/n`: declares n, sends nothing;
//! - `/slow/n`: 1 KiB every 20 ms;
//! - `/redirect/k`: k hops to `/file/1000`; `/to?URL`: one hop to URL.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// The bytes of the test files: a xorshift stream, so any size can be
/// served and checked without storing it.
pub(crate) struct Pattern {
    state: u64,
}

impl Pattern {
    pub(crate) fn new() -> Pattern {
        Pattern {
            state: 0x9e37_79b9_7f4a_7c15,
        }
    }

    /// Fills `buffer` with the next bytes (whole 8-byte words: callers use
    /// buffer lengths that are multiples of 8, or only one call).
    pub(crate) fn fill(&mut self, buffer: &mut [u8]) {
        for word in buffer.chunks_mut(8) {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            word.copy_from_slice(&self.state.to_le_bytes()[..word.len()]);
        }
    }

    /// Bytes `[start, start + length)` of the stream.
    pub(crate) fn range(start: u64, length: u64) -> Vec<u8> {
        let mut all = vec![0; usize::try_from(start + length).expect("small test files")];
        Pattern::new().fill(&mut all);
        all.split_off(usize::try_from(start).expect("small"))
    }
}

/// The running server.
pub(crate) struct Server {
    pub addr: SocketAddr,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Server {
    pub(crate) fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let counter = Arc::clone(&hits);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let counter = Arc::clone(&counter);
                thread::spawn(move || serve(stream, &counter));
            }
        });
        Server { addr, hits }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) fn port(&self) -> u16 {
        self.addr.port()
    }

    /// How many requests `path` received.
    pub(crate) fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .expect("not poisoned")
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// Requests received for any path.
    pub(crate) fn total_hits(&self) -> usize {
        self.hits.lock().expect("not poisoned").values().sum()
    }
}

struct Request {
    path: String,
    range_start: Option<u64>,
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_owned();
    let mut range_start = None;
    loop {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 || line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(value) = lower.strip_prefix("range: bytes=") {
            range_start = value.trim().trim_end_matches('-').parse().ok();
        }
    }
    Some(Request { path, range_start })
}

fn serve(mut stream: TcpStream, hits: &Mutex<HashMap<String, usize>>) {
    let Some(request) = read_request(&stream) else {
        return;
    };
    let first = {
        let mut hits = hits.lock().expect("not poisoned");
        let count = hits.entry(request.path.clone()).or_default();
        *count += 1;
        *count == 1
    };
    let (route, arg) = request.path[1..]
        .split_once(['/', '?'])
        .unwrap_or((&request.path[1..], ""));
    let n: u64 = arg.parse().unwrap_or(0);
    // Errors are the client hanging up, which several tests do on purpose.
    let _ = match route {
        "file" => file(&mut stream, n, request.range_start, true),
        "cut" | "cut-norange" if first => cut(&mut stream, n),
        "cut" => file(&mut stream, n, request.range_start, true),
        "cut-norange" => file(&mut stream, n, request.range_start, false),
        "stream" => head(&mut stream, "200 OK", &[]).and_then(|()| body(&mut stream, 0, n, None)),
        "status" => head(
            &mut stream,
            &format!("{n} Status"),
            &[("Content-Length", "0".into())],
        ),
        "stall" => stall(&mut stream, n),
        "liar" => head(&mut stream, "200 OK", &[("Content-Length", n.to_string())])
            .and_then(|()| body(&mut stream, 0, 2 * n, None)),
        "silent" => {
            thread::sleep(Duration::from_secs(10));
            Ok(())
        }
        "declare" => head(&mut stream, "200 OK", &[("Content-Length", n.to_string())]),
        "slow" => head(&mut stream, "200 OK", &[("Content-Length", n.to_string())])
            .and_then(|()| body(&mut stream, 0, n, Some(Duration::from_millis(20)))),
        "redirect" if n <= 1 => redirect(&mut stream, "/file/1000"),
        "redirect" => redirect(&mut stream, &format!("/redirect/{}", n - 1)),
        "to" => redirect(&mut stream, arg),
        _ => head(
            &mut stream,
            "404 Not Found",
            &[("Content-Length", "0".into())],
        ),
    };
}

fn head(stream: &mut TcpStream, status: &str, headers: &[(&str, String)]) -> std::io::Result<()> {
    let mut text = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    stream.write_all(text.as_bytes())
}

/// Writes pattern bytes `[start, end)`, in 256 KiB blocks or 1 KiB ones
/// `pause` apart.
fn body(
    stream: &mut TcpStream,
    start: u64,
    end: u64,
    pause: Option<Duration>,
) -> std::io::Result<()> {
    let block: usize = if pause.is_some() { 1024 } else { 256 * 1024 };
    let mut pattern = Pattern::new();
    let mut buffer = vec![0; block];
    let mut at = 0;
    while at < end {
        pattern.fill(&mut buffer);
        let from = start.saturating_sub(at).min(block as u64) as usize;
        let to = (end - at).min(block as u64) as usize;
        stream.write_all(&buffer[from..to])?;
        at += block as u64;
        if let Some(pause) = pause {
            thread::sleep(pause);
        }
    }
    Ok(())
}

fn file(
    stream: &mut TcpStream,
    n: u64,
    range_start: Option<u64>,
    honour_range: bool,
) -> std::io::Result<()> {
    match range_start.filter(|_| honour_range) {
        Some(start) if start >= n => head(
            stream,
            "416 Range Not Satisfiable",
            &[("Content-Length", "0".into())],
        ),
        Some(start) => {
            let headers = [
                ("Content-Length", (n - start).to_string()),
                ("Content-Range", format!("bytes {start}-{}/{n}", n - 1)),
            ];
            head(stream, "206 Partial Content", &headers)?;
            body(stream, start, n, None)
        }
        None => {
            head(stream, "200 OK", &[("Content-Length", n.to_string())])?;
            body(stream, 0, n, None)
        }
    }
}

/// Half of the file, then a closed connection.
fn cut(stream: &mut TcpStream, n: u64) -> std::io::Result<()> {
    head(stream, "200 OK", &[("Content-Length", n.to_string())])?;
    body(stream, 0, n / 2, None)
}

fn stall(stream: &mut TcpStream, n: u64) -> std::io::Result<()> {
    head(stream, "200 OK", &[("Content-Length", (2 * n).to_string())])?;
    body(stream, 0, n, None)?;
    thread::sleep(Duration::from_secs(10));
    Ok(())
}

fn redirect(stream: &mut TcpStream, location: &str) -> std::io::Result<()> {
    head(
        stream,
        "302 Found",
        &[
            ("Location", location.to_owned()),
            ("Content-Length", "0".into()),
        ],
    )
}
