//! A `NOTIFY_SOCKET` listener standing in for systemd.
//!
//! It binds a datagram socket in the test's directory, asks the kernel for each
//! sender's credentials (`SO_PASSCRED`), and records every datagram on a thread.
//! Tests take a [`Notify::mark`] before acting and wait for a datagram after it.

use std::io::IoSliceMut;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, UnixCredentials, recvmsg, setsockopt, sockopt,
};

use super::eventually::eventually;

/// One datagram and the pid of the process that sent it.
#[derive(Clone, Debug)]
pub(crate) struct Datagram {
    /// The datagram's text: `KEY=value` lines.
    pub text: String,
    /// The sender's pid, from `SCM_CREDENTIALS`.
    pub pid: Option<i32>,
}

impl Datagram {
    /// Whether one of the lines is exactly `line` (e.g. `READY=1`).
    pub(crate) fn has(&self, line: &str) -> bool {
        self.text.lines().any(|l| l == line)
    }

    /// The value of `KEY=` if the datagram carries it.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.text
            .lines()
            .find_map(|l| l.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
    }

    /// `STATUS=generation <g>, <r>/<w> workers ready` as `(g, r, w)`.
    pub(crate) fn workers_ready(&self) -> Option<(u64, u64, u64)> {
        let status = self.get("STATUS")?;
        let rest = status.strip_prefix("generation ")?;
        let (generation, rest) = rest.split_once(", ")?;
        let (counts, tail) = rest.split_once(' ')?;
        if !tail.starts_with("workers ready") {
            return None;
        }
        let (ready, wanted) = counts.split_once('/')?;
        Some((
            generation.parse().ok()?,
            ready.parse().ok()?,
            wanted.parse().ok()?,
        ))
    }
}

/// The listener; stops its thread when dropped.
pub(crate) struct Notify {
    path: PathBuf,
    received: Arc<Mutex<Vec<Datagram>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Notify {
    /// Binds `<dir>/notify.sock` and starts recording.
    pub(crate) fn bind(dir: &Path) -> Notify {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
        setsockopt(&socket, sockopt::PassCred, &true).expect("enable SO_PASSCRED");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("set a read timeout on the notify socket");
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (received, stop) = (received.clone(), stop.clone());
            std::thread::spawn(move || record(&socket, &received, &stop))
        };
        Notify {
            path,
            received,
            stop,
            thread: Some(thread),
        }
    }

    /// The socket path, for `NOTIFY_SOCKET`.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Every datagram so far.
    pub(crate) fn all(&self) -> Vec<Datagram> {
        self.received.lock().expect("notify log lock").clone()
    }

    /// A position in the stream: datagrams received from now on come after it.
    pub(crate) fn mark(&self) -> usize {
        self.received.lock().expect("notify log lock").len()
    }

    /// Datagrams received after `mark`.
    pub(crate) fn since(&self, mark: usize) -> Vec<Datagram> {
        self.received.lock().expect("notify log lock")[mark..].to_vec()
    }

    /// Waits for a datagram after `mark` matching `pred`; returns its position.
    pub(crate) fn wait_for(
        &self,
        mark: usize,
        what: &str,
        pred: impl Fn(&Datagram) -> bool,
    ) -> usize {
        eventually(&format!("a notify datagram: {what}"), || {
            let all = self.all();
            all.iter()
                .enumerate()
                .skip(mark)
                .find(|(_, d)| pred(d))
                .map(|(i, _)| i)
                .ok_or_else(|| texts(&all[mark.min(all.len())..]))
        })
    }

    /// Waits for a datagram after `mark` that has the line `line`.
    pub(crate) fn wait_line(&self, mark: usize, line: &str) -> usize {
        self.wait_for(mark, line, |d| d.has(line))
    }
}

impl Drop for Notify {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The texts of `datagrams`, for failure messages.
pub(crate) fn texts(datagrams: &[Datagram]) -> Vec<String> {
    datagrams.iter().map(|d| d.text.clone()).collect()
}

fn record(socket: &UnixDatagram, received: &Mutex<Vec<Datagram>>, stop: &AtomicBool) {
    let mut buf = vec![0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        let mut space = nix::cmsg_space!(UnixCredentials);
        let mut iov = [IoSliceMut::new(&mut buf)];
        let (len, pid) = match recvmsg::<()>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::empty(),
        ) {
            Ok(msg) => {
                let pid = msg.cmsgs().ok().and_then(|mut cmsgs| {
                    cmsgs.find_map(|c| match c {
                        ControlMessageOwned::ScmCredentials(cred) => Some(cred.pid()),
                        _ => None,
                    })
                });
                (msg.bytes, pid)
            }
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => continue,
            Err(e) => panic!("receiving on the notify socket failed: {e}"),
        };
        let text = String::from_utf8_lossy(&buf[..len]).into_owned();
        super::trace!("notify from {pid:?}: {text:?}");
        received
            .lock()
            .expect("notify log lock")
            .push(Datagram { text, pid });
    }
}
