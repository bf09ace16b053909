//! Random and malformed requests thrown at the running system (engine and
//! API on SQLite): odd methods, paths with `..`, `%00`, unicode and
//! thousands of characters, random query strings and headers, and bodies
//! from valid movies with one field mutated to random bytes and JSON nested
//! thousands deep. Every answer must be complete and a 2xx or a 4xx, and no
//! worker may have been replaced at the end.
//!
//! The generator is a seeded PRNG: `PYMSBOOT_FUZZ_SEED=<n>` replays a run,
//! `PYMSBOOT_FUZZ_REQUESTS=<n>` changes its length. A failure names the seed
//! and the request.
//!
//! Movie URLs are drawn from loopback addresses only, and the engine runs
//! with `allow_private_networks = false`, so no download ever leaves the
//! machine (or even starts).

use std::io::Write as _;
use std::time::Instant;

use engine::test_util::Backend;
use serde_json::{Map, Value, json};

use crate::harness::cluster::Cluster;
use crate::harness::eventually::patience;
use crate::harness::http::{Connection, Request, Response};
use crate::harness::{new_request_id, trace, uuid_v4};

const DEFAULT_SEED: u64 = 0x5eed_2026;
const DEFAULT_REQUESTS: usize = 4000;
/// At most this many failures are described in the report.
const REPORTED_FAILURES: usize = 20;

/// A small, seedable PRNG (splitmix64): no crate, the same sequence everywhere.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True `percent` times in a hundred.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A length biased towards small values, sometimes up to `max`.
    fn len(&mut self, max: usize) -> usize {
        match self.below(10) {
            0..=5 => self.below(8),
            6..=8 => self.below(64),
            _ => self.below(max + 1),
        }
    }

    /// Random text: ASCII letters and punctuation, blanks, controls,
    /// and non-ASCII characters; never a `:`, so never a URL with a scheme.
    fn text(&mut self, max: usize) -> String {
        const PIECES: &[&str] = &[
            "a", "Z", "0", "9", " ", "-", "_", ".", "/", "\\", "%", "&", "=", "?", "#", "\"", "'",
            "{", "}", "[", "]", "\t", "\n", "\0", "\u{7f}", "é", "ß", "日本", "🎬", "\u{202e}",
            "\u{fffd}", "..", "null", "<script>",
        ];
        let n = self.len(max);
        (0..n).map(|_| *self.pick(PIECES)).collect()
    }

    /// Random JSON, at most `depth` deep.
    fn json(&mut self, depth: usize) -> Value {
        let kind = if depth == 0 {
            self.below(5)
        } else {
            self.below(7)
        };
        match kind {
            0 => Value::Null,
            1 => Value::Bool(self.chance(50)),
            2 => match self.below(4) {
                0 => json!(self.next_u64()),
                1 => json!(-(self.below(1_000_000) as i64)),
                2 => json!(self.next_u64() as f64 / 3.0),
                _ => json!(i64::MIN),
            },
            3 | 4 => Value::String(self.text(300)),
            5 => Value::Array((0..self.len(6)).map(|_| self.json(depth - 1)).collect()),
            _ => {
                let mut map = Map::new();
                for _ in 0..self.len(6) {
                    let key = if self.chance(50) {
                        (*self.pick(FIELDS)).to_owned()
                    } else {
                        self.text(20)
                    };
                    map.insert(key, self.json(depth - 1));
                }
                Value::Object(map)
            }
        }
    }
}

/// Every field name a movie body knows, read-only ones included.
const FIELDS: &[&str] = &[
    "name",
    "url",
    "rank",
    "meta",
    "id",
    "uuid",
    "state",
    "size",
    "bytes_downloaded",
    "checksum",
    "error",
    "created_at",
    "updated_at",
];

/// What the generator knows about the running system.
struct World {
    ids: Vec<String>,
}

impl World {
    fn movie_id(&mut self, rng: &mut Rng) -> String {
        if !self.ids.is_empty() && rng.chance(60) {
            rng.pick(&self.ids).clone()
        } else {
            uuid_v4()
        }
    }
}

