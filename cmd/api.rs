//! `pymsboot-api`: flags → configuration (exit 2) → logging → the launcher
//! running the API service → exit code.

mod common;

use std::process::ExitCode;

use launcher::RunSettings;

const PROGRAM: &str = "pymsboot-api";

fn main() -> ExitCode {
    let args = match common::parse_args(PROGRAM, " [--pid-file PATH]", false, true) {
        Ok(args) => args,
        Err(code) => return code,
    };
    let tables = common::all_tables();
    let config = match common::load_config(PROGRAM, &args, &tables) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let log = match common::init_logging(PROGRAM, &config) {
        Ok(log) => log,
        Err(code) => return code,
    };
    common::log_config_files(&config);
    let settings = RunSettings {
        sources: args.sources(),
        tables,
        config,
        log,
        pid_file: args.pid_file,
    };
    match launcher::run(api::ApiService, settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            eprintln!("{PROGRAM}: {error}");
            ExitCode::from(common::EXIT_FAILURE)
        }
    }
}
