//! The movie store against SQLite, PostgreSQL and MariaDB. Every behaviour is
//! an `async fn(Backend)` run once per backend, each run on a fresh database
//! (`TestDb`), so tests run in parallel without meeting.
//!
//! Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust) and MariaDB on
//! 127.0.0.1:3306 (root, no password).

/// Turns each `async fn name(Backend)` of the calling module into three
/// tests: `sqlite::name`, `postgres::name`, `mysql::name`.
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        on_every_backend!(@backend sqlite, Sqlite, $($name),*);
        on_every_backend!(@backend postgres, Postgres, $($name),*);
        on_every_backend!(@backend mysql, MySql, $($name),*);
    };
    (@backend $module:ident, $backend:ident, $($name:ident),*) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(engine::test_util::Backend::$backend).await;
                }
            )*
        }
    };
}

mod store {
    // Creating, reading, updating and deleting movies; unique names.
    mod crud;
    // Listing: keyset pages in every order, filters, markers, index use.
    mod list;
    // Download claims across owners: exclusivity, staleness, progress.
    mod claims;
    // Migrations: idempotent, concurrent; connecting and retries.
    mod migrate;
    // The store bound to its storage directory; repeated creates.
    mod binding;
    // Names compare exactly on every backend, also after migrating a store with movies.
    mod exact_names;
    // Movies belong to a project: ownership, scoping, per-project names, the migration.
    mod owners;
    // A raw connection: old schemas, rows as older engines wrote them, the catalog.
    mod raw;
    // Helpers shared by the modules above.
    mod support;
}