/// A URL for a movie: loopback only (refused by the engine's policy), or
/// something that is not an http(s) URL at all.
fn movie_url(rng: &mut Rng) -> Value {
    let path = rng.text(40).replace([' ', '\t', '\n', '\0', '#', '?'], "");
    match rng.below(10) {
        0 | 8 | 9 => json!(format!("http://127.0.0.1:9/{path}")),
        1 => json!(format!("https://127.0.0.1/{path}")),
        2 => json!(format!("http://[::1]:1/{path}")),
        3 => json!(format!("http://127.0.0.1/{}", "x".repeat(rng.below(2100)))),
        4 => json!(format!("ftp://127.0.0.1/{path}")),
        5 => json!(rng.text(50)),
        6 => json!(format!("http://127.0.0.1 /{path}")),
        _ => rng.json(1),
    }
}

fn movie_body(rng: &mut Rng, create: bool) -> Value {
    let mut body = Map::new();
    if create || rng.chance(50) {
        let name = if rng.chance(80) {
            format!("{} {}", rng.text(30), rng.next_u64() % 1000)
        } else {
            rng.text(300)
        };
        body.insert("name".into(), json!(name));
    }
    if create || rng.chance(30) {
        body.insert("url".into(), movie_url(rng));
    }
    if rng.chance(50) {
        let rank = match rng.below(4) {
            0 => Value::Null,
            1 => json!(rng.below(100)),
            2 => json!(i64::MAX),
            _ => json!(-(rng.below(100) as i64)),
        };
        body.insert("rank".into(), rank);
    }
    if rng.chance(40) {
        let meta = rng.json(3);
        body.insert("meta".into(), meta);
    }
    // Mutate one field: drop it, retype it, or add a field that does not belong.
    if rng.chance(35) {
        let field = (*rng.pick(FIELDS)).to_owned();
        match rng.below(3) {
            0 => {
                body.remove(&field);
            }
            1 if field != "url" => {
                let value = rng.json(2);
                body.insert(field, value);
            }
            _ => {
                let key = rng.text(12);
                let value = rng.json(1);
                body.insert(key, value);
            }
        }
    }
    Value::Object(body)
}

fn body(rng: &mut Rng, method: &str) -> Vec<u8> {
    let movie = method == "POST" || method == "PUT";
    match rng.below(if movie { 10 } else { 20 }) {
        0..=4 if movie => movie_body(rng, method == "POST").to_string().into_bytes(),
        5 => rng.json(4).to_string().into_bytes(),
        6 => (0..rng.len(3000)).map(|_| rng.next_u64() as u8).collect(),
        7 => {
            let depth = 10 + rng.below(5000);
            let (open, close) = if rng.chance(50) {
                ("[", "]")
            } else {
                ("{\"a\":", "}")
            };
            let mut text = open.repeat(depth);
            text.push_str(&close.repeat(if rng.chance(50) { depth } else { depth / 2 }));
            text.into_bytes()
        }
        8 if rng.chance(30) => {
            // Over the default max_request_body_size.
            let mut text = String::from("{\"name\":\"big\",\"meta\":{\"pad\":\"");
            text.push_str(&"p".repeat(120_000));
            text.push_str("\"}}");
            text.into_bytes()
        }
        9 => rng.text(200).into_bytes(),
        _ => Vec::new(),
    }
}

/// A path, mostly one the method is meant for, sometimes hostile.
fn path(rng: &mut Rng, world: &mut World, method: &str) -> String {
    let id = world.movie_id(rng);
    let known = [
        "/".to_owned(),
        "/v1".to_owned(),
        "/v1/".to_owned(),
        "/healthcheck".to_owned(),
        "/openapi.json".to_owned(),
        "/v1/movies".to_owned(),
        "/v1/movies/".to_owned(),
        format!("/v1/movies/{id}"),
        format!("/v1/movies/{id}/"),
        format!("/v1/movies/{}", id.to_uppercase()),
    ];
    let mut path = match method {
        "POST" if rng.chance(70) => "/v1/movies".to_owned(),
        "GET" | "PUT" | "DELETE" if rng.chance(60) => format!("/v1/movies/{id}"),
        _ => rng.pick(&known).clone(),
    };
    if rng.chance(25) {
        const HOSTILE: &[&str] = &[
            "/..",
            "/../..",
            "/%2e%2e",
            "/%2E%2E/%2e%2e/etc/passwd",
            "/%00",
            "%00",
            "/./",
            "//",
            "/%2f",
            "/%",
            "/%zz",
            "/%C3%A9",
            "/%F0%9F%8E%AC",
            "/%ff%fe",
            "/é",
            "/🎬",
            "/;",
            "/v1",
            "/movies",
            "/%20",
            "/+",
            "/~",
            "/*",
        ];
        for _ in 0..=rng.below(3) {
            let piece = *rng.pick(HOSTILE);
            if rng.chance(50) {
                path.push_str(piece);
            } else {
                path.insert_str(0, piece);
            }
        }
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
    }
    if rng.chance(5) {
        path.push('/');
        path.push_str(&"a".repeat(1 + rng.below(6000)));
    }
    if rng.chance(45) {
        path.push('?');
        path.push_str(&query(rng, world));
    }
    path
}

