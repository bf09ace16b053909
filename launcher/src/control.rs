//! The control socket between the master and one worker.
//!
//! A `SOCK_SEQPACKET` pair per worker: the worker reports `READY` on it, and
//! its end reading EOF is how a worker learns the master is gone, even after
//! a `SIGKILL` that left no chance to signal anyone.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockType, recv, send, socketpair};

const READY: &[u8] = b"READY";

/// The master's end of a worker's control socket.
#[derive(Debug)]
pub struct MasterEnd(OwnedFd);

/// The worker's end of its control socket.
#[derive(Debug)]
pub struct ControlChannel(OwnedFd);

/// What the master read from a worker.
#[derive(Debug, PartialEq, Eq)]
pub enum Message {
    /// The worker can serve.
    Ready,
    /// The worker closed its end: it is exiting.
    Closed,
    /// Something this master does not understand; ignored.
    Unknown,
}

/// A new pair of ends.
///
/// # Errors
/// The kernel refused the socket pair (out of descriptors).
pub fn pair() -> io::Result<(MasterEnd, ControlChannel)> {
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
    pub fn read(&self) -> Message {
        let mut buf = [0u8; 64];
        match recv(self.0.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
            Ok(0) => Message::Closed,
            Ok(n) if &buf[..n] == READY => Message::Ready,
            Ok(_) => Message::Unknown,
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => Message::Unknown,
            Err(_) => Message::Closed,
        }
    }
}

impl AsFd for MasterEnd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl ControlChannel {
    /// Tells the master this worker is ready.
    pub fn send_ready(&self) -> io::Result<()> {
        send(self.0.as_raw_fd(), READY, MsgFlags::MSG_NOSIGNAL)?;
        Ok(())
    }

    /// The descriptor, so the post-fork cleanup keeps it open.
    pub fn raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    /// Blocks until the master's end is closed (the master exited or died).
    pub fn wait_for_master_exit(&self) {
        let mut buf = [0u8; 64];
        loop {
            match recv(self.0.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Ok(0) => return,
                Err(nix::errno::Errno::EINTR) | Ok(_) => continue,
                Err(_) => return,
            }
        }
    }

    /// A second handle on the same socket, for the watchdog thread.
    pub fn try_clone(&self) -> io::Result<ControlChannel> {
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
    fn the_worker_sees_the_master_go() {
        let (master, worker) = pair().expect("socketpair");
        drop(master);
        worker.wait_for_master_exit();
    }
}
