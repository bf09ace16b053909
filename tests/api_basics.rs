//! The REST surface every deployment has, engine or not: the version
//! documents, the health check, the OpenStack error format, request ids,
//! the body-size limit and the access log.

use std::io::Write;

use crate::harness::cluster::{Api, ApiConfig};
use crate::harness::eventually::{ensure, eventually};
use crate::harness::http::{Connection, Request, Response};
use crate::harness::{is_request_id, new_request_id};

fn api() -> Api {
    Api::start(ApiConfig::default().workers(1))
}

fn assert_json(response: &Response) -> serde_json::Value {
    let content_type = response.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "content-type {content_type:?}"
    );
    response.json()
}

/// Checks the `{"error":{code,title,message,request_id}}` body of an error;
/// `title: None` accepts any non-empty title.
fn assert_error(response: &Response, code: u16, title: Option<&str>) {
    assert_eq!(response.status, code, "{}", response.text());
    let body = assert_json(response);
    let error = &body["error"];
    assert_eq!(error["code"], code, "{body}");
    match title {
        Some(title) => assert_eq!(error["title"], title, "{body}"),
        None => assert!(
            error["title"].as_str().is_some_and(|t| !t.is_empty()),
            "{body}"
        ),
    }
    assert!(error["message"].is_string(), "{body}");
    assert_eq!(
        error["request_id"].as_str(),
        response.request_id(),
        "{body}"
    );
}

/// Whether some object under `value` has a non-empty `links` array.
fn has_links(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| {
            (k == "links" && v.as_array().is_some_and(|a| !a.is_empty())) || has_links(v)
        }),
        serde_json::Value::Array(items) => items.iter().any(has_links),
        _ => false,
    }
}

#[test]
fn get_root_lists_v1_with_a_self_link_built_from_the_host_header() {
    // Arrange
    let api = api();

    // Act
    let plain = api.get("/").expect("GET /");
    let proxied = api
        .request(Request::get("/").header("Host", "api.example.test:8774"))
        .expect("GET / with a Host");

    // Assert
    assert_eq!(plain.status, 200);
    let body = assert_json(&plain);
    let version = &body["versions"][0];
    assert_eq!(version["id"], "v1.0", "{body}");
    assert_eq!(version["status"], "CURRENT", "{body}");
    assert_eq!(version["links"][0]["rel"], "self", "{body}");
    assert_eq!(
        version["links"][0]["href"],
        format!("http://127.0.0.1:{}/v1", api.port()),
        "{body}"
    );
    assert_eq!(
        proxied.json()["versions"][0]["links"][0]["href"],
        "http://api.example.test:8774/v1"
    );
}

#[test]
fn get_v1_answers_a_json_document_with_links() {
    let api = api();
    let response = api.get("/v1").expect("GET /v1");
    assert_eq!(response.status, 200);
    let body = assert_json(&response);
    assert!(has_links(&body), "no links in {body}");
}

#[test]
fn healthcheck_is_503_while_no_engine_answers() {
    // This API runs without an engine on its (private) topic.
    let api = api();
    let response = api.get("/healthcheck").expect("GET /healthcheck");
    assert_eq!(response.status, 503);
}

#[test]
fn an_unknown_path_is_a_404_in_the_openstack_error_format() {
    let api = api();
    for path in ["/nope", "/v1/nope", "/v2"] {
        let response = api.get(path).expect("GET");
        assert_error(&response, 404, Some("Not Found"));
    }
}

#[test]
fn a_wrong_method_on_a_known_path_is_a_405_naming_the_allowed_ones() {
    let api = api();
    for (method, path) in [("POST", "/"), ("DELETE", "/v1"), ("PUT", "/healthcheck")] {
        // Act
        let response = api.request(Request::new(method, path)).expect("request");

        // Assert
        assert_error(&response, 405, Some("Method Not Allowed"));
        let allow = response
            .header("allow")
            .unwrap_or_else(|| panic!("{method} {path}: no Allow header"));
        assert!(allow.contains("GET"), "{method} {path}: Allow: {allow}");
    }
}

#[test]
fn a_body_over_max_request_body_size_is_a_413_before_it_is_all_sent() {
    // Arrange
    let api = Api::start(ApiConfig::default().workers(1).set(
        "api",
        "max_request_body_size",
        "1024",
    ));

    // Act: announce 10 MB, send 2 KiB, and wait for the answer.
    let mut conn = Connection::open(api.port()).expect("connect");
    conn.write_head(&Request::new("POST", "/v1"), 10_000_000)
        .expect("head");
    conn.write_body(&[b' '; 2048]).expect("start of the body");
    let announced = conn
        .read_response("POST")
        .expect("a response before the body is complete");

    // Act: the same with a chunked body that never ends.
    let mut conn = Connection::open(api.port()).expect("connect");
    let chunked = Request::new("POST", "/v1").header("Transfer-Encoding", "chunked");
    conn.write_head(&chunked, 0).expect("head");
    let mut chunk = Vec::new();
    write!(chunk, "800\r\n").expect("chunk size");
    chunk.extend_from_slice(&[b' '; 0x800]);
    chunk.extend_from_slice(b"\r\n");
    conn.write_body(&chunk).expect("one 2 KiB chunk");
    let streamed = conn
        .read_response("POST")
        .expect("a response before the body ends");

    // Assert
    assert_error(&announced, 413, None);
    assert_eq!(streamed.status, 413, "{}", streamed.text());
}

