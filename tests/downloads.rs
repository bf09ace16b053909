//! Downloads as an operator sees them (CONTRACT §6): an engine killed with
//! SIGKILL in the middle of a download, and started again, completes it; a
//! refused private address, a 404, a delete and a URL change in the middle of
//! a download each end as the contract says, with nothing left behind in
//! `storage_dir`.
//!
//! The files come from the tests' own HTTP server on 127.0.0.1; a *slow* file
//! is throttled until the test releases it, so a download can be caught
//! while it runs.

use std::collections::BTreeSet;
use std::time::Duration;

use engine::test_util::Backend;
use serde_json::json;

use crate::harness::cluster::Cluster;
use crate::harness::eventually::{consistently, ensure, eventually};
use crate::harness::files::{FileServer, Outcome, ServedFile, sha256_hex};

/// Size of the slow files: large enough that a throttled download takes minutes.
const SLOW_SIZE: u64 = 4 * 1024 * 1024;
/// The throttled rate.
const SLOW_RATE: u64 = 32 * 1024;

/// Asserts that the storage directory holds exactly `names`.
fn assert_stored(cluster: &Cluster, names: &[&str]) {
    let want: BTreeSet<String> = names.iter().map(|n| (*n).to_owned()).collect();
    assert_eq!(cluster.stored_files(), want);
}

/// Starts a slow download, SIGKILLs the whole engine once the API shows at
/// least `progress` bytes stored, releases the throttle, starts the engine
/// again and waits for the download to complete. Returns the file server,
/// the file and the movie id, after checking the stored file.
fn kill_the_engine_mid_download(progress: u64) -> (FileServer, ServedFile, Cluster, String) {
    // Arrange
    let files = FileServer::start();
    let slow = files.add_slow("slow.bin", SLOW_SIZE, 512 * 1024);
    let mut cluster = Cluster::start(Backend::Sqlite);
    let id = cluster.create(&json!({"name": "interrupted", "url": slow.url}))["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let caught = cluster.wait_movie(&id, &format!("{progress} bytes stored"), |m| {
        m["state"] == "downloading" && m["bytes_downloaded"].as_u64() >= Some(progress)
    });
    assert!(
        caught["bytes_downloaded"].as_u64() < Some(SLOW_SIZE),
        "caught mid-download: {caught}"
    );

    // Act: SIGKILL the master and every worker at once, then start again.
    cluster.kill_engine_hard();
    files.release(&slow);
    cluster.restart_engine();

    // Assert
    let done = cluster.wait_downloaded(&id);
    assert_eq!(done["checksum"], slow.checksum().as_str(), "{done}");
    assert_eq!(done["size"], SLOW_SIZE, "{done}");
    let stored = std::fs::read(cluster.storage_dir().join(&id)).expect("the stored file");
    assert_eq!(stored.len() as u64, SLOW_SIZE);
    assert_eq!(sha256_hex(&stored), slow.sha256);
    assert_stored(&cluster, &[&id]);
    let hits = files.hits("slow.bin");
    assert!(hits.len() >= 2, "fetched again after the kill: {hits:#?}");
    (files, slow, cluster, id)
}

#[test]
fn a_download_interrupted_by_a_killed_engine_is_completed_by_the_restarted_one() {
    kill_the_engine_mid_download(1);
}

#[test]
fn a_download_killed_after_a_megabyte_resumes_from_its_part_file_with_the_right_checksum() {
    // More than the downloader's 1 MiB write buffer: the .part holds a prefix.
    let (files, _slow, _cluster, _id) = kill_the_engine_mid_download(1536 * 1024);

    let hits = files.hits("slow.bin");
    let resumed = hits.iter().find(|h| h.status == 206);
    assert!(
        resumed.is_some_and(|h| h.range.as_deref().is_some_and(|r| r != "bytes=0-")),
        "the restarted engine asked for the rest only: {hits:#?}"
    );
}

