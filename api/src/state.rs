//! [`AppState`]: what the worker shares between requests. It sits below
//! everything that reads it (connection, middleware, router, controllers),
//! so their imports all run one way.

use std::time::Duration;

use engine::EngineClient;
use launcher::Config;

use crate::auth::Authenticator;
use crate::conf;
use crate::policy::Enforcer;
use crate::probe::Probe;

/// What every request handler may read.
#[derive(Debug)]
pub struct AppState {
    /// The engine's client.
    pub engine: EngineClient,
    /// The healthcheck's cached engine probe.
    pub probe: Probe,
    /// `[api] max_request_body_size`.
    pub max_body: usize,
    /// `[api] client_socket_timeout`; `None` keeps idle connections forever
    /// and waits forever for a stalled body.
    pub idle_timeout: Option<Duration>,
    /// `[api] client_header_timeout`: the time to send a request's headers (no slowloris).
    pub header_timeout: Duration,
    /// `[api] public_endpoint` without a trailing `/`: the base of every link when set.
    pub public_endpoint: Option<String>,
    /// Who callers are (`[api] auth_strategy`).
    pub auth: Authenticator,
    /// What they may do (`[oslo_policy]`).
    pub policy: Enforcer,
}

impl AppState {
    /// The state a configuration describes, callers checked by `auth` under `policy`.
    pub fn from_config(
        config: &Config,
        engine: EngineClient,
        auth: Authenticator,
        policy: Enforcer,
    ) -> AppState {
        let idle = config.int(&conf::CLIENT_SOCKET_TIMEOUT).unsigned_abs();
        AppState {
            engine,
            probe: Probe::default(),
            max_body: usize::try_from(config.int(&conf::MAX_REQUEST_BODY_SIZE))
                .unwrap_or(usize::MAX),
            idle_timeout: (idle > 0).then(|| Duration::from_secs(idle)),
            header_timeout: Duration::from_secs(
                config.int(&conf::CLIENT_HEADER_TIMEOUT).unsigned_abs(),
            ),
            public_endpoint: config
                .str(&conf::PUBLIC_ENDPOINT)
                .map(|endpoint| endpoint.trim_end_matches('/').to_owned()),
            auth,
            policy,
        }
    }
}

#[cfg(test)]
impl AppState {
    /// The default options and an engine behind a broker that is never
    /// reached: what needs no engine is served, a call to it fails at once.
    /// Must be called inside a tokio runtime.
    pub fn without_broker() -> AppState {
        let config = launcher::conf::load(&launcher::conf::Sources::default(), &[conf::OPTS])
            .expect("the built-in defaults are valid");
        let settings = rpc::Settings::for_url("rabbit://127.0.0.1:1//").expect("a transport url");
        let transport = rpc::Transport::start(settings);
        AppState::from_config(
            &config,
            EngineClient::new(&transport, "pymsboot_engine"),
            Authenticator::NoAuth,
            Enforcer::default(),
        )
    }
}
