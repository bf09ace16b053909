//! Migrations (idempotent, safe to run from many places at once) and
//! connecting (retries, redaction, SQLite files).

use std::time::Duration;

use engine::db::{DatabaseUrl, DbError, Store};
use engine::test_util::{Backend, TestDb};

use super::support::{anyone, movie};

on_every_backend!(
    migrating_twice_changes_nothing,
    concurrent_migrations_all_succeed
);

async fn migrating_twice_changes_nothing(backend: Backend) {
    let db = TestDb::new(backend);
    let store = db.store();

    let first = store.migrate().await.expect("migrate");
    let second = store.migrate().await.expect("migrate");

    assert!(
        first.applied.is_empty(),
        "TestDb::new migrated already: {first}"
    );
    assert!(second.applied.is_empty());
}

async fn concurrent_migrations_all_succeed(backend: Backend) {
    let db = TestDb::unmigrated(backend);

    // Separate pools, as engine workers starting together have.
    let runs: Vec<_> = (0..6)
        .map(|_| {
            let store = db.separate_store();
            tokio::spawn(async move { store.migrate().await })
        })
        .collect();
    let mut applied = Vec::new();
    for run in runs {
        applied.extend(run.await.expect("task").expect("migrate").applied);
    }

    applied.sort();
    assert_eq!(applied, every_migration(), "each migration applied once");
    db.store()
        .create(&anyone(), &movie("Alien", None))
        .await
        .expect("the schema works");
}

#[tokio::test]
async fn connecting_retries_then_fails_without_showing_the_password() {
    let url = DatabaseUrl::parse("postgresql+psycopg2://pymsboot:s3cret@127.0.0.1:1/pymsboot")
        .expect("url");

    let error = Store::connect(&url, 1, 2, Duration::from_millis(10))
        .await
        .expect_err("nothing listens on port 1");

    assert!(
        matches!(error, DbError::Connect { attempts: 3, .. }),
        "{error:?}"
    );
    let shown = format!("{error} {error:?}");
    assert!(
        shown.contains("pymsboot:***@127.0.0.1:1") && !shown.contains("s3cret"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_sqlite_file_and_its_directory_are_created_in_wal_mode() {
    let dir =
        std::env::temp_dir().join(format!("pymsboot-store-{}", uuid::Uuid::new_v4().simple()));
    let file = dir.join("nested/var/pymsboot.sqlite");
    let url = DatabaseUrl::parse(&format!("sqlite:///{}", file.display())).expect("url");

    let store = Store::connect(&url, 2, 0, Duration::ZERO)
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    store
        .create(&anyone(), &movie("Alien", None))
        .await
        .expect("create");

    assert!(file.exists());
    assert!(
        dir.join("nested/var/pymsboot.sqlite-wal").exists(),
        "journal_mode is WAL"
    );
    store.close().await;
    std::fs::remove_dir_all(dir).expect("clean up");
}

#[tokio::test]
async fn an_in_memory_sqlite_store_keeps_its_data_across_connections() {
    let url = DatabaseUrl::parse("sqlite://").expect("url");
    let store = Store::connect(&url, 3, 0, Duration::ZERO)
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");

    let created = store
        .create(&anyone(), &movie("Alien", None))
        .await
        .expect("create");
    let reads = futures_join(&store, created.id).await;

    assert!(reads.iter().all(|name| name == "Alien"));
}

async fn futures_join(store: &Store, id: uuid::Uuid) -> Vec<String> {
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.get(&anyone(), id).await.expect("get").name })
        })
        .collect();
    let mut names = Vec::new();
    for task in tasks {
        names.push(task.await.expect("task"));
    }
    names
}

/// The names of the migrations shipped, oldest first (one file per backend).
fn every_migration() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("the migrations directory")
        .map(|entry| {
            let name = entry.expect("an entry").file_name();
            name.to_string_lossy().trim_end_matches(".sql").to_owned()
        })
        .collect();
    names.sort();
    names
}
