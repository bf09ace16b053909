//! The master: a single-threaded supervisor built around one `poll()`.
//!
//! Signals are blocked and read from a `signalfd`, so no handler runs at an
//! arbitrary point and no handler state is inherited by forked workers. Every
//! wait (respawn backoff, reload deadline, graceful-stop deadline) is the
//! `poll()` timeout, so the master reacts to a signal at any moment.
//!
//! Lifecycle: `Starting` → `Running` ⇄ `Reloading` → `Stopping` → exit.
//!
//! `signals` answers each signal, `reap` collects and replaces workers,
//! `spawn` forks them, `generation` runs reloads and resizing, `backoff`
//! paces crash loops, `status` reports to systemd and the log.

mod backoff;
mod generation;
mod reap;
mod signals;
mod spawn;
mod status;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;

use crate::conf::{Config, Opt, Sources};
use crate::control::{MasterEnd, Message};
use crate::log::LogHandle;
use crate::pidfile::{PidFile, PidFileError};
use crate::service::{ListenAddr, Service};
use crate::systemd::Notifier;

/// What [`run`] needs besides the service.
pub struct RunSettings {
    /// Where the configuration came from; re-read on `SIGHUP`.
    pub sources: Sources,
    /// Every option table the binary knows; a reload validates them all.
    pub tables: Vec<&'static [&'static Opt]>,
    /// The configuration loaded and validated at start.
    pub config: Config,
    /// The process logger, already initialised.
    pub log: LogHandle,
    /// `--pid-file`.
    pub pid_file: Option<PathBuf>,
}

