//! The control socket between the master and one worker.
//!
//! A `SOCK_SEQPACKET` pair per worker: the worker reports `READY` on it (and,
//! while it cannot get ready, `WAITING <why>`), the master asks it to `DRAIN`
//! on it, and its end reading EOF is how a worker
//! learns the master is gone, even after a `SIGKILL` that left no chance to
//! signal anyone.
//!
//! Draining is asked here rather than with `SIGTERM` so that a worker which
//! also gets the operator's `SIGTERM` (`killpg`, systemd) does not take the
//! master's request for a second signal and stop at once.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockType, recv, send, socketpair};

const READY: &[u8] = b"READY";
const WAITING: &[u8] = b"WAITING ";
/// A reason longer than this is cut: one datagram, read into a fixed buffer.
const MAX_REASON: usize = 900;
const DRAIN: &[u8] = b"DRAIN";

/// The master's end of a worker's control socket.
#[derive(Debug)]
pub(crate) struct MasterEnd(OwnedFd);

/// The worker's end of its control socket.
#[derive(Debug)]
pub(crate) struct ControlChannel(OwnedFd);

/// What the master read from a worker.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Message {
    /// The worker can serve.
    Ready,
    /// The worker cannot serve yet, and says why.
    Waiting(String),
    /// The worker closed its end: it is exiting.
    Closed,
    /// Something this master does not understand; ignored.
    Unknown,
}

/// A new pair of ends.
///
/// # Errors
/// The kernel refused the socket pair (out of descriptors).
pub(crate) fn pair() -> io::Result<(MasterEnd, ControlChannel)> {
    let (master, worker) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    Ok((MasterEnd(master), ControlChannel(worker)))
}

impl MasterEnd {
    /// Reads one message without blocking the master (call when poll said readable).
    pub(crate) fn read(&self) -> Message {
        let mut buf = [0u8; 1024];
        match recv(self.0.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
            Ok(0) => Message::Closed,
            Ok(n) if &buf[..n] == READY => Message::Ready,
            Ok(n) if buf[..n].starts_with(WAITING) => {
                Message::Waiting(String::from_utf8_lossy(&buf[WAITING.len()..n]).into_owned())
            }
            Ok(_) => Message::Unknown,
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => Message::Unknown,
            Err(_) => Message::Closed,
        }
    }
}

impl MasterEnd {
    /// Asks the worker to drain.
    ///
    /// # Errors
    /// The worker's end is gone (it is exiting) or its buffer is full.
    pub(crate) fn send_drain(&self) -> io::Result<()> {
        send(
            self.0.as_raw_fd(),
            DRAIN,
            MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT,
        )?;
        Ok(())
    }
}

impl AsFd for MasterEnd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl ControlChannel {
    /// Tells the master this worker is ready.
    pub(crate) fn send_ready(&self) -> io::Result<()> {
        send(self.0.as_raw_fd(), READY, MsgFlags::MSG_NOSIGNAL)?;
        Ok(())
    }

    /// Tells the master why this worker is not ready yet. Called from the
    /// worker's runtime: it never blocks, and a reason that finds the socket
    /// full is dropped (the next one says the same or newer).
    pub(crate) fn send_waiting(&self, why: &str) -> io::Result<()> {
        let mut cut = why.len().min(MAX_REASON);
        while !why.is_char_boundary(cut) {
            cut -= 1;
        }
        let message = [WAITING, &why.as_bytes()[..cut]].concat();
        send(
            self.0.as_raw_fd(),
            &message,
            MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT,
        )?;
        Ok(())
    }

    /// The descriptor, so the post-fork cleanup keeps it open.
    pub(crate) fn raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    /// Blocks until the master's end is closed (the master exited or died),
    /// calling `on_drain` for every drain request meanwhile.
    pub(crate) fn watch_master(&self, mut on_drain: impl FnMut()) {
        let mut buf = [0u8; 64];
        loop {
            match recv(self.0.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Ok(0) => return,
                Ok(n) if &buf[..n] == DRAIN => on_drain(),
                Err(nix::errno::Errno::EINTR) | Ok(_) => continue,
                Err(_) => return,
            }
        }
    }

    /// A second handle on the same socket, for the watchdog thread.
    pub(crate) fn try_clone(&self) -> io::Result<ControlChannel> {
        Ok(ControlChannel(self.0.try_clone()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_reaches_the_master_and_closing_reads_as_closed() {
        let (master, worker) = pair().expect("socketpair");
        worker.send_ready().expect("send");
        assert_eq!(master.read(), Message::Ready);
        drop(worker);
        assert_eq!(master.read(), Message::Closed);
    }

    #[test]
    fn a_waiting_reason_reaches_the_master_cut_to_one_datagram() {
        let (master, worker) = pair().expect("socketpair");
        worker.send_waiting("broker down").expect("send");
        assert_eq!(master.read(), Message::Waiting("broker down".into()));
        worker
            .send_waiting(&"é".repeat(1000))
            .expect("send a long reason");
        let Message::Waiting(reason) = master.read() else {
            panic!("not a waiting message");
        };
        assert!(reason.len() <= MAX_REASON && reason.chars().all(|c| c == 'é'));
    }

    #[test]
    fn the_worker_sees_drain_requests_then_the_master_go() {
        let (master, worker) = pair().expect("socketpair");
        master.send_drain().expect("send");
        drop(master);
        let mut drains = 0;
        worker.watch_master(|| drains += 1);
        assert_eq!(drains, 1);
    }
}
