//! The child side of a fork: hygiene while still single-threaded, then the
//! worker's own runtime, signal handling and the service itself.
//!
//! Order matters. Signals stay blocked (inherited from the master) until the
//! runtime's handlers exist, so none is lost or falls to a default action;
//! descriptors that belong to the master are closed first, so a worker never
//! holds a sibling's control socket open past the master's death.
#![allow(unsafe_code)]

use std::net::TcpListener;
use std::os::fd::RawFd;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::unistd::{Pid, getppid};
use tokio::signal::unix::{SignalKind, signal};

use crate::conf::{Config, options};
use crate::control::ControlChannel;
use crate::log::LogHandle;
use crate::service::{Listeners, Service, WorkerCtx};
use crate::shutdown::{self, Trigger};

/// How long an orphaned worker may drain before it leaves.
const ORPHAN_DRAIN: Duration = Duration::from_secs(1);

/// Set to `exit` to make every worker exit with status 1 right after the
/// fork, as a worker that cannot boot does; used to exercise crash-loop backoff.
///
/// Debug builds only: the end-to-end tests run debug binaries, and a release
/// build must not let a stray variable in a unit file's environment stop
/// every worker from booting.
#[cfg(debug_assertions)]
const FAULT_ENV: &str = "PYMSBOOT_FAULT_WORKER_BOOT";

/// Everything the child takes from the master.
pub(crate) struct ChildSetup<'a> {
    pub master_pid: Pid,
    pub slot: usize,
    pub generation: u64,
    pub config: Arc<Config>,
    pub listeners: &'a [&'a TcpListener],
    pub log: LogHandle,
    pub channel: ControlChannel,
}

/// Runs the worker and exits the process; never returns into master code.
pub(crate) fn main<S: Service>(service: &S, setup: ChildSetup<'_>) -> ! {
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| run(service, setup)));
    let code = match outcome {
        Ok(code) => code,
        Err(_) => {
            tracing::error!("worker panicked");
            70
        }
    };
    std::process::exit(code)
}

fn run<S: Service>(service: &S, setup: ChildSetup<'_>) -> i32 {
    let listeners = match adopt(&setup) {
        Ok(listeners) => listeners,
        Err(error) => {
            tracing::error!(%error, "worker could not set up after fork");
            return 1;
        }
    };
    #[cfg(debug_assertions)]
    if std::env::var(FAULT_ENV).as_deref() == Ok("exit") {
        return 1;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "worker could not build its runtime");
            return 1;
        }
    };
    let ctx = WorkerCtx {
        slot: setup.slot,
        generation: setup.generation,
        config: setup.config,
        listeners,
        log: setup.log,
        control: Arc::new(setup.channel),
    };
    runtime.block_on(serve(service, ctx))
}

/// Post-fork hygiene, still single-threaded: own copies of the listeners,
/// everything else the master held closed, parent-death signal armed.
fn adopt(setup: &ChildSetup<'_>) -> std::io::Result<Listeners> {
    let listeners = setup
        .listeners
        .iter()
        .map(|listener| listener.try_clone())
        .collect::<std::io::Result<Listeners>>()?;
    let mut keep: Vec<RawFd> = vec![0, 1, 2, setup.channel.raw_fd()];
    keep.extend(listeners.iter().map(std::os::fd::AsRawFd::as_raw_fd));
    keep.extend(setup.log.fds());
    close_all_except(&keep)?;
    // SAFETY: the child has exactly one thread (the master was checked before
    // the fork), so nothing can read the environment concurrently.
    #[allow(clippy::disallowed_methods)]
    unsafe {
        std::env::remove_var("NOTIFY_SOCKET");
    }
    nix::sys::prctl::set_pdeathsig(Signal::SIGTERM)?;
    // The master may have died between fork and prctl; then no signal comes.
    if getppid() != setup.master_pid {
        return Err(std::io::Error::other("the master exited during the fork"));
    }
    Ok(listeners)
}

fn close_all_except(keep: &[RawFd]) -> std::io::Result<()> {
    let open: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in open.into_iter().filter(|fd| !keep.contains(fd)) {
        // The fd of the directory listing itself is already closed: EBADF is fine.
        let _ = nix::unistd::close(fd);
    }
    Ok(())
}

