//! Generations of workers: the first one, a new one on `SIGHUP` (validated,
//! booted and ready before the old one is retired), and resizing on
//! `SIGTTIN` / `SIGTTOU`.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::{Generation, Master, Phase, Slot, bind_all};
use crate::conf::{self, Config, options};
use crate::log::LogSettings;
use crate::service::{ListenAddr, Service};

/// How long a new generation may take to become ready when
/// `graceful_shutdown_timeout` is 0 (wait forever) and so gives no bound.
const DEFAULT_READINESS_DEADLINE: Duration = Duration::from_secs(30);

impl<S: Service> Master<S> {
    /// Adds a generation and forks its workers.
    pub(super) fn start_generation(
        &mut self,
        config: Arc<Config>,
        listeners: Vec<(ListenAddr, TcpListener)>,
        workers: usize,
    ) -> u64 {
        let id = self.next_generation;
        self.next_generation += 1;
        let slots = (0..workers).map(|_| Slot::new()).collect();
        self.generations.push(Generation {
            id,
            config,
            listeners,
            slots,
            retired: false,
        });
        tracing::info!(generation = id, workers, "starting generation {id}");
        for slot in 0..workers {
            self.spawn(id, slot);
        }
        id
    }

    /// `SIGHUP`. A generation still booting (the first one, or a reload's) is
    /// superseded: it may be stuck on the very configuration the operator
    /// has just fixed, so waiting for it could mean waiting forever.
    pub(super) fn request_reload(&mut self) {
        match self.phase {
            Phase::Running | Phase::Starting { .. } | Phase::Reloading { .. } => self.reload(),
            Phase::Stopping { .. } => tracing::info!("SIGHUP ignored while stopping"),
        }
    }

    fn reload(&mut self) {
        // systemd has not been told READY=1 yet during the first boot: no
        // RELOADING=1 (nor READY=1 after it) until the first generation serves.
        let first_boot = matches!(self.phase, Phase::Starting { .. });
        if !first_boot {
            self.notifier.reloading();
        }
        tracing::info!("SIGHUP: reloading the configuration");
        let loaded = conf::load(&self.sources, &self.tables).and_then(|fresh| {
            let problems = self.service.check(&fresh);
            if problems.is_empty() {
                Ok(fresh)
            } else {
                Err(problems)
            }
        });
        let fresh = match loaded {
            Ok(fresh) => Arc::new(fresh),
            Err(problems) => {
                for problem in &problems {
                    tracing::error!("{problem}");
                }
                return self.reject_reload(&format!("{} configuration problem(s)", problems.len()));
            }
        };
        for change in self.config.changes(&fresh) {
            tracing::info!(
                "[{}] {} changed from {} to {}",
                change.opt.section,
                change.opt.name,
                change.old,
                change.new
            );
        }
        let current = self
            .serving()
            .and_then(|id| self.generation(id))
            .map(|g| g.listeners.as_slice())
            .unwrap_or_default();
        let listeners = match bind_all(&self.service.listen_addrs(&fresh), current) {
            Ok(listeners) => listeners,
            Err(error) => {
                tracing::error!("{error}");
                return self.reject_reload(&error.to_string());
            }
        };
        if let Some(stuck) = self.booting() {
            let why = self.not_ready_because(stuck);
            tracing::warn!("generation {stuck} {why}; superseded by the new configuration");
            // Killed rather than asked: a worker stuck at boot may never read a drain request.
            self.retire_generation(stuck, Signal::SIGKILL);
        }
        self.apply_log_settings(&fresh);
        self.config = Arc::clone(&fresh);
        let deadline = Instant::now() + readiness_deadline(&fresh);
        let workers = self.worker_count(&fresh);
        let generation = self.start_generation(fresh, listeners, workers);
        self.phase = if first_boot {
            Phase::Starting {
                generation,
                deadline: Some(deadline),
            }
        } else {
            Phase::Reloading {
                generation,
                deadline,
            }
        };
        self.notify_status();
    }

    fn reject_reload(&mut self, why: &str) {
        let kept = match self.booting() {
            Some(booting) => format!("generation {booting} keeps booting"),
            None => format!("generation {} keeps serving", self.serving().unwrap_or(0)),
        };
        tracing::error!("reload rejected ({why}); {kept}");
        let ready = if matches!(self.phase, Phase::Starting { .. }) {
            ""
        } else {
            "READY=1\n"
        };
        self.notifier
            .notify(&format!("{ready}STATUS=reload failed: {why}"));
    }