#[test]
fn a_body_at_the_limit_is_read_and_routed() {
    // Arrange
    let api = Api::start(ApiConfig::default().workers(1).set(
        "api",
        "max_request_body_size",
        "1024",
    ));

    // Act
    let at = api
        .request(Request::new("POST", "/v1").body(vec![b' '; 1024]))
        .expect("POST 1024");
    let over = api
        .request(Request::new("POST", "/v1").body(vec![b' '; 1025]))
        .expect("POST 1025");

    // Assert
    assert_eq!(
        at.status,
        405,
        "a body at the limit reaches the router: {}",
        at.text()
    );
    assert_eq!(over.status, 413, "{}", over.text());
}

#[test]
fn every_response_gets_its_own_request_id() {
    // Arrange
    let api = api();

    // Act
    let responses: Vec<Response> = ["/", "/v1", "/healthcheck", "/nope"]
        .iter()
        .chain(["/v1"].iter())
        .map(|p| api.get(p).expect("GET"))
        .collect();

    // Assert
    let ids: Vec<&str> = responses
        .iter()
        .map(|r| {
            r.request_id()
                .expect("x-openstack-request-id on every response")
        })
        .collect();
    for id in &ids {
        assert!(is_request_id(id), "{id} is not req-<uuid v4>");
    }
    let distinct: std::collections::BTreeSet<&&str> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "ids repeat: {ids:?}");
}

#[test]
fn a_well_formed_incoming_request_id_is_reused_and_a_malformed_one_replaced() {
    // Arrange
    let api = api();
    let mine = new_request_id();

    // Act
    let reused = api
        .request(Request::get("/v1").header("x-openstack-request-id", &mine))
        .expect("GET with an id");
    let bad_ids = [
        "req-not-a-uuid".to_owned(),
        "abc".to_owned(),
        "req-".to_owned(),
        format!("{mine}x"),
    ];
    let replaced: Vec<(&String, Response)> = bad_ids
        .iter()
        .map(|bad| {
            let response = api
                .request(Request::get("/v1").header("x-openstack-request-id", bad))
                .expect("GET with a bad id");
            (bad, response)
        })
        .collect();

    // Assert
    assert_eq!(reused.request_id(), Some(mine.as_str()));
    for (bad, response) in &replaced {
        let id = response.request_id().expect("a request id");
        assert!(
            is_request_id(id) && id != bad.as_str() && id != mine,
            "{bad:?} came back as {id}"
        );
    }
}

#[test]
fn every_request_writes_one_access_line_carrying_its_request_id() {
    // Arrange
    let api = api();
    let id = new_request_id();

    // Act
    let response = api
        .request(Request::get("/v1").header("x-openstack-request-id", &id))
        .expect("GET /v1");

    // Assert
    let worker = *api.worker_pids().iter().next().expect("a worker");
    let lines = eventually("the access line of the request", || {
        let lines: Vec<_> = api
            .log_lines()
            .into_iter()
            .filter(|l| l.request_id() == Some(id.as_str()) && l.access().is_some())
            .collect();
        ensure(!lines.is_empty(), || "none yet".to_owned()).map(|()| lines)
    });
    assert_eq!(lines.len(), 1, "one access line: {lines:#?}");
    let line = &lines[0];
    let access = line.access().expect("an access line");
    assert_eq!(line.level, "INFO", "{}", line.raw);
    assert_eq!(
        line.pid, worker,
        "written by the worker that served: {}",
        line.raw
    );
    assert_eq!(
        (access.method.as_str(), access.path.as_str(), access.status),
        ("GET", "/v1", 200)
    );
    assert_eq!(access.len, response.body.len() as u64, "{}", line.raw);
    // oslo's wsgi format puts two spaces before `len:`; spacing is not the contract.
    let words: Vec<&str> = line.raw.split_whitespace().collect();
    assert!(
        words
            .join(" ")
            .contains("\"GET /v1 HTTP/1.1\" status: 200 len: "),
        "{}",
        line.raw
    );
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_client_socket_timeout() {
    let api = Api::start(ApiConfig::default().set("api", "client_socket_timeout", "1"));
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", api.port())).expect("connect");
    stream
        .write_all(b"GET /v1 HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send a request");
    stream
        .set_read_timeout(Some(crate::harness::eventually::patience()))
        .expect("read timeout");

    // Read the response, then nothing more: the server ends the idle
    // connection by itself (end of stream), long before our read times out.
    let started = std::time::Instant::now();
    let mut received = Vec::new();
    std::io::Read::read_to_end(&mut stream, &mut received)
        .expect("the server closes, no read timeout");

    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        started.elapsed() < crate::harness::eventually::patience(),
        "closed by the read timeout, not by the server"
    );
}
