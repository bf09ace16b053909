//! Forking a worker.
#![allow(unsafe_code)]

use std::io::{self, Write};
use std::net::TcpListener;
use std::sync::Arc;

use nix::unistd::{ForkResult, Pid, fork};

use crate::conf::Config;
use crate::control::{self, MasterEnd};
use crate::log::LogHandle;
use crate::service::Service;
use crate::worker::{self, ChildSetup};

/// What a new worker gets.
pub(super) struct Plan<'a> {
    /// The slot in its generation.
    pub slot: usize,
    /// Its generation.
    pub generation: u64,
    /// The generation's configuration.
    pub config: &'a Arc<Config>,
    /// The generation's listeners.
    pub listeners: Vec<&'a TcpListener>,
    /// The process logger.
    pub log: &'a LogHandle,
}

/// Why a worker could not be forked.
#[derive(Debug, thiserror::Error)]
pub(super) enum SpawnError {
    /// The master has more than one thread: forking would copy locks held by
    /// threads that do not exist in the child.
    #[error("refusing to fork: the master has {0} threads, not 1")]
    NotSingleThreaded(usize),
    /// The kernel refused the control socket or the fork.
    #[error("cannot fork a worker: {0}")]
    Os(#[from] io::Error),
}

/// Forks a worker running `service`; returns its pid and the master's end of
/// its control socket. The child never returns from here.
///
/// # Errors
/// See [`SpawnError`].
pub(super) fn spawn<S: Service>(
    service: &S,
    plan: Plan<'_>,
) -> Result<(Pid, MasterEnd), SpawnError> {
    let threads = thread_count()?;
    if threads != 1 {
        return Err(SpawnError::NotSingleThreaded(threads));
    }
    let (master_end, channel) = control::pair()?;
    // Whatever sits in a user-space buffer now would be written by both processes.
    let _ = io::stdout().flush();
    let _ = io::stderr().flush();
    let master_pid = Pid::this();
    // SAFETY: the master is single-threaded (checked just above), so the child
    // is a complete copy with no lock held by a vanished thread; it may run
    // ordinary code, and it leaves through `worker::main`, which never returns.
    match unsafe { fork() }.map_err(io::Error::from)? {
        ForkResult::Child => {
            drop(master_end);
            worker::main(
                service,
                ChildSetup {
                    master_pid,
                    slot: plan.slot,
                    generation: plan.generation,
                    config: Arc::clone(plan.config),
                    listeners: &plan.listeners,
                    log: plan.log.clone(),
                    channel,
                },
            )
        }
        ForkResult::Parent { child } => Ok((child, master_end)),
    }
}

/// The number of threads of this process, from `/proc/self/task`.
pub(super) fn thread_count() -> io::Result<usize> {
    Ok(std::fs::read_dir("/proc/self/task")?.count())
}
