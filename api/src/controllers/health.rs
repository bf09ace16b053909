//! `GET /healthcheck`: 200 `OK` while the engine answers, 503 when it cannot
//! be reached. The probe is a short RPC call whose answer is cached briefly,
//! so a load balancer polling every worker does not flood the engine.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use engine::EngineClient;
use engine::objects::ListQuery;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};

use crate::service::AppState;

/// How long one probe's answer is reused.
const CACHE_FOR: Duration = Duration::from_secs(2);
/// How long a probe waits for the engine.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The engine probe and its cached answer.
#[derive(Debug, Default)]
pub struct Probe {
    last: Mutex<Option<(Instant, bool)>>,
}

impl Probe {
    async fn engine_answers(&self, engine: &EngineClient) -> bool {
        if let Some((at, healthy)) = *self
            .last
            .lock()
            .expect("never poisoned: no panic while held")
            && at.elapsed() < CACHE_FOR
        {
            return healthy;
        }
        let context = rpc::Context::with_request_id(&format!("req-{}", uuid::Uuid::new_v4()));
        let query = ListQuery {
            limit: 1,
            ..ListQuery::default()
        };
        let healthy = engine
            .with_timeout(PROBE_TIMEOUT)
            .get_all_movie(&context, &query)
            .await
            .is_ok();
        *self.last.lock().expect("never poisoned") = Some((Instant::now(), healthy));
        healthy
    }
}

/// 200 `OK`, or 503 when the engine does not answer.
pub async fn check(state: &AppState) -> Response<Full<Bytes>> {
    let healthy = match &state.engine {
        Some(engine) => state.probe.engine_answers(engine).await,
        None => false,
    };
    let (status, body) = if healthy {
        (StatusCode::OK, "OK")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "engine unavailable")
    };
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}
