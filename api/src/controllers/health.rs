//! `GET /healthcheck`: 200 `OK` while the engine answers and can store
//! movies, 503 with the reason when it cannot be reached or its storage
//! directory fails its check, as the state's cached `probe` last found.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};

use crate::probe::Health;
use crate::state::AppState;

/// 200 `OK`, or 503 saying why.
pub(crate) async fn check(state: &AppState) -> Response<Full<Bytes>> {
    let health = state.probe.engine_health(&state.engine).await;
    let (status, body) = match health {
        Health::Healthy => (StatusCode::OK, "OK".to_owned()),
        Health::Unreachable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "engine unavailable".to_owned(),
        ),
        Health::Storage(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("engine storage unavailable: {why}"),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}
