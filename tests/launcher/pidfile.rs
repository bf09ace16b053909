//! The pid file: its content, a second instance refused, removal on exit,
//! and a stale file left by a killed master.

use std::process::Command;

use nix::sys::signal::Signal;

use crate::harness::cluster::{Api, ApiConfig};
use crate::harness::dir::TempDir;
use crate::harness::logs;
use crate::harness::{bin, run};

#[test]
fn the_pid_file_holds_the_master_pid_blocks_a_second_instance_and_is_removed_on_exit() {
    // Arrange
    let mut api = Api::start(ApiConfig::default().workers(1));
    let master = api.master_pid();
    let content = std::fs::read_to_string(api.pid_path()).expect("read the pid file");
    assert_eq!(content, format!("{master}\n"));

    // Act: a second instance with the same pid file.
    let other = TempDir::new();
    let other_conf = other.join("b.conf");
    let other_log = other.join("b.log");
    std::fs::write(
        &other_conf,
        ApiConfig::default().workers(1).render(&other_log),
    )
    .expect("write b.conf");
    let output = run(Command::new(bin("pymsboot-api"))
        .arg("--config-file")
        .arg(&other_conf)
        .arg("--pid-file")
        .arg(api.pid_path()));

    // Assert
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stderr),
        logs::read_text(&other_log)
    );
    assert_eq!(output.status.code(), Some(1), "second instance: {said}");
    assert!(
        said.contains(&master.to_string()),
        "the refusal names pid {master}: {said}"
    );
    assert_eq!(
        std::fs::read_to_string(api.pid_path()).expect("pid file"),
        content
    );
    assert_eq!(api.get("/v1").expect("GET /v1").status, 200);

    let status = api.stop();
    assert!(status.success(), "exit status {status}");
    assert!(!api.pid_path().exists(), "the pid file is removed on exit");
}

#[test]
fn a_pid_file_left_by_a_killed_master_does_not_block_a_restart() {
    // Arrange
    let dir = TempDir::new();
    let pid_file = dir.join("api.pid");
    let mut first = Api::start(ApiConfig::default().workers(1).pid_file(&pid_file));
    first.signal(Signal::SIGKILL);
    first.wait_exit();
    assert!(pid_file.exists(), "SIGKILL leaves the pid file behind");
    drop(first);

    // Act
    let mut second = Api::start(ApiConfig::default().workers(1).pid_file(&pid_file));

    // Assert
    let content = std::fs::read_to_string(&pid_file).expect("read the pid file");
    assert_eq!(content, format!("{}\n", second.master_pid()));
    assert!(second.stop().success());
    assert!(!pid_file.exists());
}
