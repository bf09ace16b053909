//! The limits on a request's header fields, enforced here rather than by
//! hyper so that the 431 carries the JSON error body: hyper's own limits
//! ([`HYPER_MAX_HEADERS`], [`HYPER_MAX_HEADER_BYTES`]) sit well above these,
//! and what hyper still refuses gets its body from `connection::error_bodies`.

use hyper::http::request::Parts;

use crate::error::ApiError;

/// The most header fields a request may carry (hyper's own default).
pub(super) const MAX_HEADERS: usize = 100;
/// The most bytes the request line and header fields may take together.
pub(super) const MAX_HEADER_BYTES: usize = 64 * 1024;

/// What hyper is told to parse; past this it answers by itself.
pub(crate) const HYPER_MAX_HEADERS: usize = 4 * MAX_HEADERS;
/// What hyper is told to read of a request head; past this it answers by itself.
pub(crate) const HYPER_MAX_HEADER_BYTES: usize = 4 * MAX_HEADER_BYTES;

/// Refuses a request whose header fields are too many or too large.
///
/// # Errors
/// [`ApiError::HeadersTooLarge`] saying which limit was passed.
pub(super) fn check(parts: &Parts) -> Result<(), ApiError> {
    let count = parts.headers.len();
    if count > MAX_HEADERS {
        return Err(ApiError::HeadersTooLarge(format!(
            "{count} fields where at most {MAX_HEADERS} are accepted"
        )));
    }
    let bytes = head_size(parts);
    if bytes > MAX_HEADER_BYTES {
        return Err(ApiError::HeadersTooLarge(format!(
            "{bytes} bytes where at most {MAX_HEADER_BYTES} are accepted"
        )));
    }
    Ok(())
}

/// The size of the head as it was sent: `METHOD target HTTP/1.1\r\n`, then
/// `name: value\r\n` per field (optional spaces aside).
fn head_size(parts: &Parts) -> usize {
    let target = parts.uri.path_and_query().map_or(1, |pq| pq.as_str().len());
    let line = parts.method.as_str().len() + 1 + target + 1 + "HTTP/1.1\r\n".len();
    let fields: usize = parts
        .headers
        .iter()
        .map(|(name, value)| name.as_str().len() + 2 + value.len() + 2)
        .sum();
    line + fields + 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::Request;

    fn parts(fields: usize, value_len: usize) -> Parts {
        let mut request = Request::get("/v1");
        for i in 0..fields {
            request = request.header(format!("x-h{i}"), "v".repeat(value_len));
        }
        request.body(()).expect("a request").into_parts().0
    }

    #[test]
    fn the_field_count_is_limited() {
        assert!(check(&parts(MAX_HEADERS, 1)).is_ok());
        let error = check(&parts(MAX_HEADERS + 1, 1)).expect_err("too many");
        assert!(error.to_string().contains("101 fields"), "{error}");
    }

    #[test]
    fn the_head_size_is_limited() {
        assert!(check(&parts(2, 30 * 1024)).is_ok());
        let error = check(&parts(3, 30 * 1024)).expect_err("too large");
        assert!(
            error.to_string().contains("bytes where at most 65536"),
            "{error}"
        );
    }

    #[test]
    fn the_head_size_counts_what_was_sent() {
        let parts = parts(1, 3);
        // "GET /v1 HTTP/1.1\r\n" + "x-h0: vvv\r\n" + "\r\n"
        assert_eq!(head_size(&parts), 18 + 11 + 2);
    }
}
