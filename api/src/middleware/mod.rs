//! What wraps every request: its id, the header limits, `Host` and the
//! links' base, the body limit, the access log line.

pub(crate) mod access_log;
mod body_limit;
mod header_limit;
mod host;

use std::net::SocketAddr;
use std::time::Instant;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONNECTION, HeaderValue};
use hyper::{Request, Response, StatusCode};
use launcher::Shutdown;
use tracing::Instrument;

pub(crate) use header_limit::{HYPER_MAX_HEADER_BYTES, HYPER_MAX_HEADERS};

use crate::access::Caller;
use crate::links;
use crate::request_id::{HEADER as REQUEST_ID_HEADER, RequestId};
use crate::router;
use crate::state::AppState;

/// Whether `path` is served to anyone: the version documents, the
/// healthcheck (CONTRACT §8), and the API description.
fn is_public(path: &str) -> bool {
    let path = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    matches!(path, "/" | "/v1" | "/healthcheck" | "/openapi.json")
}

/// Runs one request, which arrived from `peer` on the local address `local`,
/// through the middleware and the router; never fails.
pub(crate) async fn handle(
    request: Request<Incoming>,
    peer: SocketAddr,
    local: SocketAddr,
    state: &AppState,
    shutdown: &Shutdown,
) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let request_id = RequestId::from_headers(request.headers());
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        user_identity = tracing::field::Empty
    );
    async move {
        let line = access_log::RequestLine::of(&request);
        let (mut parts, body) = request.into_parts();
        let link_base = links::link_base(&parts, state.public_endpoint.as_deref(), local);
        parts.extensions.insert(link_base);
        // Refused before its body is read, the request leaves the connection
        // where the next one cannot be found.
        let mut refused = header_limit::check(&parts).and_then(|()| host::check(&parts));
        if refused.is_ok() && !is_public(parts.uri.path()) {
            match state.auth.authenticate(&parts.headers).await {
                Ok(identity) => {
                    let caller = Caller::new(identity, request_id.as_str(), &state.policy);
                    tracing::Span::current().record("user_identity", caller.user_identity());
                    parts.extensions.insert(caller);
                }
                Err(error) => refused = Err(error),
            }
        }
        let unread_body = refused.is_err();
        let mut response = match refused {
            Ok(()) => {
                match body_limit::read(&parts.headers, body, state.max_body, state.idle_timeout)
                    .await
                {
                    Ok(body) => router::route(&parts, body, state).await,
                    Err(error) => Err(error),
                }
            }
            Err(error) => Err(error),
        }
        .unwrap_or_else(|error| error.into_response(&request_id));
        response
            .headers_mut()
            .insert(REQUEST_ID_HEADER, request_id.header_value());
        // After a body it did not read to the end (413, a broken upload) the
        // server cannot find the next request on the connection: say so.
        let unread_body = unread_body
            || matches!(
                response.status(),
                StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT
            );
        if shutdown.is_requested() || unread_body {
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        access_log::record(peer, &line, &response, started.elapsed());
        response
    }
    .instrument(span)
    .await
}
