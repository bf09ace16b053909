//! The listening sockets, bound once by the master and shared by every worker.
//!
//! One socket with one accept queue, not one `SO_REUSEPORT` socket per worker:
//! closing a reuseport socket resets the connections queued on it, so a worker
//! exit or a reload would fail requests.

use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};

use socket2::{Domain, Protocol, Socket, Type};

/// The accept backlog; std's fixed 128 overflows under a burst during a reload.
const BACKLOG: i32 = 2048;

/// Binds a TCP listener on `host:port` with a backlog of 2048, `SO_REUSEADDR`, and
/// non-blocking mode (set once here: the flag is shared with every worker).
///
/// # Errors
/// The host does not resolve, or the address cannot be bound.
pub fn bind_tcp(host: &str, port: u16) -> io::Result<TcpListener> {
    let address = resolve(host, port)?;
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    if address.is_ipv6() {
        // "::" should take IPv4 too, whatever the system default says.
        socket.set_only_v6(false)?;
    }
    socket.bind(&address.into())?;
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

fn resolve(host: &str, port: u16) -> io::Result<SocketAddr> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (host, port).to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{host} resolves to no address"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_zero_binds_a_free_port() {
        let listener = bind_tcp("127.0.0.1", 0).expect("bind");
        assert_ne!(listener.local_addr().expect("addr").port(), 0);
    }

    #[test]
    fn a_taken_port_is_an_error() {
        let first = bind_tcp("127.0.0.1", 0).expect("bind");
        let port = first.local_addr().expect("addr").port();
        assert!(bind_tcp("127.0.0.1", port).is_err());
    }
}
