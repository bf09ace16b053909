//! Nothing lost, nothing leaked, nobody misinformed, on the full path:
//!
//! - A reload onto an empty database is refused; not one stored file goes.
//! - The periodic cleanup removes only the files of movies this store
//!   deleted; files it cannot account for are reported and kept.
//! - Engine workers killed during concurrent creates: no client is told
//!   "already exists" for its own new movie.
//! - An engine stopped during concurrent creates: 504 "outcome unknown"
//!   naming each movie, then each `Idempotency-Key` gets its movie; another
//!   body with a used key gets 422.
//! - Credentials in a download URL are used for the download and shown
//!   to nobody (answers and logs).
//! - A listing of movies whose reply would be huge ends early with a `next`
//!   link, and the pages together hold every movie once.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use engine::test_util::{Backend, TestDb};
use nix::sys::signal::Signal;
use serde_json::{Value, json};

use crate::harness::cluster::{Cluster, json_request};
use crate::harness::eventually::{consistently, ensure, eventually};
use crate::harness::files::FileServer;
use crate::harness::http::Request;
use crate::harness::trace;

/// Ages a file's modification time, as if nothing had touched it for an hour.
fn age(path: &std::path::Path) {
    let status = Command::new("touch")
        .args(["-d", "1 hour ago"])
        .arg(path)
        .status()
        .expect("run touch");
    assert!(status.success(), "touch -d failed on {}", path.display());
}

#[test]
fn a_reload_onto_an_empty_database_is_refused_and_no_stored_file_is_deleted() {
    // Arrange: a populated store, every movie downloaded.
    let files = FileServer::start();
    let mut cluster = Cluster::start(Backend::Postgres);
    let ids: Vec<String> = (0..3)
        .map(|n| {
            let served = files.add(&format!("m{n}.bin"), 4096);
            let movie = cluster.create(&json!({"name": format!("Stored {n}"), "url": served.url}));
            movie["id"].as_str().expect("id").to_owned()
        })
        .collect();
    for id in &ids {
        cluster.wait_downloaded(id);
    }
    let stored = cluster.stored_files();
    assert!(ids.iter().all(|id| stored.contains(id)), "{stored:?}");
    let empty = TestDb::unmigrated(Backend::Postgres);
    let engine = cluster.engine_mut();
    let before = engine.worker_pids();
    let switched = engine
        .config()
        .clone()
        .set("database", "connection", empty.url());
    engine.rewrite_config(&switched);
    let mark = engine.notify().mark();

    // Act
    engine.hup();

    // Assert: refused with both sides named, the old workers serve on.
    engine.wait_notify(mark, "READY=1 with a failed reload", |d| {
        d.has("READY=1")
            && d.get("STATUS")
                .is_some_and(|s| s.starts_with("reload failed"))
    });
    let refusal = eventually("the refusal naming both stores in the log", || {
        engine
            .log_lines()
            .into_iter()
            .find(|l| l.message.contains("holds the files of movie store"))
            .ok_or("not yet")
    });
    trace!("{}", refusal.raw);
    assert!(
        refusal
            .message
            .contains("not the database these movies were stored with"),
        "{}",
        refusal.raw
    );
    eventually("only the old engine workers left", || {
        let now = cluster.engine().worker_pids();
        ensure(now == before, || format!("{now:?} != {before:?}"))
    });
    // Several cleanup periods (1 s each): the files stay, the movies answer.
    consistently(Duration::from_secs(5), "every stored file kept", || {
        let now = cluster.stored_files();
        ensure(now == stored, || format!("{now:?} != {stored:?}"))
    });
    for id in &ids {
        assert_eq!(cluster.movie(id)["state"], "downloaded");
    }
}

#[test]
fn the_cleanup_removes_only_files_of_movies_this_store_deleted() {
    // Arrange: a deleted movie's file left on "another host" (put back here),
    // and a file named like a movie this database never had.
    let files = FileServer::start();
    let cluster = Cluster::start(Backend::Sqlite);
    let served = files.add("gone.bin", 4096);
    let movie = cluster.create(&json!({"name": "Gone", "url": served.url}));
    let gone = movie["id"].as_str().expect("id").to_owned();
    cluster.wait_downloaded(&gone);
    let gone_path = cluster.storage_dir().join(&gone);
    let bytes = std::fs::read(&gone_path).expect("the downloaded file");
    assert_eq!(cluster.delete_movie(&gone).status, 204);
    eventually("the engine removed the deleted movie's file", || {
        ensure(!gone_path.exists(), || "still there".into())
    });
    std::fs::write(&gone_path, &bytes).expect("put the file back");
    age(&gone_path);
    let stranger = uuid::Uuid::new_v4().to_string();
    let stranger_path = cluster.storage_dir().join(&stranger);
    std::fs::write(&stranger_path, b"not ours").expect("a stranger's file");
    age(&stranger_path);

    // Act: the periodic cleanup runs every second.
    eventually("the deleted movie's leftover file removed", || {
        ensure(!gone_path.exists(), || "still there".into())
    });

    // Assert: the stranger is reported, and kept through more cleanups.
    eventually("the unknown file reported", || {
        cluster
            .engine()
            .log_lines()
            .into_iter()
            .find(|l| l.message.contains("never had") && l.raw.contains(&stranger))
            .ok_or("not yet")
    });
    consistently(Duration::from_secs(3), "the unknown file kept", || {
        ensure(stranger_path.exists(), || "removed".into())
    });
}

