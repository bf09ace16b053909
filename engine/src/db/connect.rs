//! Opening pools: one probe connection per attempt (so a refused connection
//! fails at once instead of inside sqlx's own retry loop), then the pool, and
//! for SQLite files the switch to WAL.

use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::mysql::{MySqlConnection, MySqlPoolOptions};
use sqlx::postgres::{PgConnection, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqlitePoolOptions};

use super::pool::Pool;
use super::url::{SQLITE_BUSY_TIMEOUT, Target};
use super::{DatabaseUrl, DbError};

/// Creates the directory of a SQLite file, as SQLAlchemy users expect.
pub(crate) fn create_sqlite_dir(url: &DatabaseUrl) -> Result<(), DbError> {
    let Target::Sqlite {
        file: Some(file), ..
    } = &url.target
    else {
        return Ok(());
    };
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|source| DbError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })
        }
        _ => Ok(()),
    }
}

/// One connection attempt: a probe connection, then the pool.
pub(crate) async fn connect_once(
    url: &DatabaseUrl,
    max_pool_size: u32,
) -> Result<Pool, sqlx::Error> {
    match &url.target {
        // An in-memory database lives as long as one of its connections:
        // keep one open for good.
        Target::Sqlite {
            options,
            file: None,
        } => Ok(Pool::Sqlite(
            SqlitePoolOptions::new()
                .max_connections(max_pool_size)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options.clone())
                .await?,
        )),
        Target::Sqlite { options, .. } => {
            let mut conn = SqliteConnection::connect_with(options).await?;
            use_wal(&mut conn).await?;
            conn.close().await?;
            Ok(lazy_pool(url, max_pool_size))
        }
        Target::Postgres(options) => {
            PgConnection::connect_with(options).await?.close().await?;
            Ok(lazy_pool(url, max_pool_size))
        }
        Target::MySql(options) => {
            MySqlConnection::connect_with(options)
                .await?
                .close()
                .await?;
            Ok(lazy_pool(url, max_pool_size))
        }
    }
}

/// A pool that opens its connections on first use.
pub(crate) fn lazy_pool(url: &DatabaseUrl, max_pool_size: u32) -> Pool {
    match &url.target {
        Target::Sqlite { options, file } => {
            Pool::Sqlite(sqlite_pool(options, file.is_some(), max_pool_size))
        }
        Target::Postgres(options) => Pool::Postgres(
            PgPoolOptions::new()
                .max_connections(max_pool_size)
                .connect_lazy_with(options.clone()),
        ),
        Target::MySql(options) => Pool::MySql(
            MySqlPoolOptions::new()
                .max_connections(max_pool_size)
                .connect_lazy_with(options.clone()),
        ),
    }
}

fn sqlite_pool(options: &SqliteConnectOptions, file: bool, max_pool_size: u32) -> sqlx::SqlitePool {
    let pool = SqlitePoolOptions::new().max_connections(max_pool_size);
    if !file {
        return pool.connect_lazy_with(options.clone());
    }
    pool.after_connect(|conn, _| Box::pin(async move { use_wal(conn).await }))
        .connect_lazy_with(options.clone())
}

/// Puts a SQLite file in WAL mode, so that readers in other worker
/// processes run while one writes. Entering WAL takes an exclusive lock that
/// SQLite's busy timeout does not wait for (workers starting together on a
/// new file collide here), so this waits itself. Once the file is in WAL
/// mode (a persistent setting) this is a no-op.
async fn use_wal(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    let deadline = Instant::now() + SQLITE_BUSY_TIMEOUT;
    loop {
        match sqlx::raw_sql("PRAGMA journal_mode = WAL")
            .execute(&mut *conn)
            .await
        {
            Err(sqlx::Error::Database(error))
                if is_busy(error.code().as_deref()) && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => return other.map(drop),
        }
    }
}

/// SQLITE_BUSY, in any of its extended forms.
fn is_busy(code: Option<&str>) -> bool {
    code.and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| code & 0xff == 5)
}
