//! The `[DEFAULT]` options the launcher owns: logging, as oslo.log names
//! them, and the graceful-stop timeout, as oslo.service names it.

use super::opt::{Opt, OptDefault, OptKind};

/// Every option in this file, for [`load`](super::load) and the sample.
pub static OPTS: &[&Opt] = &[
    &DEBUG,
    &LOG_FILE,
    &LOG_DIR,
    &USE_STDERR,
    &USE_JSON,
    &GRACEFUL_SHUTDOWN_TIMEOUT,
];

/// `[DEFAULT] debug`: log at DEBUG instead of INFO; `SIGHUP` applies it.
pub static DEBUG: Opt = Opt {
    section: "DEFAULT",
    name: "debug",
    kind: OptKind::Bool,
    default: OptDefault::Value("false"),
    help: "If set to true, the logging level will be set to DEBUG instead of the default INFO \
           level.",
    mutable: true,
    secret: false,
};

/// `[DEFAULT] log_file`: where log lines go; stderr when unset.
pub static LOG_FILE: Opt = Opt {
    section: "DEFAULT",
    name: "log_file",
    kind: OptKind::Str,
    default: OptDefault::Unset,
    help: "(Optional) Name of log file to send logging output to. If no default is set, logging \
           will go to stderr as defined by use_stderr. The file is reopened on SIGUSR1, so \
           logrotate can move it away without copytruncate.",
    mutable: false,
    secret: false,
};

/// `[DEFAULT] log_dir`: the base directory of a relative `log_file`.
pub static LOG_DIR: Opt = Opt {
    section: "DEFAULT",
    name: "log_dir",
    kind: OptKind::Str,
    default: OptDefault::Unset,
    help: "(Optional) The base directory used for relative log_file paths.",
    mutable: false,
    secret: false,
};

/// `[DEFAULT] use_stderr`: also log to standard error.
pub static USE_STDERR: Opt = Opt {
    section: "DEFAULT",
    name: "use_stderr",
    kind: OptKind::Bool,
    default: OptDefault::Value("false"),
    help: "Log output to standard error.",
    mutable: false,
    secret: false,
};

/// `[DEFAULT] use_json`: one JSON object per log line.
pub static USE_JSON: Opt = Opt {
    section: "DEFAULT",
    name: "use_json",
    kind: OptKind::Bool,
    default: OptDefault::Value("false"),
    help: "Use JSON formatting for logging.",
    mutable: false,
    secret: false,
};

/// `[DEFAULT] graceful_shutdown_timeout`: seconds to drain before stragglers
/// are killed; 0 waits forever.
pub static GRACEFUL_SHUTDOWN_TIMEOUT: Opt = Opt {
    section: "DEFAULT",
    name: "graceful_shutdown_timeout",
    kind: OptKind::Int {
        min: Some(0),
        max: None,
    },
    default: OptDefault::Value("60"),
    help: "Specify a timeout after which a gracefully shutdown server will exit. Zero value \
           means endless wait.",
    mutable: false,
    secret: false,
};
