//! The movie and the values around it: what the store keeps, what the RPC
//! methods take and return, what the API renders. Serde types shared by the
//! engine and the API. The rules their fields obey, the same whichever
//! database stores them, are in [`rules`].

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

pub use rules::{
    MAX_META_BYTES, MAX_META_DEPTH, MAX_NAME_LEN, MAX_URL_LEN, check_meta, check_name, check_url,
};

pub mod rules;

/// Where a movie's download stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MovieState {
    /// Accepted; waiting for a download slot.
    Queued,
    /// Being downloaded; `bytes_downloaded` grows.
    Downloading,
    /// Stored; `size` and `checksum` are set.
    Downloaded,
    /// Failed; `error` says why.
    Error,
}

impl MovieState {
    /// The state as stored and as the API shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            MovieState::Queued => "queued",
            MovieState::Downloading => "downloading",
            MovieState::Downloaded => "downloaded",
            MovieState::Error => "error",
        }
    }

    /// The state named `text`, if any.
    pub fn parse(text: &str) -> Option<MovieState> {
        [
            MovieState::Queued,
            MovieState::Downloading,
            MovieState::Downloaded,
            MovieState::Error,
        ]
        .into_iter()
        .find(|state| state.as_str() == text)
    }
}

/// A movie, as `get_movie` returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Movie {
    /// The movie's id.
    pub id: Uuid,
    /// Unique name, 1–255 characters.
    pub name: String,
    /// Optional rank.
    pub rank: Option<i64>,
    /// Where it is downloaded from (http or https).
    pub url: String,
    /// Download state.
    pub state: MovieState,
    /// Size in bytes, once known.
    pub size: Option<i64>,
    /// Bytes stored so far.
    pub bytes_downloaded: i64,
    /// `sha256:<hex>` once downloaded.
    pub checksum: Option<String>,
    /// Why the download failed, in the error state.
    pub error: Option<String>,
    /// Free-form metadata.
    pub meta: Map<String, Value>,
    /// Creation time, RFC 3339 UTC.
    pub created_at: String,
    /// Last change, RFC 3339 UTC.
    pub updated_at: String,
    /// The project the movie belongs to; `None` for a movie created before
    /// movies had owners, or by trusted infrastructure. Read-only.
    #[serde(default)]
    pub project_id: Option<String>,
    /// The user who created it, when known. Read-only.
    #[serde(default)]
    pub user_id: Option<String>,
}

/// What `create_movie` takes (`content_json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMovie {
    /// The id to use; generated when absent (the API sets it, so a retried
    /// create cannot make two movies).
    #[serde(default, alias = "id")]
    pub uuid: Option<Uuid>,
    /// Unique name.
    pub name: String,
    /// Where to download it from; the scheme is lowered as it is read.
    #[serde(deserialize_with = "rules::deserialize_url")]
    pub url: String,
    /// Optional rank.
    #[serde(default, deserialize_with = "rules::deserialize_rank")]
    pub rank: Option<i64>,
    /// Optional metadata.
    #[serde(default)]
    pub meta: Map<String, Value>,
}

/// What `update_movie` takes (`content_json`): only the fields to change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MovieUpdate {
    /// A new name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A new rank; `Some(None)` clears it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "double_option::serialize",
        deserialize_with = "rules::deserialize_rank_update"
    )]
    pub rank: Option<Option<i64>>,
    /// A new URL: the movie is downloaded again. The scheme is lowered as it is read.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "rules::deserialize_optional_url"
    )]
    pub url: Option<String>,
    /// New metadata (replaces the old).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Map<String, Value>>,
}

impl NewMovie {
    /// Checks the name, URL and meta (see [`rules`]).
    ///
    /// # Errors
    /// The rule broken, as a sentence.
    pub fn validate(&self) -> Result<(), String> {
        check_name(&self.name)?;
        check_url(&self.url)?;
        check_meta(&self.meta)
    }
}

impl MovieUpdate {
    /// Checks the fields present (see [`rules`]).
    ///
    /// # Errors
    /// The rule broken, as a sentence.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(name) = &self.name {
            check_name(name)?;
        }
        if let Some(url) = &self.url {
            check_url(url)?;
        }
        if let Some(meta) = &self.meta {
            check_meta(meta)?;
        }
        Ok(())
    }
}

/// The sort keys of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// By name.
    Name,
    /// By rank (movies without one last in ascending order).
    Rank,
    /// By creation time (the default).
    #[default]
    CreatedAt,
}

/// The direction of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SortDir {
    /// Smallest first (the default).
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

