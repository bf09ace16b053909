//! The API's HTTP edge: requests that never reach the router (too many or
//! too large header fields, a request hyper cannot parse, a missing `Host`)
//! still get the JSON error body and a request id, and the links of a
//! response come from `[api] public_endpoint` or a plain `Host`, never from
//! caller-chosen text.

use engine::test_util::Backend;
use serde_json::json;

use crate::harness::cluster::{Api, ApiConfig, Cluster};
use crate::harness::eventually::{ensure, eventually};
use crate::harness::http::{Connection, Request, Response, assert_error};

fn api() -> Api {
    Api::start(ApiConfig::default().workers(1))
}

/// Sends `raw` bytes as they are on a new connection and reads one response.
fn send_raw(api: &Api, raw: &[u8]) -> (Connection, Response) {
    let mut conn = Connection::open(api.port()).expect("connect");
    conn.write_body(raw).expect("send the request");
    let response = conn
        .read_response("GET")
        .unwrap_or_else(|e| panic!("no response to {:?}: {e}", String::from_utf8_lossy(raw)));
    (conn, response)
}

fn with_fields(path: &str, fields: usize, value: &str) -> Request {
    (0..fields).fold(Request::get(path), |request, i| {
        request.header(&format!("X-Field-{i}"), value)
    })
}

#[test]
fn header_fields_over_the_limits_are_a_431_with_the_json_error_body() {
    // Arrange: the harness adds Host and Connection, so 98 more make the 100 allowed.
    let api = api();

    // Act
    let at_the_limit = api
        .request(with_fields("/v1", 98, "x"))
        .expect("100 fields");
    let too_many = api
        .request(with_fields("/v1", 99, "x"))
        .expect("101 fields");
    let too_large = api
        .request(Request::get("/v1").header("X-Big", &"b".repeat(70 * 1024)))
        .expect("a 70 KiB field");
    let past_hyper = api
        .request(with_fields("/v1", 600, "x"))
        .expect("601 fields");
    let huge = api
        .request(with_fields("/v1", 20, &"h".repeat(16 * 1024)))
        .expect("320 KiB of fields");

    // Assert
    assert_eq!(at_the_limit.status, 200, "{}", at_the_limit.text());
    for (what, response) in [
        ("101 fields", &too_many),
        ("a 70 KiB field", &too_large),
        ("past hyper's field limit", &past_hyper),
        ("past hyper's size limit", &huge),
    ] {
        assert_error(what, response, 431);
        assert!(response.closes(), "{what}: the connection is closed");
    }
    assert!(
        too_many.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("101 fields")),
        "{}",
        too_many.text()
    );
}

#[test]
fn requests_hyper_cannot_parse_get_the_json_error_body() {
    // Arrange
    let api = api();
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: h\r\n\r\n", "u".repeat(70_000));
    let cases: [(&str, &[u8], u16); 7] = [
        ("a bad version", b"GET /v1 HTTP/9.9\r\nHost: h\r\n\r\n", 400),
        ("a bad method", b"G(T /v1 HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        (
            "a bad header name",
            b"GET /v1 HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n",
            400,
        ),
        (
            "a line without a colon",
            b"GET /v1 HTTP/1.1\r\nHost: h\r\nnocolon\r\n\r\n",
            400,
        ),
        (
            "a bad Content-Length",
            b"POST /v1 HTTP/1.1\r\nHost: h\r\nContent-Length: ten\r\n\r\n",
            400,
        ),
        (
            "a request Transfer-Encoding not ending in chunked",
            b"POST /v1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
            400,
        ),
        ("a 70 000 byte target", long_target.as_bytes(), 414),
    ];

    for (what, raw, code) in cases {
        // Act
        let (conn, response) = send_raw(&api, raw);

        // Assert
        assert_error(what, &response, code);
        assert!(
            response.closes() && !conn.is_open(),
            "{what}: the connection is closed"
        );
    }
}

