//! `GET /healthcheck`.

use http_body_util::Full;
use hyper::Response;
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::http::request::Parts;

/// 200 `OK` while this worker serves; the engine probe comes with the RPC client.
pub fn check(_parts: &Parts) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(b"OK")));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}