#[test]
fn a_download_from_a_private_address_is_refused_when_private_networks_are_not_allowed() {
    // Arrange
    let files = FileServer::start();
    let file = files.add("private.bin", 1000);
    let cluster = Cluster::start_with(Backend::Sqlite, |config| {
        config.set("engine", "allow_private_networks", "false")
    });

    // Act
    let id = cluster.create(&json!({"name": "private", "url": file.url}))["id"]
        .as_str()
        .expect("an id")
        .to_owned();

    // Assert
    let movie = cluster.wait_movie(&id, "the error state", |m| m["state"] == "error");
    let error = movie["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("refus") && error.contains("127.0.0.1"),
        "a readable refusal naming the address: {movie}"
    );
    assert!(movie["checksum"].is_null(), "{movie}");
    assert!(
        files.all_hits().is_empty(),
        "nothing was fetched: {:?}",
        files.all_hits()
    );
    assert_stored(&cluster, &[]);
}

#[test]
fn a_url_that_answers_404_leaves_the_movie_in_error_naming_the_status() {
    // Arrange
    let files = FileServer::start();
    let cluster = Cluster::start(Backend::Sqlite);

    // Act
    let id = cluster.create(&json!({"name": "missing", "url": files.url("missing.bin")}))["id"]
        .as_str()
        .expect("an id")
        .to_owned();

    // Assert
    let movie = cluster.wait_movie(&id, "the error state", |m| m["state"] == "error");
    let error = movie["error"].as_str().unwrap_or_default();
    assert!(error.contains("404"), "the error names the status: {movie}");
    assert!(
        movie["checksum"].is_null() && movie["size"].is_null(),
        "{movie}"
    );
    assert_eq!(files.hits("missing.bin").len(), 1, "a 404 is not retried");
    assert_stored(&cluster, &[]);
}

#[test]
fn deleting_a_movie_mid_download_stops_the_download_and_leaves_no_file() {
    // Arrange
    let files = FileServer::start();
    let slow = files.add_slow("deleted.bin", SLOW_SIZE, SLOW_RATE);
    let cluster = Cluster::start(Backend::Sqlite);
    let id = cluster.create(&json!({"name": "deleted", "url": slow.url}))["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    cluster.wait_mid_download(&id);

    // Act
    let deleted = cluster.delete_movie(&id);

    // Assert
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    eventually("the engine to hang up on the file server", || {
        let hits = files.hits("deleted.bin");
        ensure(
            hits.iter().all(|h| h.outcome == Outcome::ClientGone),
            || format!("{hits:?}"),
        )
    });
    eventually("the .part to be removed", || {
        let stored = cluster.stored_files();
        ensure(stored.is_empty(), || format!("{stored:?}"))
    });
    consistently(Duration::from_secs(2), "an empty storage directory", || {
        let stored = cluster.stored_files();
        ensure(stored.is_empty(), || format!("{stored:?}"))
    });
    assert_eq!(cluster.get_movie(&id).status, 404);
    assert_eq!(files.hits("deleted.bin").len(), 1, "not fetched again");
}

#[test]
fn changing_the_url_mid_download_stores_the_new_file() {
    // Arrange
    let files = FileServer::start();
    let slow = files.add_slow("old.bin", SLOW_SIZE, SLOW_RATE);
    let new = files.add("new.bin", 700_000);
    let cluster = Cluster::start(Backend::Sqlite);
    let id = cluster.create(&json!({"name": "moved", "url": slow.url}))["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    cluster.wait_mid_download(&id);

    // Act
    let moved = cluster.update_movie(&id, &json!({"url": new.url}));

    // Assert
    assert_eq!(moved.status, 200, "{}", moved.text());
    let done = cluster.wait_movie(&id, "the new file downloaded", |m| {
        m["state"] == "downloaded" || m["state"] == "error"
    });
    assert_eq!(done["state"], "downloaded", "{done}");
    assert_eq!(done["checksum"], new.checksum().as_str(), "{done}");
    assert_eq!(done["size"], new.size, "{done}");
    assert_eq!(done["url"], new.url.as_str(), "{done}");
    let stored = std::fs::read(cluster.storage_dir().join(&id)).expect("the stored file");
    assert_eq!(sha256_hex(&stored), new.sha256);
    eventually("the old download to be abandoned", || {
        let hits = files.hits("old.bin");
        ensure(
            hits.iter().all(|h| h.outcome == Outcome::ClientGone),
            || format!("{hits:?}"),
        )
    });
    assert_stored(&cluster, &[&id]);
    consistently(Duration::from_secs(2), "the new file stays", || {
        let movie = cluster.movie(&id);
        ensure(movie["checksum"] == new.checksum().as_str(), || {
            movie.to_string()
        })
    });
}