#[test]
fn a_request_hyper_refuses_writes_an_access_line_with_the_answer_s_request_id() {
    // Arrange
    let api = api();

    // Act
    let (_conn, response) = send_raw(&api, b"GET /v1 HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n");

    // Assert
    let id = response.request_id().expect("a request id").to_owned();
    let line = eventually("the access line of the refused request", || {
        let lines = api.log_lines();
        let line = lines
            .into_iter()
            .find(|l| l.request_id() == Some(id.as_str()) && l.message.contains("status: 400"));
        ensure(line.is_some(), || "none yet".to_owned()).map(|()| line)
    });
    assert!(line.is_some());
}

#[test]
fn an_http_11_request_without_host_is_a_400_and_an_http_10_one_is_served() {
    // Arrange
    let api = api();

    // Act
    let (_, without) = send_raw(&api, b"GET /v1 HTTP/1.1\r\n\r\n");
    let (_, twice) = send_raw(&api, b"GET /v1 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
    let (_, old) = send_raw(&api, b"GET /v1 HTTP/1.0\r\n\r\n");

    // Assert
    assert_error("no Host", &without, 400);
    assert_eq!(
        without.json()["error"]["message"],
        "The Host header is required."
    );
    assert_error("two Hosts", &twice, 400);
    assert_eq!(old.status, 200, "{}", old.text());
    assert_eq!(
        old.json()["links"][0]["href"],
        format!("http://127.0.0.1:{}/v1", api.port()),
        "without a Host, links use the address the request arrived at"
    );
}

#[test]
fn a_host_that_is_not_a_plain_host_and_port_never_becomes_a_link() {
    // Arrange
    let api = api();
    let own = format!("http://127.0.0.1:{}/v1", api.port());

    for host in [
        "evil.example/phish?x=",
        "user@evil.example",
        "evil.example:notaport",
        "<script>",
        &"a".repeat(300),
    ] {
        // Act
        let response = api
            .request(Request::get("/").header("Host", host))
            .expect("GET / with a Host");

        // Assert
        assert_eq!(response.status, 200, "{host}: {}", response.text());
        assert_eq!(
            response.json()["versions"][0]["links"][0]["href"],
            own.as_str(),
            "Host {host:?}"
        );
    }
}

#[test]
fn public_endpoint_is_the_base_of_every_link() {
    // Arrange
    let endpoint = "https://api.example.com:9666";
    let cluster = Cluster::start_with(Backend::Sqlite, |config| {
        config.set("api", "public_endpoint", &format!("{endpoint}/"))
    });
    let proxied =
        |path: &str| cluster.request(Request::get(path).header("Host", "internal.example:8080"));

    // Act
    let versions = proxied("/");
    let v1 = proxied("/v1");
    let created: Vec<Response> = ["edge-a", "edge-b"]
        .iter()
        .map(|name| cluster.create_movie(&json!({"name": name, "url": "http://127.0.0.1:9/movie"})))
        .collect();
    let listed = proxied("/v1/movies?limit=1");

    // Assert
    assert_eq!(
        versions.json()["versions"][0]["links"][0]["href"],
        format!("{endpoint}/v1")
    );
    let links = v1.json()["links"].clone();
    for link in links.as_array().expect("links") {
        let href = link["href"].as_str().expect("an href");
        assert!(href.starts_with(&format!("{endpoint}/v1")), "{href}");
    }
    for response in &created {
        assert_eq!(response.status, 202, "{}", response.text());
        let id = response.json()["id"].as_str().expect("an id").to_owned();
        assert_eq!(
            response.header("location"),
            Some(format!("{endpoint}/v1/movies/{id}").as_str())
        );
    }
    let next = listed.json()["next"]
        .as_str()
        .expect("a next link")
        .to_owned();
    assert!(
        next.starts_with(&format!("{endpoint}/v1/movies?limit=1&marker=")),
        "{next}"
    );
}
