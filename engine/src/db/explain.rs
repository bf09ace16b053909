//! Query plans of a listing, for tests that check it reads an index rather
//! than scanning `movies`. Values are inlined as literals so that every
//! backend can EXPLAIN the statement without preparing it.

use sqlx::{AssertSqlSafe, Row};
use uuid::Uuid;

use super::list::plan;
use super::pool::{Arg, Pool};
use super::{Backend, Store};
use crate::error::Error;
use crate::objects::ListQuery;
use crate::scope::Caller;

impl Store {
    /// The plan lines of every statement `list(caller, query)` would run (SQLite's
    /// `EXPLAIN QUERY PLAN` details, PostgreSQL's `EXPLAIN` lines with
    /// sequential scans disfavoured, MySQL's `type`/`key`/`Extra` columns).
    pub(crate) async fn explain_list(
        &self,
        caller: &Caller,
        query: &ListQuery,
    ) -> Result<Vec<String>, sqlx::Error> {
        let scope = caller.list_scope(query.all_projects);
        let marker = match query.marker {
            Some(id) => Some(
                self.marker(&scope, id)
                    .await
                    .map_err(|e| protocol(&e, id))?,
            ),
            None => None,
        };
        let mut lines = Vec::new();
        for (sql, args) in plan(query, &scope, marker.as_ref()) {
            lines.extend(self.explain(&inline(&sql, &args)).await?);
        }
        Ok(lines)
    }

    /// Refreshes the planner's statistics of `movies`.
    pub(crate) async fn analyze(&self) -> Result<(), sqlx::Error> {
        let sql = match self.backend() {
            Backend::Sqlite => "ANALYZE",
            Backend::Postgres => "ANALYZE movies",
            Backend::MySql => "ANALYZE TABLE movies",
        };
        self.pool().execute(sql, &[]).await.map(drop)
    }

    async fn explain(&self, sql: &str) -> Result<Vec<String>, sqlx::Error> {
        match self.pool() {
            Pool::Sqlite(pool) => {
                let rows = sqlx::raw_sql(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                    .fetch_all(pool)
                    .await?;
                rows.iter().map(|row| row.try_get::<String, _>(3)).collect()
            }
            Pool::Postgres(pool) => {
                // On a small table a scan, or a bitmap scan and a sort, is
                // cheapest; forbid both to learn whether an index can deliver
                // the page in order, as it will once the table is large.
                let mut tx = pool.begin().await?;
                sqlx::raw_sql("SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off")
                    .execute(&mut *tx)
                    .await?;
                let rows = sqlx::raw_sql(AssertSqlSafe(format!("EXPLAIN {sql}")))
                    .fetch_all(&mut *tx)
                    .await?;
                rows.iter().map(|row| row.try_get::<String, _>(0)).collect()
            }
            Pool::MySql(pool) => {
                let rows = sqlx::raw_sql(AssertSqlSafe(format!("EXPLAIN {sql}")))
                    .fetch_all(pool)
                    .await?;
                rows.iter().map(mysql_line).collect()
            }
        }
    }
}

fn mysql_line(row: &sqlx::mysql::MySqlRow) -> Result<String, sqlx::Error> {
    let column = |name: &str| -> Result<String, sqlx::Error> {
        Ok(row.try_get::<Option<String>, _>(name)?.unwrap_or_default())
    };
    Ok(format!(
        "type={} key={} Extra={}",
        column("type")?,
        column("key")?,
        column("Extra")?
    ))
}

fn protocol(error: &Error, id: Uuid) -> sqlx::Error {
    sqlx::Error::Protocol(format!("marker {id}: {error}"))
}

/// `sql` with each `?` replaced by its argument as a literal.
fn inline(sql: &str, args: &[Arg]) -> String {
    let mut args = args.iter();
    let mut out = String::with_capacity(sql.len());
    for c in sql.chars() {
        match (c, c == '?') {
            (_, true) => out.push_str(&match args.next() {
                Some(Arg::Int(Some(value))) => value.to_string(),
                Some(Arg::Text(Some(text))) => format!("'{}'", text.replace('\'', "''")),
                _ => "NULL".to_owned(),
            }),
            (c, false) => out.push(c),
        }
    }
    out
}
