//! Listing with keyset pagination: a page starts strictly after the marker's
//! `(sort key, id)`, read off an index in order, never with OFFSET.
//!
//! The three backends sort NULLs differently, so NULL ranks never meet an
//! ORDER BY: a rank listing reads two *legs*, ranked movies by
//! `(movie_rank, id)` and unranked ones by `id`, one after the other. Movies
//! without a rank come last in ascending order and first in descending order,
//! as if NULL were the largest rank.

use uuid::Uuid;

use super::Store;
use super::movies::unreadable;
use super::pool::Arg;
use super::row::{MOVIE_COLUMNS, MovieRow};
use crate::error::Error;
use crate::objects::{ListQuery, Movie, SortDir, SortKey};

/// One index-ordered run of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leg {
    /// By name; names are unique, so no tie-breaker.
    Name,
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
fn legs(key: SortKey, dir: SortDir) -> &'static [Leg] {
    match (key, dir) {
        (SortKey::Name, _) => &[Leg::Name],
        (SortKey::CreatedAt, _) => &[Leg::CreatedAt],
        (SortKey::Rank, SortDir::Asc) => &[Leg::Ranked, Leg::Unranked],
        (SortKey::Rank, SortDir::Desc) => &[Leg::Unranked, Leg::Ranked],
    }
}

/// The cursor of a marker movie for a listing by `key`.
fn cursor(key: SortKey, marker: &MovieRow) -> Cursor {
    let (leg, key) = match (key, marker.rank) {
        (SortKey::Name, _) => (Leg::Name, Some(Arg::from(marker.name.as_str()))),
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

/// The SELECT of one leg, narrowed by `after` (a condition placing rows
/// after the marker), `limit` rows of it.
fn leg_query(
    leg: Leg,
    dir: SortDir,
    after: Option<(String, Vec<Arg>)>,
    query: &ListQuery,
    limit: i64,
) -> (String, Vec<Arg>) {
    let (leg_filter, order_by) = leg_order(leg, dir);
    let mut filters: Vec<String> = leg_filter.into_iter().map(str::to_owned).collect();
    let mut args = Vec::new();
    if let Some(state) = query.state {
        filters.push("state = ?".into());
        args.push(Arg::from(state.as_str()));
    }
    if let Some((filter, after_args)) = after {
        filters.push(filter);
        args.extend(after_args);
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
        Leg::Name => (None, format!("name {order}")),
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
fn after_cursor(cursor: &Cursor, dir: SortDir) -> Vec<(String, Vec<Arg>)> {
    let after = match dir {
        SortDir::Asc => ">",
        SortDir::Desc => "<",
    };
    let id = Arg::from(cursor.id.as_str());
    let column = match cursor.leg {
        Leg::Name => "name",
        Leg::CreatedAt => "created_at",
        Leg::Ranked => "movie_rank",
        Leg::Unranked => "id",
    };
    match (&cursor.key, cursor.leg) {
        (Some(key), Leg::CreatedAt | Leg::Ranked) => vec![
            (
                format!("{column} = ? AND id {after} ?"),
                vec![key.clone(), id],
            ),
            (format!("{column} {after} ?"), vec![key.clone()]),
        ],
        // Names are unique: no tie to break.
        (Some(key), _) => vec![(format!("{column} {after} ?"), vec![key.clone()])],
        (None, _) => vec![(format!("id {after} ?"), vec![id])],
    }
}

/// Every query a listing runs, in order, each asking for up to `limit`
/// rows (`list` lowers that as rows come in): the legs after the marker's,
/// and the marker's own leg from just after the marker.
pub(crate) fn plan(query: &ListQuery, marker: Option<&MovieRow>) -> Vec<(String, Vec<Arg>)> {
    let cursor = marker.map(|m| cursor(query.sort_key, m));
    let (dir, limit) = (query.sort_dir, i64::from(query.limit));
    let mut started = cursor.is_none();
    let mut out = Vec::new();
    for &leg in legs(query.sort_key, dir) {
        match cursor.as_ref().filter(|c| c.leg == leg) {
            Some(here) => {
                started = true;
                for after in after_cursor(here, dir) {
                    out.push(leg_query(leg, dir, Some(after), query, limit));
                }
            }
            None if started => out.push(leg_query(leg, dir, None, query, limit)),
            None => {}
        }
    }
    out
}

impl Store {
    /// A page of movies: at most `limit`, after `marker`, sorted by
    /// `sort_key` then id, only in `state` when given.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the marker is not a stored movie,
    /// [`Error::StoreUnavailable`], or [`Error::Internal`] for a stored row
    /// that does not parse.
    #[tracing::instrument(skip_all, fields(marker = ?query.marker))]
    pub async fn list(&self, query: &ListQuery) -> Result<Vec<Movie>, Error> {
        let marker = match query.marker {
            Some(id) => Some(self.marker(id).await?),
            None => None,
        };
        let mut movies = Vec::new();
        for (sql, mut args) in plan(query, marker.as_ref()) {
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

    async fn marker(&self, id: Uuid) -> Result<MovieRow, Error> {
        match self.row(id).await {
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
        }
    }

    fn query(sort_key: SortKey, sort_dir: SortDir) -> ListQuery {
        ListQuery {
            limit: 5,
            marker: None,
            sort_key,
            sort_dir,
            state: None,
        }
    }

    #[test]
    fn a_first_page_reads_every_leg_in_order() {
        let sqls: Vec<String> = plan(&query(SortKey::Rank, SortDir::Desc), None)
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
        let asc_after_unranked = plan(&query(SortKey::Rank, SortDir::Asc), Some(&marker(None)));
        assert_eq!(asc_after_unranked.len(), 1);
        assert!(
            asc_after_unranked[0]
                .0
                .contains("movie_rank IS NULL AND id > ?")
        );
        let desc_after_ranked = plan(&query(SortKey::Rank, SortDir::Desc), Some(&marker(Some(3))));
        assert_eq!(desc_after_ranked.len(), 2, "ties, then lower ranks");
    }

    #[test]
    fn ties_with_the_marker_are_read_before_the_keys_beyond() {
        let asc_after_ranked = plan(&query(SortKey::Rank, SortDir::Asc), Some(&marker(Some(3))));
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
        let (sql, args) = plan(&q, Some(&marker(None))).remove(0);
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
}
