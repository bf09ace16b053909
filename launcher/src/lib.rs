//! The process supervisor every pymsboot service runs under: the oslo.service of
//! this project, with the oslo.config-style configuration and the oslo.log-style
//! logging that every binary shares.
//!
//! A master process parses the configuration, binds the listening sockets and
//! forks workers that share them. It stays single-threaded for its whole life so
//! that it can fork again at any time: to replace a worker that died, to start a
//! new generation on `SIGHUP`, or to add one on `SIGTTIN`. Workers build their
//! own tokio runtime after the fork and run a [`Service`].
//!
//! # Layout
//! - [`civil`]: calendar arithmetic for the timestamps the services write.
//! - [`cli`]: the command-line flags every binary accepts.
//! - [`conf`]: option declarations, INI loading, typed validation, the sample.
//! - [`log`]: oslo.log line format, reopenable log files, JSON output.
//! - `service`: the [`Service`] trait (bind in the master, run in workers).
//! - `master`: the supervisor's state machine, spawning, reaping, reloads.
//! - `worker`: the child side of a fork: hygiene, runtime, signals, readiness.
//! - `control`: the socket pair between the master and each worker.
//! - `shutdown`: the [`Shutdown`] token passed down to a worker's tasks.
//! - `listener`: the shared TCP listener, bound once with an explicit backlog.
//! - `pidfile`, `systemd`: the pid file and the `sd_notify` protocol.

pub use conf::{Config, ConfigProblem, Opt, OptKind};
pub use listener::bind_tcp;
pub use master::{RunError, RunSettings, run};
pub use service::{BoxError, ListenAddr, Listeners, Readiness, Service, WorkerCtx};
pub use shutdown::Shutdown;

pub mod civil;
pub mod cli;
pub mod conf;
mod control;
mod listener;
pub mod log;
mod master;
mod pidfile;
pub mod service;
mod shutdown;
mod systemd;
mod worker;
