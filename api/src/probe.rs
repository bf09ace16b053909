//! The healthcheck's probe of the engine: a short RPC call whose answer is
//! cached briefly, so a load balancer polling every worker does not flood
//! the engine. It lives beside the state that holds it, below the
//! controller that renders it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use engine::EngineClient;

/// How long one probe's answer is reused.
const CACHE_FOR: Duration = Duration::from_secs(2);
/// How long a probe waits for the engine.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// The engine answers and can store movies.
    Healthy,
    /// The engine did not answer.
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
    /// The engine's health, from the cache while it is fresh.
    pub async fn engine_health(&self, engine: &EngineClient) -> Health {
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
