//! The rules a movie's fields obey, whichever way they arrive (the API's
//! schemas, or a Python caller of `create_movie`) and whichever database
//! keeps them. The engine checks them before the store sees a value, so
//! SQLite, PostgreSQL and MariaDB never get to apply rules of their own: a
//! NUL that PostgreSQL's text refuses, blanks that MariaDB's PAD SPACE
//! collations ignore, a case-folding collation.

use serde::de::{Deserialize, Deserializer, Error as _};
use serde_json::{Map, Value};

/// The longest movie name, in characters (Unicode code points).
pub const MAX_NAME_LEN: usize = 255;
/// The longest movie URL, in characters.
pub const MAX_URL_LEN: usize = 2048;
/// The most bytes a movie's `meta` may take as compact JSON (as stored and
/// as sent back): metadata rides in every reply, escaped again by the RPC
/// envelope, so an unbounded one makes every listing huge.
pub const MAX_META_BYTES: usize = 8192;
/// The deepest nesting of `meta`: the object itself is level 1, each object
/// or array inside it one level more.
pub const MAX_META_DEPTH: usize = 5;

const CONTROL_RANGES: &str = "U+0000–U+001F, U+007F–U+009F";
const BIDI_CONTROLS: &str = "U+200E, U+200F, U+202A–U+202E, U+2066–U+2069";

/// The characters that reorder the text around them: a name holding one
/// can display as another name (`U+202E` reverses what follows it).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Checks a movie name: 1–255 characters; no control characters (Unicode
/// category Cc), no bidirectional controls, no whitespace at either end.
/// Names are compared exactly, code point by code point, on every backend.
///
/// # Errors
/// A sentence naming the rule broken, for an `Invalid` error.
pub fn check_name(name: &str) -> Result<(), String> {
    let length = name.chars().count();
    if length == 0 || length > MAX_NAME_LEN {
        return Err(format!(
            "name must be 1 to {MAX_NAME_LEN} characters, not {length}"
        ));
    }
    let found = |what: &str, ranges: &str, test: fn(char) -> bool| {
        name.chars()
            .enumerate()
            .find(|(_, c)| test(*c))
            .map(|(at, c)| {
                format!(
                    "name must not contain {what} ({ranges}): U+{:04X} at character {}",
                    u32::from(c),
                    at + 1
                )
            })
    };
    if let Some(error) = found("control characters", CONTROL_RANGES, char::is_control)
        .or_else(|| found("bidirectional controls", BIDI_CONTROLS, is_bidi_control))
    {
        return Err(error);
    }
    if name.starts_with(char::is_whitespace) || name.ends_with(char::is_whitespace) {
        return Err("name must not begin or end with whitespace".to_string());
    }
    Ok(())
}

/// Checks a movie URL: at most 2048 characters, `http://` or `https://`
/// (the scheme in any case, RFC 3986 §3.1), a host, no blanks or controls.
///
/// # Errors
/// A sentence naming the rule broken, for an `Invalid` error.
pub fn check_url(url: &str) -> Result<(), String> {
    let length = url.chars().count();
    if length > MAX_URL_LEN {
        return Err(format!(
            "url must be at most {MAX_URL_LEN} characters, not {length}"
        ));
    }
    let rest = after_http_scheme(url)
        .ok_or_else(|| "url must start with http:// or https:// (in any case)".to_string())?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, host)| host);
    if host.is_empty() || host.starts_with(':') {
        return Err("url must name a host after the scheme".to_string());
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("url must not contain blanks or control characters".to_string());
    }
    Ok(())
}

/// What follows `http://` or `https://`, in any case, if `url` starts so.
fn after_http_scheme(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    is_http(scheme).then_some(rest)
}

fn is_http(scheme: &str) -> bool {
    scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")
}

/// `url` with an http or https scheme in lower case, the form it is stored
/// and shown in (`HTTP://Host/A` → `http://Host/A`); anything else unchanged,
/// for [`check_url`] to refuse.
pub fn lower_scheme(url: String) -> String {
    match url.split_once("://") {
        Some((scheme, rest))
            if is_http(scheme) && scheme.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            format!("{}://{rest}", scheme.to_ascii_lowercase())
        }
        _ => url,
    }
}

