//! `GET /openapi.json`: the OpenAPI 3 description of this API, kept true by
//! tests that check every route and status against the running server.

use http_body_util::Full;
use hyper::Response;
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue};

/// The document, as written in `openapi.json` beside this file.
const DOCUMENT: &str = include_str!("openapi.json");

/// The OpenAPI document.
pub(crate) fn document() -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(DOCUMENT.as_bytes())));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_is_json_with_every_route() {
        let document: serde_json::Value =
            serde_json::from_str(super::DOCUMENT).expect("valid JSON");
        assert_eq!(document["openapi"].as_str().map(|v| &v[..2]), Some("3."));
        for path in [
            "/",
            "/v1",
            "/healthcheck",
            "/openapi.json",
            "/v1/movies",
            "/v1/movies/{movie_id}",
        ] {
            assert!(document["paths"].get(path).is_some(), "{path}");
        }
    }
}
