//! `pymsboot-engine`: flags → configuration (exit 2) → logging → the launcher
//! running the engine service → exit code.

mod common;

use std::process::ExitCode;

const PROGRAM: &str = "pymsboot-engine";

fn main() -> ExitCode {
    common::run_service(PROGRAM, engine::EngineService)
}