/// Why the master could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Blocking signals or creating the signalfd failed.
    #[error("cannot set up signal handling: {0}")]
    Signals(#[source] nix::Error),
    /// A listening address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The configured address.
        addr: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The pid file is held or cannot be written.
    #[error(transparent)]
    PidFile(#[from] PidFileError),
    /// `poll()` failed, which leaves the master blind.
    #[error("the supervisor loop failed: {0}")]
    Poll(#[source] nix::Error),
}

/// Runs the master until a graceful or immediate stop completes.
///
/// Must be called from a single-threaded process, before any runtime exists.
///
/// # Errors
/// See [`RunError`]; a worker's failure is never an error of the master.
pub fn run<S: Service>(service: S, settings: RunSettings) -> Result<(), RunError> {
    let signals = block_signals()?;
    let config = Arc::new(settings.config);
    // Taken before binding, so that of two masters started at once the
    // second says "already running" rather than "address in use", and never
    // runs beside the first.
    let pid_file = settings
        .pid_file
        .as_deref()
        .map(PidFile::create)
        .transpose()?;
    let listeners = bind_all(&service.listen_addrs(&config), &[])?;
    let mut master = Master {
        service,
        sources: settings.sources,
        tables: settings.tables,
        config,
        log: settings.log,
        signals,
        notifier: Notifier::from_env(),
        _pid_file: pid_file,
        generations: Vec::new(),
        workers: BTreeMap::new(),
        // Becomes `Starting` just below, once the first generation has its id.
        phase: Phase::Running,
        started: Instant::now(),
        respawns: 0,
        next_generation: 1,
    };
    let config = Arc::clone(&master.config);
    let workers = master.worker_count(&config);
    let generation = master.start_generation(Arc::clone(&config), listeners, workers);
    master.phase = Phase::Starting {
        generation,
        deadline: Some(Instant::now() + generation::readiness_deadline(&config)),
    };
    master.serve()
}

const HANDLED: [Signal; 10] = [
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGCHLD,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
    Signal::SIGWINCH,
];

fn block_signals() -> Result<SignalFd, RunError> {
    let mut mask = SigSet::empty();
    for signal in HANDLED {
        mask.add(signal);
    }
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None).map_err(RunError::Signals)?;
    SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(RunError::Signals)
}

/// Binds each address, reusing a socket of `current` whose configured address
/// is unchanged (a reload must not drop the queue of a port it keeps).
fn bind_all(
    wanted: &[ListenAddr],
    current: &[(ListenAddr, TcpListener)],
) -> Result<Vec<(ListenAddr, TcpListener)>, RunError> {
    let mut bound = Vec::new();
    for addr in wanted {
        let bind_error = |source| RunError::Bind {
            addr: format!("{}:{}", addr.host, addr.port),
            source,
        };
        let listener = match current.iter().find(|(have, _)| have == addr) {
            Some((_, listener)) => listener.try_clone().map_err(bind_error)?,
            None => {
                let listener =
                    crate::listener::bind_tcp(&addr.host, addr.port).map_err(bind_error)?;
                match listener.local_addr() {
                    Ok(local) => tracing::info!("listening on {local}"),
                    Err(_) => tracing::info!("listening on {}:{}", addr.host, addr.port),
                }
                listener
            }
        };
        bound.push((addr.clone(), listener));
    }
    Ok(bound)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The first generation is booting; systemd has not been told READY.
    /// Past the deadline (`None` once reported) the master says why it is
    /// not ready, and its workers keep trying.
    Starting {
        generation: u64,
        deadline: Option<Instant>,
    },
    /// One generation serves.
    Running,
    /// A new generation boots; the old one serves until it is ready.
    Reloading { generation: u64, deadline: Instant },
    /// Workers drain; `None` waits forever.
    Stopping { deadline: Option<Instant> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WorkerState {
    Booting,
    Ready,
    Draining,
}

struct Worker {
    generation: u64,
    slot: usize,
    state: WorkerState,
    started: Instant,
    control: Option<MasterEnd>,
    /// Why the worker last said it cannot get ready; cleared when it is.
    waiting_for: Option<String>,
}

struct Slot {
    pid: Option<Pid>,
    backoff: backoff::Backoff,
    respawn_at: Option<Instant>,
    retired: bool,
    /// How many workers this slot has had; all but the first are respawns.
    starts: u64,
}

struct Generation {
    id: u64,
    config: Arc<Config>,
    listeners: Vec<(ListenAddr, TcpListener)>,
    slots: Vec<Slot>,
    /// Replaced by a newer generation (or rolled back): drains, never respawns.
    retired: bool,
}

struct Master<S: Service> {
    service: S,
    sources: Sources,
    tables: Vec<&'static [&'static Opt]>,
    /// The configuration of the newest generation (serving or booting).
    config: Arc<Config>,
    log: LogHandle,
    signals: SignalFd,
    notifier: Notifier,
    _pid_file: Option<PidFile>,
    /// Oldest first; the serving generation is the last one not still booting.
    generations: Vec<Generation>,
    workers: BTreeMap<Pid, Worker>,
    phase: Phase,
    started: Instant,
    respawns: u64,
    next_generation: u64,
}

impl<S: Service> Master<S> {
    fn serve(&mut self) -> Result<(), RunError> {
        loop {
            if matches!(self.phase, Phase::Stopping { .. }) && self.workers.is_empty() {
                tracing::info!("all workers exited; master stops");
                self.notifier.notify("STATUS=stopped");
                return Ok(());
            }
            let timeout = self
                .next_deadline()
                .map(|at| at.saturating_duration_since(Instant::now()));
            let (signal_ready, ready_workers) = self.wait(timeout)?;
            if signal_ready {
                self.read_signals();
            }
            for pid in ready_workers {
                self.read_control(pid);
            }
            self.on_deadlines();
        }
    }

    fn wait(&self, timeout: Option<Duration>) -> Result<(bool, Vec<Pid>), RunError> {
        let watched: Vec<(Pid, &MasterEnd)> = self
            .workers
            .iter()
            .filter_map(|(pid, worker)| Some((*pid, worker.control.as_ref()?)))
            .collect();
        let mut fds = vec![PollFd::new(self.signals.as_fd(), PollFlags::POLLIN)];
        fds.extend(
            watched
                .iter()
                .map(|(_, end)| PollFd::new(end.as_fd(), PollFlags::POLLIN)),
        );
        let timeout = match timeout {
            // Round up: waking a millisecond early would spin until the deadline.
            Some(t) => PollTimeout::try_from(t.as_millis().saturating_add(1).min(60_000) as i32)
                .unwrap_or(PollTimeout::MAX),
            None => PollTimeout::NONE,
        };
        match poll(&mut fds, timeout) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => return Ok((false, Vec::new())),
            Err(error) => return Err(RunError::Poll(error)),
        }
        let readable = |fd: &PollFd<'_>| fd.revents().is_some_and(|r| !r.is_empty());
        let workers = watched
            .iter()
            .zip(&fds[1..])
            .filter(|(_, fd)| readable(fd))
            .map(|((pid, _), _)| *pid)
            .collect();
        Ok((readable(&fds[0]), workers))
    }

    fn next_deadline(&self) -> Option<Instant> {
        let respawns = self
            .generations
            .iter()
            .flat_map(|g| g.slots.iter())
            .filter_map(|slot| slot.respawn_at);
        let phase = match self.phase {
            Phase::Reloading { deadline, .. } => Some(deadline),
            Phase::Starting { deadline, .. } | Phase::Stopping { deadline } => deadline,
            Phase::Running => None,
        };
        respawns.chain(phase).min()
    }

    fn read_control(&mut self, pid: Pid) {
        let Some(worker) = self.workers.get_mut(&pid) else {
            return;
        };
        let Some(end) = &worker.control else { return };
        match end.read() {
            Message::Ready => self.on_ready(pid),
            Message::Waiting(why) => self.on_waiting(pid, why),
            // The worker is exiting; SIGCHLD follows. Stop polling its socket.
            Message::Closed => worker.control = None,
            Message::Unknown => {}
        }
    }

    fn on_deadlines(&mut self) {
        let now = Instant::now();
        match self.phase {
            Phase::Reloading {
                generation,
                deadline,
            } if deadline <= now => {
                let why = self.not_ready_because(generation);
                self.abort_reload(generation, &why);
            }
            Phase::Starting {
                generation,
                deadline: Some(deadline),
            } if deadline <= now => {
                self.phase = Phase::Starting {
                    generation,
                    deadline: None,
                };
                let why = self.not_ready_because(generation);
                tracing::error!(
                    "generation {generation} {why}; its workers keep trying \
                     (fix the configuration and send SIGHUP to try a new one)"
                );
                self.notifier
                    .notify(&format!("STATUS=generation {generation} {why}"));
            }
            Phase::Stopping {
                deadline: Some(deadline),
            } if deadline <= now => {
                tracing::warn!(
                    workers = self.workers.len(),
                    "graceful shutdown timeout exceeded; killing the remaining workers"
                );
                self.kill_all_and_reap(Signal::SIGKILL);
            }
            _ => {}
        }
        let due: Vec<(u64, usize)> = self
            .generations
            .iter()
            .flat_map(|g| {
                g.slots.iter().enumerate().filter_map(move |(index, slot)| {
                    slot.respawn_at
                        .filter(|at| *at <= now)
                        .map(|_| (g.id, index))
                })
            })
            .collect();
        for (generation, slot) in due {
            if let Some(slot) = self.slot_mut(generation, slot) {
                slot.respawn_at = None;
            }
            self.spawn(generation, slot);
        }
    }

    fn on_ready(&mut self, pid: Pid) {
        let Some(worker) = self.workers.get_mut(&pid) else {
            return;
        };
        if worker.state != WorkerState::Booting {
            return;
        }
        worker.state = WorkerState::Ready;
        worker.waiting_for = None;
        let generation = worker.generation;
        tracing::info!(
            slot = worker.slot,
            pid = pid.as_raw(),
            generation,
            "worker ready"
        );
        if self.generation_ready(generation) {
            match self.phase {
                Phase::Starting {
                    generation: booting,
                    ..
                } if booting == generation => {
                    self.phase = Phase::Running;
                    tracing::info!(generation, "all workers ready");
                    self.notifier
                        .notify(&format!("READY=1\n{}", self.status_line()));
                    return;
                }
                Phase::Reloading {
                    generation: booting,
                    ..
                } if booting == generation => {
                    self.finish_reload(generation);
                    return;
                }
                _ => {}
            }
        }
        self.notify_status();
    }

    fn on_waiting(&mut self, pid: Pid, why: String) {
        let Some(worker) = self.workers.get_mut(&pid) else {
            return;
        };
        if worker.state != WorkerState::Booting || worker.waiting_for.as_ref() == Some(&why) {
            return;
        }
        tracing::warn!(
            slot = worker.slot,
            generation = worker.generation,
            "worker {pid} is not ready: {why}"
        );
        worker.waiting_for = Some(why);
        self.notify_status();
    }

    /// Why a booting generation is not ready, for the log and `STATUS=`:
    /// the reason one of its workers gave, if any did.
    fn not_ready_because(&self, generation: u64) -> String {
        match self.waiting_reason(generation) {
            Some(reason) => format!("is not ready: {reason}"),
            None => "did not become ready in time".to_string(),
        }
    }

    /// The reason a booting worker of `generation` gave for not being ready.
    fn waiting_reason(&self, generation: u64) -> Option<String> {
        self.workers
            .values()
            .filter(|w| w.generation == generation && w.state == WorkerState::Booting)
            .find_map(|w| w.waiting_for.clone())
    }

    /// The generation being booted, first or by a reload.
    fn booting(&self) -> Option<u64> {
        match self.phase {
            Phase::Starting { generation, .. } | Phase::Reloading { generation, .. } => {
                Some(generation)
            }
            Phase::Running | Phase::Stopping { .. } => None,
        }
    }

    fn generation_ready(&self, generation: u64) -> bool {
        let Some(gen_) = self.generations.iter().find(|g| g.id == generation) else {
            return false;
        };
        gen_.slots.iter().filter(|slot| !slot.retired).all(|slot| {
            slot.pid
                .and_then(|pid| self.workers.get(&pid))
                .is_some_and(|worker| worker.state == WorkerState::Ready)
        })
    }

    /// The generation that serves: the newest one unless a reload is booting it.
    fn serving(&self) -> Option<u64> {
        let booting = match self.phase {
            Phase::Reloading { generation, .. } => Some(generation),
            _ => None,
        };
        self.generations
            .iter()
            .rev()
            .find(|g| !g.retired && Some(g.id) != booting)
            .map(|g| g.id)
    }

    fn generation(&self, id: u64) -> Option<&Generation> {
        self.generations.iter().find(|g| g.id == id)
    }

    fn slot_mut(&mut self, generation: u64, slot: usize) -> Option<&mut Slot> {
        self.generations
            .iter_mut()
            .find(|g| g.id == generation)?
            .slots
            .get_mut(slot)
    }

    fn signal_worker(&mut self, pid: Pid, signal: Signal) {
        // Safe against pid reuse: a child's pid stays ours until we reap it,
        // and reaped workers leave the table first.
        if let Err(error) = kill(pid, signal) {
            tracing::debug!(pid = pid.as_raw(), %error, "could not signal worker");
        }
    }

    fn drain_worker(&mut self, pid: Pid) {
        let Some(worker) = self.workers.get_mut(&pid) else {
            return;
        };
        worker.state = WorkerState::Draining;
        // A worker whose control socket is gone is exiting anyway; SIGTERM
        // covers the odd case where it is not.
        let asked = worker
            .control
            .as_ref()
            .is_some_and(|end| end.send_drain().is_ok());
        if !asked {
            self.signal_worker(pid, Signal::SIGTERM);
        }
    }

    fn worker_count(&self, config: &Config) -> usize {
        match self.service.workers(config) {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        }
    }
}