/// Checks a movie's `meta`: nested at most [`MAX_META_DEPTH`] levels, no
/// U+0000 in a key or a string, at most [`MAX_META_BYTES`] bytes as JSON.
///
/// # Errors
/// A sentence naming the rule broken, for an `Invalid` error.
pub fn check_meta(meta: &Map<String, Value>) -> Result<(), String> {
    check_object(meta, 1)?;
    let mut size = ByteCount(0);
    serde_json::to_writer(&mut size, meta)
        .map_err(|e| format!("meta cannot be written as JSON: {e}"))?;
    if size.0 > MAX_META_BYTES {
        return Err(format!(
            "meta must be at most {MAX_META_BYTES} bytes as JSON, not {}",
            size.0
        ));
    }
    Ok(())
}

fn too_deep() -> String {
    format!(
        "meta must nest at most {MAX_META_DEPTH} levels deep \
         (meta itself is level 1, each object or array inside it one more)"
    )
}

fn has_nul() -> String {
    "meta keys and string values must not contain U+0000 (NUL)".to_string()
}

/// Walks no deeper than the limit, so a refused value costs no more than an
/// accepted one.
fn check_object(object: &Map<String, Value>, depth: usize) -> Result<(), String> {
    if depth > MAX_META_DEPTH {
        return Err(too_deep());
    }
    for (key, value) in object {
        if key.contains('\0') {
            return Err(has_nul());
        }
        check_value(value, depth + 1)?;
    }
    Ok(())
}

fn check_value(value: &Value, depth: usize) -> Result<(), String> {
    match value {
        Value::Object(object) => check_object(object, depth),
        Value::Array(_) if depth > MAX_META_DEPTH => Err(too_deep()),
        Value::Array(items) => items
            .iter()
            .try_for_each(|item| check_value(item, depth + 1)),
        Value::String(text) if text.contains('\0') => Err(has_nul()),
        _ => Ok(()),
    }
}

/// Counts what is written, to size `meta` without building its text.
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Deserializes a URL, its scheme lowered (see [`lower_scheme`]).
///
/// # Errors
/// The deserializer's, when the value is not a string.
pub fn deserialize_url<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    String::deserialize(deserializer).map(lower_scheme)
}

/// [`deserialize_url`] for a field that may be absent.
///
/// # Errors
/// The deserializer's, when the value is not a string.
pub fn deserialize_optional_url<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(deserializer).map(|url| url.map(lower_scheme))
}

/// Deserializes a rank: a JSON integer that fits 64 bits, or `null`. A
/// float, even `1.0`, is refused, not rounded.
///
/// # Errors
/// A message naming the allowed range, for anything else.
pub fn deserialize_rank<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    let refuse = |what: &str| {
        D::Error::custom(format!(
            "rank must be an integer from {} to {} or null, not {what}",
            i64::MIN,
            i64::MAX
        ))
    };
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => number
            .as_i64()
            .map(Some)
            .ok_or_else(|| refuse(&number.to_string())),
        Some(Value::String(_)) => Err(refuse("a string")),
        Some(Value::Bool(_)) => Err(refuse("a boolean")),
        Some(Value::Array(_)) => Err(refuse("an array")),
        Some(Value::Object(_)) => Err(refuse("an object")),
    }
}