#[test]
fn engine_workers_killed_during_concurrent_creates_tell_no_client_its_movie_exists() {
    // Arrange
    let mut cluster = Cluster::start_with(Backend::Sqlite, |c| c.workers(2));
    let port = cluster.port();
    let clients: Vec<_> = (0..16)
        .map(|client| {
            std::thread::spawn(move || {
                (0..15)
                    .map(|n| {
                        let name = format!("Client {client} movie {n}");
                        let body = json!({"name": name, "url": "http://127.0.0.1:9/x"});
                        let response = crate::harness::http::send(
                            port,
                            json_request("POST", "/v1/movies", &body),
                        )
                        .expect("an answer");
                        (name, response.status, response.json())
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();

    // Act: kill engine workers while the creates run.
    for _ in 0..3 {
        let mark = cluster.engine().notify().mark();
        let killed = cluster.engine().kill_worker();
        trace!("killed engine worker {killed}");
        cluster
            .engine_mut()
            .wait_workers(mark, 2, &BTreeSet::from([killed]));
    }
    let answers: Vec<(String, u16, Value)> = clients
        .into_iter()
        .flat_map(|client| client.join().expect("a client thread"))
        .collect();

    // Assert: each create succeeded, or said its outcome is unknown; each
    // movie a client was told about exists under its name.
    for (name, status, body) in &answers {
        match status {
            202 => {
                let id = body["id"].as_str().expect("id");
                assert_eq!(cluster.movie(id)["name"], name.as_str());
            }
            504 => {
                let message = body["error"]["message"].as_str().unwrap_or_default();
                assert!(message.contains("outcome is unknown"), "{body}");
            }
            _ => panic!("{name}: {status} {body}"),
        }
    }
    let listed = cluster.list_movies("limit=1000").json();
    let names: BTreeSet<&str> = listed["movies"]
        .as_array()
        .expect("movies")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    let accepted = answers.iter().filter(|(_, status, _)| *status == 202);
    for (name, _, _) in accepted {
        assert!(
            names.contains(name.as_str()),
            "{name} missing from the listing"
        );
    }
}

/// A create of movie `n`, with its own `Idempotency-Key`.
fn keyed_create(n: usize, name: &str) -> Request {
    let body = json!({"name": name, "url": format!("http://127.0.0.1:9/{n}")});
    json_request("POST", "/v1/movies", &body).header("Idempotency-Key", &format!("\"order-{n}\""))
}

/// The movie id a 504's message names.
fn id_in_message(response: &crate::harness::http::Response) -> String {
    let message = response.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("outcome is unknown"), "{message}");
    message
        .split_whitespace()
        .find_map(|word| uuid::Uuid::try_parse(word.trim_end_matches(':')).ok())
        .unwrap_or_else(|| panic!("no movie id in {message:?}"))
        .to_string()
}

#[test]
fn a_stopped_engine_gets_504s_naming_each_movie_and_the_same_idempotency_keys_then_get_those_movies()
 {
    // Arrange
    let cluster = Cluster::start_with(Backend::Sqlite, |c| {
        c.workers(1).set("DEFAULT", "rpc_response_timeout", "2")
    });
    let clients = 8;
    let workers = cluster.engine().worker_pids();
    for pid in &workers {
        cluster.engine().signal_worker(*pid, Signal::SIGSTOP);
    }

    // Act: concurrent creates while the engine is stopped.
    let port = cluster.port();
    let first: Vec<_> = (0..clients)
        .map(|n| {
            std::thread::spawn(move || {
                crate::harness::http::send(port, keyed_create(n, &format!("Paused {n}")))
                    .expect("an answer")
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|client| client.join().expect("a client thread"))
        .collect();
    for pid in &workers {
        cluster.engine().signal_worker(*pid, Signal::SIGCONT);
    }

    // Assert: each client learns the outcome is unknown, and which movie;
    // the resumed engine makes each once; each key's retry gets its movie.
    for (n, answer) in first.iter().enumerate() {
        assert_eq!(answer.status, 504, "{}", answer.text());
        let id = id_in_message(answer);
        let made = eventually("the engine, resumed, made the movie", || {
            let response = cluster.get_movie(&id);
            ensure(response.status == 200, || response.text()).map(|()| response.json())
        });
        assert_eq!(made["name"], format!("Paused {n}"));
        let retry = cluster.request(keyed_create(n, &format!("Paused {n}")));
        assert_eq!(retry.status, 202, "{}", retry.text());
        assert_eq!(retry.json()["id"], id.as_str());
    }
    let other = cluster.request(keyed_create(0, "Another body"));
    assert_eq!(other.status, 422, "{}", other.text());
    let listed = cluster.list_movies("").json();
    assert_eq!(
        listed["movies"].as_array().map(Vec::len),
        Some(clients),
        "{listed}"
    );
}

#[test]
fn credentials_in_a_download_url_are_used_and_shown_to_nobody() {
    // Arrange
    let files = FileServer::start();
    let cluster = Cluster::start(Backend::Sqlite);
    let served = files.add("private.bin", 2048);
    let url = served.url.replacen("http://", "http://alice:s3cret-pw@", 1);
    let shown = served.url.replacen("http://", "http://alice:***@", 1);

    // Act
    let created = cluster.create(&json!({"name": "Private", "url": url}));
    let id = created["id"].as_str().expect("id").to_owned();
    let downloaded = cluster.wait_downloaded(&id);

    // Assert: the server got the credentials; no answer or log shows them.
    let hits = files.hits("private.bin");
    assert!(
        hits.iter()
            .any(|hit| hit.authorization.as_deref() == Some("Basic YWxpY2U6czNjcmV0LXB3")),
        "{hits:?}"
    );
    assert_eq!(created["url"], shown.as_str());
    assert_eq!(downloaded["url"], shown.as_str());
    let listed = cluster.list_movies("").text();
    assert!(
        listed.contains(&shown) && !listed.contains("s3cret"),
        "{listed}"
    );
    // Sending the URL back as shown changes nothing: no new download.
    let updated = cluster.update_movie(&id, &json!({"url": shown, "rank": 3}));
    assert_eq!(updated.status, 200, "{}", updated.text());
    assert_eq!(updated.json()["state"], "downloaded");
    // A failed download's error quotes its URL: without the password.
    let refused = cluster.create(&json!({
        "name": "Refused",
        "url": "http://alice:s3cret-pw@127.0.0.1:9/refused",
    }));
    let refused_id = refused["id"].as_str().expect("id").to_owned();
    let failed = cluster.wait_movie(&refused_id, "in error", |m| m["state"] == "error");
    let error = failed["error"].as_str().unwrap_or_default();
    assert!(!error.contains("s3cret"), "{error}");
    for service in [cluster.engine(), cluster.api()] {
        let log = service.log_text();
        assert!(!log.contains("s3cret"), "a log shows the password");
    }
}

#[test]
fn a_listing_too_large_for_one_reply_ends_early_with_a_next_link_and_loses_no_movie() {
    // Arrange: movies whose meta is as large as allowed and escapes badly.
    let cluster = Cluster::start(Backend::Sqlite);
    let quotes = "\"".repeat(4000);
    let count = 300;
    for n in 0..count {
        let body = json!({"name": format!("Big {n:03}"), "url": "http://127.0.0.1:9/b", "meta": {"q": quotes}});
        let response = cluster.create_movie(&body);
        assert_eq!(response.status, 202, "{}", response.text());
    }

    // Act
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut path = "/v1/movies?limit=1000&sort_key=name".to_owned();
    loop {
        let page = cluster.request(Request::get(&path));
        assert_eq!(page.status, 200, "{}", page.text());
        let page = page.json();
        pages += 1;
        seen.extend(
            page["movies"]
                .as_array()
                .expect("movies")
                .iter()
                .map(|m| m["name"].as_str().expect("name").to_owned()),
        );
        match page["next"].as_str() {
            Some(next) => {
                path = next[next.find("/v1/").expect("a /v1 link")..].to_owned();
            }
            None => break,
        }
    }

    // Assert: more than one page, every movie once, in order; the engine
    // kept its broker connection.
    assert!(pages > 1, "one page held {} movies", seen.len());
    let expected: Vec<String> = (0..count).map(|n| format!("Big {n:03}")).collect();
    assert_eq!(seen, expected);
    let log = cluster.engine().log_text();
    assert!(
        !log.contains("lost the message broker connection"),
        "the engine lost its broker connection"
    );
}
