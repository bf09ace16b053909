//! `pymsboot-api`: flags → configuration (exit 2) → logging → the launcher
//! running the API service → exit code.

mod common;

use std::process::ExitCode;

const PROGRAM: &str = "pymsboot-api";

fn main() -> ExitCode {
    common::run_service(PROGRAM, api::ApiService)
}
