//! (method, path) → controller. A path that does not exist is a 404; a method
//! the path does not allow is a 405 with `Allow`.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::http::request::Parts;
use hyper::{Method, Response};

use crate::access::Caller;
use crate::controllers::{Call, health, movies, openapi, versions};
use crate::error::ApiError;
use crate::state::AppState;

/// Dispatches a request whose `body` has been read; the movie controllers
/// act for the [`Caller`] the middleware authenticated.
///
/// # Errors
/// [`ApiError::NotFound`] or [`ApiError::MethodNotAllowed`], or what the controller returns.
pub(crate) async fn route(
    parts: &Parts,
    body: Bytes,
    state: &AppState,
) -> Result<Response<Full<Bytes>>, ApiError> {
    let call = Call { parts, body, state };
    let caller = || {
        parts.extensions.get::<Caller>().ok_or_else(|| {
            ApiError::Internal("a movie request reached the router unauthenticated".to_owned())
        })
    };
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
        ["v1", "movies"] if read => movies::list(call, caller()?).await,
        ["v1", "movies"] if method == Method::POST => movies::create(call, caller()?).await,
        ["v1", "movies"] => refuse("GET, HEAD, POST"),
        ["v1", "movies", id] if read => movies::show(call, caller()?, id).await,
        ["v1", "movies", id] if method == Method::PUT => movies::update(call, caller()?, id).await,
        ["v1", "movies", id] if method == Method::DELETE => {
            movies::delete(call, caller()?, id).await
        }
        ["v1", "movies", _] => refuse("GET, HEAD, PUT, DELETE"),
        _ => Err(ApiError::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request_id::RequestId;
    use hyper::header::{ALLOW, HOST};
    use hyper::{Request, StatusCode};

    /// The response `route` gives `method target`, errors rendered.
    async fn answer(method: Method, target: &str) -> Response<Full<Bytes>> {
        let state = AppState::without_broker();
        let parts = Request::builder()
            .method(method)
            .uri(target)
            .header(HOST, "api.example.test")
            .body(())
            .expect("a request")
            .into_parts()
            .0;
        let mut parts = parts;
        let identity = crate::auth::Identity {
            user_id: "u1".into(),
            project_id: "p1".into(),
            roles: vec!["member".into()],
        };
        let request_id = "req-1b4e28ba-2fa1-4d2f-883f-0016d3cca427";
        parts
            .extensions
            .insert(Caller::new(identity, request_id, &state.policy));
        route(&parts, Bytes::new(), &state)
            .await
            .unwrap_or_else(|error| error.into_response(&RequestId::generate()))
    }

    #[tokio::test]
    async fn an_unknown_path_is_a_404() {
        for target in ["/v2", "/v1/films", "/v1/movies/a/b"] {
            let response = answer(Method::GET, target).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{target}");
        }
    }

    #[tokio::test]
    async fn a_wrong_method_is_a_405_naming_the_allowed_ones() {
        for (method, target, allow) in [
            (Method::POST, "/", "GET, HEAD"),
            (Method::DELETE, "/healthcheck", "GET, HEAD"),
            (Method::DELETE, "/v1/movies", "GET, HEAD, POST"),
            (
                Method::PATCH,
                "/v1/movies/1b4e28ba-2fa1-4d2f-883f-0016d3cca427",
                "GET, HEAD, PUT, DELETE",
            ),
        ] {
            let response = answer(method.clone(), target).await;
            assert_eq!(
                response.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {target}"
            );
            assert_eq!(response.headers()[ALLOW], allow, "{method} {target}");
        }
    }

    #[tokio::test]
    async fn a_bad_movie_id_is_a_400() {
        for method in [Method::GET, Method::PUT, Method::DELETE] {
            let response = answer(method.clone(), "/v1/movies/not-a-uuid").await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{method}");
        }
    }

    #[tokio::test]
    async fn a_bad_query_parameter_is_a_400() {
        for target in [
            "/v1/movies?limit=0",
            "/v1/movies?sort_key=size",
            "/v1/movies?marker=nope",
            "/v1/movies?colour=red",
        ] {
            let response = answer(Method::GET, target).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{target}");
        }
    }
}
