//! Download claims: one owner per movie across processes, stale claims taken
//! over, progress refused once a claim has ended.

use std::collections::HashSet;
use std::time::Duration;

use engine::MovieState;
use engine::db::Claim;
use engine::test_util::{Backend, TestDb};
use uuid::Uuid;

use super::support::{anyone, fresh, movie};

on_every_backend!(
    concurrent_claimers_never_get_the_same_movie,
    the_oldest_claimable_movie_is_claimed_first,
    a_fresh_claim_is_kept_and_a_stale_one_taken_over,
    progress_is_refused_after_delete_or_url_change,
    finish_fail_and_release_end_a_claim,
);

const MINUTE: Duration = Duration::from_secs(60);

async fn concurrent_claimers_never_get_the_same_movie(backend: Backend) {
    let db = TestDb::new(backend);
    let store = db.store();
    let mut ids = HashSet::new();
    for i in 0..20 {
        ids.insert(
            store
                .create(&anyone(), &movie(&format!("movie {i}"), None))
                .await
                .expect("create")
                .id,
        );
    }

    // Each claimer has a pool of its own, as separate engine processes do.
    let claimers: Vec<_> = (0..8)
        .map(|n| {
            let store = db.separate_store();
            tokio::spawn(async move {
                let mut claims = Vec::new();
                while let Some(claim) = store
                    .claim_next(&format!("engine-{n}"), MINUTE)
                    .await
                    .expect("claim")
                {
                    claims.push(claim);
                }
                claims
            })
        })
        .collect();
    let mut claimed: Vec<Claim> = Vec::new();
    for claimer in claimers {
        claimed.extend(claimer.await.expect("claimer"));
    }

    let claimed_ids: HashSet<Uuid> = claimed.iter().map(|c| c.id).collect();
    assert_eq!(claimed.len(), 20, "every movie claimed exactly once");
    assert_eq!(claimed_ids, ids);
    for claim in &claimed {
        let stored = store.get(&anyone(), claim.id).await.expect("get");
        assert_eq!(stored.state, MovieState::Downloading);
        assert!(
            store.record_progress(claim, 1).await.expect("progress"),
            "{claim:?} is held"
        );
    }
}

async fn the_oldest_claimable_movie_is_claimed_first(backend: Backend) {
    let (_db, store) = fresh(backend);
    let first = store
        .create(&anyone(), &movie("first", Some(9)))
        .await
        .expect("create");
    let second = store
        .create(&anyone(), &movie("second", Some(1)))
        .await
        .expect("create");

    let a = store
        .claim_next("a", MINUTE)
        .await
        .expect("claim")
        .expect("claimed");
    let b = store
        .claim_next("b", MINUTE)
        .await
        .expect("claim")
        .expect("claimed");
    let none = store.claim_next("c", MINUTE).await.expect("claim");

    assert_eq!(
        (a.id, a.owner.as_str(), a.url.as_str()),
        (first.id, "a", first.url.as_str())
    );
    assert_eq!((b.id, b.owner.as_str()), (second.id, "b"));
    assert_eq!(none, None);
}

async fn a_fresh_claim_is_kept_and_a_stale_one_taken_over(backend: Backend) {
    let (_db, store) = fresh(backend);
    let created = store
        .create(&anyone(), &movie("Alien", None))
        .await
        .expect("create");
    let old = store
        .claim(created.id, "engine-a", MINUTE)
        .await
        .expect("claim")
        .expect("claimed");
    store.heartbeat("engine-a").await.expect("heartbeat");

    let while_fresh = store
        .claim(created.id, "engine-b", MINUTE)
        .await
        .expect("claim");
    let next_while_fresh = store.claim_next("engine-b", MINUTE).await.expect("claim");
    // With no grace at all, any heartbeat already written is stale.
    let taken = store
        .claim_next("engine-b", Duration::ZERO)
        .await
        .expect("claim")
        .expect("stale");

    assert_eq!((while_fresh, next_while_fresh), (None, None));
    assert_eq!(
        (taken.id, taken.owner.as_str(), taken.generation),
        (created.id, "engine-b", old.generation)
    );
    assert!(
        !store.record_progress(&old, 10).await.expect("progress"),
        "the old owner lost it"
    );
    assert!(store.record_progress(&taken, 10).await.expect("progress"));
    assert_eq!(
        store
            .get(&anyone(), created.id)
            .await
            .expect("get")
            .bytes_downloaded,
        10
    );
}