/// What `get_all_movie` takes; every field optional on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListQuery {
    /// At most this many movies (1–1000, default 100).
    #[serde(default = "default_limit")]
    pub limit: u32,
    /// Start after this movie.
    #[serde(default)]
    pub marker: Option<Uuid>,
    /// Sort key.
    #[serde(default)]
    pub sort_key: SortKey,
    /// Sort direction.
    #[serde(default)]
    pub sort_dir: SortDir,
    /// Only movies in this state.
    #[serde(default)]
    pub state: Option<MovieState>,
    /// Every project's movies rather than the caller's own; honoured for
    /// admins only (see [`crate::scope`]). Sent only when true, so an engine
    /// that predates it sees the arguments it knows.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all_projects: bool,
}

/// The default page size of a listing.
pub const DEFAULT_LIMIT: u32 = 100;
/// The largest page size of a listing.
pub const MAX_LIMIT: u32 = 1000;

fn default_limit() -> u32 {
    DEFAULT_LIMIT
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            limit: DEFAULT_LIMIT,
            marker: None,
            sort_key: SortKey::default(),
            sort_dir: SortDir::default(),
            state: None,
            all_projects: false,
        }
    }
}

/// `Option<Option<T>>` where a JSON `null` means "clear" and absence means
/// "keep" ([`rules::deserialize_rank_update`] reads it back).
mod double_option {
    use serde::{Serialize, Serializer};

    pub(super) fn serialize<T: Serialize, S: Serializer>(
        value: &Option<Option<T>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => inner.serialize(serializer),
            None => serializer.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn states_round_trip_as_lowercase_words() {
        for state in [
            MovieState::Queued,
            MovieState::Downloading,
            MovieState::Downloaded,
            MovieState::Error,
        ] {
            assert_eq!(
                serde_json::to_value(state).expect("json"),
                json!(state.as_str())
            );
            assert_eq!(MovieState::parse(state.as_str()), Some(state));
        }
    }

    #[test]
    fn an_update_tells_null_from_absent() {
        let clear: MovieUpdate = serde_json::from_value(json!({"rank": null})).expect("parse");
        assert_eq!(clear.rank, Some(None));
        let keep: MovieUpdate = serde_json::from_value(json!({"name": "x"})).expect("parse");
        assert_eq!(keep.rank, None);
    }

    #[test]
    fn a_list_query_defaults_every_field() {
        let query: ListQuery = serde_json::from_value(json!({})).expect("parse");
        assert_eq!(query, ListQuery::default());
    }

    #[test]
    fn all_projects_travels_only_when_asked() {
        let plain = serde_json::to_value(ListQuery::default()).expect("json");
        assert!(plain.get("all_projects").is_none(), "{plain}");
        let every = ListQuery {
            all_projects: true,
            ..ListQuery::default()
        };
        let sent = serde_json::to_value(&every).expect("json");
        assert_eq!(sent["all_projects"], true);
        assert_eq!(
            serde_json::from_value::<ListQuery>(sent).expect("parse"),
            every
        );
    }

    #[test]
    fn owners_are_always_shown_and_never_taken_from_a_body() {
        let movie = Movie {
            id: Uuid::nil(),
            name: "a".into(),
            rank: None,
            url: "http://e".into(),
            state: MovieState::Queued,
            size: None,
            bytes_downloaded: 0,
            checksum: None,
            error: None,
            meta: Map::new(),
            created_at: String::new(),
            updated_at: String::new(),
            project_id: None,
            user_id: None,
        };
        let shown = serde_json::to_value(&movie).expect("json");
        assert_eq!(
            (&shown["project_id"], &shown["user_id"]),
            (&Value::Null, &Value::Null)
        );
        for field in ["project_id", "user_id"] {
            let mut body = json!({"name": "a", "url": "http://x"});
            body[field] = json!("p");
            assert!(
                serde_json::from_value::<NewMovie>(body.clone()).is_err(),
                "{body}"
            );
            assert!(serde_json::from_value::<MovieUpdate>(json!({ field: "p" })).is_err());
        }
    }

    #[test]
    fn urls_read_from_json_have_their_scheme_lowered_and_ranks_must_fit_64_bits() {
        let new: NewMovie =
            serde_json::from_value(json!({"name": "a", "url": "HTTP://Example.com/A"}))
                .expect("parse");
        assert_eq!(new.url, "http://Example.com/A");
        let update: MovieUpdate =
            serde_json::from_value(json!({"url": "Https://e.com/"})).expect("parse");
        assert_eq!(update.url.as_deref(), Some("https://e.com/"));
        for rank in [json!(1.5), json!(9_223_372_036_854_775_808_u64)] {
            assert!(serde_json::from_value::<MovieUpdate>(json!({ "rank": rank })).is_err());
            assert!(
                serde_json::from_value::<NewMovie>(
                    json!({"name": "a", "url": "http://e", "rank": rank})
                )
                .is_err()
            );
        }
    }

    #[test]
    fn unknown_fields_in_a_new_movie_are_refused() {
        assert!(
            serde_json::from_value::<NewMovie>(
                json!({"name": "a", "url": "http://x", "state": "queued"})
            )
            .is_err()
        );
    }
}
