//! Movies belong to a project (CONTRACT §8): a create records the caller's
//! project and user; members reach only their project's movies, admins any
//! movie by id and every project's in a listing when they ask; names are
//! unique within a project; a store from before owners migrates with its
//! movies ownerless.

use engine::db::Store;
use engine::test_util::{Backend, TestDb};
use engine::{Caller, Error, ListQuery, Movie, MovieUpdate, NewMovie, SortKey};
use uuid::Uuid;

use super::raw::{Raw, unique_indexes};
use super::support::{anyone, fresh, movie};

on_every_backend!(
    a_create_records_the_callers_project_and_user,
    a_member_reaches_only_its_projects_movies,
    an_admin_reaches_any_movie_by_id_and_lists_every_project_when_it_asks,
    a_listing_holds_the_projects_movies_whatever_a_member_asks,
    a_name_is_unique_within_its_project,
    pages_and_markers_stay_within_the_project,
    a_create_retried_with_another_projects_id_is_refused,
    a_store_with_movies_migrates_to_ownerless_movies,
);

fn alice() -> Caller {
    Caller::member("project-a", "alice")
}

fn bob() -> Caller {
    Caller::member("project-b", "bob")
}

fn admin() -> Caller {
    Caller::admin("project-admin", "root")
}

fn rename(name: &str) -> MovieUpdate {
    MovieUpdate {
        name: Some(name.into()),
        ..MovieUpdate::default()
    }
}

fn every_project() -> ListQuery {
    ListQuery {
        all_projects: true,
        ..ListQuery::default()
    }
}

/// The names a caller lists, by name.
async fn names(store: &Store, caller: &Caller, mut query: ListQuery) -> Vec<String> {
    query.sort_key = SortKey::Name;
    let movies = store.list(caller, &query).await.expect("list");
    movies.into_iter().map(|m| m.name).collect()
}

/// A movie of project A, one of project B and an ownerless one.
async fn seed(store: &Store) -> [Movie; 3] {
    let a = store.create(&alice(), &movie("A's", None)).await;
    let b = store.create(&bob(), &movie("B's", None)).await;
    let none = store.create(&anyone(), &movie("nobody's", None)).await;
    [a, b, none].map(|created| created.expect("create"))
}

async fn a_create_records_the_callers_project_and_user(backend: Backend) {
    let (_db, store) = fresh(backend);

    let [a, _, none] = seed(&store).await;
    let by_admin = store
        .create(&admin(), &movie("admin's", None))
        .await
        .expect("create");

    let owner = |m: &Movie| (m.project_id.clone(), m.user_id.clone());
    assert_eq!(owner(&a), (Some("project-a".into()), Some("alice".into())));
    assert_eq!(owner(&none), (None, None));
    assert_eq!(
        owner(&by_admin),
        (Some("project-admin".into()), Some("root".into()))
    );
    let read = store.get(&alice(), a.id).await.expect("get");
    assert_eq!(read, a);
    let shown = serde_json::to_value(&none).expect("json");
    assert!(
        shown["project_id"].is_null() && shown["user_id"].is_null(),
        "{shown}"
    );
}

async fn a_member_reaches_only_its_projects_movies(backend: Backend) {
    let (_db, store) = fresh(backend);
    let [a, b, none] = seed(&store).await;

    for hidden in [&b, &none] {
        let not_found = Err(Error::not_found(hidden.id));
        assert_eq!(store.get(&alice(), hidden.id).await, not_found);
        assert_eq!(
            store
                .update(&alice(), hidden.id, &rename("mine"))
                .await
                .map(drop),
            not_found.clone().map(drop)
        );
        assert_eq!(store.delete(&alice(), hidden.id).await, not_found.map(drop));
        assert_eq!(
            store.get(&anyone(), hidden.id).await.expect("still there"),
            *hidden,
            "nothing changed"
        );
    }

    let renamed = store
        .update(&alice(), a.id, &rename("A's, renamed"))
        .await
        .expect("update");
    assert_eq!(renamed.movie.project_id.as_deref(), Some("project-a"));
    store.delete(&alice(), a.id).await.expect("delete");
    assert_eq!(
        store.get(&anyone(), a.id).await,
        Err(Error::not_found(a.id))
    );
}

