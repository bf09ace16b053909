//! (method, path) → controller. A path that does not exist is a 404; a method
//! the path does not allow is a 405 with `Allow`.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::http::request::Parts;
use hyper::{Method, Response};

use crate::controllers::{health, versions};
use crate::error::ApiError;

/// Dispatches a request whose body has been read.
///
/// # Errors
/// [`ApiError::NotFound`] or [`ApiError::MethodNotAllowed`], or what the controller returns.
pub async fn route(parts: &Parts, _body: Bytes) -> Result<Response<Full<Bytes>>, ApiError> {
    let path = parts.uri.path();
    let path = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    let get_only = |handler: fn(&Parts) -> Response<Full<Bytes>>| {
        if parts.method == Method::GET || parts.method == Method::HEAD {
            Ok(handler(parts))
        } else {
            Err(ApiError::MethodNotAllowed {
                method: parts.method.to_string(),
                allow: "GET, HEAD",
            })
        }
    };
    tracing::debug!(method = %parts.method, path, "routing");
    match path {
        "/" => get_only(versions::index),
        "/v1" => get_only(versions::v1),
        "/healthcheck" => get_only(health::check),
        _ => Err(ApiError::NotFound),
    }
}