/// [`deserialize_rank`] for an update, where `null` clears the rank
/// (`Some(None)`) and absence keeps it (`None`, by the field's default).
///
/// # Errors
/// As [`deserialize_rank`].
pub fn deserialize_rank_update<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<i64>>, D::Error> {
    deserialize_rank(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_refuse_controls_bidi_controls_and_blanks_at_the_ends() {
        for good in [
            "Alien",
            "alien",
            "Alien 2: the return",
            "Amélie",
            "東京物語",
            "a\u{00A0}b",
            "😀",
        ] {
            assert_eq!(check_name(good), Ok(()), "{good:?}");
        }
        assert_eq!(check_name(&"é".repeat(255)), Ok(()));
        for (bad, rule) in [
            ("", "1 to 255 characters, not 0"),
            (&"x".repeat(256), "1 to 255 characters, not 256"),
            (
                "nul\0",
                "control characters (U+0000–U+001F, U+007F–U+009F): U+0000 at character 4",
            ),
            ("new\nline", "control characters"),
            ("bell\u{7}", "U+0007"),
            ("del\u{7F}", "U+007F"),
            ("c1\u{85}", "U+0085"),
            (
                "\u{202E}evil",
                "bidirectional controls (U+200E, U+200F, U+202A–U+202E, U+2066–U+2069): U+202E at character 1",
            ),
            ("a\u{200F}b", "U+200F"),
            ("a\u{2066}b", "U+2066"),
            ("trail ", "begin or end with whitespace"),
            (" lead", "begin or end with whitespace"),
            ("   ", "begin or end with whitespace"),
            ("nbsp\u{00A0}", "begin or end with whitespace"),
            ("\u{3000}ideographic", "begin or end with whitespace"),
        ] {
            let error = check_name(bad).expect_err(bad);
            assert!(error.contains(rule), "{bad:?}: {error}");
        }
    }

    #[test]
    fn urls_take_the_scheme_in_any_case_and_store_it_lowered() {
        for good in [
            "http://example.com/a.mp4",
            "https://u:p@example.com:8443/x?y=1",
            "HTTP://example.com/a",
            "hTtPs://example.com/a",
        ] {
            assert_eq!(check_url(good), Ok(()), "{good}");
        }
        assert_eq!(
            lower_scheme("HTTPS://Example.COM/A".into()),
            "https://Example.COM/A"
        );
        assert_eq!(
            lower_scheme("http://e.com/HTTP://x".into()),
            "http://e.com/HTTP://x"
        );
        assert_eq!(lower_scheme("FTP://e.com/".into()), "FTP://e.com/");
        let long = format!("http://e.com/{}", "a".repeat(2048));
        for (bad, rule) in [
            ("ftp://example.com/a", "must start with http:// or https://"),
            ("example.com", "must start with http:// or https://"),
            ("http://", "must name a host"),
            ("http:///path", "must name a host"),
            ("http://:80/", "must name a host"),
            ("http://a b/", "blanks or control characters"),
            ("http://a/\0", "blanks or control characters"),
            (long.as_str(), "at most 2048 characters, not 2061"),
        ] {
            let error = check_url(bad).expect_err(bad);
            assert!(error.contains(rule), "{bad}: {error}");
        }
    }

    fn nested(depth: usize) -> Map<String, Value> {
        let mut value = json!(1);
        for _ in 1..depth {
            value = json!({ "k": value });
        }
        match json!({ "k": value }) {
            Value::Object(object) => object,
            _ => unreachable!("an object literal"),
        }
    }

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("an object")
    }

    #[test]
    fn meta_is_bounded_in_depth_and_size_and_holds_no_nul() {
        assert_eq!(check_meta(&nested(MAX_META_DEPTH)), Ok(()));
        assert_eq!(check_meta(&object(json!({"a": [[[[1]]]]}))), Ok(()));
        // `{"k":"…"}` is 8 bytes around the string.
        let at_limit = object(json!({"k": "x".repeat(MAX_META_BYTES - 8)}));
        assert_eq!(check_meta(&at_limit), Ok(()));
        let quotes = object(json!({"k": "\"".repeat(50_000)}));
        for (bad, rule) in [
            (nested(MAX_META_DEPTH + 1), "at most 5 levels deep"),
            (object(json!({"a": [[[[[1]]]]]})), "at most 5 levels deep"),
            (
                object(json!({"k": "x".repeat(MAX_META_BYTES - 7)})),
                "at most 8192 bytes as JSON, not 8193",
            ),
            (quotes, "at most 8192 bytes as JSON, not 100008"),
            (object(json!({"a\0": 1})), "U+0000"),
            (object(json!({"a": {"b": ["ok", "x\0"]}})), "U+0000"),
        ] {
            let error = check_meta(&bad).expect_err("refused");
            assert!(error.contains(rule), "{error}");
        }
    }

    #[derive(serde::Deserialize)]
    struct Ranked {
        #[serde(default, deserialize_with = "deserialize_rank")]
        rank: Option<i64>,
    }

    #[test]
    fn ranks_are_64_bit_integers_or_null() {
        let rank = |json: &str| serde_json::from_str::<Ranked>(json).map(|r| r.rank);
        assert_eq!(rank("{}").ok(), Some(None));
        assert_eq!(rank(r#"{"rank": null}"#).ok(), Some(None));
        assert_eq!(
            rank(r#"{"rank": 9223372036854775807}"#).ok(),
            Some(Some(i64::MAX))
        );
        assert_eq!(
            rank(r#"{"rank": -9223372036854775808}"#).ok(),
            Some(Some(i64::MIN))
        );
        for bad in [
            "9223372036854775808",
            "-9223372036854775809",
            "1.5",
            "1.0",
            "1e3",
            "\"3\"",
            "true",
        ] {
            let error = rank(&format!(r#"{{"rank": {bad}}}"#)).expect_err(bad);
            assert!(
                error.to_string().contains(
                    "rank must be an integer from -9223372036854775808 to 9223372036854775807"
                ),
                "{bad}: {error}"
            );
        }
    }
}