async fn progress_is_refused_after_delete_or_url_change(backend: Backend) {
    let (_db, store) = fresh(backend);
    let deleted = store
        .create(&anyone(), &movie("deleted", None))
        .await
        .expect("create");
    let moved = store
        .create(&anyone(), &movie("moved", None))
        .await
        .expect("create");
    let deleted_claim = store
        .claim(deleted.id, "e", MINUTE)
        .await
        .expect("claim")
        .expect("claimed");
    let moved_claim = store
        .claim(moved.id, "e", MINUTE)
        .await
        .expect("claim")
        .expect("claimed");

    store.delete(&anyone(), deleted.id).await.expect("delete");
    let new_url = engine::MovieUpdate {
        url: Some("http://example.com/other".into()),
        ..Default::default()
    };
    store
        .update(&anyone(), moved.id, &new_url)
        .await
        .expect("update");

    for claim in [&deleted_claim, &moved_claim] {
        assert!(!store.record_progress(claim, 5).await.expect("progress"));
        assert!(!store.finish(claim, 5, "sha256:ab").await.expect("finish"));
        assert!(!store.fail(claim, "boom").await.expect("fail"));
    }
    assert_eq!(
        store.get(&anyone(), moved.id).await.expect("get").state,
        MovieState::Queued
    );
}

async fn finish_fail_and_release_end_a_claim(backend: Backend) {
    let (_db, store) = fresh(backend);
    let done = store
        .create(&anyone(), &movie("done", None))
        .await
        .expect("create");
    let failed = store
        .create(&anyone(), &movie("failed", None))
        .await
        .expect("create");
    let stopped = store
        .create(&anyone(), &movie("stopped", None))
        .await
        .expect("create");
    let claim = |id| {
        let store = store.clone();
        async move {
            store
                .claim(id, "e", MINUTE)
                .await
                .expect("claim")
                .expect("claimed")
        }
    };
    let (c_done, c_failed, c_stopped) = (
        claim(done.id).await,
        claim(failed.id).await,
        claim(stopped.id).await,
    );

    assert!(
        store
            .finish(&c_done, 42, "sha256:abcd")
            .await
            .expect("finish")
    );
    assert!(
        store
            .fail(&c_failed, "HTTP 404 from example.com")
            .await
            .expect("fail")
    );
    store.release(&c_stopped).await.expect("release");

    let done = store.get(&anyone(), done.id).await.expect("get");
    assert_eq!(
        (done.state, done.size, done.bytes_downloaded),
        (MovieState::Downloaded, Some(42), 42)
    );
    assert_eq!(done.checksum.as_deref(), Some("sha256:abcd"));
    let failed = store.get(&anyone(), failed.id).await.expect("get");
    assert_eq!(
        (failed.state, failed.error.as_deref()),
        (MovieState::Error, Some("HTTP 404 from example.com"))
    );
    assert_eq!(
        store.get(&anyone(), stopped.id).await.expect("get").state,
        MovieState::Queued
    );
    assert!(
        !store.record_progress(&c_done, 1).await.expect("progress"),
        "a finished claim has ended"
    );
    let again = store
        .claim_next("other", MINUTE)
        .await
        .expect("claim")
        .expect("released is claimable");
    assert_eq!(again.id, stopped.id);
    assert_eq!(
        store.claim(done.id, "other", MINUTE).await.expect("claim"),
        None
    );
}
