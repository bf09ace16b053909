//! oslo.log-style logging for every pymsboot process.
//!
//! Lines look like oslo.log's default `logging_context_format_string`:
//!
//! ```text
//! 2024-05-01 12:03:04.056 4242 INFO api.controllers.movies [req-3f2a… - - - - -] created movie_id=0b7c…
//! 2024-05-01 12:03:04.057 4240 INFO launcher.master [-] worker 4242 ready
//! ```
//!
//! that is local time, the writing process's pid, the level (`WARNING`, not
//! `WARN`), the tracing target with dots, the request context (`-`, or the
//! `request_id` of the innermost span that has one, in oslo's
//! `[<request_id> <user identity>]` form), the message and the event's other
//! fields. With `use_json` each record is one JSON object instead.
//!
//! The master process forks at any time and must stay single-threaded, so
//! nothing here runs a thread or buffers in user space: each record becomes
//! one `String` written with one `write(2)` on an `O_APPEND` descriptor. A
//! forked worker inherits the installed subscriber and the open file as they
//! are; [`LogHandle::reopen`] (`SIGUSR1`) and [`LogHandle::apply`] (`SIGHUP`)
//! then act on each process's own copy.
//!
//! # Layout
//! - `filter`: which targets log at which level (`debug`, third-party noise).
//! - `format`: the text and JSON line formats.
//! - `layer`: the tracing layer that collects an event and its request id.
//! - `reopen`: the append-only file and stderr sinks, and their swaps.
//! - `append`: each record whole or absent on a full disk, and the count of
//!   the absent ones.

use std::fmt;
use std::io;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tracing::Subscriber;
use tracing::subscriber::SetGlobalDefaultError;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::{Registry, reload};

use crate::conf::Config;
use crate::conf::options::{DEBUG, LOG_DIR, LOG_FILE, USE_JSON, USE_STDERR};

mod append;
mod filter;
mod format;
mod layer;
mod reopen;

pub use append::LossReport;
use layer::OsloLayer;
use reopen::Sinks;

/// The logging options of `[DEFAULT]`, with oslo.log's meaning.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogSettings {
    /// `debug`: DEBUG instead of INFO for our own targets.
    pub debug: bool,
    /// `log_file`: the log file, relative to `log_dir` when that is set.
    pub log_file: Option<PathBuf>,
    /// `log_dir`: the directory of `log_file`, or of `<program>.log`.
    pub log_dir: Option<PathBuf>,
    /// `use_stderr`: also log to stderr when a log file is in use.
    pub use_stderr: bool,
    /// `use_json`: one JSON object per line instead of the text format.
    pub use_json: bool,
}

impl LogSettings {
    /// Reads the settings from the `[DEFAULT]` options. An empty `log_file`
    /// or `log_dir` counts as unset, as oslo.log treats an empty string.
    pub fn from_config(config: &Config) -> Self {
        let path = |value: Option<&str>| value.filter(|s| !s.is_empty()).map(PathBuf::from);
        Self {
            debug: config.bool(&DEBUG),
            log_file: path(config.str(&LOG_FILE)),
            log_dir: path(config.str(&LOG_DIR)),
            use_stderr: config.bool(&USE_STDERR),
            use_json: config.bool(&USE_JSON),
        }
    }

    /// The log file `program` writes to, as oslo.log's `_get_log_file_path`
    /// decides: `log_dir/log_file` (an absolute `log_file` ignores `log_dir`),
    /// else `log_file`, else `log_dir/<program>.log`, else none.
    pub fn log_path(&self, program: &str) -> Option<PathBuf> {
        match (&self.log_dir, &self.log_file) {
            (Some(dir), Some(file)) => Some(dir.join(file)),
            (None, Some(file)) => Some(file.clone()),
            (Some(dir), None) => Some(dir.join(format!("{program}.log"))),
            (None, None) => None,
        }
    }
}

