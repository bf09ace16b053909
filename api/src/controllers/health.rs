//! `GET /healthcheck`: 200 `OK` while the engine answers and can store
//! movies, 503 with the reason when it cannot be reached or its storage
//! directory fails its check. The probe is a short RPC call whose answer is
//! cached briefly, so a load balancer polling every worker does not flood
//! the engine.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use engine::EngineClient;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};

use crate::service::AppState;

/// How long one probe's answer is reused.
const CACHE_FOR: Duration = Duration::from_secs(2);
/// How long a probe waits for the engine.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Health {
    Healthy,
    Unreachable,
    /// The engine's storage fails its check: why, without a server path.
    Storage(String),
}

/// The engine probe and its cached answer.
#[derive(Debug, Default)]
pub struct Probe {
    last: Mutex<Option<(Instant, Health)>>,
}

impl Probe {
    async fn engine_health(&self, engine: &EngineClient) -> Health {
        if let Some((at, health)) = &*self
            .last
            .lock()
            .expect("never poisoned: no panic while held")
            && at.elapsed() < CACHE_FOR
        {
            return health.clone();
        }
        let context = rpc::Context::with_request_id(&format!("req-{}", uuid::Uuid::new_v4()));
        let health = match engine
            .with_timeout(PROBE_TIMEOUT)
            .get_health(&context)
            .await
        {
            Ok(answer) => answer.storage.map_or(Health::Healthy, Health::Storage),
            // An engine older than get_health answered: it is up.
            Err(error) if error.is_unsupported() => Health::Healthy,
            Err(_) => Health::Unreachable,
        };
        *self.last.lock().expect("never poisoned") = Some((Instant::now(), health.clone()));
        health
    }
}

/// 200 `OK`, or 503 saying why.
pub async fn check(state: &AppState) -> Response<Full<Bytes>> {
    let health = match &state.engine {
        Some(engine) => state.probe.engine_health(engine).await,
        None => Health::Unreachable,
    };
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
