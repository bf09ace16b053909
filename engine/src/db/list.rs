//! Listing with keyset pagination: a page starts strictly after the marker's
//! `(sort key, id)`, read off an index in order, never with OFFSET.
//!
//! The three backends sort NULLs differently, so NULL ranks never meet an
//! ORDER BY: a rank listing reads two *legs*, ranked movies by
//! `(movie_rank, id)` and unranked ones by `id`, one after the other. Movies
//! without a rank come last in ascending order and first in descending order,
//! as if NULL were the largest rank.
//!
//! The caller's [`Scope`] is a condition of every query (`project_id = ?`),
//! so a page holds `limit` of the caller's movies and a marker of another
//! project is as unknown as one that never existed.

use uuid::Uuid;

use super::Store;
use super::movies::{scope_filter, unreadable};
use super::pool::Arg;
use super::row::{MOVIE_COLUMNS, MovieRow};
use crate::error::Error;
use crate::objects::{ListQuery, Movie, SortDir, SortKey};
use crate::scope::{Caller, Scope};

/// One index-ordered run of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leg {
    /// By `(name, id)`: across projects, names repeat.
    Name,
    /// By name, within one project, where names are unique.
    ProjectName,
    /// By `(created_at, id)`.
    CreatedAt,
    /// Movies with a rank, by `(movie_rank, id)`.
    Ranked,
    /// Movies without a rank, by `id`.
    Unranked,
}

/// Where the previous page ended: the marker's position in its leg.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cursor {
    leg: Leg,
    key: Option<Arg>,
    id: String,
}

/// The legs of a listing, in the order their rows are returned.
fn legs(key: SortKey, dir: SortDir, scope: &Scope) -> &'static [Leg] {
    match (key, dir) {
        (SortKey::Name, _) if *scope != Scope::Everything => &[Leg::ProjectName],
        (SortKey::Name, _) => &[Leg::Name],
        (SortKey::CreatedAt, _) => &[Leg::CreatedAt],
        (SortKey::Rank, SortDir::Asc) => &[Leg::Ranked, Leg::Unranked],
        (SortKey::Rank, SortDir::Desc) => &[Leg::Unranked, Leg::Ranked],
    }
}

/// The cursor of a marker movie for a listing by `key` within `scope`.
fn cursor(key: SortKey, scope: &Scope, marker: &MovieRow) -> Cursor {
    let (leg, key) = match (key, marker.rank) {
        (SortKey::Name, _) if *scope == Scope::Everything => {
            (Leg::Name, Some(Arg::from(marker.name.as_str())))
        }
        (SortKey::Name, _) => (Leg::ProjectName, Some(Arg::from(marker.name.as_str()))),
        (SortKey::CreatedAt, _) => (Leg::CreatedAt, Some(Arg::from(marker.created_at))),
        (SortKey::Rank, Some(rank)) => (Leg::Ranked, Some(Arg::from(rank))),
        (SortKey::Rank, None) => (Leg::Unranked, None),
    };
    Cursor {
        leg,
        key,
        id: marker.id.clone(),
    }
}

/// A condition placing rows after the marker, and whether it holds the
/// rows that tie with the marker on the leg's key.
struct After {
    filter: String,
    args: Vec<Arg>,
    ties: bool,
}

/// The SELECT of one leg, narrowed by `after`, `limit` rows of it.
fn leg_query(
    leg: Leg,
    dir: SortDir,
    after: Option<After>,
    query: &ListQuery,
    scope: &Scope,
    limit: i64,
) -> (String, Vec<Arg>) {
    let (leg_filter, mut order_by) = leg_order(leg, dir);
    if leg == Leg::Name && after.as_ref().is_some_and(|a| a.ties) {
        // The name is fixed there. MariaDB does not see that a name equal
        // to a parameter of the connection's collation is constant, and
        // would sort by (name, id) rather than read the index in order.
        order_by = leg_order(Leg::Unranked, dir).1;
    }
    let mut filters = Vec::new();
    let mut args = Vec::new();
    if let Some((filter, project)) = scope_filter(scope) {
        filters.push(filter.to_owned());
        args.push(project);
    }
    filters.extend(leg_filter.map(str::to_owned));
    if let Some(state) = query.state {
        filters.push("state = ?".into());
        args.push(Arg::from(state.as_str()));
    }
    if let Some(after) = after {
        filters.push(after.filter);
        args.extend(after.args);
    }
    let filter = if filters.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", filters.join(" AND "))
    };
    args.push(Arg::from(limit));
    let sql = format!("SELECT {MOVIE_COLUMNS} FROM movies{filter} ORDER BY {order_by} LIMIT ?");
    (sql, args)
}

