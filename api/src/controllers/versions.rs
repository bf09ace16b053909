//! `GET /` (the version list) and `GET /v1` (links to its resources).

use http_body_util::Full;
use hyper::Response;
use hyper::body::Bytes;
use hyper::http::request::Parts;
use serde_json::json;

use super::{base_url, json};

/// The one API version.
const V1: &str = "v1.0";

/// `GET /`.
pub(crate) fn index(parts: &Parts) -> Response<Full<Bytes>> {
    let base = base_url(parts);
    json(&json!({
        "versions": [{
            "id": V1,
            "status": "CURRENT",
            "links": [{"rel": "self", "href": format!("{base}/v1")}],
        }]
    }))
}

/// `GET /v1`.
pub(crate) fn v1(parts: &Parts) -> Response<Full<Bytes>> {
    let base = base_url(parts);
    json(&json!({
        "id": V1,
        "status": "CURRENT",
        "links": [
            {"rel": "self", "href": format!("{base}/v1")},
            {"rel": "movies", "href": format!("{base}/v1/movies")},
        ],
    }))
}
