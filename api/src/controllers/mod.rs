//! One module per resource.

pub(crate) mod health;
pub(crate) mod movies;
pub(crate) mod openapi;
pub(crate) mod versions;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Response, StatusCode};

use crate::links::{self, LinkBase};
use crate::state::AppState;

/// One request, its body read, on its way to a controller.
pub(crate) struct Call<'a> {
    /// Method, URI, headers.
    pub parts: &'a Parts,
    /// The whole body (already bounded by `max_request_body_size`).
    pub body: Bytes,
    /// What the worker shares between requests.
    pub state: &'a AppState,
}

/// A 200 with a JSON body.
pub(crate) fn json(value: &serde_json::Value) -> Response<Full<Bytes>> {
    json_with_status(value, StatusCode::OK)
}

/// A JSON body with `status`.
pub(crate) fn json_with_status(
    value: &serde_json::Value,
    status: StatusCode,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    *response.status_mut() = status;
    response
}

/// The base of the links in a response, without a trailing `/`:
/// `[api] public_endpoint`, else the authority the client addressed when it
/// is a plain `host[:port]`, else the address the request arrived at (see
/// `links`).
pub(crate) fn base_url(parts: &Parts) -> String {
    match parts.extensions.get::<LinkBase>() {
        Some(LinkBase(base)) => base.clone(),
        // Only a request that bypassed the middleware has none.
        None => match links::addressed(parts) {
            Some(authority) => format!("http://{authority}"),
            None => "http://localhost".to_owned(),
        },
    }
}