/// A leg's own filter and its ORDER BY.
fn leg_order(leg: Leg, dir: SortDir) -> (Option<&'static str>, String) {
    let order = match dir {
        SortDir::Asc => "ASC",
        SortDir::Desc => "DESC",
    };
    match leg {
        Leg::Name => (None, format!("name {order}, id {order}")),
        Leg::ProjectName => (None, format!("name {order}")),
        Leg::CreatedAt => (None, format!("created_at {order}, id {order}")),
        Leg::Ranked => (
            Some("movie_rank IS NOT NULL"),
            format!("movie_rank {order}, id {order}"),
        ),
        Leg::Unranked => (Some("movie_rank IS NULL"), format!("id {order}")),
    }
}

/// The conditions placing rows after `cursor` in its leg, each read as an
/// index range of its own, in order: ties on the key (by id), then the keys
/// beyond. Two ranges rather than `k > ? OR (k = ? AND id > ?)`, which some
/// planners answer with an index merge and a sort.
fn after_cursor(cursor: &Cursor, dir: SortDir) -> Vec<After> {
    let after = match dir {
        SortDir::Asc => ">",
        SortDir::Desc => "<",
    };
    let id = Arg::from(cursor.id.as_str());
    let column = match cursor.leg {
        Leg::Name | Leg::ProjectName => "name",
        Leg::CreatedAt => "created_at",
        Leg::Ranked => "movie_rank",
        Leg::Unranked => "id",
    };
    let beyond = |filter: String, args: Vec<Arg>| After {
        filter,
        args,
        ties: false,
    };
    match (&cursor.key, cursor.leg) {
        // Unique names: no tie to break.
        (Some(key), Leg::ProjectName) => {
            vec![beyond(format!("{column} {after} ?"), vec![key.clone()])]
        }
        (Some(key), _) => vec![
            After {
                filter: format!("{column} = ? AND id {after} ?"),
                args: vec![key.clone(), id],
                ties: true,
            },
            beyond(format!("{column} {after} ?"), vec![key.clone()]),
        ],
        (None, _) => vec![beyond(format!("id {after} ?"), vec![id])],
    }
}

/// Every query a listing runs, in order, each asking for up to `limit`
/// rows (`list` lowers that as rows come in): the legs after the marker's,
/// and the marker's own leg from just after the marker.
pub(crate) fn plan(
    query: &ListQuery,
    scope: &Scope,
    marker: Option<&MovieRow>,
) -> Vec<(String, Vec<Arg>)> {
    let cursor = marker.map(|m| cursor(query.sort_key, scope, m));
    let (dir, limit) = (query.sort_dir, i64::from(query.limit));
    let mut started = cursor.is_none();
    let mut out = Vec::new();
    for &leg in legs(query.sort_key, dir, scope) {
        match cursor.as_ref().filter(|c| c.leg == leg) {
            Some(here) => {
                started = true;
                for after in after_cursor(here, dir) {
                    out.push(leg_query(leg, dir, Some(after), query, scope, limit));
                }
            }
            None if started => out.push(leg_query(leg, dir, None, query, scope, limit)),
            None => {}
        }
    }
    out
}

impl Store {
    /// A page of the movies the caller may list (see [`crate::scope`]): at
    /// most `limit`, after `marker`, sorted by `sort_key` then id, only in
    /// `state` when given.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the marker is not a movie of the listing,
    /// [`Error::StoreUnavailable`], or [`Error::Internal`] for a stored row
    /// that does not parse.
    #[tracing::instrument(skip_all, fields(marker = ?query.marker))]
    pub async fn list(&self, caller: &Caller, query: &ListQuery) -> Result<Vec<Movie>, Error> {
        let scope = caller.list_scope(query.all_projects);
        let marker = match query.marker {
            Some(id) => Some(self.marker(&scope, id).await?),
            None => None,
        };
        let mut movies = Vec::new();
        for (sql, mut args) in plan(query, &scope, marker.as_ref()) {
            let remaining = usize::try_from(query.limit)
                .unwrap_or(usize::MAX)
                .saturating_sub(movies.len());
            if remaining == 0 {
                break;
            }
            if let Some(last) = args.last_mut() {
                *last = Arg::from(i64::try_from(remaining).unwrap_or(i64::MAX));
            }
            let rows: Vec<MovieRow> = self
                .pool()
                .fetch_all(&sql, &args)
                .await
                .map_err(super::unavailable)?;
            for row in rows {
                movies.push(row.into_movie().map_err(unreadable)?);
            }
        }
        Ok(movies)
    }

