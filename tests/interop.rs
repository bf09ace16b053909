//! A stock Python oslo.messaging `RPCClient` (`tests/python/oslo_peer.py`)
//! against the running Rust engine (CONTRACT §5): `create_movie`,
//! `get_movie` and `get_all_movie` give it what they give the Rust
//! client (`engine::EngineClient`) for the same movies, remote errors carry
//! the oslo class names, and `delete_movie` works as a cast.

use std::future::Future;

use engine::objects::{ListQuery, NewMovie, SortDir, SortKey};
use engine::test_util::Backend;
use engine::{CallError, EngineClient, Movie};
use rpc::Context;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::cluster::Cluster;
use crate::harness::eventually::{ensure, eventually};
use crate::harness::files::FileServer;
use crate::harness::python::PythonClient;
use crate::harness::rpc_session::RpcSession;
use crate::harness::{new_request_id, uuid_v4};

/// The Rust side: a session on the cluster's exchange and the engine's typed client.
struct RustClient {
    session: RpcSession,
    client: EngineClient,
}

impl RustClient {
    fn connect(cluster: &Cluster) -> RustClient {
        let session = RpcSession::connect(cluster);
        let client = EngineClient::new(session.transport(), &cluster.topic());
        RustClient { session, client }
    }

    fn run<T>(&self, call: impl Future<Output = Result<T, CallError>>) -> Result<T, CallError> {
        self.session.block_on(call)
    }

    fn context() -> Context {
        Context::with_request_id(&new_request_id())
    }

    fn get_all(&self, query: &ListQuery) -> Value {
        let movies = self
            .run(self.client.get_all_movie(&RustClient::context(), query))
            .expect("get_all_movie from Rust");
        serde_json::to_value(movies).expect("movies to JSON")
    }

    fn get(&self, id: Uuid) -> Result<Movie, CallError> {
        self.run(self.client.get_movie(&RustClient::context(), id))
    }
}

fn parse_id(movie: &Value) -> Uuid {
    movie["id"]
        .as_str()
        .and_then(|id| Uuid::try_parse(id).ok())
        .unwrap_or_else(|| panic!("no id in {movie}"))
}

#[test]
fn a_python_client_gets_from_the_engine_what_the_rust_client_gets() {
    // Arrange
    let files = FileServer::start();
    let file = files.add("shared.bin", 50_000);
    let cluster = Cluster::start(Backend::Sqlite);
    let python = PythonClient::new(&cluster.exchange(), &cluster.topic());
    let rust = RustClient::connect(&cluster);
    let chosen = uuid_v4();

    // Act: create from both sides, one with an id of the caller's choosing.
    let from_python = python.call_ok(
        "create_movie",
        &json!({"content_json": {"name": "from python", "url": file.url, "rank": 2, "meta": {"by": "python"}}}),
    );
    let with_uuid = python.call_ok(
        "create_movie",
        &json!({"content_json": {"uuid": chosen, "name": "chosen id", "url": file.url}}),
    );
    let new = NewMovie {
        uuid: None,
        name: "from rust".into(),
        url: file.url.clone(),
        rank: Some(1),
        meta: serde_json::Map::new(),
    };
    let from_rust = rust
        .run(rust.client.create_movie(&RustClient::context(), &new))
        .expect("create_movie from Rust");
    let ids = [parse_id(&from_python), parse_id(&with_uuid), from_rust.id];
    for id in ids {
        cluster.wait_downloaded(&id.to_string());
    }

    // Assert: what create_movie returned.
    assert_eq!(from_python["name"], "from python", "{from_python}");
    assert_eq!(from_python["rank"], 2, "{from_python}");
    assert_eq!(
        from_python["meta"],
        json!({"by": "python"}),
        "{from_python}"
    );
    assert_eq!(with_uuid["id"], chosen.as_str(), "{with_uuid}");
    let python_movie: Movie =
        serde_json::from_value(from_python.clone()).expect("a Python result is a movie");
    assert_eq!(python_movie.name, "from python");

    // Assert: get_movie, the same from both sides.
    for id in ids {
        let from_py = python.call_ok("get_movie", &json!({"uuid": id}));
        let from_rs = serde_json::to_value(rust.get(id).expect("get_movie from Rust"))
            .expect("a movie to JSON");
        assert_eq!(from_py, from_rs, "get_movie({id})");
        assert_eq!(from_py["checksum"], file.checksum().as_str(), "{from_py}");
    }

    // Assert: get_all_movie, with defaults and with every argument.
    let all_py = python.call_ok("get_all_movie", &json!({}));
    let all_rs = rust.get_all(&ListQuery::default());
    assert_eq!(all_py, all_rs, "get_all_movie()");
    assert_eq!(all_py.as_array().map(Vec::len), Some(3), "{all_py}");
    let query = ListQuery {
        limit: 2,
        marker: Some(ids[0]),
        sort_key: SortKey::Name,
        sort_dir: SortDir::Desc,
        state: Some(engine::MovieState::Downloaded),
        all_projects: false,
    };
    let page_py = python.call_ok(
        "get_all_movie",
        &json!({"limit": 2, "marker": ids[0], "sort_key": "name", "sort_dir": "desc", "state": "downloaded"}),
    );
    assert_eq!(
        page_py,
        rust.get_all(&query),
        "get_all_movie(every argument)"
    );
    // Names descending: "from rust", "from python", "chosen id"; after "from python".
    let names: Vec<&str> = page_py
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(names, ["chosen id"]);
}

