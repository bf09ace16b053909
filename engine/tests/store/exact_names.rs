//! A store made before names compared exactly on every backend (the schema
//! of migrations 0001–0002), with movies in it, migrates: every row stays,
//! the unique index still refuses a taken name, and names compare and sort
//! code point by code point, blanks included.

use engine::db::Store;
use engine::test_util::{Backend, TestDb};
use engine::{Error, ListQuery, SortKey};
use sqlx::mysql::MySqlConnection;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};

use super::support::movie;

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

/// A connection of its own to the test database, for what the store does not
/// do: old migrations by hand, and reading the catalog.
enum Raw {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
    MySql(MySqlConnection),
}

impl Raw {
    async fn connect(db: &TestDb) -> Raw {
        let url = db.url();
        let connected = match db.backend() {
            Backend::Sqlite => {
                let path = url.strip_prefix("sqlite:///").expect("a sqlite URL");
                SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .connect()
                    .await
                    .map(Raw::Sqlite)
            }
            Backend::Postgres => PgConnection::connect(url).await.map(Raw::Postgres),
            Backend::MySql => {
                MySqlConnection::connect(&url.replace("mysql+pymysql://", "mysql://"))
                    .await
                    .map(Raw::MySql)
            }
        };
        connected.unwrap_or_else(|e| panic!("connect to {url}: {e}"))
    }

    async fn execute(&mut self, sql: &str) {
        let raw = sqlx::raw_sql(AssertSqlSafe(sql.to_owned()));
        let done = match self {
            Raw::Sqlite(conn) => raw.execute(conn).await.map(drop),
            Raw::Postgres(conn) => raw.execute(conn).await.map(drop),
            Raw::MySql(conn) => raw.execute(conn).await.map(drop),
        };
        done.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    async fn texts(&mut self, sql: &str) -> Vec<String> {
        let sql_safe = || AssertSqlSafe(sql.to_owned());
        let rows = match self {
            Raw::Sqlite(conn) => sqlx::query_scalar(sql_safe()).fetch_all(conn).await,
            Raw::Postgres(conn) => sqlx::query_scalar(sql_safe()).fetch_all(conn).await,
            Raw::MySql(conn) => sqlx::query_scalar(sql_safe()).fetch_all(conn).await,
        };
        rows.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Applies [`BEFORE`] from the migration files and records them, as the
    /// runner of that release did.
    async fn apply_old_schema(&mut self, backend: Backend) {
        let dir = match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::MySql => "mysql",
        };
        self.execute(
            "CREATE TABLE schema_migrations (version BIGINT NOT NULL PRIMARY KEY, \
             name VARCHAR(255) NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .await;
        for (version, name) in BEFORE {
            let file = format!("{}/migrations/{dir}/{name}.sql", env!("CARGO_MANIFEST_DIR"));
            let sql = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
            for statement in statements(&sql) {
                self.execute(&statement).await;
            }
            self.execute(&format!(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ({version}, '{name}', 0)"
            ))
            .await;
        }
    }

    async fn close(self) {
        let closed = match self {
            Raw::Sqlite(conn) => conn.close().await,
            Raw::Postgres(conn) => conn.close().await,
            Raw::MySql(conn) => conn.close().await,
        };
        closed.expect("close the raw connection");
    }
}

/// The statements of a migration file, split as the runner splits them: at
/// each `;` that ends a line, `--` comment lines left out.
fn statements(sql: &str) -> Vec<String> {
    let kept: Vec<&str> = sql
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect();
    kept.join("\n")
        .split(";\n")
        .map(|statement| statement.trim().trim_end_matches(';').to_owned())
        .filter(|statement| !statement.is_empty())
        .collect()
}

async fn names_by_name(store: &Store) -> Vec<String> {
    let query = ListQuery {
        sort_key: SortKey::Name,
        ..ListQuery::default()
    };
    let movies = store.list(&query).await.expect("list by name");
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

/// The indexes on the name column.
async fn name_indexes(raw: &mut Raw, backend: Backend) -> Vec<String> {
    let sql = match backend {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'movies' \
             AND sql LIKE '%name)%' ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT indexname::text FROM pg_indexes WHERE tablename = 'movies' \
             AND indexdef LIKE '%name)%' ORDER BY indexname"
        }
        Backend::MySql => {
            "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'movies' AND COLUMN_NAME = 'name' \
             ORDER BY INDEX_NAME"
        }
    };
    raw.texts(sql).await
}

async fn a_store_with_movies_migrates_to_exact_name_comparison(backend: Backend) {
    // Arrange: the old schema and movies in it.
    let db = TestDb::unmigrated(backend);
    let mut raw = Raw::connect(&db).await;
    raw.apply_old_schema(backend).await;
    if backend == Backend::Postgres {
        // A column that follows a linguistic locale, as one restored by hand
        // into a database whose default is not "C".
        raw.execute(
            r#"ALTER TABLE movies ALTER COLUMN name TYPE VARCHAR(255) COLLATE "und-x-icu""#,
        )
        .await;
    }
    // The engine of before: its pool goes with it, as PostgreSQL would refuse
    // its statements prepared against the old collation.
    let old = db.separate_store();
    for name in NAMES {
        old.create(&movie(name, None)).await.expect("create");
    }
    let padded_before = old.create(&movie("trail ", None)).await;
    let order_before = names_by_name(&old).await;
    old.close().await;
    let store = db.store();

    // Act
    let report = store.migrate().await.expect("migrate");

    // Assert: only the new migration ran, and every movie is still there.
    assert_eq!(report.applied, ["0003_exact_name_collation"], "{report}");
    let padded_after = match padded_before {
        // PAD SPACE took "trail " for "trail": the migration is what separates them.
        Err(Error::MovieExists { .. }) if backend == Backend::MySql => {
            store.create(&movie("trail ", None)).await.map(drop)
        }
        other => other.map(drop),
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
        store.create(&movie("Alien", Some(1))).await.map(drop),
        Err(Error::MovieExists {
            name: "Alien".into()
        })
    );
    store
        .create(&movie("ALIEN", None))
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
        ["ix_movies_state_name", "ux_movies_name"]
    );
    raw.close().await;
    store.close().await;
}
