//! The `sd_notify` protocol: datagrams to `$NOTIFY_SOCKET`.
//!
//! Written here rather than taken from a crate: it is one `sendto` of a few
//! lines of text, and the master must stay free of anything that might start
//! a thread.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// A connection to the service manager, or nothing when not run under one.
#[derive(Debug)]
pub(crate) struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET` (a path, or `@name` for the abstract namespace).
    pub(crate) fn from_env() -> Notifier {
        let target = std::env::var_os("NOTIFY_SOCKET").and_then(|path| {
            let path = path.to_string_lossy().into_owned();
            let address = match path.strip_prefix('@') {
                Some(name) => SocketAddr::from_abstract_name(name.as_bytes()),
                None => SocketAddr::from_pathname(&path),
            };
            let socket = UnixDatagram::unbound();
            match (address, socket) {
                (Ok(address), Ok(socket)) => Some((socket, address)),
                (Err(error), _) | (_, Err(error)) => {
                    tracing::warn!(%error, notify_socket = %path, "NOTIFY_SOCKET is unusable");
                    None
                }
            }
        });
        Notifier { target }
    }

    /// Sends one state change, e.g. `"READY=1"`; failures are logged, never fatal.
    pub(crate) fn notify(&self, state: &str) {
        if let Some((socket, address)) = &self.target
            && let Err(error) = socket.send_to_addr(state.as_bytes(), address)
        {
            tracing::debug!(%error, state, "sd_notify failed");
        }
    }

    /// `RELOADING=1` with the `MONOTONIC_USEC` systemd 253+ expects beside it.
    pub(crate) fn reloading(&self) {
        self.notify(&format!("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec()));
    }
}

fn monotonic_usec() -> u128 {
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| Duration::new(t.tv_sec() as u64, t.tv_nsec() as u32))
        .unwrap_or_default();
    now.as_micros()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_usec_moves_forward() {
        let a = monotonic_usec();
        let b = monotonic_usec();
        assert!(a > 0 && b >= a);
    }
}
