//! An HTTPS front for a plain HTTP server on loopback, with a freshly made
//! self-signed certificate: each request read from a TLS connection is
//! passed to the backend on a connection of its own (`Connection: close`),
//! and its answer sent back as it came.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;

use rustls::{ServerConnection, StreamOwned};

/// A running HTTPS front; it lives as long as the test process.
pub(crate) struct TlsProxy {
    port: u16,
    certificate_pem: String,
}

impl TlsProxy {
    /// Fronts `backend_port` on 127.0.0.1.
    pub(crate) fn start(backend_port: u16) -> TlsProxy {
        let (config, certificate) = engine::test_util::self_signed_tls();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        std::thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let config = Arc::clone(&config);
                std::thread::spawn(move || {
                    let connection = ServerConnection::new(config).expect("a TLS connection");
                    serve(StreamOwned::new(connection, tcp), backend_port);
                });
            }
        });
        TlsProxy {
            port,
            certificate_pem: pem(&certificate),
        }
    }

    /// `https://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// Writes the certificate (its own CA) as PEM to `path`.
    pub(crate) fn write_certificate(&self, path: &Path) {
        std::fs::write(path, &self.certificate_pem).expect("write the certificate");
    }
}

/// A DER certificate as PEM, 64 base64 characters a line.
fn pem(der: &[u8]) -> String {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let mut text = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in encoded.as_bytes().chunks(64) {
        text.push_str(&String::from_utf8_lossy(line));
        text.push('\n');
    }
    text.push_str("-----END CERTIFICATE-----\n");
    text
}

/// Passes one request (the backend's answer closes the connection, and so
/// does this one); a client that does not trust the certificate fails the
/// handshake and nothing is passed.
fn serve(stream: StreamOwned<ServerConnection, TcpStream>, backend_port: u16) {
    let mut client = BufReader::new(stream);
    let mut head = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        match client.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let lower = line.to_ascii_lowercase();
        if let Some(value) = lower.strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("connection:") {
            continue;
        }
        if line == "\r\n" {
            head.extend_from_slice(b"Connection: close\r\n\r\n");
            break;
        }
        head.extend_from_slice(line.as_bytes());
    }
    let mut body = vec![0; length];
    if client.read_exact(&mut body).is_err() {
        return;
    }
    let Ok(mut backend) = TcpStream::connect(("127.0.0.1", backend_port)) else {
        return;
    };
    let mut answer = Vec::new();
    let relayed = backend.write_all(&head).is_ok()
        && backend.write_all(&body).is_ok()
        && backend.read_to_end(&mut answer).is_ok();
    let stream = client.get_mut();
    if relayed && stream.write_all(&answer).is_ok() {
        stream.conn.send_close_notify();
        let _ = stream.flush();
    }
}
