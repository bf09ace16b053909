//! The movie REST contract of `pymsboot-api` with a real engine behind it
//! (CONTRACT §4): the whole life cycle of a movie, pagination and sorting,
//! and every 400, 404, 405, 409, 413, 503 and 504 provoked for real; on
//! SQLite and on PostgreSQL. Also: the request id in both services' logs, and
//! the 503s and 504s of an engine that is stopped or a broker that cannot be
//! reached.

use std::collections::BTreeSet;
use std::time::Duration;

use engine::test_util::Backend;
use serde_json::{Value, json};

use crate::harness::cluster::{Api, ApiConfig, Cluster, json_request};
use crate::harness::eventually::{ensure, eventually};
use crate::harness::files::{FileServer, sha256_hex};
use crate::harness::http::{Connection, Request, Response, assert_error};
use crate::harness::{is_request_id, new_request_id, trace, uuid_v4};

/// Runs each listed scenario as one test per backend: `api::sqlite::<name>`
/// and `api::postgresql::<name>`.
macro_rules! on_sqlite_and_postgresql {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(engine::test_util::Backend::Sqlite) })*
        }
        mod postgresql {
            $(#[test] fn $name() { super::$name(engine::test_util::Backend::Postgres) })*
        }
    };
}

on_sqlite_and_postgresql!(
    a_movie_goes_from_create_through_download_update_and_delete,
    listing_pages_through_every_movie_once_in_every_sort_order,
    malformed_bodies_wrong_types_and_unknown_fields_are_400s,
    every_read_only_field_in_a_body_is_a_400,
    bad_names_urls_and_ids_are_400s,
    list_parameters_out_of_range_and_unknown_markers_are_400s,
    unknown_paths_and_unknown_movies_are_404s,
    a_method_the_path_does_not_allow_is_a_405_naming_the_allowed_ones,
    a_duplicate_name_is_a_409_on_create_and_on_rename,
    concurrent_creates_of_one_name_make_one_movie_and_409s,
    a_body_over_max_request_body_size_is_a_413_and_one_under_it_is_served,
);

/// The id of a movie body.
fn id_of(movie: &Value) -> String {
    movie["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {movie}"))
        .to_owned()
}

/// Whether `text` looks like an RFC 3339 UTC timestamp.
fn is_utc_timestamp(text: &Value) -> bool {
    text.as_str().is_some_and(|t| {
        t.len() >= 20
            && t.as_bytes()[4] == b'-'
            && t.as_bytes()[10] == b'T'
            && (t.ends_with('Z') || t.ends_with("+00:00"))
    })
}

/// The stored file of a movie, read whole.
fn stored_bytes(cluster: &Cluster, id: &str) -> Vec<u8> {
    std::fs::read(cluster.storage_dir().join(id))
        .unwrap_or_else(|e| panic!("the stored file of {id}: {e}"))
}

