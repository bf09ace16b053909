//! One line per request, in oslo.service's wsgi format.

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Body, Bytes, Incoming};
use hyper::{Request, Response};

/// `GET /v1?x=y HTTP/1.1`, captured before the request is consumed.
pub struct RequestLine(String);

impl RequestLine {
    /// The stand-in for a request hyper could not parse.
    pub fn unparsed() -> RequestLine {
        RequestLine("-".to_owned())
    }

    /// The request line of `request`.
    pub fn of(request: &Request<Incoming>) -> RequestLine {
        let target = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
        RequestLine(format!(
            "{} {} {:?}",
            request.method(),
            target,
            request.version()
        ))
    }
}

/// Logs `<client> "<request line>" status: <code>  len: <bytes> time: <seconds>`.
pub fn record(
    peer: SocketAddr,
    line: &RequestLine,
    response: &Response<Full<Bytes>>,
    elapsed: Duration,
) {
    let length = response.body().size_hint().exact().unwrap_or(0);
    tracing::info!(
        target: "api::access",
        "{} \"{}\" status: {}  len: {} time: {:.7}",
        peer.ip(),
        line.0,
        response.status().as_u16(),
        length,
        elapsed.as_secs_f64()
    );
}
