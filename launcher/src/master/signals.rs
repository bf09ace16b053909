//! How the master answers each signal it reads from its signalfd.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::{Master, Phase};
use crate::service::Service;

impl<S: Service> Master<S> {
    pub(super) fn read_signals(&mut self) {
        loop {
            match self.signals.read_signal() {
                Ok(Some(info)) => {
                    if let Ok(signal) = Signal::try_from(info.ssi_signo as i32) {
                        self.on_signal(signal);
                    }
                }
                Ok(None) => return,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(error) => {
                    tracing::error!(%error, "reading the signalfd failed");
                    return;
                }
            }
        }
    }

    pub(super) fn on_signal(&mut self, signal: Signal) {
        match signal {
            Signal::SIGCHLD => self.reap(),
            Signal::SIGTERM | Signal::SIGINT => match self.phase {
                Phase::Stopping { .. } => self.stop_now(signal),
                _ => self.stop_gracefully(signal),
            },
            Signal::SIGQUIT => self.stop_now(signal),
            Signal::SIGHUP => self.request_reload(),
            Signal::SIGUSR1 => self.reopen_logs(),
            Signal::SIGUSR2 => self.report(),
            Signal::SIGTTIN => self.add_worker(),
            Signal::SIGTTOU => self.remove_worker(),
            other => tracing::debug!(signal = %other, "signal ignored by the master"),
        }
    }

    pub(super) fn stop_gracefully(&mut self, signal: Signal) {
        self.notifier.notify("STOPPING=1");
        let grace = match self
            .config
            .int(&crate::conf::options::GRACEFUL_SHUTDOWN_TIMEOUT)
        {
            0 => None,
            seconds => Some(Duration::from_secs(seconds.unsigned_abs())),
        };
        tracing::info!(
            signal = %signal,
            timeout = ?grace,
            "graceful stop: draining {} workers",
            self.workers.len()
        );
        self.phase = Phase::Stopping {
            deadline: grace.map(|g| Instant::now() + g),
        };
        for slot in self.generations.iter_mut().flat_map(|g| g.slots.iter_mut()) {
            slot.respawn_at = None;
        }
        // The master's copies of the listening sockets go now: once the
        // workers have taken what is queued and closed theirs, a new client
        // is refused at once instead of being queued by the kernel for a
        // drain that will never accept it.
        for generation in &mut self.generations {
            generation.listeners.clear();
        }
        let pids: Vec<Pid> = self.workers.keys().copied().collect();
        for pid in pids {
            self.drain_worker(pid);
        }
    }

    pub(super) fn stop_now(&mut self, signal: Signal) {
        if !matches!(self.phase, Phase::Stopping { .. }) {
            self.notifier.notify("STOPPING=1");
        }
        tracing::warn!(signal = %signal, "immediate stop: killing {} workers", self.workers.len());
        self.phase = Phase::Stopping { deadline: None };
        self.kill_all_and_reap(Signal::SIGKILL);
    }

    pub(super) fn reopen_logs(&mut self) {
        match self.log.reopen() {
            Ok(()) => tracing::info!("log file reopened"),
            Err(error) => {
                tracing::error!(%error, "could not reopen the log file; still writing to the old one")
            }
        }
        let pids: Vec<Pid> = self.workers.keys().copied().collect();
        for pid in pids {
            self.signal_worker(pid, Signal::SIGUSR1);
        }
    }
}
