//! What the master tells about itself: the `STATUS=` line for systemd and
//! the `SIGUSR2` state report in the log.

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::{Master, WorkerState};
use crate::service::Service;

impl<S: Service> Master<S> {
    pub(super) fn status_line(&self) -> String {
        let Some(serving) = self.serving() else {
            return "STATUS=no workers".into();
        };
        let wanted = self
            .generation(serving)
            .map_or(0, |g| g.slots.iter().filter(|s| !s.retired).count());
        let ready = self
            .workers
            .values()
            .filter(|w| w.generation == serving && w.state == WorkerState::Ready)
            .count();
        let mut line = format!("STATUS=generation {serving}, {ready}/{wanted} workers ready");
        if let Some(booting) = self.booting() {
            if booting != serving {
                line.push_str(&format!("; generation {booting} booting"));
            }
            if let Some(why) = self.waiting_reason(booting) {
                line.push_str(&format!("; not ready: {why}"));
            }
        }
        line
    }

    pub(super) fn notify_status(&self) {
        self.notifier.notify(&self.status_line());
    }

    pub(super) fn report(&mut self) {
        tracing::info!(
            "state report: phase {:?}, uptime {}s, serving generation {}, {} workers, {} respawns; {}",
            self.phase,
            self.started.elapsed().as_secs(),
            self.serving().unwrap_or(0),
            self.workers.len(),
            self.respawns,
            self.status_line().trim_start_matches("STATUS="),
        );
        for (pid, worker) in &self.workers {
            let waiting = worker
                .waiting_for
                .as_deref()
                .map(|why| format!(", not ready: {why}"))
                .unwrap_or_default();
            tracing::info!(
                "state report: worker pid {} generation {} slot {} {:?} for {}s{waiting}",
                pid,
                worker.generation,
                worker.slot,
                worker.state,
                worker.started.elapsed().as_secs()
            );
        }
        tracing::info!("state report: {}", self.log.losses());
        // Each worker counts the records it could not write itself; the
        // master has no view of them, so each worker reports its own.
        let pids: Vec<Pid> = self.workers.keys().copied().collect();
        for pid in pids {
            self.signal_worker(pid, Signal::SIGUSR2);
        }
    }
}
