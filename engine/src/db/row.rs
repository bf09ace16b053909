//! Reading stored rows back into [`Movie`]s, and the time format: timestamps
//! are stored as BIGINT microseconds since the epoch (portable across the
//! three backends) and shown as RFC 3339 UTC with a `Z`.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use uuid::Uuid;

use super::pool::{DbRow, FromDbRow};
use crate::objects::{Movie, MovieState};

/// The columns of a movie, in the order [`MovieRow`] reads them.
pub(crate) const MOVIE_COLUMNS: &str = "id, name, movie_rank, url, state, size, bytes_downloaded, \
     checksum, error, meta, created_at, updated_at, download_generation, project_id, user_id";

/// A movie row as stored, before its text columns are parsed.
#[derive(Debug, Clone)]
pub(crate) struct MovieRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) rank: Option<i64>,
    pub(crate) url: String,
    pub(crate) state: String,
    pub(crate) size: Option<i64>,
    pub(crate) bytes_downloaded: i64,
    pub(crate) checksum: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) meta: String,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) generation: i64,
    /// `''` for none (see migration 0004).
    pub(crate) project_id: String,
    /// `''` for none.
    pub(crate) user_id: String,
}

impl FromDbRow for MovieRow {
    fn from_row(row: &dyn DbRow) -> Result<Self, sqlx::Error> {
        Ok(MovieRow {
            id: row.text(0)?,
            name: row.text(1)?,
            rank: row.opt_int(2)?,
            url: row.text(3)?,
            state: row.text(4)?,
            size: row.opt_int(5)?,
            bytes_downloaded: row.int(6)?,
            checksum: row.opt_text(7)?,
            error: row.opt_text(8)?,
            meta: row.text(9)?,
            created_at: row.int(10)?,
            updated_at: row.int(11)?,
            generation: row.int(12)?,
            project_id: row.text(13)?,
            user_id: row.text(14)?,
        })
    }
}

/// Why a stored row is not a movie; the row's id says which one to look at.
#[derive(Debug, thiserror::Error)]
#[error("stored movie {id:?} is unreadable: {what}")]
pub(crate) struct BadRow {
    id: String,
    what: String,
}

impl MovieRow {
    /// The movie this row holds.
    pub(crate) fn into_movie(self) -> Result<Movie, BadRow> {
        let bad = |what: String| BadRow {
            id: self.id.clone(),
            what,
        };
        let id = Uuid::parse_str(self.id.trim()).map_err(|e| bad(format!("id: {e}")))?;
        let state =
            MovieState::parse(&self.state).ok_or_else(|| bad(format!("state {:?}", self.state)))?;
        let meta: Map<String, Value> =
            serde_json::from_str(&self.meta).map_err(|e| bad(format!("meta: {e}")))?;
        Ok(Movie {
            id,
            name: self.name,
            rank: self.rank,
            url: hide_credentials(&self.url),
            state,
            size: self.size,
            bytes_downloaded: self.bytes_downloaded,
            checksum: self.checksum,
            error: self.error.as_deref().map(hide_credentials),
            meta,
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
            project_id: owner(self.project_id),
            user_id: owner(self.user_id),
        })
    }
}

/// An owner column as shown: `''` is how "none" is stored.
fn owner(stored: String) -> Option<String> {
    (!stored.is_empty()).then_some(stored)
}

/// `text` (a URL, or a message quoting URLs) as anyone may see it: the
/// credentials in each URL's user info are replaced by `***` (the stored URL
/// keeps them, for the download). The authority ends where a URL parser ends
/// it, at the first `/`, `?` or `#`, so what is hidden is what a download
/// would send.
pub(crate) fn hide_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(scheme_end) = rest.find("://").map(|i| i + 3) {
        out.push_str(&rest[..scheme_end]);
        rest = &rest[scheme_end..];
        let authority_end = rest
            .find(|c: char| "/?#)\"'<>".contains(c) || c.is_whitespace())
            .unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            match rest[..at].split_once(':') {
                Some((user, _)) => {
                    out.push_str(user);
                    out.push_str(":***");
                }
                // A lone user name is often a token.
                None => out.push_str("***"),
            }
            rest = &rest[at..];
        }
    }
    out.push_str(rest);
    out
}

/// An id column on its own.
pub(crate) struct IdRow(pub(crate) String);

impl FromDbRow for IdRow {
    fn from_row(row: &dyn DbRow) -> Result<Self, sqlx::Error> {
        row.text(0).map(IdRow)
    }
}

/// Now, in microseconds since the epoch (the stored time unit).
pub(crate) fn now_micros() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
}

pub(crate) use launcher::civil::rfc3339_micros as rfc3339;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_a_url_are_hidden() {
        for (stored, shown) in [
            (
                "http://user:pass@h.example/f",
                "http://user:***@h.example/f",
            ),
            (
                "https://tok3n@h.example:8443/a?b=c@d",
                "https://***@h.example:8443/a?b=c@d",
            ),
            ("http://u:p@ss:w@h.example/", "http://u:***@h.example/"),
            ("http://h.example/a@b", "http://h.example/a@b"),
            ("http://h.example/", "http://h.example/"),
            (
                "error sending request for url (http://u:p@h.example/f): refused; see https://t@x/",
                "error sending request for url (http://u:***@h.example/f): refused; see https://***@x/",
            ),
        ] {
            assert_eq!(hide_credentials(stored), shown, "{stored}");
        }
    }

    #[test]
    fn timestamps_render_as_rfc3339_utc_with_microseconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339(1_795_811_465_123_456),
            "2026-11-27T20:31:05.123456Z"
        );
        assert_eq!(rfc3339(951_782_400_000_001), "2000-02-29T00:00:00.000001Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999999Z");
    }

    fn row(id: &str, state: &str, meta: &str) -> MovieRow {
        MovieRow {
            id: id.into(),
            name: "Alien".into(),
            rank: None,
            url: "http://x/".into(),
            state: state.into(),
            size: None,
            bytes_downloaded: 0,
            checksum: None,
            error: None,
            meta: meta.into(),
            created_at: 0,
            updated_at: 0,
            generation: 0,
            project_id: String::new(),
            user_id: "u".into(),
        }
    }

    #[test]
    fn a_row_that_does_not_parse_is_an_error_naming_it() {
        let id = Uuid::new_v4().to_string();
        let read = row(&id, "queued", "{}").into_movie().expect("readable");
        assert_eq!(
            (read.project_id, read.user_id.as_deref()),
            (None, Some("u"))
        );
        for bad in [
            row("nope", "queued", "{}"),
            row(&id, "lost", "{}"),
            row(&id, "queued", "[1]"),
        ] {
            let error = bad.into_movie().expect_err("unreadable");
            assert!(error.to_string().contains("unreadable"));
        }
    }
}
