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

/// The SELECT of one leg: rows after `cursor` (when given), `limit` of them.
pub(crate) fn leg_query(
    leg: Leg,
    dir: SortDir,
    cursor: Option<&Cursor>,
    query: &ListQuery,
    limit: i64,
) -> (String, Vec<Arg>) {
    let (order, after) = match dir {
        SortDir::Asc => ("ASC", ">"),
        SortDir::Desc => ("DESC", "<"),
    };
    let mut filters: Vec<String> = Vec::new();
    let mut args = Vec::new();
    let (column, order_by) = match leg {
        Leg::Name => ("name", format!("name {order}")),
        Leg::CreatedAt => ("created_at", format!("created_at {order}, id {order}")),
        Leg::Ranked => {
            filters.push("movie_rank IS NOT NULL".into());
            ("movie_rank", format!("movie_rank {order}, id {order}"))
        }
        Leg::Unranked => {
            filters.push("movie_rank IS NULL".into());
            ("id", format!("id {order}"))
        }
    };
    if let Some(state) = query.state {
        filters.push("state = ?".into());
        args.push(Arg::from(state.as_str()));
    }
    match cursor.map(|c| (c.key.clone(), c)) {
        Some((Some(key), c)) if matches!(leg, Leg::CreatedAt | Leg::Ranked) => {
            // `k >= ?` bounds the index range; the OR only sorts out ties.
            filters.push(format!(
                "{column} {after}= ? AND ({column} {after} ? OR id {after} ?)"
            ));
            args.extend([key.clone(), key, Arg::from(c.id.as_str())]);
        }
        Some((Some(key), _)) => {
            filters.push(format!("{column} {after} ?"));
            args.push(key);
        }
        Some((None, c)) => {
            filters.push(format!("id {after} ?"));
            args.push(Arg::from(c.id.as_str()));
        }
        None => {}
    }
    let filter = if filters.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", filters.join(" AND "))
    };
    args.push(Arg::from(limit));
    (
        format!("SELECT {MOVIE_COLUMNS} FROM movies{filter} ORDER BY {order_by} LIMIT ?"),
        args,
    )
}

/// Every leg query a listing would run, in order, with how many rows each
/// may return at most (for inspecting query plans).
pub(crate) fn plan(query: &ListQuery, marker: Option<&MovieRow>) -> Vec<(String, Vec<Arg>)> {
    let cursor = marker.map(|m| cursor(query.sort_key, m));
    let limit = i64::from(query.limit);
    let mut started = cursor.is_none();
    let mut out = Vec::new();
    for &leg in legs(query.sort_key, query.sort_dir) {
        let here = cursor.as_ref().filter(|c| c.leg == leg);
        started |= here.is_some();
        if started {
            out.push(leg_query(leg, query.sort_dir, here, query, limit));
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
        assert_eq!(desc_after_ranked.len(), 1);
        let asc_after_ranked = plan(&query(SortKey::Rank, SortDir::Asc), Some(&marker(Some(3))));
        assert_eq!(asc_after_ranked.len(), 2);
        assert_eq!(
            asc_after_ranked[0].1,
            vec![Arg::from(3), Arg::from(3), Arg::from("m"), Arg::from(5)]
        );
    }

    #[test]
    fn the_state_filter_comes_before_the_cursor() {
        let mut q = query(SortKey::CreatedAt, SortDir::Desc);
        q.state = Some(MovieState::Queued);
        let (sql, args) = plan(&q, Some(&marker(None))).remove(0);
        assert!(sql.contains("WHERE state = ? AND created_at <= ? AND (created_at < ? OR id < ?)"));
        assert_eq!(args[0], Arg::from("queued"));
        assert_eq!(args.len(), 5);
    }
}
