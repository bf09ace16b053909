//! One line per request, in oslo.service's wsgi format. The cause of a
//! server-side failure ([`Cause`]) ends its line: this is the one place it
//! is logged.

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Body, Bytes, Incoming};
use hyper::{Request, Response, StatusCode};

use crate::error::Cause;

/// `GET /v1?x=y HTTP/1.1`, captured before the request is consumed.
pub(crate) struct RequestLine(String);

impl RequestLine {
    /// The stand-in for a request hyper could not parse.
    pub(crate) fn unparsed() -> RequestLine {
        RequestLine("-".to_owned())
    }

    /// The request line of `request`.
    pub(crate) fn of(request: &Request<Incoming>) -> RequestLine {
        let target = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
        RequestLine(format!(
            "{} {} {:?}",
            request.method(),
            target,
            request.version()
        ))
    }
}

/// Logs `<client> "<request line>" status: <code>  len: <bytes> time: <seconds>`,
/// then ` cause: <cause>` when the response carries one.
pub(crate) fn record(
    peer: SocketAddr,
    line: &RequestLine,
    response: &Response<Full<Bytes>>,
    elapsed: Duration,
) {
    let length = response.body().size_hint().exact().unwrap_or(0);
    let text = format!(
        "{} \"{}\" status: {}  len: {} time: {:.7}",
        peer.ip(),
        line.0,
        response.status().as_u16(),
        length,
        elapsed.as_secs_f64()
    );
    match response.extensions().get::<Cause>() {
        // A 500 is a fault to fix; a 503 or 504 is the engine or broker away.
        Some(Cause(cause)) if response.status() == StatusCode::INTERNAL_SERVER_ERROR => {
            tracing::error!(target: "api::access", "{text} cause: {cause}");
        }
        Some(Cause(cause)) => tracing::warn!(target: "api::access", "{text} cause: {cause}"),
        None => tracing::info!(target: "api::access", "{text}"),
    }
}