fn a_movie_goes_from_create_through_download_update_and_delete(backend: Backend) {
    // Arrange
    let files = FileServer::start();
    let first = files.add("first.bin", 300_000);
    let second = files.add("second.bin", 200_000);
    let cluster = Cluster::start(backend);

    // Act: create.
    let created = cluster.create_movie(&json!({
        "name": "Alien", "url": first.url, "rank": 3, "meta": {"year": 1979}
    }));

    // Assert: 202, Location, the movie as accepted.
    assert_eq!(created.status, 202, "{}", created.text());
    let movie = created.json();
    let id = id_of(&movie);
    assert_eq!(
        created.header("location"),
        Some(format!("http://127.0.0.1:{}/v1/movies/{id}", cluster.port()).as_str())
    );
    assert_eq!(movie["name"], "Alien", "{movie}");
    assert_eq!(movie["url"], first.url.as_str(), "{movie}");
    assert_eq!(movie["rank"], 3, "{movie}");
    assert_eq!(movie["meta"], json!({"year": 1979}), "{movie}");
    assert!(
        ["queued", "downloading", "downloaded"].contains(&movie["state"].as_str().unwrap_or("")),
        "{movie}"
    );
    assert!(movie["error"].is_null(), "{movie}");
    assert!(is_utc_timestamp(&movie["created_at"]), "{movie}");
    assert!(is_utc_timestamp(&movie["updated_at"]), "{movie}");

    // Act/Assert: the download completes with the right size and checksum.
    let done = cluster.wait_downloaded(&id);
    assert_eq!(done["checksum"], first.checksum().as_str(), "{done}");
    assert_eq!(done["size"], first.size, "{done}");
    assert_eq!(done["bytes_downloaded"], first.size, "{done}");
    assert_eq!(sha256_hex(&stored_bytes(&cluster, &id)), first.sha256);
    assert_eq!(cluster.stored_files(), BTreeSet::from([id.clone()]));

    // Act/Assert: get, by the Location too.
    assert_eq!(cluster.movie(&id), done);
    let location = created.header("location").unwrap_or_default();
    let path = &location[location.find("/v1/").expect("a /v1/ path")..];
    assert_eq!(cluster.get(path).json(), done);

    // Act/Assert: change the rank, clear it, rename, change the meta.
    let ranked = cluster.update_movie(&id, &json!({"rank": 5}));
    assert_eq!(ranked.status, 200, "{}", ranked.text());
    assert_eq!(ranked.json()["rank"], 5);
    assert_eq!(ranked.json()["checksum"], first.checksum().as_str());
    let unranked = cluster.update_movie(&id, &json!({"rank": null}));
    assert_eq!(unranked.status, 200, "{}", unranked.text());
    assert!(unranked.json()["rank"].is_null(), "{}", unranked.text());
    let renamed = cluster.update_movie(&id, &json!({"name": "Alien (1979)", "meta": {"a": [1]}}));
    assert_eq!(renamed.status, 200, "{}", renamed.text());
    assert_eq!(renamed.json()["name"], "Alien (1979)");
    assert_eq!(renamed.json()["meta"], json!({"a": [1]}));
    assert_eq!(cluster.movie(&id)["name"], "Alien (1979)");

    // Act/Assert: a new url starts a new download.
    let moved = cluster.update_movie(&id, &json!({"url": second.url}));
    assert_eq!(moved.status, 200, "{}", moved.text());
    assert_eq!(moved.json()["url"], second.url.as_str());
    let redone = cluster.wait_movie(&id, "the second file downloaded", |m| {
        m["state"] == "downloaded" && m["checksum"] == second.checksum().as_str()
    });
    assert_eq!(redone["size"], second.size, "{redone}");
    assert_eq!(sha256_hex(&stored_bytes(&cluster, &id)), second.sha256);
    assert!(
        files.hits("second.bin").iter().any(|h| h.status == 200),
        "the new url was fetched"
    );

    // Act: delete.
    let deleted = cluster.delete_movie(&id);

    // Assert: 204, then 404, and the file is gone.
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    assert!(deleted.body.is_empty());
    assert_error("GET after DELETE", &cluster.get_movie(&id), 404);
    assert_error("DELETE twice", &cluster.delete_movie(&id), 404);
    eventually("the stored file to be removed", || {
        let stored = cluster.stored_files();
        ensure(stored.is_empty(), || format!("{stored:?}"))
    });
    assert_eq!(cluster.list_movies("").json()["movies"], json!([]));
}

/// Follows `next` links from `GET /v1/movies?<query>` to the last page;
/// returns the pages.
fn pages(cluster: &Cluster, query: &str, limit: usize) -> Vec<Vec<Value>> {
    let base = format!("http://127.0.0.1:{}", cluster.port());
    let mut pages = Vec::new();
    let mut path = format!("/v1/movies?{query}");
    for _ in 0..100 {
        let response = cluster.get(&path);
        assert_eq!(response.status, 200, "GET {path}: {}", response.text());
        let body = response.json();
        let page = body["movies"].as_array().cloned().expect("movies");
        assert!(page.len() <= limit, "GET {path}: {} movies", page.len());
        pages.push(page);
        match body.get("next") {
            None => return pages,
            Some(next) => {
                let next = next.as_str().expect("next is a string");
                path = next
                    .strip_prefix(&base)
                    .unwrap_or_else(|| panic!("next {next} is not under {base}"))
                    .to_owned();
            }
        }
    }
    panic!("more than 100 pages for {query}");
}

fn ids(movies: &[Value]) -> Vec<String> {
    movies.iter().map(id_of).collect()
}