fn query(rng: &mut Rng, world: &mut World) -> String {
    const KEYS: &[&str] = &[
        "limit", "marker", "sort_key", "sort_dir", "state", "name", "", "limit[]", "%00",
    ];
    let mut query = String::new();
    for i in 0..=rng.below(5) {
        if i > 0 {
            query.push(if rng.chance(90) { '&' } else { ';' });
        }
        let key: &&str = rng.pick(KEYS);
        query.push_str(key);
        if rng.chance(90) {
            query.push('=');
        }
        let value = match rng.below(12) {
            0 => rng.below(1200).to_string(),
            1 => format!("-{}", rng.below(5)),
            2 => "99999999999999999999999".to_owned(),
            3 => world.movie_id(rng),
            4 => {
                (*rng.pick(&["name", "rank", "created_at", "size", "asc", "desc", "up"])).to_owned()
            }
            5 => (*rng.pick(&["queued", "downloading", "downloaded", "error", "lost"])).to_owned(),
            6 => "%00".to_owned(),
            7 => "%zz%".to_owned(),
            8 => "%C3%A9+%F0%9F%8E%AC".to_owned(),
            9 => "a".repeat(rng.below(3000)),
            _ => String::new(),
        };
        query.push_str(&value);
    }
    query
}

fn method(rng: &mut Rng) -> String {
    let weighted = ["GET", "GET", "GET", "POST", "POST", "PUT", "DELETE", "HEAD"];
    if rng.chance(85) {
        (*rng.pick(&weighted)).to_owned()
    } else {
        (*rng.pick(&[
            "PATCH", "OPTIONS", "TRACE", "get", "FOO", "M-SEARCH", "PROPFIND",
        ]))
        .to_owned()
    }
}

fn headers(rng: &mut Rng, request: Request) -> Request {
    let mut request = request;
    if rng.chance(70) {
        let content_type = *rng.pick(&[
            "application/json",
            "application/json; charset=utf-8",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "",
            "application/json\u{e9}",
        ]);
        request = request.header("Content-Type", content_type);
    }
    if rng.chance(40) {
        let id = match rng.below(4) {
            0 => new_request_id(),
            1 => format!(
                "req-{}",
                rng.text(40).replace(['\n', '\0', '\t', '\u{7f}'], "")
            ),
            2 => "x".repeat(rng.below(4000)),
            _ => String::new(),
        };
        request = request.header("x-openstack-request-id", &id);
    }
    if rng.chance(20) {
        let accept = *rng.pick(&[
            "*/*",
            "text/html",
            "application/xml",
            "application/json;q=0",
        ]);
        request = request.header("Accept", accept);
    }
    if rng.chance(15) {
        let name = *rng.pick(&[
            "X-Auth-Token",
            "X-Forwarded-For",
            "Cookie",
            "User-Agent",
            "X-Fuzz",
        ]);
        let value = rng.text(2000).replace(['\n', '\0', '\r', '\u{7f}'], " ");
        request = request.header(name, &value);
    }
    if rng.chance(5) {
        request = request.header(
            "Host",
            &rng.text(60).replace(['\n', '\0', '\r', '\u{7f}'], ""),
        );
    }
    request
}

/// One generated request, and whether it goes on a kept-alive connection.
fn request(rng: &mut Rng, world: &mut World) -> (Request, bool) {
    let method = method(rng);
    let path = path(rng, world, &method);
    let mut request = headers(rng, Request::new(&method, &path));
    let body = body(rng, &method);
    if rng.chance(5) && !body.is_empty() {
        // The same body, chunked.
        let mut chunked = Vec::new();
        for chunk in body.chunks(1 + rng.below(700)) {
            write!(chunked, "{:x}\r\n", chunk.len()).expect("write to a Vec");
            chunked.extend_from_slice(chunk);
            chunked.extend_from_slice(b"\r\n");
        }
        chunked.extend_from_slice(b"0\r\n\r\n");
        request = request.header("Transfer-Encoding", "chunked").body(chunked);
    } else {
        request = request.body(body);
    }
    (request, rng.chance(25))
}

