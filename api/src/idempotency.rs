//! `Idempotency-Key` on `POST /v1/movies` (draft-ietf-httpapi-idempotency-key-header):
//! the same key gives the same movie, however often the request is retried
//! and whichever worker or host takes the retry. No table of keys is kept: the
//! key and the caller's project determine the movie's id (two projects may
//! pick the same key without meeting), and the engine answers a create whose id
//! already holds the same movie with that movie.

use hyper::HeaderMap;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::ApiError;

/// The request header.
pub(crate) const HEADER: &str = "idempotency-key";

/// The longest key accepted.
const MAX_KEY_LEN: usize = 255;

/// Separates the keys' ids from any other use of the same hash.
const DOMAIN: &[u8] = b"pymsboot movie id for idempotency key\0";

/// The id of the movie a keyed create in `project` makes: `None` without a key.
///
/// # Errors
/// 400 for an empty, over-long or non-printable key, or more than one.
pub(crate) fn movie_id(headers: &HeaderMap, project: &str) -> Result<Option<Uuid>, ApiError> {
    let mut values = headers.get_all(HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(bad("give one Idempotency-Key header, not several"));
    }
    let text = value
        .to_str()
        .map_err(|_| bad("the Idempotency-Key must be printable ASCII"))?
        .trim();
    // A structured-field string ("…") as the draft has it, or a bare token.
    let key = text
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or(text);
    if key.is_empty()
        || key.len() > MAX_KEY_LEN
        || !key.chars().all(|c| c.is_ascii_graphic() || c == ' ')
    {
        return Err(bad(&format!(
            "the Idempotency-Key must be 1 to {MAX_KEY_LEN} printable ASCII characters"
        )));
    }
    let digest = Sha256::new()
        .chain_update(DOMAIN)
        .chain_update(project)
        .chain_update(b"\0")
        .chain_update(key)
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Ok(Some(uuid::Builder::from_custom_bytes(bytes).into_uuid()))
}

fn bad(message: &str) -> ApiError {
    ApiError::BadRequest(message.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(HEADER, HeaderValue::from_str(value).expect("header"));
        }
        headers
    }

    #[test]
    fn one_key_one_id_quoted_or_not() {
        let first = movie_id(&headers(&["\"order-1\""]), "p1").expect("valid");
        assert!(first.is_some());
        assert_eq!(
            first,
            movie_id(&headers(&["order-1"]), "p1").expect("valid")
        );
        assert_ne!(
            first,
            movie_id(&headers(&["order-2"]), "p1").expect("valid")
        );
        assert_ne!(
            first,
            movie_id(&headers(&["order-1"]), "p2").expect("valid")
        );
        assert_eq!(movie_id(&HeaderMap::new(), "p1").expect("valid"), None);
    }

    #[test]
    fn bad_keys_are_400s() {
        let long = "k".repeat(256);
        for bad in [vec!["\"\""], vec![long.as_str()], vec!["a", "b"]] {
            assert!(
                matches!(movie_id(&headers(&bad), "p1"), Err(ApiError::BadRequest(_))),
                "{bad:?}"
            );
        }
    }
}