    pub(crate) async fn marker(&self, scope: &Scope, id: Uuid) -> Result<MovieRow, Error> {
        match self.row(scope, id).await {
            Err(Error::MovieNotFound { .. }) => {
                Err(Error::Invalid(format!("marker {id} not found")))
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::MovieState;

    fn marker(rank: Option<i64>) -> MovieRow {
        MovieRow {
            id: "m".into(),
            name: "n".into(),
            rank,
            url: String::new(),
            state: "queued".into(),
            size: None,
            bytes_downloaded: 0,
            checksum: None,
            error: None,
            meta: "{}".into(),
            created_at: 7,
            updated_at: 7,
            generation: 0,
            project_id: "p".into(),
            user_id: String::new(),
        }
    }

    fn query(sort_key: SortKey, sort_dir: SortDir) -> ListQuery {
        ListQuery {
            limit: 5,
            marker: None,
            sort_key,
            sort_dir,
            state: None,
            all_projects: false,
        }
    }

    fn plan_all(query: &ListQuery, marker: Option<&MovieRow>) -> Vec<(String, Vec<Arg>)> {
        plan(query, &Scope::Everything, marker)
    }

    #[test]
    fn a_first_page_reads_every_leg_in_order() {
        let sqls: Vec<String> = plan_all(&query(SortKey::Rank, SortDir::Desc), None)
            .into_iter()
            .map(|q| q.0)
            .collect();
        assert_eq!(sqls.len(), 2);
        assert!(
            sqls[0].contains("movie_rank IS NULL") && sqls[0].ends_with("ORDER BY id DESC LIMIT ?")
        );
        assert!(
            sqls[1].contains("movie_rank IS NOT NULL")
                && sqls[1].contains("ORDER BY movie_rank DESC, id DESC")
        );
    }

    #[test]
    fn a_marker_skips_the_legs_before_its_own() {
        let asc_after_unranked = plan_all(&query(SortKey::Rank, SortDir::Asc), Some(&marker(None)));
        assert_eq!(asc_after_unranked.len(), 1);
        assert!(
            asc_after_unranked[0]
                .0
                .contains("movie_rank IS NULL AND id > ?")
        );
        let desc_after_ranked =
            plan_all(&query(SortKey::Rank, SortDir::Desc), Some(&marker(Some(3))));
        assert_eq!(desc_after_ranked.len(), 2, "ties, then lower ranks");
    }

    #[test]
    fn ties_with_the_marker_are_read_before_the_keys_beyond() {
        let asc_after_ranked =
            plan_all(&query(SortKey::Rank, SortDir::Asc), Some(&marker(Some(3))));
        let sqls: Vec<&str> = asc_after_ranked.iter().map(|q| q.0.as_str()).collect();
        assert_eq!(sqls.len(), 3, "ties, higher ranks, then the unranked");
        assert!(sqls[0].contains("movie_rank = ? AND id > ?"));
        assert!(sqls[1].contains("movie_rank > ?") && !sqls[1].contains("id >"));
        assert!(sqls[2].contains("movie_rank IS NULL") && !sqls[2].contains("id >"));
        let args = &asc_after_ranked[0].1;
        assert_eq!(args, &vec![Arg::from(3), Arg::from("m"), Arg::from(5)]);
    }

    #[test]
    fn the_state_filter_comes_before_the_cursor() {
        let mut q = query(SortKey::CreatedAt, SortDir::Desc);
        q.state = Some(MovieState::Queued);
        let (sql, args) = plan_all(&q, Some(&marker(None))).remove(0);
        assert!(sql.contains("WHERE state = ? AND created_at = ? AND id < ?"));
        assert_eq!(
            args,
            vec![
                Arg::from("queued"),
                Arg::from(7),
                Arg::from("m"),
                Arg::from(5)
            ]
        );
    }

    #[test]
    fn a_project_scope_narrows_every_query_first() {
        let mut q = query(SortKey::Name, SortDir::Asc);
        q.state = Some(MovieState::Queued);
        let scope = Scope::Project("p".into());
        let (sql, args) = plan(&q, &scope, Some(&marker(None))).remove(0);
        assert!(
            sql.contains("WHERE project_id = ? AND state = ? AND name > ? ORDER BY name ASC LIMIT"),
            "names are unique within a project: {sql}"
        );
        assert_eq!(
            args[..3],
            [Arg::from("p"), Arg::from("queued"), Arg::from("n")]
        );
    }

    #[test]
    fn across_projects_names_tie_and_the_ties_are_read_by_id() {
        let queries = plan_all(&query(SortKey::Name, SortDir::Desc), Some(&marker(None)));
        let sqls: Vec<&str> = queries.iter().map(|q| q.0.as_str()).collect();
        assert_eq!(sqls.len(), 2, "ties on the name, then the names beyond");
        assert!(
            sqls[0].contains("name = ? AND id < ? ORDER BY id DESC"),
            "{}",
            sqls[0]
        );
        assert!(
            sqls[1].contains("name < ? ORDER BY name DESC, id DESC"),
            "{}",
            sqls[1]
        );
    }
}
