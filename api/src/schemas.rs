//! Requests parsed once, at the edge, into the engine's typed values. Code
//! past this module never checks a name, URL, limit or marker again.

use engine::objects::{
    ListQuery, MAX_LIMIT, MovieState, MovieUpdate, NewMovie, SortDir, SortKey, rules,
};
use hyper::body::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::ApiError;

/// Fields the engine owns; a client may read them, never send them.
const READ_ONLY: [&str; 10] = [
    "id",
    "project_id",
    "user_id",
    "state",
    "size",
    "bytes_downloaded",
    "checksum",
    "error",
    "created_at",
    "updated_at",
];

/// Fields that may be given but never as `null`.
const NOT_NULL: [&str; 3] = ["name", "url", "meta"];

/// The engine's own field rules (`engine::objects::rules`) read the URL and
/// the rank, so the API answers exactly as the engine would.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    #[serde(deserialize_with = "rules::deserialize_url")]
    url: String,
    #[serde(default, deserialize_with = "rules::deserialize_rank")]
    rank: Option<i64>,
    #[serde(default)]
    meta: Option<Map<String, Value>>,
}

/// `POST /v1/movies` body → a new movie with a fresh id.
///
/// # Errors
/// 400 for malformed JSON, wrong types, unknown or read-only fields, a bad
/// name, URL, rank or meta (the engine's rules, `engine::objects::rules`).
pub(crate) fn create_body(body: &Bytes) -> Result<NewMovie, ApiError> {
    let body: CreateBody = parse_object(body)?;
    let movie = NewMovie {
        uuid: Some(Uuid::new_v4()),
        name: body.name,
        url: body.url,
        rank: body.rank,
        meta: body.meta.unwrap_or_default(),
    };
    movie.validate().map_err(ApiError::BadRequest)?;
    Ok(movie)
}

/// `PUT /v1/movies/<id>` body → the fields to change.
///
/// # Errors
/// 400 as for [`create_body`], or when no field is given.
pub(crate) fn update_body(body: &Bytes) -> Result<MovieUpdate, ApiError> {
    let update: MovieUpdate = parse_object(body)?;
    if update == MovieUpdate::default() {
        return Err(ApiError::BadRequest(
            "give at least one of name, url, rank, meta".into(),
        ));
    }
    update.validate().map_err(ApiError::BadRequest)?;
    Ok(update)
}

fn parse_object<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
    let Value::Object(fields) = &value else {
        return Err(ApiError::BadRequest(
            "the body must be a JSON object".into(),
        ));
    };
    if let Some(field) = READ_ONLY.iter().find(|field| fields.contains_key(**field)) {
        return Err(ApiError::BadRequest(format!(
            "the field {field} is read-only"
        )));
    }
    // Only the rank may be cleared; a null anywhere else is a mistake, not "unchanged".
    if let Some(field) = NOT_NULL
        .iter()
        .find(|field| fields.get(**field).is_some_and(Value::is_null))
    {
        return Err(ApiError::BadRequest(format!(
            "the field {field} must not be null"
        )));
    }
    serde_json::from_value(value).map_err(|e| ApiError::BadRequest(format!("invalid body: {e}")))
}

/// A `<uuid>` path segment.
///
/// # Errors
/// 400 when it is not a UUID.
pub(crate) fn movie_id(segment: &str) -> Result<Uuid, ApiError> {
    Uuid::try_parse(segment)
        .map_err(|_| ApiError::BadRequest(format!("{segment:?} is not a valid movie id")))
}

/// `GET /v1/movies` query string → a listing query.
///
/// # Errors
/// 400 for an unknown parameter or a value out of range.
pub(crate) fn list_query(query: Option<&str>) -> Result<ListQuery, ApiError> {
    let mut list = ListQuery::default();
    for (name, value) in query_pairs(query.unwrap_or_default()) {
        let bad = |allowed: &str| ApiError::BadRequest(format!("{name}={value:?}: {allowed}"));
        match name.as_str() {
            "limit" => {
                list.limit = value
                    .parse()
                    .ok()
                    .filter(|limit| (1..=MAX_LIMIT).contains(limit))
                    .ok_or_else(|| bad(&format!("expected an integer from 1 to {MAX_LIMIT}")))?;
            }
            "marker" => {
                list.marker = Some(Uuid::try_parse(&value).map_err(|_| bad("expected a movie id"))?)
            }
            "sort_key" => {
                list.sort_key = match value.as_str() {
                    "name" => SortKey::Name,
                    "rank" => SortKey::Rank,
                    "created_at" => SortKey::CreatedAt,
                    _ => return Err(bad("expected name, rank or created_at")),
                }
            }
            "sort_dir" => {
                list.sort_dir = match value.as_str() {
                    "asc" => SortDir::Asc,
                    "desc" => SortDir::Desc,
                    _ => return Err(bad("expected asc or desc")),
                }
            }
            "all_projects" => {
                list.all_projects = parse_bool(&value)
                    .ok_or_else(|| bad("expected true or false (or 1/0, yes/no, on/off)"))?;
            }
            "state" => {
                list.state = Some(
                    MovieState::parse(&value)
                        .ok_or_else(|| bad("expected queued, downloading, downloaded or error"))?,
                );
            }
            _ => {
                return Err(ApiError::BadRequest(format!(
                    "unknown query parameter {name:?}"
                )));
            }
        }
    }
    Ok(list)
}

