//! `pymsboot-manage`: the operator's tool. `config generate` prints the sample
//! configuration, `config check` validates the given files (exit 0 or 2),
//! `config man` prints the option reference of `pymsboot.conf(5)`, `policy
//! generate` prints the default policy rules as a commented sample.

// The services use all of `common`; this tool only the flag and config parts.
#[allow(dead_code)]
mod common;

use std::path::Path;
use std::process::ExitCode;

use launcher::conf::{render_man_options, render_sample};

const PROGRAM: &str = "pymsboot-manage";
const COMMANDS: &str = " COMMAND\n\n\
commands:\n  \
db sync             apply pending database migrations (idempotent); exit 0, 1 on failure\n  \
config generate     print the sample configuration: every option, its type, default and help\n  \
config check        load the configuration files, check storage_dir; every problem, exit 0 or 2\n  \
config man          print the option reference of pymsboot.conf(5), in roff\n  \
policy generate     print the default policy rules as a commented YAML sample\n";

fn main() -> ExitCode {
    let args = match common::parse_args(PROGRAM, COMMANDS, true, false) {
        Ok(args) => args,
        Err(code) => return code,
    };
    let tables = common::all_tables();
    let command: Vec<&str> = args.rest.iter().map(String::as_str).collect();
    match command.as_slice() {
        ["config", "generate"] => {
            print!("{}", render_sample(&tables));
            ExitCode::SUCCESS
        }
        ["config", "man"] => {
            print!("{}", render_man_options(&tables));
            ExitCode::SUCCESS
        }
        ["policy", "generate"] => {
            print!("{}", api::policy::render_sample());
            ExitCode::SUCCESS
        }
        ["db", "sync"] => db_sync(&args, &tables),
        ["config", "check"] => match common::load_config(PROGRAM, &args, &tables) {
            Ok(config) => {
                // A likely typo is worth a word, not a failure: the file
                // loads, and the service would start with it.
                for warning in config.warnings() {
                    eprintln!("{PROGRAM}: warning: {warning}");
                }
                // What each service checks before it forks, then the storage.
                let mut problems = launcher::Service::check(&engine::EngineService, &config);
                problems.extend(launcher::Service::check(&api::ApiService, &config));
                problems.extend(check_storage(&config).err());
                if !problems.is_empty() {
                    for problem in problems {
                        eprintln!("{PROGRAM}: {problem}");
                    }
                    return ExitCode::from(common::EXIT_USAGE);
                }
                let files = common::config_file_names(&config);
                if files.is_empty() {
                    println!("no configuration file given; the defaults are valid");
                } else {
                    println!("configuration OK: {}", files.join(", "));
                }
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        [] => {
            eprintln!("{PROGRAM}: a command is required\ntry '{PROGRAM} --help'");
            ExitCode::from(common::EXIT_USAGE)
        }
        other => {
            eprintln!(
                "{PROGRAM}: unknown command: {}\ntry '{PROGRAM} --help'",
                other.join(" ")
            );
            ExitCode::from(common::EXIT_USAGE)
        }
    }
}

/// `[engine] storage_dir` through the engine's storage check, without
/// creating it: the operator may run this as another user than the engine.
fn check_storage(config: &launcher::Config) -> Result<(), launcher::ConfigProblem> {
    let dir = config.text(&engine::conf::STORAGE_DIR);
    match engine::storage::check(Path::new(dir), engine::storage::Prepare::Inspect) {
        Ok(report) => {
            if report.low_space() {
                println!(
                    "warning: [engine] storage_dir {dir} has only {} MiB free",
                    report.free >> 20
                );
            }
            Ok(())
        }
        Err(problem) => Err(launcher::ConfigProblem {
            source: source_of_values(config),
            section: Some("engine".into()),
            option: Some("storage_dir".into()),
            value: Some(dir.into()),
            message: format!("the directory {}", problem.reason),
        }),
    }
}

/// The files the configuration was read from, as a problem's source.
fn source_of_values(config: &launcher::Config) -> String {
    let files = common::config_file_names(config);
    if files.is_empty() {
        "built-in default".into()
    } else {
        files.join(", ")
    }
}

/// `db sync`: connect with the `[database]` options (retrying as the engine
/// does) and apply pending migrations.
fn db_sync(
    args: &launcher::cli::CommonArgs,
    tables: &[&'static [&'static launcher::Opt]],
) -> ExitCode {
    let config = match common::load_config(PROGRAM, args, tables) {
        Ok(config) => config,
        Err(code) => return code,
    };
    launcher::log::init_for_tool(args.debug);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{PROGRAM}: {error}");
            return ExitCode::from(common::EXIT_FAILURE);
        }
    };
    let outcome = runtime.block_on(async {
        let store = engine::db::Store::from_config(&config).await?;
        store.migrate().await
    });
    match outcome {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{PROGRAM}: db sync failed: {error}");
            ExitCode::from(common::EXIT_FAILURE)
        }
    }
}
