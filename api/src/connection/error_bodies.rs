//! hyper answers a request it cannot parse by itself, before any service
//! runs, with an empty body: 400 for a bad request line or header field
//! (`Parse::Method`, `Uri`, `Version`, `Header`), 414 for a target over 64 KiB,
//! 431 past its head limits. It offers no hook for that answer, so
//! [`ErrorBodies`] wraps the connection's socket and rewrites it on the way
//! out into ours: the JSON error body, `x-openstack-request-id`, an access
//! line. Every answer the service writes carries `x-openstack-request-id`;
//! a 4xx head without one can only be hyper's.
//!
//! hyper stops reading at the error, and closing a socket with unread input
//! resets it, which can destroy the answer before the client reads it; so
//! after such an answer the rest of the input is read and dropped for a
//! moment (a lingering close, as nginx does).
//!
//! Not covered, and sent as hyper wrote it: an automatic answer that leaves
//! in the same write as the end of an earlier pipelined response (the
//! socket was full, so both waited in hyper's buffer). A request hyper drops
//! without answering (its head timed out, an HTTP/2 preface) stays unanswered.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Body, Bytes};
use hyper::header::{CONNECTION, HeaderValue};
use hyper::{Response, StatusCode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::error::ApiError;
use crate::middleware::access_log::{self, RequestLine};
use crate::middleware::{HYPER_MAX_HEADER_BYTES, HYPER_MAX_HEADERS};
use crate::request_id::{HEADER as REQUEST_ID_HEADER, RequestId};

/// How long, at most, input is read and dropped after a rewritten answer.
const LINGER: Duration = Duration::from_secs(2);

/// A socket a connection can run on.
pub(super) trait Socket: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Socket for T {}

/// A connection's socket, with hyper's own error answers given a body.
#[derive(Debug)]
pub(super) struct ErrorBodies<T: Socket> {
    /// `None` only once dropped.
    inner: Option<T>,
    peer: SocketAddr,
    /// A rewritten answer, and how much of it the socket has taken.
    pending: Option<(Vec<u8>, usize)>,
    /// Whether an answer was rewritten: the connection ends with it.
    rewrote: bool,
}

impl<T: Socket> ErrorBodies<T> {
    /// Wraps the socket of a connection from `peer`.
    pub(super) fn new(inner: T, peer: SocketAddr) -> ErrorBodies<T> {
        ErrorBodies {
            inner: Some(inner),
            peer,
            pending: None,
            rewrote: false,
        }
    }

    fn io(&mut self) -> Pin<&mut T> {
        Pin::new(
            self.inner
                .as_mut()
                .expect("the socket is taken only on drop"),
        )
    }

    /// Writes what remains of a rewritten answer.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, sent)) = &mut self.pending {
            if *sent == bytes.len() {
                self.pending = None;
                break;
            }
            let inner = Pin::new(
                self.inner
                    .as_mut()
                    .expect("the socket is taken only on drop"),
            );
            let n = ready!(inner.poll_write(cx, &bytes[*sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *sent += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: Socket> Drop for ErrorBodies<T> {
    fn drop(&mut self) {
        let Some(mut inner) = self.inner.take() else {
            return;
        };
        if !self.rewrote || tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let pending = self.pending.take();
        tokio::spawn(async move {
            let linger = async {
                if let Some((bytes, sent)) = pending {
                    inner.write_all(&bytes[sent..]).await?;
                }
                inner.shutdown().await?;
                let mut sink = [0; 8192];
                while inner.read(&mut sink).await? > 0 {}
                Ok::<(), io::Error>(())
            };
            let _ = tokio::time::timeout(LINGER, linger).await;
        });
    }
}

impl<T: Socket> AsyncRead for ErrorBodies<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.io().poll_read(cx, buf)
    }
}

impl<T: Socket> AsyncWrite for ErrorBodies<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.drain(cx))?;
        if let Some(answer) = rewrite(buf, self.peer) {
            self.pending = Some((answer, 0));
            self.rewrote = true;
            // Taken whole: the rest goes out on the next write or flush.
            if let Poll::Ready(Err(error)) = self.drain(cx) {
                return Poll::Ready(Err(error));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        self.io().poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        self.io().poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        self.io().poll_shutdown(cx)
    }
}

/// Our answer in place of `written`, when `written` starts with an error
/// head of hyper's own; `None` otherwise.
fn rewrite(written: &[u8], peer: SocketAddr) -> Option<Vec<u8>> {
    if !(written.starts_with(b"HTTP/1.1 4") || written.starts_with(b"HTTP/1.0 4")) {
        return None;
    }
    let end = written.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&written[..end]).ok()?;
    let ours = head.lines().any(|line| {
        line.split_once(':')
            .is_some_and(|(name, _)| name.trim().eq_ignore_ascii_case(REQUEST_ID_HEADER))
    });
    if ours {
        return None;
    }
    let error = match head.get(9..12)? {
        "400" => ApiError::Malformed("the request line or a header field could not be parsed"),
        "414" => ApiError::UriTooLong,
        "431" => ApiError::HeadersTooLarge(format!(
            "more than {HYPER_MAX_HEADERS} fields or {HYPER_MAX_HEADER_BYTES} bytes"
        )),
        _ => return None,
    };
    let request_id = RequestId::generate();
    let span = tracing::info_span!("request", request_id = %request_id);
    let _entered = span.enter();
    tracing::debug!("hyper refused a request it could not parse: {error}");
    let mut response = error.into_response(&request_id);
    let headers = response.headers_mut();
    headers.insert(REQUEST_ID_HEADER, request_id.header_value());
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
    access_log::record(peer, &RequestLine::unparsed(), &response, Duration::ZERO);
    let mut answer = serialize(&response, head);
    answer.extend_from_slice(&written[end..]);
    Some(answer)
}

/// `response` as HTTP/1.1 bytes, with the `date` of hyper's head.
fn serialize(response: &Response<Full<Bytes>>, hyper_head: &str) -> Vec<u8> {
    let status: StatusCode = response.status();
    let body = body_bytes(response.body().clone());
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        status.as_str(),
        status.canonical_reason().unwrap_or("Error")
    );
    for line in hyper_head.lines() {
        if line
            .split_once(':')
            .is_some_and(|(name, _)| name.trim().eq_ignore_ascii_case("date"))
        {
            head.push_str(line);
            head.push_str("\r\n");
        }
    }
    for (name, value) in response.headers() {
        if let Ok(value) = value.to_str() {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&body);
    bytes
}

/// The bytes of a complete body, which is ready at once.
fn body_bytes(mut body: Full<Bytes>) -> Bytes {
    let mut cx = Context::from_waker(std::task::Waker::noop());
    match Pin::new(&mut body).poll_frame(&mut cx) {
        Poll::Ready(Some(Ok(frame))) => frame.into_data().unwrap_or_default(),
        _ => Bytes::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const HYPER_400: &[u8] =
        b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: Fri, 27 Nov 2026 10:00:00 GMT\r\n\r\n";

    fn peer() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 4000))
    }

    fn parse(bytes: &[u8]) -> (String, serde_json::Value) {
        let text = String::from_utf8(bytes.to_vec()).expect("text");
        let (head, body) = text.split_once("\r\n\r\n").expect("a head");
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|l| l.parse().ok())
            .expect("content-length");
        assert_eq!(length, body.len(), "{text}");
        (
            head.to_owned(),
            serde_json::from_str(body).expect("a JSON body"),
        )
    }

    #[test]
    fn hyper_s_bare_400_becomes_the_json_error() {
        let answer = rewrite(HYPER_400, peer()).expect("rewritten");
        let (head, body) = parse(&answer);
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        assert!(
            head.contains("date: Fri, 27 Nov 2026 10:00:00 GMT"),
            "{head}"
        );
        assert!(head.contains("connection: close"), "{head}");
        assert!(head.contains("content-type: application/json"), "{head}");
        let id = head
            .lines()
            .find_map(|l| l.strip_prefix("x-openstack-request-id: "))
            .expect("a request id");
        assert_eq!(body["error"]["code"], 400);
        assert_eq!(body["error"]["request_id"], id);
    }

    #[test]
    fn hyper_s_431_and_414_keep_their_status() {
        for (bare, code) in [
            (
                &b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n"[..],
                431,
            ),
            (
                &b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\n\r\n"[..],
                414,
            ),
        ] {
            let (_, body) = parse(&rewrite(bare, peer()).expect("rewritten"));
            assert_eq!(body["error"]["code"], code);
        }
    }

    #[test]
    fn the_service_s_own_answers_pass_unchanged() {
        let ours = b"HTTP/1.1 404 Not Found\r\nx-openstack-request-id: req-1\r\ncontent-length: 2\r\n\r\n{}";
        let body_part = b"HTTP/1.1 400 Bad Request\r\n";
        for written in [
            &ours[..],
            b"HTTP/1.1 200 OK\r\n\r\n",
            b"{\"a\":1}",
            body_part,
        ] {
            assert_eq!(
                rewrite(written, peer()),
                None,
                "{:?}",
                String::from_utf8_lossy(written)
            );
        }
    }

    #[tokio::test]
    async fn the_rewritten_answer_reaches_the_peer_whole() {
        let (client, server) = tokio::io::duplex(16);
        let mut wrapped = ErrorBodies::new(server, peer());
        let writer = tokio::spawn(async move {
            wrapped.write_all(HYPER_400).await.expect("write");
            wrapped.shutdown().await.expect("shutdown");
        });
        let mut received = Vec::new();
        let mut client = client;
        client.read_to_end(&mut received).await.expect("read");
        writer.await.expect("the writer");
        let (_, body) = parse(&received);
        assert_eq!(body["error"]["code"], 400);
    }
}
