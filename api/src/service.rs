//! The API worker: the launcher service, the accept loop and the connections.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use launcher::{BoxError, Config, ListenAddr, Service, Shutdown, WorkerCtx};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use engine::EngineClient;
use rpc::{Settings, Transport};

use crate::conf;
use crate::controllers::health::Probe;
use crate::middleware;

/// After a drain starts, an idle keep-alive connection is closed only once it
/// has been idle this long, so a request racing the close is served (with
/// `Connection: close`) rather than reset.
const DRAIN_IDLE_GRACE: Duration = Duration::from_secs(1);

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
        let host = config.str(&conf::HOST).unwrap_or("0.0.0.0").to_string();
        vec![ListenAddr {
            host,
            port: config.port(&conf::PORT),
        }]
    }

    async fn run(&self, mut ctx: WorkerCtx, shutdown: Shutdown) -> Result<(), BoxError> {
        let transport = Transport::start(Settings::from_config(&ctx.config)?);
        let topic = ctx
            .config
            .str(&engine::conf::TOPIC)
            .unwrap_or("pymsboot_engine");
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
            let state = Arc::new(AppState::from_config(&ctx.config, Some(engine)));
            serve(listener, state, shutdown).await;
        }
        transport.close().await;
        Ok(())
    }
}

/// What every request handler may read.
#[derive(Debug)]
pub struct AppState {
    /// The engine's client; `None` serves everything but the movies (tests).
    pub engine: Option<EngineClient>,
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
}

impl AppState {
    /// The state a configuration describes.
    pub fn from_config(config: &Config, engine: Option<EngineClient>) -> AppState {
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
        }
    }
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
                    connections.spawn(connection(stream, peer, Arc::clone(&state), shutdown.clone()));
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
        connections.spawn(connection(
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

/// When a connection last finished a request, and how many it has in flight.
#[derive(Debug)]
struct Activity {
    in_flight: AtomicUsize,
    last_done: Mutex<Instant>,
}

impl Activity {
    fn idle_since(&self) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        Some(
            *self
                .last_done
                .lock()
                .expect("the activity lock is never held across a panic"),
        )
    }
}

async fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    state: Arc<AppState>,
    shutdown: Shutdown,
) {
    // Links fall back to the address the client reached; the listener's
    // own may be the unspecified 0.0.0.0.
    let local = stream
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    let activity = Arc::new(Activity {
        in_flight: AtomicUsize::new(0),
        last_done: Mutex::new(Instant::now()),
    });
    let service = {
        let (state, activity, shutdown) =
            (Arc::clone(&state), Arc::clone(&activity), shutdown.clone());
        service_fn(move |request: Request<Incoming>| {
            let (state, activity, shutdown) =
                (Arc::clone(&state), Arc::clone(&activity), shutdown.clone());
            async move {
                activity.in_flight.fetch_add(1, Ordering::AcqRel);
                let response = middleware::handle(request, peer, local, &state, &shutdown).await;
                *activity
                    .last_done
                    .lock()
                    .expect("the activity lock is never held across a panic") = Instant::now();
                activity.in_flight.fetch_sub(1, Ordering::AcqRel);
                Ok::<Response<Full<Bytes>>, Infallible>(response)
            }
        })
    };
    let mut builder = http1::Builder::new();
    // hyper's head limits sit above the middleware's, which answer in JSON;
    // one buffer per write lets ErrorBodies see hyper's own answers whole.
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(state.header_timeout)
        .max_headers(middleware::HYPER_MAX_HEADERS)
        .max_header_size(middleware::HYPER_MAX_HEADER_BYTES)
        .writev(false)
        .keep_alive(true);
    let io = TokioIo::new(middleware::ErrorBodies::new(stream, peer));
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    loop {
        let limit = if shutdown.is_requested() {
            Some(DRAIN_IDLE_GRACE)
        } else {
            state.idle_timeout
        };
        let idle_deadline = activity
            .idle_since()
            .zip(limit)
            .map(|(since, limit)| since + limit);
        let tick = async {
            match idle_deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                // Busy or no limit: look again soon, or when the drain starts.
                None => tokio::select! {
                    () = tokio::time::sleep(DRAIN_IDLE_GRACE) => {},
                    () = shutdown.requested(), if !shutdown.is_requested() => {},
                },
            }
        };
        tokio::select! {
            outcome = conn.as_mut() => {
                if let Err(error) = outcome {
                    tracing::debug!(%error, %peer, "connection ended with an error");
                }
                return;
            }
            () = tick => {
                let expired = activity.idle_since().zip(limit).is_some_and(|(since, limit)| since.elapsed() >= limit);
                if expired {
                    break;
                }
            }
        }
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}