/// A boolean as oslo's `strutils.bool_from_string` reads one, strictly.
fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "t" | "true" | "on" | "y" | "yes" => Some(true),
        "0" | "f" | "false" | "off" | "n" | "no" => Some(false),
        _ => None,
    }
}

fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}

/// `application/x-www-form-urlencoded` decoding: `%XX` is a byte, and `+`
/// a blank, as HTML forms and Python's `urlencode` write query strings
/// (plain percent-decoding would keep the `+`).
fn decode(text: &str) -> String {
    let text = text.replace('+', " ");
    percent_encoding::percent_decode_str(&text)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(text: &str) -> Bytes {
        Bytes::from(text.to_string())
    }

    #[test]
    fn a_good_create_body_gets_a_fresh_id() {
        let movie = create_body(&bytes(
            r#"{"name": "Alien", "url": "http://e.com/a", "rank": 3, "meta": {"y": 1979}}"#,
        ))
        .expect("valid");
        assert!(movie.uuid.is_some());
        assert_eq!(movie.rank, Some(3));
    }

    #[test]
    fn bad_create_bodies_are_400s() {
        for body in [
            "not json",
            "[]",
            r#"{"name": "A"}"#,
            r#"{"name": 3, "url": "http://e.com/a"}"#,
            r#"{"name": "A", "url": "http://e.com/a", "state": "queued"}"#,
            r#"{"name": "A", "url": "http://e.com/a", "id": "x"}"#,
            r#"{"name": "A", "url": "http://e.com/a", "colour": "red"}"#,
            r#"{"name": "", "url": "http://e.com/a"}"#,
            r#"{"name": "A", "url": "ftp://e.com/a"}"#,
            r#"{"name": "A", "url": "http://e.com/a", "rank": "high"}"#,
            r#"{"name": "A", "url": "http://e.com/a", "meta": []}"#,
            r#"{"name": "A", "url": "http://e.com/a", "meta": null}"#,
            r#"{"name": null, "url": "http://e.com/a"}"#,
        ] {
            assert!(
                matches!(create_body(&bytes(body)), Err(ApiError::BadRequest(_))),
                "{body}"
            );
        }
    }

    #[test]
    fn the_engine_rules_give_400s_naming_the_rule() {
        let deep = r#"{"a": {"b": {"c": {"d": {"e": {}}}}}}"#;
        let big = format!(r#"{{"k": "{}"}}"#, "x".repeat(8192));
        for (fields, rule) in [
            (r#""name": "a\u0000b""#, "control characters"),
            (r#""name": "new\nline""#, "control characters"),
            (r#""name": "\u202eevil""#, "bidirectional controls"),
            (r#""name": "trail ""#, "whitespace"),
            (r#""rank": 1.5"#, "rank must be an integer"),
            (r#""rank": 9223372036854775808"#, "rank must be an integer"),
            (&format!(r#""meta": {deep}"#), "5 levels deep"),
            (&format!(r#""meta": {big}"#), "8192 bytes"),
            (r#""meta": {"k": "a\u0000"}"#, "U+0000"),
        ] {
            let mut body = format!(r#"{{"name": "A", "url": "http://e.com/a", {fields}}}"#);
            if fields.starts_with(r#""name""#) {
                body = format!(r#"{{"url": "http://e.com/a", {fields}}}"#);
            }
            let error = create_body(&bytes(&body)).expect_err(&body);
            assert!(error.to_string().contains(rule), "{body}: {error}");
            let update = update_body(&bytes(&format!("{{{fields}}}"))).expect_err(fields);
            assert!(update.to_string().contains(rule), "{fields}: {update}");
        }
    }

    #[test]
    fn a_url_scheme_in_any_case_is_accepted_and_lowered() {
        let movie =
            create_body(&bytes(r#"{"name": "A", "url": "HTTP://E.com/A"}"#)).expect("valid");
        assert_eq!(movie.url, "http://E.com/A");
        let update = update_body(&bytes(r#"{"url": "Https://e.com/"}"#)).expect("valid");
        assert_eq!(update.url.as_deref(), Some("https://e.com/"));
    }

    #[test]
    fn an_update_needs_a_field_and_may_clear_the_rank() {
        assert!(update_body(&bytes("{}")).is_err());
        for null in [
            r#"{"name": null}"#,
            r#"{"url": null}"#,
            r#"{"meta": null, "rank": 2}"#,
        ] {
            let error = update_body(&bytes(null)).expect_err("refused");
            assert!(error.to_string().contains("must not be null"), "{error}");
        }
        assert_eq!(
            update_body(&bytes(r#"{"rank": null}"#))
                .expect("valid")
                .rank,
            Some(None)
        );
    }

    #[test]
    fn list_parameters_are_bounded() {
        let query =
            list_query(Some("limit=5&sort_key=rank&sort_dir=desc&state=queued")).expect("valid");
        assert_eq!(
            (query.limit, query.sort_key, query.sort_dir),
            (5, SortKey::Rank, SortDir::Desc)
        );
        for bad in [
            "limit=0",
            "limit=1001",
            "limit=x",
            "marker=nope",
            "sort_key=size",
            "sort_dir=up",
            "state=lost",
            "page=2",
        ] {
            assert!(list_query(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn query_values_are_percent_decoded() {
        assert_eq!(
            query_pairs("a=b%20c+d"),
            vec![("a".to_string(), "b c d".to_string())]
        );
        assert_eq!(
            query_pairs("a%2Bb=%2B&c=%zz%4"),
            vec![
                ("a+b".to_string(), "+".to_string()),
                ("c".to_string(), "%zz%4".to_string())
            ]
        );
    }
}
