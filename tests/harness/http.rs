//! A small HTTP/1.1 client over `std::net::TcpStream`, enough to see exactly
//! what the server sends: status, headers, body, and whether it closes.

use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;

use super::eventually::patience;

/// A request to send.
#[derive(Clone, Debug)]
pub(crate) struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// The request target, e.g. `/v1`.
    pub path: String,
    /// Extra headers; `Host` and `Content-Length` are added when missing.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// A `GET` of `path`.
    pub(crate) fn get(path: &str) -> Request {
        Request::new("GET", path)
    }

    /// A request with no headers and no body.
    pub(crate) fn new(method: &str, path: &str) -> Request {
        Request {
            method: method.into(),
            path: path.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header.
    pub(crate) fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub(crate) fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// The request head (request line and headers) for `port`, with the
    /// given `Content-Length` unless the request sets its own framing.
    pub(crate) fn head(&self, port: u16, content_length: usize) -> Vec<u8> {
        let has = |name: &str| {
            self.headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
        };
        let mut head = format!("{} {} HTTP/1.1\r\n", self.method, self.path);
        if !has("host") {
            head.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
        }
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let framed = has("content-length") || has("transfer-encoding");
        if !framed && (content_length > 0 || self.method != "GET") {
            head.push_str(&format!("Content-Length: {content_length}\r\n"));
        }
        head.push_str("\r\n");
        head.into_bytes()
    }
}

/// A response as received.
#[derive(Clone, Debug)]
pub(crate) struct Response {
    /// The status code.
    pub status: u16,
    /// Headers in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    ///
    /// # Panics
    /// When the body is not JSON.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text()))
    }

    /// Whether the server said it will close the connection.
    pub(crate) fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
    }

    /// The `x-openstack-request-id` header.
    pub(crate) fn request_id(&self) -> Option<&str> {
        self.header("x-openstack-request-id")
    }
}

/// One connection, reusable while the server keeps it alive.
pub(crate) struct Connection {
    port: u16,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    open: bool,
}

impl Connection {
    /// Connects to `127.0.0.1:port`; reads and writes time out after the patience.
    pub(crate) fn open(port: u16) -> io::Result<Connection> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(patience()))?;
        stream.set_write_timeout(Some(patience()))?;
        stream.set_nodelay(true)?;
        let writer = stream.try_clone()?;
        Ok(Connection {
            port,
            reader: BufReader::new(stream),
            writer,
            open: true,
        })
    }

    /// Whether the server has not asked to close this connection.
    pub(crate) fn is_open(&self) -> bool {
        self.open
    }

    /// Sends `request` and reads its response.
    pub(crate) fn send(&mut self, request: &Request) -> io::Result<Response> {
        self.write_head(request, request.body.len())?;
        self.write_body(&request.body)?;
        self.read_response(&request.method)
    }

    /// Sends a request head announcing `content_length` body bytes.
    pub(crate) fn write_head(
        &mut self,
        request: &Request,
        content_length: usize,
    ) -> io::Result<()> {
        self.writer
            .write_all(&request.head(self.port, content_length))
    }

    /// Sends (part of) a body.
    pub(crate) fn write_body(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes)?;
        self.writer.flush()
    }

    /// Reads one response.
    pub(crate) fn read_response(&mut self, method: &str) -> io::Result<Response> {
        let response = read_response(&mut self.reader, method)?;
        if response.closes() {
            self.open = false;
        }
        Ok(response)
    }
}

/// Sends `request` on a new connection that asks to be closed afterwards.
pub(crate) fn send(port: u16, request: Request) -> io::Result<Response> {
    Connection::open(port)?.send(&request.header("Connection", "close"))
}

/// `GET path` on a new connection.
pub(crate) fn get(port: u16, path: &str) -> io::Result<Response> {
    send(port, Request::get(path))
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn read_line(reader: &mut impl BufRead) -> io::Result<String> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn read_response(reader: &mut impl BufRead, method: &str) -> io::Result<Response> {
    let status_line = read_line(reader)?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .filter(|_| status_line.starts_with("HTTP/1."))
        .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader)?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("bad header line {line:?}")))?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if method == "HEAD" || status == 204 || status == 304 || (100..200).contains(&status) {
        return Ok(response);
    }
    response.body = if response
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        read_chunked(reader)?
    } else if let Some(len) = response.header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| invalid(format!("bad content-length {len:?}")))?;
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        body
    } else {
        let mut body = Vec::new();
        reader.read_to_end(&mut body)?;
        body
    };
    Ok(response)
}

fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let size_line = read_line(reader)?;
        let size_hex = size_line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| invalid(format!("bad chunk size {size_line:?}")))?;
        if size == 0 {
            while !read_line(reader)?.is_empty() {}
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        read_line(reader)?;
    }
}

/// Checks an error answer: status `code`, a JSON body
/// `{"error":{"code","title","message","request_id"}}` whose code is `code`
/// and whose `request_id` is the response's `x-openstack-request-id`.
///
/// # Panics
/// When any of that does not hold; the message names `what`.
pub(crate) fn assert_error(what: &str, response: &Response, code: u16) {
    assert_eq!(response.status, code, "{what}: {}", response.text());
    let content_type = response.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "{what}: content-type {content_type:?}"
    );
    let body = response.json();
    let error = &body["error"];
    assert_eq!(error["code"], code, "{what}: {body}");
    assert!(
        error["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{what}: {body}"
    );
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: {body}"
    );
    assert!(
        response
            .request_id()
            .is_some_and(|id| error["request_id"] == id),
        "{what}: request id {:?} in the header, body {body}",
        response.request_id()
    );
}
