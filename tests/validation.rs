//! The rules of names, ranks, metadata and URLs give the same answers on
//! SQLite, PostgreSQL and MariaDB: one table of request bodies, each with the
//! status every backend must answer, sent through the REST API and then, on
//! an emptied store, straight to the engine over RPC as a Python caller sends
//! it (the engine applies the rules itself, not only the API). Also: names
//! list in code point order, ranks keep their 64-bit extremes, and a URL with
//! an upper-case scheme is stored lowered and downloaded.

use engine::test_util::Backend;
use rpc::{Context, RpcClient, Target};
use serde_json::{Map, Value, json};

use crate::harness::cluster::Cluster;
use crate::harness::files::FileServer;
use crate::harness::http::{Request, assert_error};
use crate::harness::new_request_id;
use crate::harness::python::PythonClient;
use crate::harness::rpc_session::RpcSession;

/// Runs each listed scenario as one test per backend:
/// `validation::{sqlite,postgresql,mysql}::<name>`.
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(engine::test_util::Backend::Sqlite) })*
        }
        mod postgresql {
            $(#[test] fn $name() { super::$name(engine::test_util::Backend::Postgres) })*
        }
        mod mysql {
            $(#[test] fn $name() { super::$name(engine::test_util::Backend::MySql) })*
        }
    };
}

on_every_backend!(
    every_rule_gets_the_same_answer_over_http_and_rpc,
    names_list_in_code_point_order_and_ranks_keep_their_extremes,
);

/// One create request: the body as JSON text (`{url}` stands for a served
/// file), the status every backend answers, and for a 400 a piece of the
/// message naming the rule.
struct Case {
    what: &'static str,
    body: String,
    status: u16,
    rule: &'static str,
}

fn case(what: &'static str, body: impl Into<String>, status: u16, rule: &'static str) -> Case {
    Case {
        what,
        body: body.into(),
        status,
        rule,
    }
}

