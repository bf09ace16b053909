//! (method, path) → controller. A path that does not exist is a 404; a method
//! the path does not allow is a 405 with `Allow`.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::http::request::Parts;
use hyper::{Method, Response};
use rpc::Context;

use crate::controllers::{health, movies, openapi, versions};
use crate::error::ApiError;
use crate::service::AppState;

/// One request, its body read, on its way to a controller.
pub struct Call<'a> {
    /// Method, URI, headers.
    pub parts: &'a Parts,
    /// The whole body (already bounded by `max_request_body_size`).
    pub body: Bytes,
    /// What the worker shares between requests.
    pub state: &'a AppState,
}

/// Dispatches a request whose body has been read; `context` carries its
/// request id to the engine.
///
/// # Errors
/// [`ApiError::NotFound`] or [`ApiError::MethodNotAllowed`], or what the controller returns.
pub async fn route(call: Call<'_>, context: &Context) -> Result<Response<Full<Bytes>>, ApiError> {
    let path = call.parts.uri.path();
    let path = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    let method = call.parts.method.clone();
    tracing::debug!(%method, path, "routing");
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let read = method == Method::GET || method == Method::HEAD;
    let refuse = |allow: &'static str| {
        Err(ApiError::MethodNotAllowed {
            method: method.to_string(),
            allow,
        })
    };
    match segments.as_slice() {
        [""] if read => Ok(versions::index(call.parts)),
        ["v1"] if read => Ok(versions::v1(call.parts)),
        ["healthcheck"] if read => Ok(health::check(call.state).await),
        ["openapi.json"] if read => Ok(openapi::document()),
        [""] | ["v1"] | ["healthcheck"] | ["openapi.json"] => refuse("GET, HEAD"),
        ["v1", "movies"] if read => movies::list(call, context).await,
        ["v1", "movies"] if method == Method::POST => movies::create(call, context).await,
        ["v1", "movies"] => refuse("GET, HEAD, POST"),
        ["v1", "movies", id] if read => movies::show(call, context, id).await,
        ["v1", "movies", id] if method == Method::PUT => movies::update(call, context, id).await,
        ["v1", "movies", id] if method == Method::DELETE => movies::delete(call, context, id).await,
        ["v1", "movies", _] => refuse("GET, HEAD, PUT, DELETE"),
        _ => Err(ApiError::NotFound),
    }
}
