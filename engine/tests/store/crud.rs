//! Creating, reading, updating and deleting movies.

use std::time::Duration;

use engine::db::Updated;
use engine::test_util::Backend;
use engine::{Error, MovieState, MovieUpdate};
use serde_json::json;
use uuid::Uuid;

use super::support::{anyone, fresh, movie};

on_every_backend!(
    a_created_movie_is_queued_and_reads_back,
    create_keeps_a_given_uuid_and_refuses_a_taken_one,
    a_taken_name_is_refused_on_create_and_on_rename,
    an_unknown_movie_is_not_found,
    an_update_changes_only_the_given_fields,
    a_new_url_resets_the_download,
    a_deleted_movie_is_gone,
);

async fn a_created_movie_is_queued_and_reads_back(backend: Backend) {
    let (_db, store) = fresh(backend);
    let mut new = movie("Émile et les «ovnis» 🎬", Some(7));
    new.meta = json!({"genre": "sf", "tags": [1, 2]})
        .as_object()
        .cloned()
        .expect("object");

    let created = store.create(&anyone(), &new).await.expect("create");
    let read = store.get(&anyone(), created.id).await.expect("get");

    assert_eq!(read, created);
    assert_eq!(
        (read.name.as_str(), read.rank, read.url.as_str()),
        (new.name.as_str(), Some(7), new.url.as_str())
    );
    assert_eq!(read.state, MovieState::Queued);
    assert_eq!(
        (
            read.size,
            read.bytes_downloaded,
            &read.checksum,
            &read.error
        ),
        (None, 0, &None, &None)
    );
    assert_eq!(read.meta, new.meta);
    assert_eq!(read.created_at, read.updated_at);
    assert!(
        read.created_at.len() == 27 && read.created_at.ends_with('Z'),
        "{}",
        read.created_at
    );
}

async fn create_keeps_a_given_uuid_and_refuses_a_taken_one(backend: Backend) {
    let (_db, store) = fresh(backend);
    let id = Uuid::new_v4();
    let mut new = movie("Alien", None);
    new.uuid = Some(id);

    assert_eq!(store.create(&anyone(), &new).await.expect("create").id, id);
    new.name = "Aliens".into();
    let again = store.create(&anyone(), &new).await;

    assert!(matches!(again, Err(Error::MovieExists { .. })), "{again:?}");
    assert!(matches!(store.get(&anyone(), id).await, Ok(m) if m.name == "Alien"));
}

async fn a_taken_name_is_refused_on_create_and_on_rename(backend: Backend) {
    let (_db, store) = fresh(backend);
    store
        .create(&anyone(), &movie("Alien", None))
        .await
        .expect("create");
    let other = store
        .create(&anyone(), &movie("alien", None))
        .await
        .expect("names are case-sensitive");

    let created = store.create(&anyone(), &movie("Alien", Some(1))).await;
    let renamed = store
        .update(
            &anyone(),
            other.id,
            &MovieUpdate {
                name: Some("Alien".into()),
                ..Default::default()
            },
        )
        .await;

    assert_eq!(
        created,
        Err(Error::MovieExists {
            name: "Alien".into()
        })
    );
    assert_eq!(
        renamed,
        Err(Error::MovieExists {
            name: "Alien".into()
        })
    );
    assert_eq!(
        store.get(&anyone(), other.id).await.expect("get").name,
        "alien"
    );
}

async fn an_unknown_movie_is_not_found(backend: Backend) {
    let (_db, store) = fresh(backend);
    let id = Uuid::new_v4();
    let not_found = Err(Error::not_found(id));

    assert_eq!(store.get(&anyone(), id).await, not_found);
    assert_eq!(
        store.delete(&anyone(), id).await,
        not_found.clone().map(drop)
    );
    let update = MovieUpdate {
        name: Some("x".into()),
        ..Default::default()
    };
    assert_eq!(
        store.update(&anyone(), id, &update).await.map(drop),
        not_found.map(drop)
    );
}

async fn an_update_changes_only_the_given_fields(backend: Backend) {
    let (_db, store) = fresh(backend);
    let created = store
        .create(&anyone(), &movie("Alien", Some(3)))
        .await
        .expect("create");

    let rename = MovieUpdate {
        name: Some("Alien³".into()),
        ..Default::default()
    };
    let Updated {
        movie: renamed,
        url_changed,
    } = store
        .update(&anyone(), created.id, &rename)
        .await
        .expect("rename");
    let clear = MovieUpdate {
        rank: Some(None),
        meta: Some(json!({"a": 1}).as_object().cloned().expect("object")),
        url: Some(created.url.clone()),
        ..Default::default()
    };
    let Updated {
        movie: cleared,
        url_changed: same_url,
    } = store
        .update(&anyone(), created.id, &clear)
        .await
        .expect("clear rank");

    assert!(!url_changed && !same_url);
    assert_eq!((renamed.name.as_str(), renamed.rank), ("Alien³", Some(3)));
    assert_eq!(
        (cleared.name.as_str(), cleared.rank, cleared.meta.get("a")),
        ("Alien³", None, Some(&json!(1)))
    );
    assert_eq!(
        (cleared.url, cleared.created_at),
        (created.url, created.created_at.clone())
    );
    assert!(cleared.updated_at >= created.updated_at);
}

async fn a_new_url_resets_the_download(backend: Backend) {
    let (_db, store) = fresh(backend);
    let created = store
        .create(&anyone(), &movie("Alien", None))
        .await
        .expect("create");
    let claim = store
        .claim(created.id, "engine-1", Duration::from_secs(60))
        .await
        .expect("claim")
        .expect("claimed");
    assert!(store.record_progress(&claim, 1000).await.expect("progress"));

    let update = MovieUpdate {
        url: Some("https://example.org/alien.mkv".into()),
        ..Default::default()
    };
    let Updated {
        movie: updated,
        url_changed,
    } = store
        .update(&anyone(), created.id, &update)
        .await
        .expect("update");

    assert!(url_changed);
    assert_eq!(updated.state, MovieState::Queued);
    assert_eq!(
        (
            updated.bytes_downloaded,
            updated.size,
            updated.checksum,
            updated.error
        ),
        (0, None, None, None)
    );
    assert!(
        !store.record_progress(&claim, 2000).await.expect("progress"),
        "the old claim ended"
    );
    let next = store
        .claim_next("engine-2", Duration::from_secs(60))
        .await
        .expect("claim")
        .expect("claimable again");
    assert_eq!(
        (next.url.as_str(), next.generation),
        ("https://example.org/alien.mkv", claim.generation + 1)
    );
}

async fn a_deleted_movie_is_gone(backend: Backend) {
    let (_db, store) = fresh(backend);
    let kept = store
        .create(&anyone(), &movie("Alien", None))
        .await
        .expect("create");
    let deleted = store
        .create(&anyone(), &movie("Aliens", None))
        .await
        .expect("create");

    store.delete(&anyone(), deleted.id).await.expect("delete");

    assert_eq!(
        store.get(&anyone(), deleted.id).await,
        Err(Error::not_found(deleted.id))
    );
    assert_eq!(
        store.stored_ids().await.expect("ids"),
        [kept.id].into_iter().collect()
    );
}