#[test]
fn engine_errors_reach_a_python_client_under_their_oslo_class_names() {
    // Arrange
    let files = FileServer::start();
    let cluster = Cluster::start(Backend::Sqlite);
    let python = PythonClient::new(&cluster.exchange(), &cluster.topic());
    // From the same caller: names are unique within a project, and one made
    // through the API belongs to the API caller's.
    python.call_ok(
        "create_movie",
        &json!({"content_json": {"name": "taken", "url": files.url("x")}}),
    );
    let rust = RustClient::connect(&cluster);
    let nobody = Uuid::new_v4();

    // Act
    let not_found = python.call("get_movie", &json!({"uuid": nobody}));
    let exists = python.call(
        "create_movie",
        &json!({"content_json": {"name": "taken", "url": files.url("y")}}),
    );
    let invalid = python.call("get_all_movie", &json!({"marker": nobody}));
    let no_such = python.call("drop_all_movies", &json!({}));
    let rust_not_found = rust.get(nobody);

    // Assert
    for (outcome, class) in [
        (&not_found, "MovieNotFound"),
        (&exists, "MovieExists"),
        (&invalid, "Invalid"),
        (&no_such, "NoSuchMethod"),
    ] {
        assert_eq!(outcome["ok"], false, "{outcome}");
        assert_eq!(outcome["class"], "RemoteError", "{outcome}");
        assert_eq!(outcome["exc_type"], class, "{outcome}");
    }
    assert!(
        not_found["value"]
            .as_str()
            .is_some_and(|v| v.contains(&nobody.to_string())),
        "{not_found}"
    );
    match rust_not_found {
        Err(CallError::Engine(error)) => assert_eq!(error.class(), "MovieNotFound"),
        other => panic!("the Rust client got {other:?}"),
    }
}

#[test]
fn a_delete_movie_cast_from_python_deletes_the_movie_and_its_file() {
    // Arrange
    let files = FileServer::start();
    let file = files.add("cast.bin", 10_000);
    let cluster = Cluster::start(Backend::Sqlite);
    let id = parse_id(&cluster.create(&json!({"name": "to cast away", "url": file.url})));
    cluster.wait_downloaded(&id.to_string());
    let python = PythonClient::new(&cluster.exchange(), &cluster.topic());
    let rust = RustClient::connect(&cluster);

    // Act
    let outcome = python.cast("delete_movie", &json!({"uuid": id}));

    // Assert
    assert_eq!(outcome, json!({"ok": true, "result": null}));
    eventually("the movie to be gone", || {
        let status = cluster.get_movie(&id.to_string()).status;
        ensure(status == 404, || format!("{status}"))
    });
    eventually("its file to be removed", || {
        let stored = cluster.stored_files();
        ensure(stored.is_empty(), || format!("{stored:?}"))
    });
    assert!(
        matches!(rust.get(id), Err(CallError::Engine(e)) if e.class() == "MovieNotFound"),
        "the Rust client no longer finds it"
    );
}
