//! An HTTPS endpoint on 127.0.0.1 with a freshly made self-signed
//! certificate, which no client should trust.

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use rustls::{ServerConnection, StreamOwned};

pub(crate) struct SelfSignedServer {
    addr: SocketAddr,
    handshakes: Arc<AtomicUsize>,
}

impl SelfSignedServer {
    pub(crate) fn start() -> SelfSignedServer {
        let (config, _certificate) = engine::test_util::self_signed_tls();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let handshakes = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&handshakes);
        thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let connection = ServerConnection::new(Arc::clone(&config)).expect("connection");
                counter.fetch_add(1, Ordering::SeqCst);
                // Reading drives the handshake, which the client aborts.
                let _ = StreamOwned::new(connection, tcp).read(&mut [0; 1024]);
            }
        });
        SelfSignedServer { addr, handshakes }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    /// Connections that reached the TLS handshake.
    pub(crate) fn handshakes_started(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }
}
