//! The one place that knows there are three databases: a pool per backend
//! behind one enum, bind values, rows read by position, and the placeholder
//! spelling (`?` in our SQL, `$n` for PostgreSQL).
//!
//! An enum of the three native pools rather than sqlx's `Any` driver: each
//! backend keeps its own connect options (SQLite's WAL and busy timeout are
//! not expressible through `Any`), its own type checks, and its own
//! connection for the migration locks, at the cost of this small dispatch.

use std::borrow::Cow;

use sqlx::mysql::{MySqlPool, MySqlRow};
use sqlx::postgres::{PgPool, PgRow};
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{AssertSqlSafe, Row};

use super::Backend;

/// A connection pool to one of the three backends.
#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
    MySql(MySqlPool),
}

/// Runs `$body` with `$pool` bound to whichever native pool `$self` holds.
macro_rules! on_pool {
    ($self:expr, $pool:ident => $body:expr) => {
        match $self {
            Pool::Sqlite($pool) => $body,
            Pool::Postgres($pool) => $body,
            Pool::MySql($pool) => $body,
        }
    };
}

/// A value bound to a `?` placeholder: the schema only has integers and text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    Int(Option<i64>),
    Text(Option<String>),
}

impl From<i64> for Arg {
    fn from(value: i64) -> Arg {
        Arg::Int(Some(value))
    }
}

impl From<Option<i64>> for Arg {
    fn from(value: Option<i64>) -> Arg {
        Arg::Int(value)
    }
}

impl From<&str> for Arg {
    fn from(value: &str) -> Arg {
        Arg::Text(Some(value.to_owned()))
    }
}

impl From<String> for Arg {
    fn from(value: String) -> Arg {
        Arg::Text(Some(value))
    }
}

/// Binds `args` in order to a query of any backend.
macro_rules! bind_all {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                Arg::Int(value) => query.bind(*value),
                Arg::Text(value) => query.bind(value.as_deref()),
            };
        }
        query
    }};
}

/// A row read by column position, whatever the backend.
pub(crate) trait DbRow {
    fn text(&self, index: usize) -> Result<String, sqlx::Error>;
    fn opt_text(&self, index: usize) -> Result<Option<String>, sqlx::Error>;
    fn int(&self, index: usize) -> Result<i64, sqlx::Error>;
    fn opt_int(&self, index: usize) -> Result<Option<i64>, sqlx::Error>;
}

macro_rules! impl_db_row {
    ($($row:ty),*) => {$(
        impl DbRow for $row {
            fn text(&self, index: usize) -> Result<String, sqlx::Error> {
                self.try_get(index)
            }
            fn opt_text(&self, index: usize) -> Result<Option<String>, sqlx::Error> {
                self.try_get(index)
            }
            fn int(&self, index: usize) -> Result<i64, sqlx::Error> {
                self.try_get(index)
            }
            fn opt_int(&self, index: usize) -> Result<Option<i64>, sqlx::Error> {
                self.try_get(index)
            }
        }
    )*};
}
impl_db_row!(SqliteRow, PgRow, MySqlRow);

/// A value built from one result row.
pub(crate) trait FromDbRow: Sized {
    fn from_row(row: &dyn DbRow) -> Result<Self, sqlx::Error>;
}

impl FromDbRow for String {
    fn from_row(row: &dyn DbRow) -> Result<Self, sqlx::Error> {
        row.text(0)
    }
}

impl Pool {
    /// Which backend this pool talks to.
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
            Pool::MySql(_) => Backend::MySql,
        }
    }

    /// `sql` with its `?` placeholders spelled for this backend.
    pub(crate) fn sql(&self, sql: &str) -> AssertSqlSafe<String> {
        AssertSqlSafe(placeholders(self.backend(), sql).into_owned())
    }

    /// Runs a statement; the number of rows it matched.
    pub(crate) async fn execute(&self, sql: &str, args: &[Arg]) -> Result<u64, sqlx::Error> {
        let sql = self.sql(sql);
        on_pool!(self, pool => {
            let done = bind_all!(sqlx::query(sql), args).execute(pool).await?;
            Ok(done.rows_affected())
        })
    }

    /// Every row a query returns, each read as a `T`.
    pub(crate) async fn fetch_all<T: FromDbRow>(
        &self,
        sql: &str,
        args: &[Arg],
    ) -> Result<Vec<T>, sqlx::Error> {
        let sql = self.sql(sql);
        on_pool!(self, pool => {
            let rows = bind_all!(sqlx::query(sql), args).fetch_all(pool).await?;
            rows.iter().map(|row| T::from_row(row)).collect()
        })
    }

    /// The first row a query returns, if any, read as a `T`.
    pub(crate) async fn fetch_optional<T: FromDbRow>(
        &self,
        sql: &str,
        args: &[Arg],
    ) -> Result<Option<T>, sqlx::Error> {
        let sql = self.sql(sql);
        on_pool!(self, pool => {
            let row = bind_all!(sqlx::query(sql), args).fetch_optional(pool).await?;
            row.as_ref().map(|row| T::from_row(row)).transpose()
        })
    }

    /// Closes every connection, waiting for those in use.
    pub(crate) async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
}

/// Rewrites `?` to `$1`, `$2`, … for PostgreSQL. Our SQL never holds a `?`
/// inside a string literal, so a plain scan is enough.
pub(crate) fn placeholders(backend: Backend, sql: &str) -> Cow<'_, str> {
    if backend != Backend::Postgres || !sql.contains('?') {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_postgres_numbers_its_placeholders() {
        let sql = "UPDATE movies SET name = ? WHERE id = ? AND state = 'queued'";
        assert_eq!(
            placeholders(Backend::Postgres, sql),
            "UPDATE movies SET name = $1 WHERE id = $2 AND state = 'queued'"
        );
        assert_eq!(placeholders(Backend::MySql, sql), sql);
        assert_eq!(placeholders(Backend::Sqlite, sql), sql);
    }
}
