//! New settings (`SIGHUP`) take effect at once, a forked worker logs through
//! the subscriber it inherited with its own pid, and the operator tool logs to
//! stderr only.
//!
//! Each scenario installs a global subscriber, so it runs in a fresh copy of
//! this test binary; the parent checks what that copy wrote.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use launcher::log::{LogError, LogSettings, init, init_for_tool};

/// Set in the child: the scratch directory of the scenario to run.
const CHILD_DIR: &str = "LAUNCHER_LOG_APPLY_CHILD_DIR";

#[test]
fn apply_changes_level_path_and_format_at_once() {
    if let Some(dir) = child_dir() {
        return apply_in_turn(&dir);
    }
    let child = run_in_child("apply_changes_level_path_and_format_at_once");

    let first = fs::read_to_string(child.dir.join("a.log")).expect("a.log");
    assert_eq!(messages(&first), ["a: info", "a: debug"]);
    let second = fs::read_to_string(child.dir.join("b.log")).expect("b.log");
    let lines: Vec<_> = second.lines().collect();
    assert_eq!(lines.len(), 3, "{second}");
    assert!(
        lines[0].ends_with(" INFO engine.manager [-] b: text"),
        "{}",
        lines[0]
    );
    for (line, message) in lines[1..].iter().zip(["b: json", "b: still here"]) {
        let value: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        assert_eq!(value["message"], message);
        assert_eq!(value["name"], "engine.manager");
        assert_eq!(value["level"], "INFO");
        assert_eq!(value["pid"], child.pid);
        assert_eq!(value["request_id"], serde_json::Value::Null);
    }
    cleanup(&child.dir);
}

#[test]
fn a_forked_worker_logs_its_own_pid_through_the_inherited_logger() {
    if let Some(dir) = child_dir() {
        return fork_a_worker(&dir);
    }
    let child = run_in_child("a_forked_worker_logs_its_own_pid_through_the_inherited_logger");

    let text = fs::read_to_string(child.dir.join("svc.log")).expect("svc.log");
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let master = format!(" {} INFO launcher.master [-] ", child.pid);
    assert!(
        lines[0].contains(&master) && lines[0].ends_with("before fork"),
        "{text}"
    );
    assert!(
        lines[2].contains(&master) && lines[2].ends_with("worker reaped"),
        "{text}"
    );
    let worker_pid = lines[1]
        .rsplit_once("worker pid ")
        .map(|(_, pid)| pid)
        .expect("the worker names its pid");
    assert_ne!(worker_pid, child.pid.to_string());
    assert!(
        lines[1].contains(&format!(" {worker_pid} INFO launcher.worker [-] ")),
        "{text}"
    );
    cleanup(&child.dir);
}

#[test]
fn the_operator_tool_logs_to_stderr_only() {
    if child_dir().is_some() {
        return log_as_the_tool();
    }
    let child = run_in_child("the_operator_tool_logs_to_stderr_only");

    let lines: Vec<_> = child
        .stderr
        .lines()
        .filter(|line| line.contains(" pymsboot_manage "))
        .collect();
    assert_eq!(lines.len(), 1, "{}", child.stderr);
    let expected = format!(" {} INFO pymsboot_manage [-] migrations applied", child.pid);
    assert!(lines[0].ends_with(&expected), "{}", lines[0]);
    let leftovers = fs::read_dir(&child.dir).expect("readable").count();
    assert_eq!(leftovers, 0, "the tool must not create log files");
    cleanup(&child.dir);
}

// ---- children -------------------------------------------------------------

fn apply_in_turn(dir: &Path) {
    let mut settings = LogSettings {
        log_dir: Some(dir.to_owned()),
        log_file: Some("a.log".into()),
        ..LogSettings::default()
    };
    let handle = init(&settings, "svc").expect("the scratch directory is writable");
    tracing::debug!(target: "engine::manager", "a: hidden");
    tracing::info!(target: "engine::manager", "a: info");

    settings.debug = true;
    handle.apply(&settings).expect("same file");
    tracing::debug!(target: "engine::manager", "a: debug");
    tracing::debug!(target: "lapin", "third-party debug stays hidden");

    settings.debug = false;
    settings.log_file = Some("b.log".into());
    handle
        .apply(&settings)
        .expect("a new file in a writable directory");
    tracing::debug!(target: "engine::manager", "b: hidden again");
    tracing::info!(target: "engine::manager", "b: text");

    settings.use_json = true;
    handle.apply(&settings).expect("same file");
    tracing::info!(target: "engine::manager", "b: json");

    settings.log_file = Some("missing/c.log".into());
    let error = handle
        .apply(&settings)
        .expect_err("the directory does not exist");
    assert!(matches!(error, LogError::Open { .. }), "{error:?}");
    assert_eq!(handle.path(), Some(dir.join("b.log")));
    tracing::info!(target: "engine::manager", "b: still here");
}

#[allow(unsafe_code)]
fn fork_a_worker(dir: &Path) {
    use nix::sys::wait::{WaitStatus, waitpid};
    use nix::unistd::{ForkResult, fork};

    let settings = LogSettings {
        log_file: Some(dir.join("svc.log")),
        ..LogSettings::default()
    };
    let handle = init(&settings, "svc").expect("the scratch directory is writable");
    tracing::info!(target: "launcher::master", "before fork");
    // SAFETY: the only other thread is the harness's, waiting for this test
    // and holding no lock the child needs; the child only logs and leaves
    // with `_exit`.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            tracing::info!(target: "launcher::worker", "worker pid {}", std::process::id());
            let code = i32::from(handle.fds().len() != 1);
            // SAFETY: `_exit` skips the harness's atexit work, which belongs to the parent.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            let status = waitpid(child, None).expect("waitpid");
            assert_eq!(status, WaitStatus::Exited(child, 0));
            tracing::info!(target: "launcher::master", "worker reaped");
        }
    }
}

fn log_as_the_tool() {
    init_for_tool(false);
    tracing::debug!(target: "pymsboot_manage", "hidden without --debug");
    tracing::info!(target: "pymsboot_manage", "migrations applied");
    let again = init(&LogSettings::default(), "svc").expect_err("one subscriber per process");
    assert!(matches!(again, LogError::Install(_)), "{again:?}");
}

// ---- parent-side helpers ---------------------------------------------------

struct ChildRun {
    dir: PathBuf,
    pid: u32,
    stderr: String,
}

fn child_dir() -> Option<PathBuf> {
    std::env::var_os(CHILD_DIR).map(PathBuf::from)
}

/// Runs test `name` alone in a new process of this binary, in a fresh scratch
/// directory.
fn run_in_child(name: &str) -> ChildRun {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("the target tmpdir is writable");
    let exe = std::env::current_exe().expect("a test binary knows its path");
    let child = Command::new(exe)
        .args([name, "--exact", "--test-threads=1", "--nocapture"])
        .env(CHILD_DIR, &dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the test binary can run itself");
    let pid = child.id();
    let output = child
        .wait_with_output()
        .expect("the child's output is readable");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "child failed: {}\n{}\n{stderr}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
    );
    ChildRun { dir, pid, stderr }
}

fn messages(text: &str) -> Vec<&str> {
    text.lines()
        .map(|line| {
            line.split_once(" [-] ")
                .map_or(line, |(_, message)| message)
        })
        .collect()
}

fn cleanup(dir: &Path) {
    fs::remove_dir_all(dir).expect("the scratch directory can be removed");
}
