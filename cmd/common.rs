//! What the three binaries share: flags → configuration → logging, and exit codes.

use std::process::ExitCode;

use launcher::cli::{self, CommonArgs, Invocation};
use launcher::conf::{self, Config, Opt};
use launcher::log::{self, LogHandle, LogSettings};

/// Exit status for bad usage or bad configuration (CONTRACT §1).
pub(crate) const EXIT_USAGE: u8 = 2;
/// Exit status for a runtime failure.
pub(crate) const EXIT_FAILURE: u8 = 1;

/// Every option table of the project, in sample order.
pub(crate) fn all_tables() -> Vec<&'static [&'static Opt]> {
    let mut tables = vec![conf::options::OPTS, api::conf::OPTS, engine::conf::OPTS];
    tables.extend_from_slice(rpc::conf::OPTS);
    tables.push(api::auth::keystone::conf::OPTS);
    tables.push(api::policy::conf::OPTS);
    tables
}

/// The parsed flags, or the exit code when the binary is done already
/// (`--help`, `--version`, a usage error).
pub(crate) fn parse_args(
    program: &str,
    extra_usage: &str,
    allow_rest: bool,
    services: bool,
) -> Result<CommonArgs, ExitCode> {
    match cli::parse(std::env::args().skip(1), allow_rest, services) {
        Ok(Invocation::Run(args)) => Ok(args),
        Ok(Invocation::Help) => {
            print!("{}", cli::usage(program, extra_usage));
            Err(ExitCode::SUCCESS)
        }
        Ok(Invocation::Version) => {
            println!("{program} {}", env!("CARGO_PKG_VERSION"));
            Err(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("{program}: {error}");
            eprintln!("try '{program} --help'");
            Err(ExitCode::from(EXIT_USAGE))
        }
    }
}

/// Loads and validates the configuration; every problem goes to stderr, one line each.
pub(crate) fn load_config(
    program: &str,
    args: &CommonArgs,
    tables: &[&'static [&'static Opt]],
) -> Result<Config, ExitCode> {
    conf::load(&args.sources(), tables).map_err(|problems| {
        for problem in problems {
            eprintln!("{program}: {problem}");
        }
        ExitCode::from(EXIT_USAGE)
    })
}

/// Starts logging as the configuration says.
pub(crate) fn init_logging(program: &'static str, config: &Config) -> Result<LogHandle, ExitCode> {
    log::init(&LogSettings::from_config(config), program).map_err(|error| {
        eprintln!("{program}: {error}");
        ExitCode::from(EXIT_USAGE)
    })
}

/// The files a configuration was read from, as shown to an operator.
pub(crate) fn config_file_names(config: &Config) -> Vec<String> {
    config
        .files()
        .iter()
        .map(|f| f.display().to_string())
        .collect()
}

/// Logs what was read, so an operator sees which files made this configuration.
pub(crate) fn log_config_files(config: &Config) {
    let files = config_file_names(config);
    if files.is_empty() {
        tracing::warn!("no configuration file read; running on defaults");
    } else {
        tracing::info!("configuration read from {}", files.join(", "));
    }
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
}

/// The whole life of a service binary: flags, configuration, logging, the
/// launcher, and the exit code (CONTRACT §1).
pub(crate) fn run_service<S: launcher::Service>(program: &'static str, service: S) -> ExitCode {
    let args = match parse_args(program, " [--pid-file PATH]", false, true) {
        Ok(args) => args,
        Err(code) => return code,
    };
    let tables = all_tables();
    let config = match load_config(program, &args, &tables) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let problems = service.check(&config);
    if !problems.is_empty() {
        for problem in problems {
            eprintln!("{program}: {problem}");
        }
        return ExitCode::from(EXIT_USAGE);
    }
    let log = match init_logging(program, &config) {
        Ok(log) => log,
        Err(code) => return code,
    };
    log_config_files(&config);
    let settings = launcher::RunSettings {
        sources: args.sources(),
        tables,
        config,
        log,
        pid_file: args.pid_file,
    };
    match launcher::run(service, settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            eprintln!("{program}: {error}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
