//! The command-line flags every pymsboot binary accepts, oslo.config style.
//!
//! Hand-written rather than built on an argument-parsing crate: the set is
//! small and fixed, and the error wording must match the configuration
//! problems (one line, exit status 2).

use std::path::PathBuf;

use crate::conf::{Override, Sources, options};

/// Where a binary looks when it is given neither `--config-file` nor `--config-dir`.
pub const DEFAULT_CONFIG_FILE: &str = "/etc/pymsboot/pymsboot.conf";

/// The flags shared by `pymsboot-api`, `pymsboot-engine` and `pymsboot-manage`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommonArgs {
    /// `--config-file PATH`, in the order given; later files win.
    pub config_files: Vec<PathBuf>,
    /// `--config-dir DIR`: every `*.conf` in it, sorted, read after the files.
    pub config_dirs: Vec<PathBuf>,
    /// `--log-file PATH`, overriding `[DEFAULT] log_file`.
    pub log_file: Option<PathBuf>,
    /// `--log-dir DIR`, overriding `[DEFAULT] log_dir`.
    pub log_dir: Option<PathBuf>,
    /// `--debug` / `-d`, overriding `[DEFAULT] debug`.
    pub debug: bool,
    /// `--pid-file PATH` (services only).
    pub pid_file: Option<PathBuf>,
    /// Arguments that are not common flags, in order (sub-commands of `pymsboot-manage`).
    pub rest: Vec<String>,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// Run with these flags.
    Run(CommonArgs),
    /// `--help`: print the usage text and exit 0.
    Help,
    /// `--version`: print the version and exit 0.
    Version,
}

/// A command line that cannot be understood; printed as one line, exit status 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Parses the arguments after the program name.
///
/// `--name value` and `--name=value` are both accepted. Arguments that are not
/// flags are collected in [`CommonArgs::rest`]; `allow_rest` says whether the
/// binary takes any.
///
/// # Errors
/// An unknown flag, a flag missing its value, or unexpected positional arguments.
pub fn parse<I>(args: I, allow_rest: bool, services: bool) -> Result<Invocation, UsageError>
where
    I: IntoIterator<Item = String>,
{
    let mut parsed = CommonArgs::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_string(), Some(value.to_string()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| UsageError(format!("{name} needs a value")))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Invocation::Help),
            "--version" => return Ok(Invocation::Version),
            "-d" | "--debug" => parsed.debug = true,
            "--config-file" => parsed.config_files.push(value(&flag)?.into()),
            "--config-dir" => parsed.config_dirs.push(value(&flag)?.into()),
            "--log-file" => parsed.log_file = Some(value(&flag)?.into()),
            "--log-dir" => parsed.log_dir = Some(value(&flag)?.into()),
            "--pid-file" if services => parsed.pid_file = Some(value(&flag)?.into()),
            f if f.starts_with('-') && f != "-" => {
                return Err(UsageError(format!("unrecognized argument: {f}")));
            }
            _ if allow_rest => parsed.rest.push(arg),
            _ => return Err(UsageError(format!("unexpected argument: {arg}"))),
        }
    }
    Ok(Invocation::Run(parsed))
}

impl CommonArgs {
    /// The configuration sources these flags name. With no file and no
    /// directory, [`DEFAULT_CONFIG_FILE`] is read when it exists, as oslo.config
    /// finds `/etc/<project>/<project>.conf`.
    pub fn sources(&self) -> Sources {
        let mut files = self.config_files.clone();
        if files.is_empty() && self.config_dirs.is_empty() {
            let default = PathBuf::from(DEFAULT_CONFIG_FILE);
            if default.is_file() {
                files.push(default);
            }
        }
        let mut overrides = Vec::new();
        let mut set = |opt: &'static crate::Opt, value: String| {
            overrides.push(Override {
                section: opt.section,
                name: opt.name,
                value,
            });
        };
        if self.debug {
            set(&options::DEBUG, "true".into());
        }
        if let Some(path) = &self.log_file {
            set(&options::LOG_FILE, path.display().to_string());
        }
        if let Some(dir) = &self.log_dir {
            set(&options::LOG_DIR, dir.display().to_string());
        }
        Sources {
            files,
            dirs: self.config_dirs.clone(),
            overrides,
        }
    }
}

/// The usage text of a binary; `extra` lists its own flags or sub-commands.
pub fn usage(program: &str, extra: &str) -> String {
    format!(
        "usage: {program} [--config-file PATH]... [--config-dir DIR]... [--log-file PATH]\n\
         {pad}[--log-dir DIR] [--debug] [--version] [--help]{extra}\n\n\
         --config-file PATH  read this INI file (repeatable; later files win)\n\
         --config-dir DIR    read every *.conf in DIR, sorted, after the files\n\
         --log-file PATH     log to PATH (overrides [DEFAULT] log_file)\n\
         --log-dir DIR       directory for the log file (overrides [DEFAULT] log_dir)\n\
         -d, --debug         log at DEBUG level (overrides [DEFAULT] debug)\n\
         --version           print the version and exit\n\
         -h, --help          print this help and exit\n\n\
         With no --config-file and no --config-dir, {DEFAULT_CONFIG_FILE} is read if it exists.\n\
         Exit status: 0 clean stop, 1 runtime failure, 2 bad usage or configuration.\n",
        pad = " ".repeat(program.len() + 8),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Invocation, UsageError> {
        parse(args.iter().map(|s| s.to_string()), false, true)
    }

    #[test]
    fn repeated_config_files_keep_their_order() {
        let Ok(Invocation::Run(a)) = run(&["--config-file", "a.conf", "--config-file=b.conf"])
        else {
            panic!("expected a run");
        };
        assert_eq!(
            a.config_files,
            vec![PathBuf::from("a.conf"), PathBuf::from("b.conf")]
        );
    }

    #[test]
    fn short_debug_and_pid_file_are_understood() {
        let Ok(Invocation::Run(a)) = run(&["-d", "--pid-file", "/run/x.pid"]) else {
            panic!("expected a run");
        };
        assert!(a.debug);
        assert_eq!(a.pid_file, Some(PathBuf::from("/run/x.pid")));
    }

    #[test]
    fn an_unknown_flag_is_a_usage_error() {
        assert_eq!(
            run(&["--frobnicate"]),
            Err(UsageError("unrecognized argument: --frobnicate".into()))
        );
    }

    #[test]
    fn a_flag_without_its_value_is_a_usage_error() {
        assert!(run(&["--config-file"]).is_err());
    }

    #[test]
    fn positional_arguments_are_refused_unless_allowed() {
        assert!(run(&["db"]).is_err());
        let parsed = parse(["config".to_string(), "check".to_string()], true, false);
        let Ok(Invocation::Run(a)) = parsed else {
            panic!("expected a run")
        };
        assert_eq!(a.rest, vec!["config", "check"]);
    }

    #[test]
    fn pid_file_is_only_for_services() {
        assert!(parse(["--pid-file".to_string(), "x".to_string()], true, false).is_err());
    }

    #[test]
    fn help_and_version_win() {
        assert_eq!(run(&["--config-file", "a", "--help"]), Ok(Invocation::Help));
        assert_eq!(run(&["--version"]), Ok(Invocation::Version));
    }
}