fn describe(index: usize, request: &Request) -> String {
    let body = String::from_utf8_lossy(&request.body);
    let body: String = body.chars().take(300).collect();
    let path: String = request.path.chars().take(300).collect();
    format!(
        "#{index}: {} {path} headers {:?} body ({} bytes) {body:?}",
        request.method,
        request.headers,
        request.body.len()
    )
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.trim().parse().ok()
}

#[test]
fn random_and_malformed_requests_get_only_2xx_or_4xx_and_no_worker_restarts() {
    // Arrange
    let seed = env_number("PYMSBOOT_FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    let count = env_number("PYMSBOOT_FUZZ_REQUESTS")
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(DEFAULT_REQUESTS);
    let mut cluster = Cluster::start_with(Backend::Sqlite, |config| {
        config.set("engine", "allow_private_networks", "false")
    });
    let api_workers = cluster.api().worker_pids();
    let engine_workers = cluster.engine().worker_pids();
    let mut rng = Rng(seed);
    let mut world = World { ids: Vec::new() };
    let mut failures = Vec::new();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    let mut kept: Option<(Connection, String)> = None;
    let deadline = Instant::now() + patience() * 4;
    let started = Instant::now();
    let mut sent = 0;

    // Act
    for index in 0..count {
        if Instant::now() > deadline {
            break;
        }
        let (request, keep_alive) = request(&mut rng, &mut world);
        let mut reused = None;
        let result = if keep_alive {
            let conn = match kept.take() {
                Some((conn, previous)) if conn.is_open() => {
                    reused = Some(previous);
                    Ok(conn)
                }
                _ => Connection::open(cluster.port()),
            };
            conn.and_then(|mut conn| {
                let response = conn.send(&request)?;
                // A 413 leaves the rest of the body unread, so the server
                // closes the connection (whether it says so is checked in
                // `api::a_413_announces_that_the_connection_closes`).
                if response.status != 413 {
                    kept = Some((conn, format!("#{index} answered {}", response.status)));
                }
                Ok(response)
            })
        } else {
            cluster.api().request(request.clone())
        };
        sent += 1;
        match result {
            Ok(response) => {
                *statuses.entry(response.status).or_default() += 1;
                if !(200..500).contains(&response.status) {
                    failures.push(format!(
                        "{} -> {} {}",
                        describe(index, &request),
                        response.status,
                        response.text()
                    ));
                }
                remember(&mut world, &request, &response);
            }
            Err(error) => {
                let connection = match &reused {
                    Some(previous) => format!("a kept-alive connection after {previous}"),
                    None => "a new connection".to_owned(),
                };
                failures.push(format!(
                    "{} on {connection} -> no complete answer: {error}",
                    describe(index, &request)
                ));
            }
        }
    }
    let took = started.elapsed();
    trace!("fuzz seed {seed}: {sent} requests in {took:?}, statuses {statuses:?}");

    // Assert
    let report: Vec<&String> = failures.iter().take(REPORTED_FAILURES).collect();
    assert!(
        failures.is_empty(),
        "seed {seed}: {} of {sent} requests failed (statuses {statuses:?}):\n{report:#?}",
        failures.len()
    );
    assert!(
        sent >= count.min(500),
        "only {sent} requests within the time bound"
    );
    cluster.api_mut().assert_running();
    cluster.engine_mut().assert_running();
    assert_eq!(
        cluster.api().worker_pids(),
        api_workers,
        "API workers were replaced"
    );
    assert_eq!(
        cluster.engine().worker_pids(),
        engine_workers,
        "engine workers were replaced"
    );
    for service in [cluster.api(), cluster.engine()] {
        let text = service.log_text();
        let panics: Vec<&str> = text.lines().filter(|l| l.contains("panicked")).collect();
        assert!(
            panics.is_empty(),
            "{}: {panics:#?}",
            service.program().binary()
        );
    }
    assert_eq!(cluster.get("/healthcheck").status, 200);
}

/// Keeps the ids of created movies, so later requests aim at real ones.
fn remember(world: &mut World, request: &Request, response: &Response) {
    if request.method == "POST"
        && response.status == 202
        && let Some(id) = serde_json::from_slice::<Value>(&response.body)
            .ok()
            .and_then(|movie| movie["id"].as_str().map(str::to_owned))
    {
        world.ids.push(id);
    }
}