    /// The new generation is ready: the old ones drain, the new one serves.
    pub(super) fn finish_reload(&mut self, generation: u64) {
        self.phase = Phase::Running;
        let old: Vec<u64> = self
            .generations
            .iter()
            .filter(|g| g.id != generation)
            .map(|g| g.id)
            .collect();
        for id in old {
            self.retire_generation(id, Signal::SIGTERM);
        }
        tracing::info!(
            generation,
            "reload complete: generation {generation} serving"
        );
        self.notifier
            .notify(&format!("READY=1\n{}", self.status_line()));
        self.forget_finished_generations();
    }

    /// The new generation failed to boot: it goes, the old one stays.
    pub(super) fn abort_reload(&mut self, generation: u64, why: &str) {
        self.phase = Phase::Running;
        // Killed rather than asked: a worker stuck at boot may never read SIGTERM.
        self.retire_generation(generation, Signal::SIGKILL);
        let serving = self.serving();
        if let Some(config) = serving
            .and_then(|id| self.generation(id))
            .map(|g| Arc::clone(&g.config))
        {
            self.apply_log_settings(&config);
            self.config = config;
        }
        tracing::error!(
            "reload rolled back: generation {generation} {why}; generation {} keeps serving",
            serving.unwrap_or(0)
        );
        self.notifier.notify(&format!(
            "READY=1\nSTATUS=reload failed: generation {generation} {why}"
        ));
    }

    fn retire_generation(&mut self, id: u64, signal: Signal) {
        let Some(gen_) = self.generations.iter_mut().find(|g| g.id == id) else {
            return;
        };
        gen_.retired = true;
        let pids: Vec<_> = gen_
            .slots
            .iter_mut()
            .filter_map(|slot| {
                slot.retired = true;
                slot.respawn_at = None;
                slot.pid
            })
            .collect();
        for pid in pids {
            if signal == Signal::SIGTERM {
                self.drain_worker(pid);
            } else {
                if let Some(worker) = self.workers.get_mut(&pid) {
                    worker.state = super::WorkerState::Draining;
                }
                self.signal_worker(pid, signal);
            }
        }
    }

    /// Drops retired generations whose workers have all exited (and their sockets with them).
    pub(super) fn forget_finished_generations(&mut self) {
        let workers = &self.workers;
        self.generations
            .retain(|g| !g.retired || workers.values().any(|w| w.generation == g.id));
    }

    /// `SIGTTIN`: one more worker in the serving generation.
    pub(super) fn add_worker(&mut self) {
        let Some(id) = self.serving().filter(|_| self.phase == Phase::Running) else {
            tracing::info!("SIGTTIN ignored: not running steadily");
            return;
        };
        let Some(gen_) = self.generations.iter_mut().find(|g| g.id == id) else {
            return;
        };
        gen_.slots.push(Slot::new());
        let slot = gen_.slots.len() - 1;
        tracing::info!(generation = id, "SIGTTIN: adding a worker");
        self.spawn(id, slot);
        self.notify_status();
    }

    /// `SIGTTOU`: one worker fewer (never below one), retired gracefully.
    pub(super) fn remove_worker(&mut self) {
        let Some(id) = self.serving().filter(|_| self.phase == Phase::Running) else {
            tracing::info!("SIGTTOU ignored: not running steadily");
            return;
        };
        let Some(gen_) = self.generations.iter_mut().find(|g| g.id == id) else {
            return;
        };
        let active: Vec<usize> = (0..gen_.slots.len())
            .filter(|i| !gen_.slots[*i].retired)
            .collect();
        let Some(&last) = active.last().filter(|_| active.len() > 1) else {
            tracing::info!("SIGTTOU ignored: one worker is the minimum");
            return;
        };
        let slot = &mut gen_.slots[last];
        slot.retired = true;
        slot.respawn_at = None;
        let pid = slot.pid;
        tracing::info!(generation = id, "SIGTTOU: retiring a worker");
        if let Some(pid) = pid {
            self.drain_worker(pid);
        }
        self.notify_status();
    }

    fn apply_log_settings(&self, config: &Config) {
        if let Err(error) = self.log.apply(&LogSettings::from_config(config)) {
            tracing::error!(%error, "could not apply the new log settings; keeping the old ones");
        }
    }
}

/// How long a generation (the first one or a reload's) may take to become
/// ready: the stop's grace period, which bounds how long the operator
/// already agreed to wait for workers.
pub(super) fn readiness_deadline(config: &Config) -> Duration {
    match config.int(&options::GRACEFUL_SHUTDOWN_TIMEOUT) {
        0 => DEFAULT_READINESS_DEADLINE,
        seconds => Duration::from_secs(seconds.unsigned_abs()),
    }
}

impl Slot {
    pub(super) fn new() -> Slot {
        Slot {
            pid: None,
            backoff: Default::default(),
            respawn_at: None,
            retired: false,
            starts: 0,
        }
    }
}
