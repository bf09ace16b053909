//! Reaping workers and deciding their replacement.

use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::spawn::{self, Plan, SpawnError};
use super::{Master, Phase, Worker, WorkerState};
use crate::service::Service;

/// When the master cannot fork (threads, descriptors), it retries this late.
const FORK_RETRY: Duration = Duration::from_secs(1);

impl<S: Service> Master<S> {
    /// Collects every exited child; SIGCHLD coalesces, so one signal may stand for many.
    pub(super) fn reap(&mut self) {
        loop {
            match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => {
                    self.on_exit(pid, format!("exited with status {code}"), code == 0)
                }
                Ok(WaitStatus::Signaled(pid, signal, _)) => {
                    self.on_exit(pid, format!("was killed by {signal}"), false)
                }
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(error) => {
                    tracing::error!(%error, "waitpid failed");
                    return;
                }
            }
        }
    }

    fn on_exit(&mut self, pid: Pid, how: String, clean: bool) {
        let Some(worker) = self.workers.remove(&pid) else {
            // As PID 1 in a container we inherit orphans: reap, never count them.
            tracing::debug!(
                pid = pid.as_raw(),
                "reaped a process that was not a worker: {how}"
            );
            return;
        };
        let expected =
            worker.state == WorkerState::Draining || matches!(self.phase, Phase::Stopping { .. });
        let uptime = worker.started.elapsed();
        if expected && clean {
            tracing::info!(
                slot = worker.slot,
                generation = worker.generation,
                "worker {pid} {how}"
            );
        } else {
            tracing::warn!(
                slot = worker.slot,
                generation = worker.generation,
                uptime_ms = uptime.as_millis() as u64,
                "worker {pid} {how}"
            );
        }
        if let Some(slot) = self.slot_mut(worker.generation, worker.slot) {
            slot.pid = None;
        }
        if !expected {
            self.replace(&worker, uptime);
        }
        self.forget_finished_generations();
        self.notify_status();
    }

    fn replace(&mut self, worker: &Worker, uptime: Duration) {
        if let Phase::Reloading { generation, .. } = self.phase
            && generation == worker.generation
        {
            self.abort_reload(
                generation,
                "one of its workers exited before the generation was ready",
            );
            return;
        }
        let was_ready = worker.state == WorkerState::Ready;
        let Some(slot) = self.slot_mut(worker.generation, worker.slot) else {
            return;
        };
        if slot.retired {
            return;
        }
        let delay = slot.backoff.on_exit(was_ready, uptime);
        if delay.is_zero() {
            self.spawn(worker.generation, worker.slot);
        } else {
            slot.respawn_at = Some(Instant::now() + delay);
            tracing::warn!(
                slot = worker.slot,
                generation = worker.generation,
                "worker died young; backing off {} ms before respawning it",
                delay.as_millis()
            );
        }
    }

    /// Forks the worker of one slot; a failure schedules a retry instead.
    pub(super) fn spawn(&mut self, generation: u64, slot_index: usize) {
        let Some(gen_) = self.generations.iter().find(|g| g.id == generation) else {
            return;
        };
        let plan = Plan {
            slot: slot_index,
            generation,
            config: &gen_.config,
            listeners: gen_
                .listeners
                .iter()
                .map(|(_, listener)| listener)
                .collect(),
            log: &self.log,
        };
        let outcome = spawn::spawn(&self.service, plan);
        match outcome {
            Ok((pid, control)) => {
                tracing::info!(slot = slot_index, generation, "started worker {pid}");
                self.workers.insert(
                    pid,
                    Worker {
                        generation,
                        slot: slot_index,
                        state: WorkerState::Booting,
                        started: Instant::now(),
                        control: Some(control),
                        waiting_for: None,
                    },
                );
                if let Some(slot) = self.slot_mut(generation, slot_index) {
                    slot.pid = Some(pid);
                    slot.starts += 1;
                    if slot.starts > 1 {
                        self.respawns += 1;
                    }
                }
            }
            Err(error) => {
                let level_is_error = matches!(error, SpawnError::NotSingleThreaded(_));
                if level_is_error {
                    tracing::error!(%error, "cannot fork; retrying");
                } else {
                    tracing::warn!(%error, "cannot fork; retrying");
                }
                if let Some(slot) = self.slot_mut(generation, slot_index) {
                    slot.respawn_at = Some(Instant::now() + FORK_RETRY);
                }
            }
        }
    }

    /// Sends `signal` to every worker and waits for all of them, blocking:
    /// used only when stopping, after which nothing else needs the loop.
    pub(super) fn kill_all_and_reap(&mut self, signal: Signal) {
        let pids: Vec<Pid> = self.workers.keys().copied().collect();
        for pid in &pids {
            self.signal_worker(*pid, signal);
        }
        for pid in pids {
            loop {
                match waitpid(pid, None) {
                    Err(Errno::EINTR) => continue,
                    Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) | Err(_) => break,
                    Ok(_) => continue,
                }
            }
            self.workers.remove(&pid);
        }
        for slot in self.generations.iter_mut().flat_map(|g| g.slots.iter_mut()) {
            slot.pid = None;
            slot.respawn_at = None;
        }
    }
}
