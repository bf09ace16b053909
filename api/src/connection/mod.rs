//! One accepted connection: HTTP/1.1 on its socket, each request handed to
//! the middleware, idle keep-alive connections closed after
//! `client_socket_timeout` (or a short grace once a drain starts), and
//! hyper's own bodiless error answers rewritten by [`ErrorBodies`].

mod error_bodies;

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
use launcher::Shutdown;

use error_bodies::ErrorBodies;

use crate::middleware;
use crate::state::AppState;

/// After a drain starts, an idle keep-alive connection is closed only once it
/// has been idle this long, so a request racing the close is served (with
/// `Connection: close`) rather than reset.
const DRAIN_IDLE_GRACE: Duration = Duration::from_secs(1);

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

/// Serves `stream`, from `peer`, until the client closes it, it stays idle
/// too long, or a drain finds it idle.
pub(crate) async fn serve(
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
    let io = TokioIo::new(ErrorBodies::new(stream, peer));
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
