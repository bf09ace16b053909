//! The migration runner: numbered SQL files under `engine/migrations/<backend>/`,
//! compiled into the binary, applied in order and recorded in
//! `schema_migrations`.
//!
//! Our own small runner rather than sqlx's: sqlx takes no lock on SQLite, so
//! two engine workers starting on one file could both apply a migration; and
//! embedding its migrations needs the macros feature. Here every backend is
//! serialized: a PostgreSQL advisory lock, a MySQL `GET_LOCK`, and SQLite's
//! write lock held by `BEGIN IMMEDIATE` for the whole run.

use std::collections::HashSet;
use std::fmt;

use sqlx::pool::PoolConnection;
use sqlx::{AssertSqlSafe, MySql, Postgres, Sqlite};

use super::pool::Pool;
use super::row::now_micros;
use super::{Backend, DbError, Store};

/// One schema change, in each backend's SQL.
struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
    mysql: &'static str,
}

macro_rules! migration {
    ($version:literal, $file:literal) => {
        Migration {
            version: $version,
            name: $file,
            sqlite: include_str!(concat!("../../migrations/sqlite/", $file, ".sql")),
            postgres: include_str!(concat!("../../migrations/postgres/", $file, ".sql")),
            mysql: include_str!(concat!("../../migrations/mysql/", $file, ".sql")),
        }
    };
}

/// Every migration, oldest first. A new one is a file per backend and a line here.
static MIGRATIONS: &[Migration] = &[
    migration!(1, "0001_create_movies"),
    migration!(2, "0002_store_identity"),
    migration!(3, "0003_exact_name_collation"),
    migration!(4, "0004_movie_owner"),
];

/// The PostgreSQL advisory lock key of the runner (per database).
const PG_LOCK_KEY: i64 = 0x7079_6d73_626f_6f74; // "pymsboot"
/// How long a MySQL runner waits for another one, in seconds.
const MYSQL_LOCK_SECONDS: i64 = 600;

/// What [`Store::migrate`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// The migrations applied by this run, oldest first (empty when the
    /// schema was already current).
    pub applied: Vec<String>,
    /// Whether the database held no schema at all: this run created the
    /// store. Right for a new deployment, a sign of the wrong database for
    /// an existing one.
    pub created_store: bool,
}

impl fmt::Display for MigrationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.applied.as_slice() {
            [] => f.write_str("database schema is up to date"),
            applied => write!(f, "applied migrations: {}", applied.join(", ")),
        }
    }
}

/// The one connection a run holds its lock on.
enum Conn {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
    MySql(PoolConnection<MySql>),
}

/// Runs `$body` with `$conn` bound to whichever native connection `$self` holds.
macro_rules! on_conn {
    ($self:expr, $conn:ident => $body:expr) => {
        match $self {
            Conn::Sqlite($conn) => $body,
            Conn::Postgres($conn) => $body,
            Conn::MySql($conn) => $body,
        }
    };
}

impl Conn {
    async fn acquire(pool: &Pool) -> Result<Conn, sqlx::Error> {
        Ok(match pool {
            Pool::Sqlite(p) => Conn::Sqlite(p.acquire().await?),
            Pool::Postgres(p) => Conn::Postgres(p.acquire().await?),
            Pool::MySql(p) => Conn::MySql(p.acquire().await?),
        })
    }

    async fn execute(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        let sql = AssertSqlSafe(sql.to_owned());
        on_conn!(self, conn => sqlx::raw_sql(sql).execute(&mut **conn).await.map(drop))
    }

    async fn ints(&mut self, sql: &str) -> Result<Vec<Option<i64>>, sqlx::Error> {
        let sql = AssertSqlSafe(sql.to_owned());
        on_conn!(self, conn => sqlx::query_scalar(sql).fetch_all(&mut **conn).await)
    }

    /// Makes sure no lock or transaction outlives the run, even on error. A
    /// server connection is closed rather than returned to the pool; a SQLite
    /// one goes back (an in-memory database dies with its last connection),
    /// so its transaction is rolled back here on failure.
    async fn finish<T>(mut self, result: Result<T, DbError>) -> Result<T, DbError> {
        match &mut self {
            Conn::Sqlite(_) if result.is_err() => {
                let _ = self.execute("ROLLBACK").await;
            }
            Conn::Sqlite(_) => {}
            Conn::Postgres(conn) => conn.close_on_drop(),
            Conn::MySql(conn) => conn.close_on_drop(),
        }
        result
    }
}

impl Store {
    /// Applies pending migrations. Idempotent, and safe when several
    /// processes or hosts run it at once: they take turns.
    ///
    /// # Errors
    ///
    /// [`DbError::Migrate`] naming the step that failed.
    pub async fn migrate(&self) -> Result<MigrationReport, DbError> {
        let backend = self.backend();
        let mut conn = Conn::acquire(self.pool())
            .await
            .map_err(failed("connecting"))?;
        let result = run(&mut conn, backend).await;
        let report = conn.finish(result).await?;
        tracing::info!(%backend, %report, "database migrated");
        if report.created_store {
            tracing::warn!(
                %backend,
                "the database was empty: a new, empty movie store was created in it. \
                 Right for a new deployment; otherwise [database] connection names the \
                 wrong database (a typo, an empty replica, an old backup), and the engine \
                 will refuse a storage_dir that belongs to another store"
            );
        }
        Ok(report)
    }
}