fn listing_pages_through_every_movie_once_in_every_sort_order(backend: Backend) {
    // Arrange: seven movies, one without a rank.
    let files = FileServer::start();
    let file = files.add("small.bin", 1024);
    let cluster = Cluster::start(backend);
    let specs = [
        ("delta", Some(4)),
        ("alpha", Some(7)),
        ("echo", None),
        ("charlie", Some(1)),
        ("bravo", Some(6)),
        ("golf", Some(2)),
        ("foxtrot", Some(5)),
    ];
    let created: Vec<(String, &str, Option<i64>)> = specs
        .iter()
        .map(|(name, rank)| {
            let movie = cluster.create(&json!({"name": name, "url": file.url, "rank": rank}));
            (id_of(&movie), *name, *rank)
        })
        .collect();
    let by_creation: Vec<String> = created.iter().map(|(id, _, _)| id.clone()).collect();

    // Act/Assert: the default order, three at a time, then the exact fit.
    let default = pages(&cluster, "limit=3", 3);
    assert_eq!(default.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 1]);
    assert_eq!(ids(&default.concat()), by_creation);
    let exact = pages(&cluster, "limit=7", 7);
    assert_eq!(exact.len(), 1, "no next when the page holds the rest");
    assert_eq!(ids(&exact[0]), by_creation);

    // Act/Assert: every sort key in both directions, two at a time.
    let mut by_name = created.clone();
    by_name.sort_by_key(|(_, name, _)| *name);
    let mut by_rank = created.clone();
    // Movies without a rank come last in ascending order.
    by_rank.sort_by_key(|(_, _, rank)| (rank.is_none(), *rank));
    let expected = [
        (
            "name",
            by_name.iter().map(|m| m.0.clone()).collect::<Vec<_>>(),
        ),
        ("rank", by_rank.iter().map(|m| m.0.clone()).collect()),
        ("created_at", by_creation.clone()),
    ];
    for (key, ascending) in expected {
        for dir in ["asc", "desc"] {
            let query = format!("limit=2&sort_key={key}&sort_dir={dir}");
            let listed = ids(&pages(&cluster, &query, 2).concat());
            let unique: BTreeSet<&String> = listed.iter().collect();
            assert_eq!(
                unique.len(),
                listed.len(),
                "{query}: duplicates in {listed:?}"
            );
            let mut want = ascending.clone();
            if dir == "desc" {
                want.reverse();
            }
            assert_eq!(listed, want, "{query}");
        }
    }

    // Act/Assert: the state filter.
    for (id, _, _) in &created {
        cluster.wait_downloaded(id);
    }
    let downloaded = pages(&cluster, "state=downloaded&limit=4", 4).concat();
    assert_eq!(ids(&downloaded), by_creation);
    assert_eq!(
        pages(&cluster, "state=queued", 100),
        vec![Vec::<Value>::new()]
    );
}

/// A URL that is valid but never fetched with success (404 on the file server).
fn some_url(files: &FileServer) -> String {
    files.url("nothing-here")
}