async fn serve<S: Service>(service: &S, ctx: WorkerCtx) -> i32 {
    let grace = match ctx.config.int(&options::GRACEFUL_SHUTDOWN_TIMEOUT) {
        0 => None,
        seconds => Some(Duration::from_secs(seconds.unsigned_abs())),
    };
    let (trigger, shutdown) = shutdown::channel();
    let signals = match install_signals() {
        Ok(signals) => signals,
        Err(error) => {
            tracing::error!(%error, "worker could not install signal handlers");
            return 1;
        }
    };
    if let Err(error) = watch_master(&ctx.control, trigger.clone()) {
        tracing::error!(%error, "worker could not watch its master");
        return 1;
    }
    let log = ctx.log.clone();
    tracing::debug!(
        slot = ctx.slot,
        generation = ctx.generation,
        "worker started"
    );
    let work = service.run(ctx, shutdown.clone());
    tokio::pin!(work);
    let drain_limit = async {
        shutdown.requested().await;
        match grace {
            Some(grace) => tokio::time::sleep(grace).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        outcome = &mut work => match outcome {
            Ok(()) => 0,
            Err(error) => {
                tracing::error!(%error, "worker failed");
                1
            }
        },
        code = handle_signals(signals, trigger, log) => code,
        () = drain_limit => {
            tracing::warn!("graceful shutdown timeout exceeded; worker exits with work in flight");
            1
        }
    }
}

struct WorkerSignals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
    quit: tokio::signal::unix::Signal,
    reopen: tokio::signal::unix::Signal,
    report: tokio::signal::unix::Signal,
    ignored: Vec<(&'static str, tokio::signal::unix::Signal)>,
}

/// Registers the worker's handlers, then lets the signals the master kept
/// blocked through the fork come in.
fn install_signals() -> std::io::Result<WorkerSignals> {
    let mut ignored = Vec::new();
    for (name, number) in [
        ("SIGHUP", libc::SIGHUP),
        ("SIGTTIN", libc::SIGTTIN),
        ("SIGTTOU", libc::SIGTTOU),
        ("SIGWINCH", libc::SIGWINCH),
    ] {
        ignored.push((name, signal(SignalKind::from_raw(number))?));
    }
    let signals = WorkerSignals {
        terminate: signal(SignalKind::terminate())?,
        interrupt: signal(SignalKind::interrupt())?,
        quit: signal(SignalKind::quit())?,
        reopen: signal(SignalKind::user_defined1())?,
        report: signal(SignalKind::user_defined2())?,
        ignored,
    };
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)?;
    Ok(signals)
}

async fn handle_signals(mut signals: WorkerSignals, trigger: Trigger, log: LogHandle) -> i32 {
    let mut draining = false;
    loop {
        let ignored = futures_select_ignored(&mut signals.ignored);
        tokio::select! {
            _ = signals.terminate.recv() => {},
            _ = signals.interrupt.recv() => {},
            _ = signals.quit.recv() => {
                tracing::info!("SIGQUIT: worker exits now");
                return 1;
            }
            _ = signals.reopen.recv() => {
                if let Err(error) = log.reopen() {
                    tracing::error!(%error, "could not reopen the log file; still writing to the old one");
                }
                continue;
            }
            // The master's SIGUSR2 report, passed on: what only this worker knows.
            _ = signals.report.recv() => {
                tracing::info!("state report: {}", log.losses());
                continue;
            }
            name = ignored => {
                tracing::debug!(signal = name, "signal ignored by a worker");
                continue;
            }
        }
        if draining {
            tracing::info!("second stop signal: worker exits now");
            return 1;
        }
        draining = true;
        if !trigger.fired() {
            tracing::info!("worker draining");
        }
        trigger.fire();
    }
}

/// Waits on every ignored signal at once and names the one that came.
async fn futures_select_ignored(
    signals: &mut [(&'static str, tokio::signal::unix::Signal)],
) -> &'static str {
    std::future::poll_fn(|cx| {
        for (name, signal) in signals.iter_mut() {
            if signal.poll_recv(cx).is_ready() {
                return std::task::Poll::Ready(*name);
            }
        }
        std::task::Poll::Pending
    })
    .await
}

/// A thread blocked on the control socket: the master's drain requests fire
/// the shutdown; EOF means the master is gone, even by `SIGKILL`. The worker
/// then drains briefly and leaves, so no orphan keeps the port or serves with
/// a stale configuration.
fn watch_master(channel: &ControlChannel, trigger: Trigger) -> std::io::Result<()> {
    let channel = channel.try_clone()?;
    std::thread::Builder::new()
        .name("master-watch".into())
        .spawn(move || {
            channel.watch_master(|| {
                if !trigger.fired() {
                    tracing::info!("the master asked this worker to drain");
                }
                trigger.fire();
            });
            tracing::warn!("master is gone; worker drains and exits");
            trigger.fire();
            std::thread::sleep(ORPHAN_DRAIN);
            // SAFETY: `_exit` ends the process without running destructors or
            // atexit handlers, which another thread may be in the middle of using.
            unsafe { libc::_exit(1) }
        })?;
    Ok(())
}
