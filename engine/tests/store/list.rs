//! Listing: keyset pages in every order, the state filter, markers, and
//! whether a sorted page is read off an index.

use std::time::Duration;

use engine::db::Store;
use engine::test_util::Backend;
use engine::{Caller, Error, ListQuery, Movie, MovieState, SortDir, SortKey};
use uuid::Uuid;

use super::support::{anyone, fresh, movie};

on_every_backend!(
    pages_cover_every_movie_once_in_every_order,
    the_state_filter_keeps_only_that_state,
    an_unknown_marker_is_invalid,
    a_sorted_page_is_read_off_an_index,
);

/// Names whose byte order differs from a case-insensitive or accent-aware
/// order; ranks with ties and NULLs.
const MOVIES: &[(&str, Option<i64>)] = &[
    ("alien", Some(3)),
    ("Alien", None),
    ("Zulu", Some(3)),
    ("Émile", Some(-1)),
    ("b", None),
    ("B", Some(3)),
    ("aa", Some(10)),
    ("a b", None),
    ("Ab", Some(0)),
    ("zz", Some(3)),
    ("Ä", None),
];

async fn seed(store: &Store) -> Vec<Movie> {
    let mut movies = Vec::new();
    for (name, rank) in MOVIES {
        movies.push(
            store
                .create(&anyone(), &movie(name, *rank))
                .await
                .expect("create"),
        );
    }
    movies
}

/// The order the store must produce: NULL ranks as the largest, then id.
fn expected(movies: &[Movie], key: SortKey, dir: SortDir) -> Vec<Uuid> {
    let mut sorted = movies.to_vec();
    sorted.sort_by(|a, b| {
        let by_key = match key {
            SortKey::Name => a.name.cmp(&b.name),
            SortKey::CreatedAt => a.created_at.cmp(&b.created_at),
            SortKey::Rank => match (a.rank, b.rank) {
                (Some(x), Some(y)) => x.cmp(&y),
                (x, y) => y.is_some().cmp(&x.is_some()),
            },
        };
        let order = by_key.then(a.id.cmp(&b.id));
        if dir == SortDir::Desc {
            order.reverse()
        } else {
            order
        }
    });
    sorted.into_iter().map(|m| m.id).collect()
}

async fn every_page(store: &Store, mut query: ListQuery) -> Vec<Uuid> {
    let mut seen = Vec::new();
    loop {
        let page = store.list(&anyone(), &query).await.expect("list");
        assert!(page.len() <= query.limit as usize);
        seen.extend(page.iter().map(|m| m.id));
        match page.last() {
            Some(last) if page.len() == query.limit as usize => query.marker = Some(last.id),
            _ => return seen,
        }
    }
}

async fn pages_cover_every_movie_once_in_every_order(backend: Backend) {
    let (_db, store) = fresh(backend);
    let movies = seed(&store).await;

    for key in [SortKey::Name, SortKey::Rank, SortKey::CreatedAt] {
        for dir in [SortDir::Asc, SortDir::Desc] {
            for limit in [1, 3, 100] {
                let query = ListQuery {
                    limit,
                    marker: None,
                    sort_key: key,
                    sort_dir: dir,
                    state: None,
                    all_projects: false,
                };
                let seen = every_page(&store, query).await;
                assert_eq!(
                    seen,
                    expected(&movies, key, dir),
                    "{key:?} {dir:?} limit {limit}"
                );
            }
        }
    }
}

async fn the_state_filter_keeps_only_that_state(backend: Backend) {
    let (_db, store) = fresh(backend);
    let movies = seed(&store).await;
    let mut claimed = Vec::new();
    for _ in 0..4 {
        claimed.push(
            store
                .claim_next("engine-1", Duration::from_secs(60))
                .await
                .expect("claim")
                .expect("claimed"),
        );
    }
    store
        .finish(&claimed[0], 10, "sha256:00")
        .await
        .expect("finish");

    for key in [SortKey::Name, SortKey::Rank, SortKey::CreatedAt] {
        let query = |state| ListQuery {
            limit: 2,
            marker: None,
            sort_key: key,
            sort_dir: SortDir::Desc,
            state: Some(state),
            all_projects: false,
        };
        let downloading = every_page(&store, query(MovieState::Downloading)).await;
        let queued = every_page(&store, query(MovieState::Queued)).await;
        let downloaded = every_page(&store, query(MovieState::Downloaded)).await;

        let mut expected_downloading: Vec<Uuid> = claimed[1..].iter().map(|c| c.id).collect();
        expected_downloading.sort_by_key(|id| {
            expected(&movies, key, SortDir::Desc)
                .iter()
                .position(|x| x == id)
        });
        assert_eq!(downloading, expected_downloading, "{key:?}");
        assert_eq!(downloaded, vec![claimed[0].id]);
        assert_eq!(queued.len(), MOVIES.len() - 4);
    }
}

async fn an_unknown_marker_is_invalid(backend: Backend) {
    let (_db, store) = fresh(backend);
    seed(&store).await;
    let marker = Uuid::new_v4();

    let listed = store
        .list(
            &anyone(),
            &ListQuery {
                marker: Some(marker),
                ..ListQuery::default()
            },
        )
        .await;

    assert_eq!(
        listed,
        Err(Error::Invalid(format!("marker {marker} not found")))
    );
}

/// A full scan of `movies`, or a sort of its rows, in a plan line.
fn scans_or_sorts(backend: Backend, line: &str) -> bool {
    let line = line.trim().trim_start_matches("->").trim();
    match backend {
        Backend::Sqlite => line == "SCAN movies" || line.contains("USE TEMP B-TREE"),
        Backend::Postgres => line.starts_with("Seq Scan") || line.contains("Sort"),
        Backend::MySql => line.contains("type=ALL") || line.contains("filesort"),
    }
}

async fn a_sorted_page_is_read_off_an_index(backend: Backend) {
    let db = engine::test_util::TestDb::new(backend);
    let store = db.store();
    let mut movies = seed(&store).await;
    // Most movies in one project, as in a store with many: its pages and
    // every project's must both be index reads.
    let project = Caller::member("p", "u");
    for i in 0..200 {
        movies.push(
            store
                .create(
                    &project,
                    &movie(&format!("movie {i:03}"), (i % 3 > 0).then_some(i % 17)),
                )
                .await
                .expect("create"),
        );
    }
    db.analyze().await.expect("analyze");
    let marker = movies[100].id;

    let mut bad = Vec::new();
    for (key, caller) in [SortKey::Name, SortKey::Rank, SortKey::CreatedAt]
        .into_iter()
        .flat_map(|key| [(key, anyone()), (key, project.clone())])
    {
        for dir in [SortDir::Asc, SortDir::Desc] {
            for (marker, state) in [
                (None, None),
                (Some(marker), None),
                (Some(marker), Some(MovieState::Queued)),
            ] {
                // MariaDB's cost model sorts a table this small in memory for a
                // first page (it reads the index once the table holds some
                // thousands of rows); pages after a marker must be index reads.
                if backend == Backend::MySql && marker.is_none() {
                    continue;
                }
                let query = ListQuery {
                    limit: 20,
                    marker,
                    sort_key: key,
                    sort_dir: dir,
                    state,
                    all_projects: false,
                };
                let plan = db.explain_list(&caller, &query).await.expect("explain");
                if plan.iter().any(|line| scans_or_sorts(backend, line)) {
                    bad.push(format!(
                        "{key:?} {dir:?} marker {} state {state:?} project {:?}: {plan:#?}",
                        marker.is_some(),
                        caller.project_id(),
                    ));
                }
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