/// A body with `name` and the served URL, and `more` fields (JSON text).
fn named(name: &str, more: &str) -> String {
    let name = Value::from(name);
    if more.is_empty() {
        format!(r#"{{"name": {name}, "url": "{{url}}"}}"#)
    } else {
        format!(r#"{{"name": {name}, "url": "{{url}}", {more}}}"#)
    }
}

/// `meta` nested `depth` levels deep (meta itself is level 1).
fn meta_of_depth(depth: usize) -> String {
    let mut meta = "1".to_owned();
    for _ in 0..depth {
        meta = format!(r#"{{"k": {meta}}}"#);
    }
    format!(r#""meta": {meta}"#)
}

/// `meta` that is exactly `bytes` long as compact JSON: `{"k":"xx…"}`.
fn meta_of_size(bytes: usize) -> String {
    format!(r#""meta": {{"k": "{}"}}"#, "x".repeat(bytes - 8))
}

/// The table, in order: later rows meet the movies earlier ones made.
fn cases() -> Vec<Case> {
    vec![
        case("a plain name", named("Alien", ""), 202, ""),
        case("a name differing only in case", named("alien", ""), 202, ""),
        case("a taken name", named("Alien", ""), 409, ""),
        case("a name", named("trail", ""), 202, ""),
        case(
            "a trailing blank",
            named("trail ", ""),
            400,
            "begin or end with whitespace",
        ),
        case(
            "a leading blank",
            named(" trail", ""),
            400,
            "begin or end with whitespace",
        ),
        case(
            "only blanks",
            named("   ", ""),
            400,
            "begin or end with whitespace",
        ),
        case("NUL", named("nul\0name", ""), 400, "control characters"),
        case(
            "a newline",
            named("new\nline", ""),
            400,
            "control characters",
        ),
        case("BEL", named("bell\u{7}", ""), 400, "U+0007"),
        case(
            "U+202E",
            named("\u{202E}evil", ""),
            400,
            "bidirectional controls",
        ),
        case(
            "an empty name",
            named("", ""),
            400,
            "1 to 255 characters, not 0",
        ),
        case(
            "255 two-byte characters",
            named(&"é".repeat(255), ""),
            202,
            "",
        ),
        case(
            "255 four-byte characters",
            named(&"😀".repeat(255), ""),
            202,
            "",
        ),
        case(
            "256 characters",
            named(&"x".repeat(256), ""),
            400,
            "1 to 255 characters, not 256",
        ),
        case(
            "meta of 8192 bytes",
            named("meta full", &meta_of_size(8192)),
            202,
            "",
        ),
        case(
            "meta of 8193 bytes",
            named("meta over", &meta_of_size(8193)),
            400,
            "at most 8192 bytes",
        ),
        case(
            "a meta value of 50,000 quotes",
            named(
                "quotes",
                &format!(r#""meta": {{"k": {}}}"#, Value::from("\"".repeat(50_000))),
            ),
            400,
            "at most 8192 bytes",
        ),
        case(
            "meta 5 levels deep",
            named("deep 5", &meta_of_depth(5)),
            202,
            "",
        ),
        case(
            "meta 6 levels deep",
            named("deep 6", &meta_of_depth(6)),
            400,
            "at most 5 levels deep",
        ),
        case(
            "meta arrays 6 levels deep",
            named("arrays", r#""meta": {"a": [[[[[1]]]]]}"#),
            400,
            "5 levels deep",
        ),
        case(
            "NUL in a meta value",
            named("nul value", r#""meta": {"k": "a\u0000"}"#),
            400,
            "U+0000",
        ),
        case(
            "NUL in a meta key",
            named("nul key", r#""meta": {"a\u0000": 1}"#),
            400,
            "U+0000",
        ),
        case(
            "the largest rank",
            named("max", r#""rank": 9223372036854775807"#),
            202,
            "",
        ),
        case(
            "the smallest rank",
            named("min", r#""rank": -9223372036854775808"#),
            202,
            "",
        ),
        case(
            "a rank over 64 bits",
            named("over", r#""rank": 9223372036854775808"#),
            400,
            "rank must be an integer",
        ),
        case(
            "a rank under 64 bits",
            named("under", r#""rank": -9223372036854775809"#),
            400,
            "rank must be an integer",
        ),
        case(
            "a fractional rank",
            named("half", r#""rank": 1.5"#),
            400,
            "rank must be an integer",
        ),
        case(
            "a float rank",
            named("float", r#""rank": 1.0"#),
            400,
            "rank must be an integer",
        ),
        case(
            "an upper-case scheme",
            r#"{"name": "upper", "url": "HTTP://{host}/tiny.bin"}"#,
            202,
            "",
        ),
        case(
            "another scheme",
            r#"{"name": "ftp", "url": "ftp://{host}/tiny.bin"}"#,
            400,
            "http:// or https://",
        ),
    ]
}

/// What a request came to, in the API's terms: 202, or an error status and
/// its message.
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    message: String,
    movie: Option<Value>,
}

/// The engine's RPC, as a Python `RPCClient` calls it: raw JSON arguments.
struct Rpc {
    session: RpcSession,
    client: RpcClient,
}

impl Rpc {
    fn connect(cluster: &Cluster) -> Rpc {
        let session = RpcSession::connect(cluster);
        let target = Target::new(&cluster.topic())
            .namespace(engine::rpcapi::NAMESPACE)
            .version(engine::RPC_API_VERSION);
        let client = RpcClient::new(session.transport(), target);
        Rpc { session, client }
    }

    /// `create_movie(content_json=body)`, its outcome mapped as the API maps it.
    fn create(&self, body: Value) -> Answer {
        let mut args = Map::new();
        args.insert("content_json".into(), body);
        let context = Context::with_request_id(&new_request_id());
        let outcome = self
            .session
            .block_on(self.client.call(&context, "create_movie", args));
        match outcome {
            Ok(movie) => Answer {
                status: 202,
                message: String::new(),
                movie: Some(movie),
            },
            Err(error) => {
                let remote = error
                    .remote()
                    .unwrap_or_else(|| panic!("create_movie failed in transit: {error}"));
                let status = match remote.class.as_str() {
                    "Invalid" => 400,
                    "MovieExists" => 409,
                    other => panic!("create_movie raised {other}: {}", remote.message),
                };
                Answer {
                    status,
                    message: remote.message.clone(),
                    movie: None,
                }
            }
        }
    }
}

fn over_http(cluster: &Cluster, body: &str) -> Answer {
    let request = Request::new("POST", "/v1/movies")
        .header("Content-Type", "application/json")
        .body(body.to_owned());
    let response = cluster.request(request);
    if response.status == 202 {
        return Answer {
            status: 202,
            message: String::new(),
            movie: Some(response.json()),
        };
    }
    assert_error(body, &response, response.status);
    Answer {
        status: response.status,
        message: response.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        movie: None,
    }
}

/// Runs the table through `send`; every row's status and rule checked.
/// Returns the movies made.
fn run_table(how: &str, files: &FileServer, mut send: impl FnMut(&str) -> Answer) -> Vec<Value> {
    let url = files.url("tiny.bin");
    let host = url
        .trim_start_matches("http://")
        .trim_end_matches("/tiny.bin")
        .to_owned();
    let mut made = Vec::new();
    for case in cases() {
        let body = case.body.replace("{url}", &url).replace("{host}", &host);
        let answer = send(&body);
        assert_eq!(
            answer.status, case.status,
            "{how}, {}: {}",
            case.what, answer.message
        );
        assert!(
            answer.message.contains(case.rule),
            "{how}, {}: the message {:?} names the rule {:?}",
            case.what,
            answer.message,
            case.rule
        );
        made.extend(answer.movie);
    }
    made
}

fn every_rule_gets_the_same_answer_over_http_and_rpc(backend: Backend) {
    // Arrange
    let files = FileServer::start();
    files.add("tiny.bin", 1000);
    let cluster = Cluster::start(backend);
    let rpc = Rpc::connect(&cluster);

    // Act/Assert: through the REST API.
    let made = run_table("HTTP", &files, |body| over_http(&cluster, body));
    check_stored(&cluster, &made);
    for movie in &made {
        let id = movie["id"].as_str().expect("an id");
        assert_eq!(cluster.delete_movie(id).status, 204, "delete {id}");
    }

    // Act/Assert: straight to the engine, on the emptied store.
    let made = run_table("RPC", &files, |body| {
        rpc.create(serde_json::from_str(body).expect("the table's bodies are JSON"))
    });
    check_stored(&cluster, &made);

    // Act/Assert: a stock Python oslo.messaging client meets the same rules.
    let python = PythonClient::new(&cluster.exchange(), &cluster.topic());
    for (name, rule) in [("py\u{0}", "control characters"), ("trail ", "whitespace")] {
        let content = json!({"name": name, "url": files.url("tiny.bin")});
        let outcome = python.call("create_movie", &json!({ "content_json": content }));
        assert_eq!(outcome["exc_type"], "Invalid", "{name:?}: {outcome}");
        let message = outcome["value"].to_string();
        assert!(message.contains(rule), "{name:?}: {outcome}");
    }

    // Act/Assert: renames and updates follow the same rules.
    let alien = made
        .iter()
        .find(|m| m["name"] == "alien")
        .expect("\"alien\" was made");
    let id = alien["id"].as_str().expect("an id");
    for (body, status, rule) in [
        (json!({"name": "Alien"}), 409, ""),
        (json!({"name": "alien "}), 400, "whitespace"),
        (json!({"name": "a\u{2066}b"}), 400, "bidirectional controls"),
        (
            json!({"meta": {"a": {"b": {"c": {"d": {"e": {}}}}}}}),
            400,
            "5 levels deep",
        ),
        (json!({"rank": 1.5}), 400, "rank must be an integer"),
        (json!({"url": "HTTPS://example.com/a"}), 200, ""),
    ] {
        let response = cluster.update_movie(id, &body);
        assert_eq!(response.status, status, "PUT {body}: {}", response.text());
        if status == 200 {
            assert_eq!(response.json()["url"], "https://example.com/a");
        } else {
            assert_error(&body.to_string(), &response, status);
            let message = response.json()["error"]["message"].to_string();
            assert!(message.contains(rule), "PUT {body}: {message}");
        }
    }
}

/// What the store gave back for the rows that pass: names, ranks and meta
/// exactly as sent, the URL scheme lowered.
fn check_stored(cluster: &Cluster, made: &[Value]) {
    for movie in made {
        let id = movie["id"].as_str().expect("an id");
        let stored = cluster.movie(id);
        for field in ["name", "rank", "meta"] {
            assert_eq!(stored[field], movie[field], "{field} of {movie}");
        }
        let url = stored["url"].as_str().unwrap_or_default();
        assert!(url.starts_with("http://"), "{url}");
    }
    let by_name = |name: &str| made.iter().find(|m| m["name"] == name);
    let rank = |name: &str| by_name(name).map(|m| m["rank"].clone());
    assert_eq!(rank("max"), Some(json!(i64::MAX)));
    assert_eq!(rank("min"), Some(json!(i64::MIN)));
    assert_eq!(
        by_name("meta full").map(|m| m["meta"]["k"].as_str().map(str::len)),
        Some(Some(8184))
    );
}

/// Names whose code point order differs from a case-insensitive,
/// accent-aware or blank-padding order.
const NAMES: [&str; 14] = [
    "Alien",
    "alien",
    "ALIEN",
    "Amélie",
    "amelie",
    "Émile",
    "emile",
    "Zorro",
    "zebra",
    "b",
    "B",
    "a b",
    "ab",
    "東京物語",
];

fn names_list_in_code_point_order_and_ranks_keep_their_extremes(backend: Backend) {
    // Arrange
    let files = FileServer::start();
    let file = files.add("upper.bin", 20_000);
    let cluster = Cluster::start(backend);
    let ranks = [i64::MAX, 0, -1, i64::MIN, 1];
    for (n, name) in NAMES.iter().enumerate() {
        let rank = ranks.get(n).copied();
        cluster.create(&json!({"name": name, "url": files.url("none"), "rank": rank}));
    }
    let upper = file.url.replacen("http://", "HTTP://", 1);

    // Act
    let created = cluster.create(&json!({"name": "upper", "url": upper}));
    let ascending = every_page(&cluster, "sort_key=name&sort_dir=asc");
    let descending = every_page(&cluster, "sort_key=name&sort_dir=desc");
    let by_rank = every_page(&cluster, "sort_key=rank&sort_dir=asc");

    // Assert: names in code point order both ways, paged by marker.
    let mut expected: Vec<String> = NAMES.iter().map(|n| (*n).to_owned()).collect();
    expected.push("upper".into());
    expected.sort();
    let names = |movies: &[Value]| -> Vec<String> {
        movies
            .iter()
            .filter_map(|m| m["name"].as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(names(&ascending), expected);
    expected.reverse();
    assert_eq!(names(&descending), expected);

    // Assert: the extremes of the rank come back exact and in order.
    let ranked: Vec<Value> = by_rank
        .iter()
        .map(|m| m["rank"].clone())
        .filter(|r| !r.is_null())
        .collect();
    assert_eq!(
        ranked,
        [
            json!(i64::MIN),
            json!(-1),
            json!(0),
            json!(1),
            json!(i64::MAX)
        ]
    );

    // Assert: the upper-case scheme was stored lowered and downloaded.
    assert_eq!(created["url"], file.url.as_str());
    let done = cluster.wait_downloaded(created["id"].as_str().expect("an id"));
    assert_eq!(done["checksum"], file.checksum().as_str());
}

/// Every movie of a listing, three at a time, following the markers.
fn every_page(cluster: &Cluster, query: &str) -> Vec<Value> {
    let mut movies: Vec<Value> = Vec::new();
    loop {
        let marker = movies
            .last()
            .map(|m| format!("&marker={}", m["id"].as_str().unwrap_or_default()))
            .unwrap_or_default();
        let response = cluster.list_movies(&format!("{query}&limit=3{marker}"));
        assert_eq!(response.status, 200, "{query}: {}", response.text());
        let page = response.json()["movies"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let full = page.len() == 3;
        movies.extend(page);
        if !full {
            return movies;
        }
    }
}
