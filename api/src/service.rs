//! The API worker: the launcher service and the accept loop; each accepted
//! connection is served by [`connection`](crate::connection).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use launcher::conf::ConfigProblem;
use launcher::{BoxError, Config, ListenAddr, Service, Shutdown, WorkerCtx};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use engine::EngineClient;
use rpc::{Settings, Transport};

use crate::auth::Authenticator;
use crate::conf;
use crate::connection;
use crate::policy::{self, Enforcer};
use crate::state::AppState;

/// After a failed `accept` (out of descriptors), wait before the next one
/// instead of spinning.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// The API as a launcher service.
#[derive(Debug, Default)]
pub struct ApiService;

impl Service for ApiService {
    fn name(&self) -> &'static str {
        "pymsboot-api"
    }

    fn workers(&self, config: &Config) -> usize {
        usize::try_from(config.int(&conf::API_WORKERS)).unwrap_or(1)
    }

    fn listen_addrs(&self, config: &Config) -> Vec<ListenAddr> {
        let host = config.text(&conf::HOST).to_string();
        vec![ListenAddr {
            host,
            port: config.port(&conf::PORT),
        }]
    }

    fn check(&self, config: &Config) -> Vec<ConfigProblem> {
        let mut problems = Authenticator::check(config);
        if let Err(error) = Enforcer::from_config(config) {
            problems.push(config.problem(&policy::conf::POLICY_FILE, error.to_string()));
        }
        problems
    }

    async fn run(&self, mut ctx: WorkerCtx, shutdown: Shutdown) -> Result<(), BoxError> {
        // Read before anything else: a user or policy file that changed
        // since the master checked it fails this generation, not a request.
        let auth = Authenticator::from_config(&ctx.config).map_err(problems_error)?;
        let policy = Enforcer::from_config(&ctx.config)?;
        if matches!(auth, Authenticator::NoAuth) {
            tracing::warn!(
                "[api] auth_strategy = noauth: every caller is an admin of project \"noauth\"; \
                 use keystone or http_basic where others can reach the API"
            );
        }
        let transport = Transport::start(Settings::from_config(&ctx.config)?);
        let topic = ctx.config.text(&engine::conf::TOPIC);
        let engine = EngineClient::new(&transport, topic);
        // Owned, not cloned: the drain must be able to close the worker's only copy.
        let listener = ctx
            .listeners
            .drain(..)
            .next()
            .ok_or("the master bound no listener")?;
        let listener = TcpListener::from_std(listener)?;
        // Not ready, so not accepting, until a call can reach the engine:
        // connections wait in the backlog (or go to the serving generation)
        // instead of being answered 503.
        let readiness = ctx.readiness();
        let reporting = tokio::spawn(readiness.clone().follow(transport.problems()));
        let prepared = tokio::select! {
            () = engine.wait_ready() => true,
            () = shutdown.requested() => false,
        };
        reporting.abort();
        if prepared {
            readiness.ready();
            let state = Arc::new(AppState::from_config(&ctx.config, engine, auth, policy));
            serve(listener, state, shutdown).await;
        }
        transport.close().await;
        Ok(())
    }
}

fn problems_error(problems: Vec<ConfigProblem>) -> BoxError {
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    text.join("; ").into()
}

/// Serves HTTP/1.1 on `listener` until `shutdown`, then drains: no new
/// connections, in-flight requests finish, idle connections close after a grace.
pub async fn serve(listener: TcpListener, state: Arc<AppState>, shutdown: Shutdown) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    connections.spawn(connection::serve(stream, peer, Arc::clone(&state), shutdown.clone()));
                }
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = shutdown.requested() => break,
        }
    }
    // What the kernel has already queued is taken and served (with
    // `Connection: close`): at a stop, nobody else may be left to accept it,
    // and closing the last copy of the socket would reset it.
    let queued = take_queued(&listener);
    for (stream, peer) in queued {
        connections.spawn(connection::serve(
            stream,
            peer,
            Arc::clone(&state),
            shutdown.clone(),
        ));
    }
    drop(listener);
    tracing::info!(
        connections = connections.len(),
        "stopped accepting; draining connections"
    );
    while connections.join_next().await.is_some() {}
}

/// The connections waiting in `listener`'s accept queue now, without waiting for more.
fn take_queued(listener: &TcpListener) -> Vec<(tokio::net::TcpStream, SocketAddr)> {
    let mut queued = Vec::new();
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    while let std::task::Poll::Ready(Ok((stream, peer))) = listener.poll_accept(&mut cx) {
        let _ = stream.set_nodelay(true);
        queued.push((stream, peer));
    }
    queued
}
