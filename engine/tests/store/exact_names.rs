//! A store made before names compared exactly on every backend (the schema
//! of migrations 0001–0002), with movies in it, migrates: every row stays,
//! the unique index still refuses a taken name, and names compare and sort
//! code point by code point, blanks included. The movies are written as
//! the engine of that schema wrote them, without owners.

use engine::db::Store;
use engine::test_util::{Backend, TestDb};
use engine::{Error, ListQuery, SortKey};

use super::raw::{Raw, name_indexes};
use super::support::{anyone, movie};

on_every_backend!(a_store_with_movies_migrates_to_exact_name_comparison);

/// The migrations of the schema before names compared exactly.
const BEFORE: [(i64, &str); 2] = [(1, "0001_create_movies"), (2, "0002_store_identity")];

/// Names a case-folding, accent-aware or blank-padding collation orders or
/// equates differently from code points.
const NAMES: [&str; 11] = [
    "Alien",
    "alien",
    "Amélie",
    "amelie",
    "Émile",
    "Zorro",
    "zebra",
    "b",
    "B",
    "東京物語",
    "trail",
];

async fn names_by_name(store: &Store) -> Vec<String> {
    let query = ListQuery {
        sort_key: SortKey::Name,
        ..ListQuery::default()
    };
    let movies = store.list(&anyone(), &query).await.expect("list by name");
    movies.into_iter().map(|movie| movie.name).collect()
}

fn in_code_point_order(names: &[&str]) -> Vec<String> {
    let mut sorted: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
    sorted.sort();
    sorted
}

/// The collation the name column has after the migration, as the catalog says.
async fn name_collation(raw: &mut Raw, backend: Backend) -> Vec<String> {
    let sql = match backend {
        Backend::Sqlite => return vec!["BINARY".to_owned()],
        Backend::Postgres => {
            "SELECT c.collname::text FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation \
             WHERE a.attrelid = 'movies'::regclass AND a.attname = 'name'"
        }
        Backend::MySql => {
            "SELECT COLLATION_NAME FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'movies' AND COLUMN_NAME = 'name'"
        }
    };
    raw.texts(sql).await
}

async fn a_store_with_movies_migrates_to_exact_name_comparison(backend: Backend) {
    // Arrange: the old schema and movies in it.
    let db = TestDb::unmigrated(backend);
    let mut raw = Raw::connect(&db).await;
    raw.apply_old_schema(backend, &BEFORE).await;
    if backend == Backend::Postgres {
        // A column that follows a linguistic locale, as one restored by hand
        // into a database whose default is not "C".
        raw.execute(
            r#"ALTER TABLE movies ALTER COLUMN name TYPE VARCHAR(255) COLLATE "und-x-icu""#,
        )
        .await;
    }
    for name in NAMES {
        raw.insert_old_movie(name).await.expect("insert");
    }
    let padded_before = raw.insert_old_movie("trail ").await;
    let order_before = raw.texts("SELECT name FROM movies ORDER BY name").await;
    let store = db.store();

    // Act
    let report = store.migrate().await.expect("migrate");

    // Assert: only the new migrations ran, and every movie is still there.
    assert_eq!(
        report.applied,
        ["0003_exact_name_collation", "0004_movie_owner"],
        "{report}"
    );
    let padded_after = match padded_before {
        // PAD SPACE took "trail " for "trail": the migration is what separates them.
        Err(error) if backend == Backend::MySql => {
            assert!(error.to_string().contains("Duplicate"), "{error}");
            store
                .create(&anyone(), &movie("trail ", None))
                .await
                .map(drop)
        }
        other => other.map(drop).map_err(|e| panic!("insert: {e}")),
    };
    assert_eq!(
        padded_after,
        Ok(()),
        "\"trail \" and \"trail\" are two names"
    );
    let mut every_name = NAMES.to_vec();
    every_name.push("trail ");
    assert_eq!(
        names_by_name(&store).await,
        in_code_point_order(&every_name)
    );
    if backend == Backend::Postgres {
        assert_ne!(
            order_before,
            in_code_point_order(&every_name),
            "the arranged column sorted linguistically"
        );
    }

    // Assert: the unique index still refuses a taken name, case and all.
    assert_eq!(
        store
            .create(&anyone(), &movie("Alien", Some(1)))
            .await
            .map(drop),
        Err(Error::MovieExists {
            name: "Alien".into()
        })
    );
    store
        .create(&anyone(), &movie("ALIEN", None))
        .await
        .expect("names are case-sensitive");
    let expected_collation = match backend {
        Backend::Sqlite => "BINARY",
        Backend::Postgres => "C",
        Backend::MySql => "utf8mb4_nopad_bin",
    };
    assert_eq!(
        name_collation(&mut raw, backend).await,
        [expected_collation]
    );
    assert_eq!(
        name_indexes(&mut raw, backend).await,
        [
            "ix_movies_name",
            "ix_movies_project_state_name",
            "ix_movies_state_name",
            "ux_movies_project_name"
        ]
    );
    raw.close().await;
    store.close().await;
}