async fn an_admin_reaches_any_movie_by_id_and_lists_every_project_when_it_asks(backend: Backend) {
    let (_db, store) = fresh(backend);
    let [a, b, none] = seed(&store).await;
    store
        .create(&admin(), &movie("admin's", None))
        .await
        .expect("create");

    for movie in [&a, &b, &none] {
        assert_eq!(store.get(&admin(), movie.id).await.as_ref(), Ok(movie));
    }
    let updated = store
        .update(&admin(), b.id, &rename("B's, by admin"))
        .await
        .expect("update");
    assert_eq!(
        (
            updated.movie.project_id.as_deref(),
            updated.movie.user_id.as_deref()
        ),
        (Some("project-b"), Some("bob")),
        "an update never changes the owner"
    );
    store.delete(&admin(), none.id).await.expect("delete");

    assert_eq!(
        names(&store, &admin(), ListQuery::default()).await,
        ["admin's"]
    );
    assert_eq!(
        names(&store, &admin(), every_project()).await,
        ["A's", "B's, by admin", "admin's"]
    );
}

async fn a_listing_holds_the_projects_movies_whatever_a_member_asks(backend: Backend) {
    let (_db, store) = fresh(backend);
    seed(&store).await;
    store
        .create(
            &Caller::member("project-a", "carol"),
            &movie("carol's", None),
        )
        .await
        .expect("create");

    assert_eq!(
        names(&store, &alice(), ListQuery::default()).await,
        ["A's", "carol's"]
    );
    assert_eq!(
        names(&store, &alice(), every_project()).await,
        ["A's", "carol's"],
        "all_projects is for admins"
    );
    assert_eq!(names(&store, &bob(), every_project()).await, ["B's"]);
    assert_eq!(
        names(&store, &anyone(), ListQuery::default()).await,
        ["A's", "B's", "carol's", "nobody's"],
        "trusted infrastructure sees every movie"
    );
}

async fn a_name_is_unique_within_its_project(backend: Backend) {
    let (_db, store) = fresh(backend);
    let in_a = store
        .create(&alice(), &movie("Alien", None))
        .await
        .expect("create");
    let in_b = store
        .create(&bob(), &movie("Alien", None))
        .await
        .expect("the same name in another project");
    let ownerless = store
        .create(&anyone(), &movie("Alien", None))
        .await
        .expect("the same name without an owner");
    let other_in_a = store
        .create(
            &Caller::member("project-a", "carol"),
            &movie("Aliens", None),
        )
        .await
        .expect("create");

    let taken: Result<Movie, Error> = Err(Error::MovieExists {
        name: "Alien".into(),
    });
    let carol = Caller::member("project-a", "carol");
    assert_eq!(
        store
            .create(&carol, &movie("Alien", Some(1)))
            .await
            .map(drop),
        taken.clone().map(drop)
    );
    assert_eq!(
        store
            .create(&anyone(), &movie("Alien", Some(1)))
            .await
            .map(drop),
        taken.clone().map(drop),
        "ownerless names are unique among themselves"
    );
    assert_eq!(
        store
            .update(&alice(), other_in_a.id, &rename("Alien"))
            .await
            .map(drop),
        taken.clone().map(drop)
    );
    store
        .update(&bob(), in_b.id, &rename("Aliens"))
        .await
        .expect("A's names do not bind B");

    let mut all = names(&store, &anyone(), ListQuery::default()).await;
    all.sort();
    assert_eq!(all, ["Alien", "Alien", "Aliens", "Aliens"]);
    assert_ne!(in_a.id, ownerless.id);
}

