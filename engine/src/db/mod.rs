//! The movie store: one [`Store`] over SQLite, PostgreSQL and MariaDB/MySQL,
//! reached through a SQLAlchemy-style [`DatabaseUrl`], its schema changed
//! only by the migrations in `engine/migrations/`.
//!
//! # Layout
//! - `url`: [`DatabaseUrl`], URL parsing into connect options, redaction.
//! - `connect`: probe connections, pools, SQLite's WAL mode.
//! - `pool`: the per-backend pool enum, bind values, placeholders.
//! - `row`: stored rows → [`Movie`](crate::Movie), timestamps.
//! - `movies`: create, get, update ([`Updated`]), delete; unique violations → `MovieExists`.
//! - `identity`: the store's identity and the movies it deleted (what the cleanup may remove).
//! - `list`: keyset-paginated listing.
//! - `claims`: who downloads which movie, across processes and hosts.
//! - `migrate`: the migration runner and its per-backend locks.
//! - `explain` (feature `test-util`): query plans of a listing, for tests.

pub use migrate::MigrationReport;
pub use movies::Updated;
pub(crate) use row::hide_credentials;
pub use url::{DatabaseUrl, UrlError};

mod claims;
mod connect;
#[cfg(feature = "test-util")]
mod explain;
mod identity;
mod list;
mod migrate;
mod movies;
mod pool;
mod row;
mod url;

use std::fmt;
use std::time::Duration;

use uuid::Uuid;

use crate::conf;
use crate::error::Error;
use pool::Pool;

/// The database behind a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// SQLite, a file shared by the engine's worker processes (or memory).
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MariaDB or MySQL.
    MySql,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgresql",
            Backend::MySql => "mysql",
        })
    }
}

/// The movie store: a connection pool and every query on `movies`. Cloning
/// is cheap and clones share the pool.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

/// The right to download one movie, held by one owner at a time.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// The movie.
    pub id: Uuid,
    /// What to download.
    pub url: String,
    /// The movie's download generation when claimed; a URL change bumps it
    /// and so ends the claim.
    pub generation: i64,
    /// Who holds the claim (an engine worker's name).
    pub owner: String,
}

/// Why the store could not be opened or migrated. Never holds a password.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// `[database] connection` is not a usable URL.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// The directory of a SQLite file could not be created.
    #[error("cannot create the directory of the SQLite database {path}")]
    CreateDir {
        /// The directory.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Every connection attempt failed.
    #[error("cannot connect to {url} after {attempts} attempt(s)")]
    Connect {
        /// The URL, password hidden.
        url: String,
        /// How many attempts were made.
        attempts: u64,
        /// The last failure.
        #[source]
        source: sqlx::Error,
    },
    /// A migration step failed.
    #[error("migration failed: {step}")]
    Migrate {
        /// What was being done (a migration's name, or taking the lock).
        step: String,
        /// Why.
        #[source]
        source: sqlx::Error,
    },
}

impl Store {
    /// Connects with oslo.db's retry semantics: up to `max_retries` more
    /// attempts (`-1` forever) `retry_interval` apart, each failure logged
    /// with the password hidden.
    ///
    /// # Errors
    ///
    /// [`DbError::Connect`] when the last attempt fails, [`DbError::CreateDir`]
    /// when a SQLite file's directory cannot be created.
    pub async fn connect(
        url: &DatabaseUrl,
        max_pool_size: u32,
        max_retries: i64,
        retry_interval: Duration,
    ) -> Result<Store, DbError> {
        connect::create_sqlite_dir(url)?;
        let mut attempts: u64 = 0;
        loop {
            attempts += 1;
            match connect::connect_once(url, max_pool_size).await {
                Ok(pool) => return Ok(Store { pool }),
                Err(source) if max_retries >= 0 && attempts > max_retries.unsigned_abs() => {
                    return Err(DbError::Connect {
                        url: url.to_string(),
                        attempts,
                        source,
                    });
                }
                Err(error) => {
                    let error = launcher::conf::redact_url(&error.to_string());
                    tracing::warn!(%url, attempts, %error, retry_in = ?retry_interval, "database connection failed");
                    tokio::time::sleep(retry_interval).await;
                }
            }
        }
    }

    /// Connects as `[database] connection`, `max_pool_size`, `max_retries`
    /// and `retry_interval` say.
    ///
    /// # Errors
    ///
    /// [`DbError::Url`] for an unusable URL, then as [`Store::connect`].
    pub async fn from_config(config: &launcher::Config) -> Result<Store, DbError> {
        let url = DatabaseUrl::from_config(config)?;
        let max_pool_size = u32::try_from(config.int(&conf::MAX_POOL_SIZE)).unwrap_or(u32::MAX);
        let max_retries = config.int(&conf::MAX_RETRIES);
        let interval = Duration::from_secs(config.int(&conf::RETRY_INTERVAL).unsigned_abs());
        Store::connect(&url, max_pool_size, max_retries, interval).await
    }

    /// A store whose connections are opened on first use, in whatever tokio
    /// runtime uses it (test helpers build it outside any runtime).
    #[cfg(feature = "test-util")]
    pub(crate) fn connect_lazy(url: &DatabaseUrl, max_pool_size: u32) -> Result<Store, DbError> {
        connect::create_sqlite_dir(url)?;
        Ok(Store {
            pool: connect::lazy_pool(url, max_pool_size),
        })
    }

    /// The database this store talks to.
    pub fn backend(&self) -> Backend {
        self.pool.backend()
    }

    /// Closes the pool, waiting for connections in use (graceful stop).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }
}

/// A database failure inside a movie operation: logged once here (with any
/// URL password hidden), reported as [`Error::StoreUnavailable`].
pub(crate) fn unavailable(error: sqlx::Error) -> Error {
    let error = launcher::conf::redact_url(&error.to_string());
    tracing::error!(%error, "movie store query failed");
    Error::StoreUnavailable
}

/// Whether `error` is a unique-key violation (a taken name or id).
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}
