//! A storage directory bound to its database: the identity each database
//! gets, the marker, and the refusals that keep files safe from a database
//! that is not theirs. Also a repeated create with the same id.

use engine::store_marker::{self, BindError, MARKER_FILE};
use engine::test_util::{Backend, TestDb};

use super::support::{anyone, fresh, movie};

on_every_backend!(
    each_database_gets_its_own_identity_and_an_empty_one_is_reported,
    a_directory_bound_to_one_database_refuses_another,
    movie_files_without_a_marker_go_only_to_a_database_with_movies,
    a_create_repeated_with_the_same_id_answers_the_same_movie
);

fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("pymsboot-binding-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

async fn each_database_gets_its_own_identity_and_an_empty_one_is_reported(backend: Backend) {
    let empty = TestDb::unmigrated(backend);
    let store = empty.store();
    let report = store.migrate().await.expect("migrate");
    assert!(report.created_store, "{report}");
    assert!(!store.migrate().await.expect("again").created_store);
    let (_other_db, other) = fresh(backend);
    let one = store.identity().await.expect("read").expect("an identity");
    let two = other.identity().await.expect("read").expect("an identity");
    assert_ne!(one, two);
}

async fn a_directory_bound_to_one_database_refuses_another(backend: Backend) {
    let (_db, store) = fresh(backend);
    let (_other_db, other) = fresh(backend);
    let dir = temp_dir();
    store_marker::bind(&store, &dir, "first")
        .await
        .expect("binds");
    store_marker::bind(&store, &dir, "first")
        .await
        .expect("still its own");

    let refused = store_marker::bind(&other, &dir, "second").await;

    match refused {
        Err(BindError::Mismatch {
            dir_store,
            db_store,
            database,
            ..
        }) => {
            assert_eq!(Some(dir_store), store.identity().await.expect("read"));
            assert_eq!(Some(db_store), other.identity().await.expect("read"));
            assert_eq!(database, "second");
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    std::fs::remove_dir_all(&dir).ok();
}

async fn movie_files_without_a_marker_go_only_to_a_database_with_movies(backend: Backend) {
    let (_db, empty) = fresh(backend);
    let (_other_db, populated) = fresh(backend);
    populated
        .create(&anyone(), &movie("Kept", None))
        .await
        .expect("create");
    let dir = temp_dir();
    std::fs::write(dir.join(uuid::Uuid::new_v4().to_string()), b"a movie").expect("a file");

    let refused = store_marker::bind(&empty, &dir, "empty").await;
    assert!(
        matches!(refused, Err(BindError::Unclaimed { files: 1, .. })),
        "{refused:?}"
    );
    assert!(!dir.join(MARKER_FILE).exists());

    store_marker::bind(&populated, &dir, "populated")
        .await
        .expect("adopted");
    assert!(dir.join(MARKER_FILE).exists());
    std::fs::remove_dir_all(&dir).ok();
}

async fn a_create_repeated_with_the_same_id_answers_the_same_movie(backend: Backend) {
    let (_db, store) = fresh(backend);
    let mut new = movie("Once", Some(1));
    new.uuid = Some(uuid::Uuid::new_v4());

    let first = store.create(&anyone(), &new).await.expect("created");
    let again = store
        .create(&anyone(), &new)
        .await
        .expect("the same movie, not MovieExists");
    let mut other = new.clone();
    other.rank = Some(2);
    let changed = store.create(&anyone(), &other).await;

    assert_eq!(first, again);
    assert!(
        matches!(changed, Err(engine::Error::MovieExists { .. })),
        "{changed:?}"
    );
}