async fn pages_and_markers_stay_within_the_project(backend: Backend) {
    let (_db, store) = fresh(backend);
    let mut mine = Vec::new();
    let mut theirs = Vec::new();
    // Interleaved, and under the same names, so that a page filtered after
    // reading would come up short and ties across projects would show.
    for i in 0..7 {
        let name = format!("movie {i}");
        mine.push(
            store
                .create(&alice(), &movie(&name, None))
                .await
                .expect("create"),
        );
        theirs.push(
            store
                .create(&bob(), &movie(&name, None))
                .await
                .expect("create"),
        );
    }

    for sort_key in [SortKey::Name, SortKey::CreatedAt, SortKey::Rank] {
        let mut query = ListQuery {
            limit: 3,
            sort_key,
            ..ListQuery::default()
        };
        let mut seen = Vec::new();
        loop {
            let page = store.list(&alice(), &query).await.expect("list");
            seen.extend(page.iter().map(|m| m.id));
            match page.last() {
                Some(last) if page.len() == 3 => query.marker = Some(last.id),
                _ => break,
            }
        }
        let mut expected: Vec<Uuid> = mine.iter().map(|m| m.id).collect();
        seen.sort();
        expected.sort();
        assert_eq!(seen, expected, "{sort_key:?}");
    }

    let foreign = theirs[3].id;
    let listed = store
        .list(
            &alice(),
            &ListQuery {
                marker: Some(foreign),
                ..ListQuery::default()
            },
        )
        .await;
    assert_eq!(
        listed,
        Err(Error::Invalid(format!("marker {foreign} not found")))
    );
    let everything = ListQuery {
        limit: 4,
        marker: Some(foreign),
        sort_key: SortKey::Name,
        ..every_project()
    };
    let after = store.list(&admin(), &everything).await.expect("list");
    assert_eq!(after.len(), 4, "an admin's marker may be any project's");
    assert!(after.iter().all(|m| m.name.as_str() >= "movie 3"));
}

async fn a_create_retried_with_another_projects_id_is_refused(backend: Backend) {
    let (_db, store) = fresh(backend);
    let id = Uuid::new_v4();
    let new = NewMovie {
        uuid: Some(id),
        ..movie("Alien", Some(3))
    };
    let first = store.create(&alice(), &new).await.expect("create");

    let retried = store.create(&alice(), &new).await;
    let from_b = store.create(&bob(), &new).await;
    let unscoped = store.create(&anyone(), &new).await;

    assert_eq!(retried, Ok(first.clone()), "a retry gets the movie it made");
    for refused in [from_b, unscoped] {
        assert_eq!(
            refused,
            Err(Error::MovieExists {
                name: "Alien".into()
            }),
            "another project never gets the movie"
        );
    }
    assert_eq!(store.get(&anyone(), id).await, Ok(first));
    assert_eq!(
        names(&store, &bob(), ListQuery::default()).await,
        Vec::<String>::new()
    );
}

/// The schema before owners.
const BEFORE_OWNERS: [(i64, &str); 3] = [
    (1, "0001_create_movies"),
    (2, "0002_store_identity"),
    (3, "0003_exact_name_collation"),
];

async fn a_store_with_movies_migrates_to_ownerless_movies(backend: Backend) {
    // Arrange: movies written by an engine of the schema before owners.
    let db = TestDb::unmigrated(backend);
    let mut raw = Raw::connect(&db).await;
    raw.apply_old_schema(backend, &BEFORE_OWNERS).await;
    let mut old = Vec::new();
    for name in ["Alien", "alien", "Brazil"] {
        old.push(raw.insert_old_movie(name).await.expect("insert"));
    }
    let store = db.store();

    // Act
    let report = store.migrate().await.expect("migrate");

    // Assert: each movie is kept, ownerless, under its name.
    assert_eq!(report.applied, ["0004_movie_owner"], "{report}");
    for id in &old {
        let movie = store.get(&admin(), *id).await.expect("an admin reaches it");
        assert_eq!((movie.project_id, movie.user_id), (None, None));
        assert_eq!(store.get(&alice(), *id).await, Err(Error::not_found(*id)));
    }
    assert_eq!(
        names(&store, &admin(), every_project()).await,
        ["Alien", "Brazil", "alien"]
    );
    assert!(
        names(&store, &alice(), ListQuery::default())
            .await
            .is_empty()
    );
    assert_eq!(
        store
            .create(&anyone(), &movie("Alien", None))
            .await
            .map(drop),
        Err(Error::MovieExists {
            name: "Alien".into()
        }),
        "ownerless names stay unique"
    );
    store
        .create(&alice(), &movie("Alien", None))
        .await
        .expect("a project may take an ownerless movie's name");
    assert_eq!(
        unique_indexes(&mut raw, backend).await,
        ["ux_movies_project_name"]
    );
    raw.close().await;
    store.close().await;
}
