//! The movie and the values around it: what the store keeps, what the RPC
//! methods take and return, what the API renders. Serde types shared by the
//! engine and the API.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

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
    /// Where to download it from.
    pub url: String,
    /// Optional rank.
    #[serde(default)]
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
        with = "double_option"
    )]
    pub rank: Option<Option<i64>>,
    /// A new URL: the movie is downloaded again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// New metadata (replaces the old).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Map<String, Value>>,
}

/// The longest movie name.
pub const MAX_NAME_LEN: usize = 255;
/// The longest movie URL.
pub const MAX_URL_LEN: usize = 2048;

/// Checks a movie name: 1–255 characters.
///
/// # Errors
/// A sentence saying what is wrong, for an `Invalid` error.
pub fn check_name(name: &str) -> Result<(), String> {
    let length = name.chars().count();
    if length == 0 || length > MAX_NAME_LEN || name.trim().is_empty() {
        return Err(format!(
            "name must be 1 to {MAX_NAME_LEN} characters, not only blanks"
        ));
    }
    Ok(())
}

/// Checks a movie URL: http or https with a host, at most 2048 characters.
///
/// # Errors
/// A sentence saying what is wrong, for an `Invalid` error.
pub fn check_url(url: &str) -> Result<(), String> {
    if url.len() > MAX_URL_LEN {
        return Err(format!("url must be at most {MAX_URL_LEN} characters"));
    }
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| "url must start with http:// or https://".to_string())?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, host)| host);
    if host.is_empty()
        || host.starts_with(':')
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err("url must name a host and contain no blanks".to_string());
    }
    Ok(())
}

impl NewMovie {
    /// Checks the name and URL.
    ///
    /// # Errors
    /// What is wrong, as a sentence.
    pub fn validate(&self) -> Result<(), String> {
        check_name(&self.name)?;
        check_url(&self.url)
    }
}

impl MovieUpdate {
    /// Checks the fields present.
    ///
    /// # Errors
    /// What is wrong, as a sentence.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(name) = &self.name {
            check_name(name)?;
        }
        if let Some(url) = &self.url {
            check_url(url)?;
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
        }
    }
}

/// `Option<Option<T>>` where a JSON `null` means "clear" and absence means "keep".
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(
        value: &Option<Option<T>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => inner.serialize(serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(deserializer).map(Some)
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
    fn names_and_urls_are_checked() {
        assert!(check_name("Alien").is_ok());
        for bad in ["", "   ", &"x".repeat(256)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name(&"é".repeat(255)).is_ok());
        for good in [
            "http://example.com/a.mp4",
            "https://u:p@example.com:8443/x?y=1",
        ] {
            assert!(check_url(good).is_ok(), "{good}");
        }
        let long = format!("http://e.com/{}", "a".repeat(2048));
        for bad in [
            "ftp://example.com/a",
            "http://",
            "http:///path",
            "http://a b/",
            "example.com",
            long.as_str(),
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
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
