//! The contract between the launcher and a service: what the master needs to
//! know before forking, and what a worker runs after.

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;

use crate::conf::{Config, ConfigProblem};
use crate::control::ControlChannel;
use crate::log::LogHandle;
use crate::shutdown::Shutdown;

/// The error a worker's service ends with; logged by the launcher, exit status 1.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A `host:port` a service wants to listen on, as configured (port 0 = any free port).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ListenAddr {
    /// An IP literal or a host name, resolved when binding.
    pub host: String,
    /// The TCP port.
    pub port: u16,
}

/// The listening sockets a worker inherits, bound once by the master.
pub type Listeners = Vec<TcpListener>;

/// A service the launcher supervises.
///
/// Everything here except [`Service::run`] is called in the master, which is
/// single-threaded: these methods must not start threads or runtimes.
pub trait Service {
    /// The program name, used for the default log file name and in messages.
    fn name(&self) -> &'static str;

    /// How many workers the configuration asks for; 0 means one per CPU.
    fn workers(&self, config: &Config) -> usize;

    /// The addresses to listen on; the master binds them before forking and
    /// keeps a socket open across reloads while its configured address is unchanged.
    fn listen_addrs(&self, config: &Config) -> Vec<ListenAddr>;

    /// Problems with values the option tables accept but the service cannot
    /// use (a URL only the service parses). Checked before the first fork (a
    /// problem is a startup error), on every reload (a problem rejects it
    /// while the workers keep serving) and by `config check`, so that no bad
    /// value is found only after a fork.
    fn check(&self, _config: &Config) -> Vec<ConfigProblem> {
        Vec::new()
    }

    /// Runs in a worker, inside its single-threaded tokio runtime, until
    /// `shutdown` fires and the service has drained. The service calls
    /// [`WorkerCtx::ready`] once it can serve.
    fn run(&self, ctx: WorkerCtx, shutdown: Shutdown)
    -> impl Future<Output = Result<(), BoxError>>;
}

/// What a worker is given after the fork.
pub struct WorkerCtx {
    /// The worker's slot in its generation (0-based); stable across respawns.
    pub slot: usize,
    /// The generation this worker belongs to; every reload starts a new one.
    pub generation: u64,
    /// The configuration snapshot of this generation.
    pub config: Arc<Config>,
    /// The inherited listening sockets, in the order of [`Service::listen_addrs`].
    pub listeners: Listeners,
    /// The process's logger, for services that need to reopen or inspect it.
    pub log: LogHandle,
    pub(crate) control: Arc<ControlChannel>,
}

impl WorkerCtx {
    /// Tells the master this worker can serve. A reload switches generations
    /// only once every new worker has said so.
    pub fn ready(&self) {
        self.readiness().ready();
    }

    /// A handle that reports this worker's readiness, or why it is not ready,
    /// from any task.
    pub fn readiness(&self) -> Readiness {
        Readiness {
            control: Arc::clone(&self.control),
        }
    }
}

/// Reports a worker's readiness to its master: [`Readiness::ready`] once it
/// can serve, [`Readiness::waiting`] with the reason while it cannot. The
/// master shows the reason in its status, its state report, and the log line
/// of a reload it rolls back.
#[derive(Clone, Debug)]
pub struct Readiness {
    control: Arc<ControlChannel>,
}

impl Readiness {
    /// This worker can serve.
    pub fn ready(&self) {
        if let Err(error) = self.control.send_ready() {
            tracing::warn!(%error, "could not report readiness to the master");
        }
    }

    /// This worker cannot serve yet, because of `why`.
    pub fn waiting(&self, why: &str) {
        if let Err(error) = self.control.send_waiting(why) {
            tracing::warn!(%error, "could not report to the master why this worker is not ready");
        }
    }

    /// Reports every reason `problems` publishes (`None` = no problem) until
    /// the task running this is dropped or the sender goes.
    pub async fn follow(self, mut problems: tokio::sync::watch::Receiver<Option<String>>) {
        loop {
            let problem = problems.borrow_and_update().clone();
            if let Some(problem) = problem {
                self.waiting(&problem);
            }
            if problems.changed().await.is_err() {
                return;
            }
        }
    }
}
