//! The command line at start: configuration errors exit 2 with one line per
//! problem, `--config-dir` order, `--debug`, `--version`, `--help`.

use std::process::Command;

use super::burst;
use crate::harness::cluster::{Api, ApiConfig};
use crate::harness::dir::TempDir;
use crate::harness::eventually::{ensure, eventually};
use crate::harness::{bin, run};

/// Runs `pymsboot-api` with a config file holding `text` (and nothing else).
fn api_with_config(text: &str) -> (TempDir, String, std::process::Output) {
    let dir = TempDir::new();
    let path = dir.join("a.conf");
    std::fs::write(&path, text).expect("write the config file");
    let output = run(Command::new(bin("pymsboot-api"))
        .arg("--config-file")
        .arg(&path));
    (dir, path.display().to_string(), output)
}

fn stderr_lines(output: &std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_bad_value_at_start_exits_2_with_one_line_naming_file_option_value_and_what_is_allowed() {
    // Arrange / Act
    let (_dir, path, output) = api_with_config("[api]\nhost = 127.0.0.1\nport = 99999\n");

    // Assert
    assert_eq!(
        output.status.code(),
        Some(2),
        "stderr: {:?}",
        stderr_lines(&output)
    );
    let lines = stderr_lines(&output);
    let line = lines
        .iter()
        .find(|l| l.contains(&path) && l.contains("[api] port") && l.contains("99999"))
        .unwrap_or_else(|| panic!("no line naming {path}, [api] port and 99999 in {lines:#?}"));
    assert!(
        line.contains("65535"),
        "the line says what is allowed: {line}"
    );
}

#[test]
fn every_bad_value_at_start_gets_its_own_line() {
    // Arrange / Act
    let (_dir, path, output) = api_with_config(
        "[DEFAULT]\ndebug = maybe\n\n[api]\nhost = 127.0.0.1\nport = 99999\napi_workers = many\n",
    );

    // Assert
    assert_eq!(output.status.code(), Some(2));
    let lines = stderr_lines(&output);
    for (option, value) in [
        ("[DEFAULT] debug", "maybe"),
        ("[api] port", "99999"),
        ("[api] api_workers", "many"),
    ] {
        let matching = lines
            .iter()
            .filter(|l| l.contains(&path) && l.contains(option) && l.contains(value))
            .count();
        assert_eq!(matching, 1, "one line for {option} = {value} in {lines:#?}");
    }
}

#[test]
fn a_missing_config_file_or_an_unknown_flag_exits_2() {
    let dir = TempDir::new();
    let missing = dir.join("nope.conf");
    let output = run(Command::new(bin("pymsboot-api"))
        .arg("--config-file")
        .arg(&missing));
    assert_eq!(
        output.status.code(),
        Some(2),
        "missing file: {:?}",
        stderr_lines(&output)
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(&missing.display().to_string()),
        "the error names the missing file: {:?}",
        stderr_lines(&output)
    );

    let output = run(Command::new(bin("pymsboot-api")).arg("--no-such-flag"));
    assert_eq!(
        output.status.code(),
        Some(2),
        "unknown flag: {:?}",
        stderr_lines(&output)
    );
}

#[test]
fn version_and_help_print_and_exit_0() {
    let version = run(Command::new(bin("pymsboot-api")).arg("--version"));
    assert_eq!(version.status.code(), Some(0));
    assert!(
        !String::from_utf8_lossy(&version.stdout).trim().is_empty(),
        "--version prints a version"
    );

    let help = run(Command::new(bin("pymsboot-api")).arg("--help"));
    assert_eq!(help.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&help.stdout).contains("--config-file"),
        "--help lists --config-file"
    );
}

#[test]
fn config_dir_files_are_read_after_the_config_file_in_sorted_order() {
    // Arrange
    let dir = TempDir::new();
    std::fs::write(dir.join("20-last.conf"), "[api]\napi_workers = 3\n").expect("write");
    std::fs::write(dir.join("10-first.conf"), "[api]\napi_workers = 1\n").expect("write");
    std::fs::write(dir.join("30-ignored.txt"), "[api]\napi_workers = 4\n").expect("write");
    let config_dir = dir.path().display().to_string();

    // Act
    let api = Api::start(
        ApiConfig::default()
            .workers(2)
            .arg("--config-dir")
            .arg(&config_dir),
    );

    // Assert
    assert_eq!(
        api.worker_pids().len(),
        3,
        "the last *.conf of the directory wins"
    );
}

#[test]
fn the_debug_flag_turns_on_debug_logging() {
    // Arrange / Act
    let api = Api::start(ApiConfig::default().workers(1).debug(false).arg("--debug"));
    burst(&api, 2);

    // Assert
    eventually("a DEBUG line", || {
        ensure(api.log_lines().iter().any(|l| l.level == "DEBUG"), || {
            "none yet".to_owned()
        })
    });
}
