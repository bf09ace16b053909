//! One module per resource.

pub mod health;
pub mod movies;
pub mod openapi;
pub mod versions;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Response, StatusCode};

/// A 200 with a JSON body.
pub fn json(value: &serde_json::Value) -> Response<Full<Bytes>> {
    json_with_status(value, StatusCode::OK)
}

/// A JSON body with `status`.
pub fn json_with_status(value: &serde_json::Value, status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    *response.status_mut() = status;
    response
}

/// `http://<Host>`: the base of the links in a response, as the client addressed us.
pub fn base_url(parts: &Parts) -> String {
    let host = parts
        .headers
        .get(HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| !host.is_empty() && host.chars().all(|c| c.is_ascii_graphic()))
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or("localhost");
    format!("http://{host}")
}