/// Why logging could not be set up or changed.
///
/// The messages include their cause: they are printed with `{}` at startup
/// and logged with `%error` on reopen, where nobody walks the source chain.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The log file could not be opened for appending.
    #[error("cannot open log file {}: {source}", path.display())]
    Open {
        /// The path that was tried.
        path: PathBuf,
        /// What `open(2)` said.
        #[source]
        source: io::Error,
    },
    /// Another global subscriber was installed first.
    #[error("a global tracing subscriber is already installed")]
    Install(#[from] SetGlobalDefaultError),
    /// The level filter could not be replaced (its subscriber is gone).
    #[error("cannot change the log level: {0}")]
    Reload(#[source] reload::Error),
}

/// Installs the global subscriber (once per process; the forked workers
/// inherit it) and returns the handle that reopens and reconfigures it.
///
/// `program` names the default log file under `log_dir` (`<program>.log`).
///
/// # Errors
/// [`LogError::Open`] when the log file cannot be opened, and
/// [`LogError::Install`] when this process already has a global subscriber.
pub fn init(settings: &LogSettings, program: &'static str) -> Result<LogHandle, LogError> {
    // At start only: a directory that vanishes later (a rotation gone wrong)
    // is reported on reopen rather than silently recreated.
    if let Some(dir) = settings
        .log_path(program)
        .as_deref()
        .and_then(std::path::Path::parent)
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|source| LogError::Open {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let (subscriber, handle) = build(settings, program)?;
    tracing::subscriber::set_global_default(subscriber)?;
    Ok(handle)
}

/// Logging for `pymsboot-manage`: the same format, on stderr only.
///
/// Does nothing if a global subscriber is already installed: a command-line
/// tool's logging is a convenience, not worth failing the command for.
pub fn init_for_tool(debug: bool) {
    let settings = LogSettings {
        debug,
        use_stderr: true,
        ..LogSettings::default()
    };
    // With no file to open, installing is the only step that can fail.
    let _ = init(&settings, "pymsboot-manage");
}

/// The subscriber and its handle, not yet installed, so tests can scope it to
/// a thread with `tracing::subscriber::with_default`.
pub(crate) fn build(
    settings: &LogSettings,
    program: &'static str,
) -> Result<(impl Subscriber + Send + Sync + 'static, LogHandle), LogError> {
    let path = settings.log_path(program);
    let sinks = Arc::new(Sinks::open(
        path.as_deref(),
        settings.use_stderr,
        settings.use_json,
    )?);
    let (filter, filter_handle) = reload::Layer::new(filter::targets(settings.debug));
    let subscriber = Registry::default()
        .with(filter)
        .with(OsloLayer::new(Arc::clone(&sinks)));
    let handle = LogHandle {
        inner: Arc::new(Inner {
            sinks,
            filter: filter_handle,
            program,
        }),
    };
    Ok((subscriber, handle))
}

/// Controls the installed logger: reopening (`SIGUSR1`), new settings
/// (`SIGHUP`), and the descriptors a forked worker must keep.
#[derive(Clone)]
pub struct LogHandle {
    inner: Arc<Inner>,
}

struct Inner {
    sinks: Arc<Sinks>,
    filter: reload::Handle<Targets, Registry>,
    program: &'static str,
}

impl LogHandle {
    /// SIGUSR1: reopen the log file at its path (logrotate renamed it).
    ///
    /// The new file is opened before the old one is let go, so no record is
    /// lost or written twice across the swap; records written meanwhile land
    /// in the renamed file. Without a log file this does nothing.
    ///
    /// # Errors
    /// [`LogError::Open`] when the path cannot be opened (directory gone or
    /// unwritable, path now a directory); logging goes on to the old file.
    pub fn reopen(&self) -> Result<(), LogError> {
        self.inner.sinks.reopen()
    }

    /// SIGHUP: apply new settings. The level changes at once; a changed path
    /// opens the new file; `use_json` and `use_stderr` apply to the next record.
    ///
    /// # Errors
    /// [`LogError::Open`] when a new path cannot be opened: logging goes on to
    /// the old file, while the level, format and stderr changes still apply.
    /// [`LogError::Reload`] only if the subscriber was dropped.
    pub fn apply(&self, settings: &LogSettings) -> Result<(), LogError> {
        self.inner
            .filter
            .reload(filter::targets(settings.debug))
            .map_err(LogError::Reload)?;
        let path = settings.log_path(self.inner.program);
        self.inner
            .sinks
            .configure(path.as_deref(), settings.use_stderr, settings.use_json)
    }

    /// The file descriptors the logger holds (the log file's, if any), so a
    /// forked worker that closes inherited master-only fds keeps these.
    ///
    /// Ask again at every fork: a reopen replaces the descriptor. Stderr is
    /// not listed; fds 0–2 are never the master's to close.
    pub fn fds(&self) -> Vec<RawFd> {
        self.inner.sinks.fds()
    }

    /// The log file in use, if any.
    pub fn path(&self) -> Option<PathBuf> {
        self.inner.sinks.current_path()
    }

    /// The records this process could not write (disk full, I/O error), for
    /// the `SIGUSR2` state report.
    pub fn losses(&self) -> LossReport {
        self.inner.sinks.losses()
    }
}

impl fmt::Debug for LogHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogHandle")
            .field("program", &self.inner.program)
            .field("path", &self.path().as_deref().map(Path::display))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(log_file: Option<&str>, log_dir: Option<&str>) -> LogSettings {
        LogSettings {
            log_file: log_file.map(PathBuf::from),
            log_dir: log_dir.map(PathBuf::from),
            ..LogSettings::default()
        }
    }

    #[test]
    fn log_path_joins_a_relative_log_file_to_log_dir() {
        let s = settings(Some("api.log"), Some("/var/log/pymsboot"));
        assert_eq!(
            s.log_path("pymsboot-api"),
            Some(PathBuf::from("/var/log/pymsboot/api.log"))
        );
    }

    #[test]
    fn log_path_keeps_an_absolute_log_file_whatever_log_dir_says() {
        let s = settings(Some("/tmp/x.log"), Some("/var/log/pymsboot"));
        assert_eq!(
            s.log_path("pymsboot-api"),
            Some(PathBuf::from("/tmp/x.log"))
        );
    }

    #[test]
    fn log_path_uses_log_file_alone_when_there_is_no_log_dir() {
        let s = settings(Some("var/api.log"), None);
        assert_eq!(
            s.log_path("pymsboot-api"),
            Some(PathBuf::from("var/api.log"))
        );
    }

    #[test]
    fn log_path_names_the_file_after_the_program_when_only_log_dir_is_set() {
        let s = settings(None, Some("/var/log/pymsboot"));
        assert_eq!(
            s.log_path("pymsboot-engine"),
            Some(PathBuf::from("/var/log/pymsboot/pymsboot-engine.log"))
        );
    }

    #[test]
    fn log_path_is_none_without_log_file_or_log_dir() {
        assert_eq!(settings(None, None).log_path("pymsboot-api"), None);
    }

    fn config(values: &[(&'static str, &str)]) -> Config {
        use crate::conf::{self, Override, Sources};
        let overrides = values
            .iter()
            .map(|(name, value)| Override {
                section: "DEFAULT",
                name,
                value: (*value).to_owned(),
            })
            .collect();
        let sources = Sources {
            overrides,
            ..Sources::default()
        };
        conf::load(&sources, &[conf::OPTS]).expect("the test values are valid")
    }

    #[test]
    fn from_config_reads_the_default_section() {
        let config = config(&[
            ("debug", "true"),
            ("log_file", "api.log"),
            ("log_dir", "/var/log/pymsboot"),
            ("use_stderr", "yes"),
            ("use_json", "on"),
        ]);
        assert_eq!(
            LogSettings::from_config(&config),
            LogSettings {
                debug: true,
                log_file: Some("api.log".into()),
                log_dir: Some("/var/log/pymsboot".into()),
                use_stderr: true,
                use_json: true,
            }
        );
    }

    #[test]
    fn from_config_defaults_to_info_on_stderr_and_treats_empty_paths_as_unset() {
        let settings = LogSettings::from_config(&config(&[("log_file", ""), ("log_dir", "")]));
        assert_eq!(settings, LogSettings::default());
        assert_eq!(settings.log_path("pymsboot-api"), None);
    }

    #[test]
    fn an_open_error_names_the_path_and_the_cause() {
        let error = Sinks::open(Some(Path::new("/nonexistent-dir/x.log")), false, false)
            .expect_err("the directory does not exist");
        assert_eq!(
            error.to_string(),
            "cannot open log file /nonexistent-dir/x.log: No such file or directory (os error 2)"
        );
        assert!(std::error::Error::source(&error).is_some());
    }
}