fn malformed_bodies_wrong_types_and_unknown_fields_are_400s(backend: Backend) {
    // Arrange
    let files = FileServer::start();
    let url = some_url(&files);
    let cluster = Cluster::start(backend);
    let id = id_of(&cluster.create(&json!({"name": "target", "url": url})));
    let raw = [
        "",
        "{",
        "not json",
        "{\"name\": \"x\",}",
        "[]",
        "\"text\"",
        "null",
        "42",
        "{}{}",
    ];
    let wrong = [
        json!({"name": 1, "url": url}),
        json!({"name": "n", "url": 2}),
        json!({"name": "n", "url": url, "rank": "high"}),
        json!({"name": "n", "url": url, "rank": 1.5}),
        json!({"name": "n", "url": url, "rank": 9_223_372_036_854_775_808_u64}),
        json!({"name": "n", "url": url, "meta": []}),
        json!({"name": "n", "url": url, "meta": "x"}),
        json!({"name": null, "url": url}),
        json!({"name": "n", "url": url, "colour": "red"}),
        json!({"url": url}),
        json!({"name": "n"}),
    ];

    // Act/Assert
    for body in raw {
        let what = format!("POST {body:?}");
        let request = Request::new("POST", "/v1/movies")
            .header("Content-Type", "application/json")
            .body(body);
        assert_error(&what, &cluster.request(request), 400);
        let request = Request::new("PUT", &format!("/v1/movies/{id}"))
            .header("Content-Type", "application/json")
            .body(body);
        assert_error(&format!("PUT {body:?}"), &cluster.request(request), 400);
    }
    for body in &wrong {
        assert_error(&format!("POST {body}"), &cluster.create_movie(body), 400);
    }
    let wrong_updates = [
        json!({"name": 1}),
        json!({"rank": "x"}),
        json!({"url": false}),
        json!({"meta": [1]}),
        json!({"colour": "red"}),
    ];
    for body in &wrong_updates {
        assert_error(
            &format!("PUT {body}"),
            &cluster.update_movie(&id, body),
            400,
        );
    }
    assert_eq!(
        cluster.list_movies("").json()["movies"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

fn every_read_only_field_in_a_body_is_a_400(backend: Backend) {
    // Arrange
    let files = FileServer::start();
    let url = some_url(&files);
    let cluster = Cluster::start(backend);
    let id = id_of(&cluster.create(&json!({"name": "target", "url": url})));
    let read_only = [
        ("id", json!(uuid_v4())),
        ("state", json!("downloaded")),
        ("size", json!(1)),
        ("bytes_downloaded", json!(1)),
        ("checksum", json!("sha256:00")),
        ("error", json!(null)),
        ("created_at", json!("2026-01-01T00:00:00Z")),
        ("updated_at", json!("2026-01-01T00:00:00Z")),
    ];

    for (field, value) in read_only {
        // Act
        let mut create = json!({"name": format!("with {field}"), "url": url});
        create[field] = value.clone();
        let mut update = json!({"rank": 1});
        update[field] = value;

        // Assert
        assert_error(
            &format!("POST with {field}"),
            &cluster.create_movie(&create),
            400,
        );
        assert_error(
            &format!("PUT with {field}"),
            &cluster.update_movie(&id, &update),
            400,
        );
    }
    assert!(
        cluster.movie(&id)["rank"].is_null(),
        "no update went through"
    );
}

fn bad_names_urls_and_ids_are_400s(backend: Backend) {
    // Arrange
    let files = FileServer::start();
    let url = some_url(&files);
    let cluster = Cluster::start(backend);
    let id = id_of(&cluster.create(&json!({"name": "target", "url": url})));
    let long_url = format!("http://127.0.0.1/{}", "a".repeat(2048));
    let bad_urls = [
        "",
        "not a url",
        "ftp://127.0.0.1/a",
        "file:///etc/passwd",
        "http://",
        "http:///x",
        "http://:80/x",
        "http://a b/",
        "javascript:alert(1)",
        long_url.as_str(),
    ];
    let long_name = "n".repeat(256);
    let bad_names = ["", "   ", long_name.as_str()];

    // Act/Assert
    for bad in bad_urls {
        let what = format!("url {bad:.40?}");
        assert_error(
            &what,
            &cluster.create_movie(&json!({"name": "n", "url": bad})),
            400,
        );
        assert_error(&what, &cluster.update_movie(&id, &json!({"url": bad})), 400);
    }
    for bad in bad_names {
        let what = format!("name {bad:.40?}");
        assert_error(
            &what,
            &cluster.create_movie(&json!({"name": bad, "url": url})),
            400,
        );
        assert_error(
            &what,
            &cluster.update_movie(&id, &json!({"name": bad})),
            400,
        );
    }
    for bad in [
        "not-a-uuid",
        "1234",
        "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz",
        "%00",
    ] {
        let path = format!("/v1/movies/{bad}");
        assert_error(&format!("GET {path}"), &cluster.get(&path), 400);
        assert_error(
            &format!("PUT {path}"),
            &cluster.update_movie(bad, &json!({"rank": 1})),
            400,
        );
        assert_error(&format!("DELETE {path}"), &cluster.delete_movie(bad), 400);
    }
    // The longest name and URL are fine.
    let longest = "n".repeat(255);
    let edge = format!("{}{}", url, "a".repeat(2048 - url.len()));
    assert_eq!(
        cluster
            .create_movie(&json!({"name": longest, "url": edge}))
            .status,
        202
    );
}

fn list_parameters_out_of_range_and_unknown_markers_are_400s(backend: Backend) {
    // Arrange
    let cluster = Cluster::start(backend);
    let unknown_marker = format!("marker={}", uuid_v4());
    let bad = [
        "limit=0",
        "limit=1001",
        "limit=x",
        "limit=-1",
        "limit=",
        "limit=1.5",
        "marker=x",
        "marker=",
        unknown_marker.as_str(),
        "sort_key=size",
        "sort_key=",
        "sort_key=name%00",
        "sort_dir=up",
        "state=lost",
    ];

    // Act/Assert
    for query in bad {
        assert_error(&format!("GET ?{query}"), &cluster.list_movies(query), 400);
    }
    for good in [
        "limit=1",
        "limit=1000",
        "sort_key=name",
        "sort_dir=desc",
        "state=error",
    ] {
        let response = cluster.list_movies(good);
        assert_eq!(response.status, 200, "?{good}: {}", response.text());
    }
}

fn unknown_paths_and_unknown_movies_are_404s(backend: Backend) {
    // Arrange
    let cluster = Cluster::start(backend);
    let nobody = uuid_v4();

    // Act/Assert
    for path in [
        "/v1/moviesx".to_owned(),
        "/v2/movies".to_owned(),
        format!("/v1/movies/{nobody}/extra"),
        "/v1/movies/a/b/c".to_owned(),
        "/movies".to_owned(),
    ] {
        assert_error(&format!("GET {path}"), &cluster.get(&path), 404);
    }
    assert_error("GET unknown", &cluster.get_movie(&nobody), 404);
    assert_error(
        "PUT unknown",
        &cluster.update_movie(&nobody, &json!({"rank": 1})),
        404,
    );
    assert_error("DELETE unknown", &cluster.delete_movie(&nobody), 404);
    let message = cluster.get_movie(&nobody).json()["error"]["message"].clone();
    assert!(
        message.as_str().is_some_and(|m| m.contains(&nobody)),
        "the message names the movie: {message}"
    );
}

fn a_method_the_path_does_not_allow_is_a_405_naming_the_allowed_ones(backend: Backend) {
    // Arrange
    let cluster = Cluster::start(backend);
    let item = format!("/v1/movies/{}", uuid_v4());
    let cases = [
        ("PUT", "/v1/movies", "POST"),
        ("DELETE", "/v1/movies", "POST"),
        ("PATCH", "/v1/movies", "POST"),
        ("POST", item.as_str(), "PUT"),
        ("PATCH", item.as_str(), "DELETE"),
        ("POST", "/openapi.json", "GET"),
    ];

    for (method, path, allowed) in cases {
        // Act
        let response = cluster.request(Request::new(method, path));

        // Assert
        let what = format!("{method} {path}");
        assert_error(&what, &response, 405);
        let allow = response.header("allow").unwrap_or_default();
        assert!(
            allow.contains(allowed) && allow.contains("GET"),
            "{what}: Allow: {allow:?}"
        );
    }
}

fn a_duplicate_name_is_a_409_on_create_and_on_rename(backend: Backend) {
    // Arrange
    let files = FileServer::start();
    let url = some_url(&files);
    let cluster = Cluster::start(backend);
    cluster.create(&json!({"name": "Heat", "url": url}));
    let other = id_of(&cluster.create(&json!({"name": "Ronin", "url": url})));

    // Act
    let duplicate = cluster.create_movie(&json!({"name": "Heat", "url": url, "rank": 2}));
    let rename = cluster.update_movie(&other, &json!({"name": "Heat"}));
    let same_name = cluster.update_movie(&other, &json!({"name": "Ronin", "rank": 4}));

    // Assert
    assert_error("create a duplicate", &duplicate, 409);
    assert_error("rename onto another", &rename, 409);
    assert_eq!(
        same_name.status,
        200,
        "keeping one's own name: {}",
        same_name.text()
    );
    let listed = cluster.list_movies("sort_key=name").json();
    let names: Vec<&str> = listed["movies"]
        .as_array()
        .expect("movies")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(names, ["Heat", "Ronin"]);
}

fn concurrent_creates_of_one_name_make_one_movie_and_409s(backend: Backend) {
    // Arrange
    let files = FileServer::start();
    let url = some_url(&files);
    let cluster = Cluster::start(backend);
    let body = json!({"name": "Rashomon", "url": url});

    // Act: ten creates at once, over both API and both engine workers.
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..10)
            .map(|_| s.spawn(|| cluster.create_movie(&body)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                let response = h.join().expect("a client thread");
                if response.status != 202 {
                    assert_error("a concurrent create", &response, 409);
                }
                response.status
            })
            .collect()
    });

    // Assert
    assert_eq!(
        statuses.iter().filter(|s| **s == 202).count(),
        1,
        "{statuses:?}"
    );
    let listed = cluster.list_movies("").json();
    assert_eq!(
        listed["movies"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
}

fn a_body_over_max_request_body_size_is_a_413_and_one_under_it_is_served(backend: Backend) {
    // Arrange: the default limit, 114688 bytes.
    let files = FileServer::start();
    let url = some_url(&files);
    let cluster = Cluster::start(backend);
    let id = id_of(&cluster.create(&json!({"name": "target", "url": url})));
    let padded = |name: &str, total: usize| {
        let mut body = json!({"name": name, "url": url, "meta": {"pad": ""}});
        let pad = total - body.to_string().len();
        body["meta"]["pad"] = json!("p".repeat(pad));
        assert_eq!(body.to_string().len(), total);
        body
    };

    // Act
    let over = cluster.create_movie(&padded("over", 114_689));
    let mut update = padded("renamed", 200_000);
    update.as_object_mut().expect("an object").remove("url");
    let over_update = cluster.update_movie(&id, &update);
    // meta is bounded far below the limit: blanks between tokens fill this one.
    let at_body = json!({"name": "at the limit", "url": url}).to_string();
    let at_body = format!("{}{at_body}", " ".repeat(114_688 - at_body.len()));
    assert_eq!(at_body.len(), 114_688);
    let at = cluster.request(
        Request::new("POST", "/v1/movies")
            .header("Content-Type", "application/json")
            .body(at_body),
    );

    // Assert
    assert_error("POST over the limit", &over, 413);
    assert_error("PUT over the limit", &over_update, 413);
    assert_eq!(at.status, 202, "{}", at.text());
    assert_eq!(cluster.movie(&id)["name"], "target");
}

#[test]
fn a_413_announces_that_the_connection_closes() {
    // Arrange
    let cluster = Cluster::start(Backend::Sqlite);
    let mut conn = Connection::open(cluster.port()).expect("connect");
    let body = format!("{{\"name\": \"{}\"}}", "n".repeat(120_000));

    // Act: a whole body over the limit, on a kept-alive connection.
    let response = conn
        .send(&Request::new("POST", "/v1/movies").body(body))
        .expect("the 413");
    let next = conn.send(&Request::get("/v1"));

    // Assert: the server either says it closes, or serves the next request.
    assert_error("POST over the limit", &response, 413);
    assert!(
        response.closes() || next.as_ref().is_ok_and(|r| r.status == 200),
        "the connection was closed without `Connection: close` (next request: {:?})",
        next.map(|r| r.status)
    );
}

#[test]
fn a_stopped_engine_makes_reads_503_and_changes_504_outcome_unknown_within_rpc_response_timeout() {
    // Arrange
    let timeout = Duration::from_secs(3);
    let margin = Duration::from_secs(2);
    let mut cluster = Cluster::start_with(Backend::Sqlite, |config| {
        config.set("DEFAULT", "rpc_response_timeout", "3")
    });
    let id = uuid_v4();
    let requests = every_movie_request(&id);

    // Act
    cluster.stop_engine();
    let answers: Vec<(String, Response, Duration)> = std::thread::scope(|s| {
        let handles: Vec<_> = requests
            .into_iter()
            .map(|request| {
                let cluster = &cluster;
                s.spawn(move || {
                    let what = format!("{} {}", request.method, request.path);
                    let (response, took) = cluster.timed(request, timeout * 4);
                    (what, response, took)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a client thread"))
            .collect()
    });

    // Assert: a read can be repeated (503); a change sent but never answered
    // may or may not have happened, and the client is told so (504).
    for (what, response, took) in &answers {
        trace!("{what}: {} after {took:?}", response.status);
        if what.starts_with("GET") {
            assert_error(what, response, 503);
            let message = response.json()["error"]["message"].to_string();
            assert!(
                message.contains("did not answer within 3 s"),
                "{what}: {message}"
            );
        } else {
            assert_error(what, response, 504);
            let message = response.json()["error"]["message"].to_string();
            assert!(
                message.contains("the outcome is unknown"),
                "{what}: {message}"
            );
        }
        assert!(took < &(timeout + margin), "{what} took {took:?}");
    }
    eventually("/healthcheck to answer 503", || {
        let status = cluster.get("/healthcheck").status;
        ensure(status == 503, || format!("{status}"))
    });

    // Act/Assert: the engine back, the create that got a 504 left no movie:
    // its request expired in the queue unread.
    cluster.restart_engine();
    let listed = cluster.list_movies("").json();
    assert_eq!(listed["movies"], json!([]), "{listed}");
}

#[test]
fn a_broker_that_stays_down_makes_every_movie_call_a_503_after_a_short_wait_not_the_timeout() {
    // Arrange: an API ready on a broker of its own, which then goes away;
    // the RPC timeout is far longer than the wait for a connection.
    let broker = rpc::test_util::PrivateBroker::start().expect("a private broker");
    let api = Api::start(
        ApiConfig::default()
            .workers(1)
            .set("DEFAULT", "transport_url", &broker.transport_url())
            .set("DEFAULT", "rpc_response_timeout", "60"),
    );
    broker.stop_app().expect("stop the broker");
    let id = uuid_v4();
    let mut requests = every_movie_request(&id);
    requests.push(Request::get("/healthcheck"));

    // Act: all at once, as clients would meet the outage.
    let answers: Vec<(String, Response, Duration)> = std::thread::scope(|scope| {
        let asked: Vec<_> = requests
            .into_iter()
            .map(|request| {
                let api = &api;
                scope.spawn(move || {
                    let what = format!("{} {}", request.method, request.path);
                    let started = std::time::Instant::now();
                    let response = api.request(request).expect("an answer");
                    (what, response, started.elapsed())
                })
            })
            .collect();
        asked
            .into_iter()
            .map(|h| h.join().expect("client thread"))
            .collect()
    });

    // Assert
    for (what, response, took) in answers {
        trace!("{what}: {} after {took:?}", response.status);
        assert_eq!(response.status, 503, "{what}: {}", response.text());
        assert!(
            took < rpc::ROUTE_WAIT + Duration::from_secs(3),
            "{what} took {took:?}"
        );
        if what != "GET /healthcheck" {
            assert_error(&what, &response, 503);
        }
    }
}

#[test]
fn the_request_id_of_a_call_is_in_both_services_logs() {
    // Arrange
    let files = FileServer::start();
    let cluster = Cluster::start(Backend::Sqlite);
    let request_id = new_request_id();
    assert!(is_request_id(&request_id));

    // Act
    let response = cluster.request(
        json_request(
            "POST",
            "/v1/movies",
            &json!({"name": "traced", "url": files.url("x")}),
        )
        .header("x-openstack-request-id", &request_id),
    );

    // Assert
    assert_eq!(response.status, 202, "{}", response.text());
    assert_eq!(response.request_id(), Some(request_id.as_str()));
    for service in [cluster.api(), cluster.engine()] {
        let lines = eventually(
            &format!(
                "a {} log line with {request_id}",
                service.program().binary()
            ),
            || {
                let lines: Vec<String> = service
                    .log_lines()
                    .into_iter()
                    .filter(|l| l.request_id() == Some(request_id.as_str()))
                    .map(|l| l.raw)
                    .collect();
                ensure(!lines.is_empty(), || "none yet".to_owned()).map(|()| lines)
            },
        );
        assert!(lines.iter().all(|l| l.contains(&request_id)), "{lines:#?}");
    }
}

/// One request of each movie verb; each needs the engine to answer.
fn every_movie_request(id: &str) -> Vec<Request> {
    vec![
        Request::get("/v1/movies"),
        json_request(
            "POST",
            "/v1/movies",
            &json!({"name": "n", "url": "http://127.0.0.1:9/x"}),
        ),
        Request::get(&format!("/v1/movies/{id}")),
        json_request("PUT", &format!("/v1/movies/{id}"), &json!({"rank": 1})),
        Request::new("DELETE", &format!("/v1/movies/{id}")),
    ]
}
