//! `Host`: RFC 9112 §3.2, an HTTP/1.1 request must carry exactly one. The
//! base of the links the authority gives is worked out in `links`.

use hyper::Version;
use hyper::header::HOST;
use hyper::http::request::Parts;

use crate::error::ApiError;

/// Refuses an HTTP/1.1 request without `Host`, and any with several.
///
/// # Errors
/// [`ApiError::BadRequest`] naming the rule broken.
pub(super) fn check(parts: &Parts) -> Result<(), ApiError> {
    match parts.headers.get_all(HOST).iter().count() {
        0 if parts.version >= Version::HTTP_11 => {
            Err(ApiError::BadRequest("The Host header is required.".into()))
        }
        0 | 1 => Ok(()),
        _ => Err(ApiError::BadRequest(
            "The request has more than one Host header.".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::Request;

    fn parts(version: Version, hosts: &[&str], target: &str) -> Parts {
        let mut request = Request::get(target).version(version);
        for host in hosts {
            request = request.header(HOST, *host);
        }
        request.body(()).expect("a request").into_parts().0
    }

    #[test]
    fn an_http_11_request_needs_exactly_one_host() {
        assert!(check(&parts(Version::HTTP_11, &["a"], "/")).is_ok());
        assert!(check(&parts(Version::HTTP_10, &[], "/")).is_ok());
        for (version, hosts) in [
            (Version::HTTP_11, &[][..]),
            (Version::HTTP_11, &["a", "b"][..]),
            (Version::HTTP_10, &["a", "a"][..]),
        ] {
            assert!(
                matches!(
                    check(&parts(version, hosts, "/")),
                    Err(ApiError::BadRequest(_))
                ),
                "{version:?} {hosts:?}"
            );
        }
    }
}