/// Turns a database error into a [`DbError::Migrate`] naming `step`.
fn failed(step: &str) -> impl FnOnce(sqlx::Error) -> DbError + use<> {
    let step = step.to_owned();
    move |source| DbError::Migrate { step, source }
}

/// Takes the lock, applies what is pending, releases the lock.
async fn run(conn: &mut Conn, backend: Backend) -> Result<MigrationReport, DbError> {
    lock(conn, backend)
        .await
        .map_err(failed("taking the migration lock"))?;
    let report = apply_pending(conn, backend).await?;
    unlock(conn, backend)
        .await
        .map_err(failed("releasing the migration lock"))?;
    Ok(report)
}

async fn lock(conn: &mut Conn, backend: Backend) -> Result<(), sqlx::Error> {
    match backend {
        Backend::Sqlite => conn.execute("BEGIN IMMEDIATE").await,
        Backend::Postgres => {
            conn.execute(&format!("SELECT pg_advisory_lock({PG_LOCK_KEY})"))
                .await
        }
        Backend::MySql => {
            // Lock names are server-wide: scope ours to this database.
            let sql = format!(
                "SELECT GET_LOCK(CONCAT('pymsboot_migrate.', DATABASE()), {MYSQL_LOCK_SECONDS})"
            );
            match conn.ints(&sql).await?.first() {
                Some(Some(1)) => Ok(()),
                _ => Err(sqlx::Error::Protocol(
                    "timed out waiting for another migration run".into(),
                )),
            }
        }
    }
}

async fn unlock(conn: &mut Conn, backend: Backend) -> Result<(), sqlx::Error> {
    match backend {
        Backend::Sqlite => conn.execute("COMMIT").await,
        Backend::Postgres => {
            conn.execute(&format!("SELECT pg_advisory_unlock({PG_LOCK_KEY})"))
                .await
        }
        Backend::MySql => {
            conn.execute("SELECT RELEASE_LOCK(CONCAT('pymsboot_migrate.', DATABASE()))")
                .await
        }
    }
}

/// Applies what `schema_migrations` does not list.
async fn apply_pending(conn: &mut Conn, backend: Backend) -> Result<MigrationReport, DbError> {
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT NOT NULL PRIMARY KEY, \
         name VARCHAR(255) NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .await
    .map_err(failed("creating schema_migrations"))?;
    let done: HashSet<i64> = conn
        .ints("SELECT version FROM schema_migrations")
        .await
        .map_err(failed("reading schema_migrations"))?
        .into_iter()
        .flatten()
        .collect();
    let mut applied = Vec::new();
    for migration in MIGRATIONS.iter().filter(|m| !done.contains(&m.version)) {
        apply(conn, backend, migration)
            .await
            .map_err(failed(migration.name))?;
        tracing::info!(migration = migration.name, "migration applied");
        applied.push(migration.name.to_owned());
    }
    Ok(MigrationReport {
        applied,
        created_store: done.is_empty(),
    })
}

/// One migration and its record. PostgreSQL runs both in a transaction;
/// SQLite is already inside the run's; MySQL commits DDL implicitly.
async fn apply(
    conn: &mut Conn,
    backend: Backend,
    migration: &Migration,
) -> Result<(), sqlx::Error> {
    let sql = match backend {
        Backend::Sqlite => migration.sqlite,
        Backend::Postgres => migration.postgres,
        Backend::MySql => migration.mysql,
    };
    let in_transaction = backend == Backend::Postgres;
    if in_transaction {
        conn.execute("BEGIN").await?;
    }
    for statement in statements(sql) {
        conn.execute(&statement).await?;
    }
    let record = format!(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES ({}, '{}', {})",
        migration.version,
        migration.name,
        now_micros()
    );
    conn.execute(&record).await?;
    if in_transaction {
        conn.execute("COMMIT").await?;
    }
    Ok(())
}

/// The statements of a migration file: `--` comment lines dropped, split at
/// each `;` that ends a line.
fn statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in sql
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim_start().starts_with("--"))
    {
        current.push_str(line);
        current.push('\n');
        if line.ends_with(';') {
            out.push(current.trim().trim_end_matches(';').to_owned());
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_at_line_ending_semicolons_without_comments() {
        let sql = "-- a comment; not a statement\nCREATE TABLE t (\n  a INT -- inline\n);\nCREATE INDEX i ON t (a);\n";
        assert_eq!(
            statements(sql),
            vec![
                "CREATE TABLE t (\n  a INT -- inline\n)",
                "CREATE INDEX i ON t (a)"
            ]
        );
    }

    #[test]
    fn every_migration_file_is_listed_for_every_backend() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        for backend in ["sqlite", "postgres", "mysql"] {
            let mut files: Vec<String> = std::fs::read_dir(root.join(backend))
                .expect("migrations directory")
                .map(|entry| {
                    entry
                        .expect("entry")
                        .file_name()
                        .to_string_lossy()
                        .into_owned()
                })
                .collect();
            files.sort();
            let listed: Vec<String> = MIGRATIONS
                .iter()
                .map(|m| format!("{}.sql", m.name))
                .collect();
            assert_eq!(files, listed, "{backend}");
        }
        let versions: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
        assert!(
            versions.windows(2).all(|w| w[0] < w[1]),
            "versions increase"
        );
    }
}
