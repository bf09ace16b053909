//! Reopening the log file (`SIGUSR1` after logrotate's `create`) loses and
//! duplicates nothing, and a reopen that fails keeps logging to the old file.
//!
//! `launcher::log::init` installs a process-wide subscriber, so each scenario
//! runs in a fresh copy of this test binary, started with the scenario's
//! scratch directory in an environment variable; the parent only checks files.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use launcher::log::{LogError, LogHandle, LogSettings, init};

/// Set in the child: the scratch directory of the scenario to run.
const CHILD_DIR: &str = "LAUNCHER_LOG_REOPEN_CHILD_DIR";

const THREADS: usize = 4;
const RECORDS_PER_THREAD: usize = 2_000;
const ROTATIONS: usize = 6;
/// Long enough that two interleaved writes would be plain to see in a line.
const PADDING: &str = "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\
                       0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz";

#[test]
fn every_record_lands_exactly_once_while_the_file_is_rotated() {
    if let Some(dir) = child_dir() {
        return write_while_rotating(&dir);
    }
    let (dir, pid) = run_in_child("every_record_lands_exactly_once_while_the_file_is_rotated");

    let mut seen: HashMap<(usize, usize), usize> = HashMap::new();
    let mut files = 0;
    for line in all_lines(&dir, &mut files) {
        assert_whole_line(&line, pid);
        let (thread, seq) = parse_ids(&line);
        *seen.entry((thread, seq)).or_default() += 1;
    }
    assert_eq!(
        files,
        ROTATIONS + 1,
        "one file per rotation plus the live one"
    );
    for thread in 0..THREADS {
        for seq in 0..RECORDS_PER_THREAD {
            let count = seen.get(&(thread, seq)).copied().unwrap_or(0);
            assert_eq!(count, 1, "record {thread}-{seq} appears {count} times");
        }
    }
    assert_eq!(seen.len(), THREADS * RECORDS_PER_THREAD);
    cleanup(&dir);
}

#[test]
fn a_reopen_onto_a_directory_fails_and_logging_goes_on_in_the_old_file() {
    if let Some(dir) = child_dir() {
        return reopen_onto_a_directory(&dir);
    }
    let (dir, _) =
        run_in_child("a_reopen_onto_a_directory_fails_and_logging_goes_on_in_the_old_file");

    let rotated = fs::read_to_string(dir.join("svc.log.1")).expect("the rotated file");
    assert_messages(&rotated, &["before", "after the failed reopen"]);
    let live = fs::read_to_string(dir.join("svc.log")).expect("the reopened file");
    assert_messages(&live, &["after the recovery"]);
    cleanup(&dir);
}

#[test]
fn a_reopen_in_a_removed_directory_fails_and_logging_goes_on_in_the_old_file() {
    if let Some(dir) = child_dir() {
        return reopen_in_a_removed_directory(&dir);
    }
    let (dir, _) =
        run_in_child("a_reopen_in_a_removed_directory_fails_and_logging_goes_on_in_the_old_file");

    let moved = fs::read_to_string(dir.join("logs.old").join("svc.log")).expect("the old file");
    assert_messages(&moved, &["before", "after the failed reopen"]);
    assert!(
        !dir.join("logs").exists(),
        "a reopen must not create directories"
    );
    cleanup(&dir);
}

// ---- children -------------------------------------------------------------

fn write_while_rotating(dir: &Path) {
    let log = dir.join("svc.log");
    let handle = init_logging(&log);
    let written = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..THREADS)
        .map(|thread| {
            let written = Arc::clone(&written);
            thread::spawn(move || {
                for seq in 0..RECORDS_PER_THREAD {
                    tracing::info!(target: "launcher", thread, seq, "record {thread}-{seq} {PADDING} end");
                    written.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    // Rotate at evenly spaced points of the run, so each rotation races with
    // writers that are still going.
    let total = THREADS * RECORDS_PER_THREAD;
    for rotation in 1..=ROTATIONS {
        let threshold = total * rotation / (ROTATIONS + 1);
        while written.load(Ordering::Relaxed) < threshold {
            thread::yield_now();
        }
        fs::rename(&log, dir.join(format!("svc.log.{rotation}"))).expect("rename");
        handle.reopen().expect("the directory is writable");
    }
    for writer in writers {
        writer.join().expect("a writer thread panicked");
    }
}

fn reopen_onto_a_directory(dir: &Path) {
    let log = dir.join("svc.log");
    let handle = init_logging(&log);
    tracing::info!(target: "launcher", "before");
    fs::rename(&log, dir.join("svc.log.1")).expect("rename");
    fs::create_dir(&log).expect("mkdir where the log was");

    let error = handle
        .reopen()
        .expect_err("a directory cannot be opened for appending");
    assert!(
        matches!(&error, LogError::Open { path, .. } if *path == log),
        "{error:?}"
    );
    tracing::info!(target: "launcher", "after the failed reopen");

    fs::remove_dir(&log).expect("rmdir");
    handle.reopen().expect("the path is free again");
    tracing::info!(target: "launcher", "after the recovery");
}

fn reopen_in_a_removed_directory(dir: &Path) {
    let logs = dir.join("logs");
    fs::create_dir(&logs).expect("mkdir");
    let handle = init_logging(&logs.join("svc.log"));
    tracing::info!(target: "launcher", "before");
    // Moving the directory away keeps the open file valid while its path vanishes.
    fs::rename(&logs, dir.join("logs.old")).expect("rename the directory");

    let error = handle.reopen().expect_err("the directory is gone");
    assert!(matches!(error, LogError::Open { .. }), "{error:?}");
    tracing::info!(target: "launcher", "after the failed reopen");
}

fn init_logging(log: &Path) -> LogHandle {
    let settings = LogSettings {
        log_file: Some(log.to_owned()),
        ..LogSettings::default()
    };
    let handle = init(&settings, "svc").expect("the scratch directory is writable");
    assert_eq!(handle.fds().len(), 1);
    handle
}

// ---- parent-side helpers ---------------------------------------------------

fn child_dir() -> Option<PathBuf> {
    std::env::var_os(CHILD_DIR).map(PathBuf::from)
}

/// Runs test `name` alone in a new process of this binary, in a fresh scratch
/// directory; returns the directory and the child's pid.
fn run_in_child(name: &str) -> (PathBuf, u32) {
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
    assert!(
        output.status.success(),
        "child failed: {}\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    (dir, pid)
}

/// Every line of every regular file in `dir`, counting the files.
fn all_lines(dir: &Path, files: &mut usize) -> Vec<String> {
    let mut lines = Vec::new();
    for entry in fs::read_dir(dir).expect("readable") {
        let path = entry.expect("readable entry").path();
        let text = fs::read_to_string(&path).expect("a log file");
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "{path:?} ends mid-line"
        );
        *files += 1;
        lines.extend(text.lines().map(str::to_owned));
    }
    lines
}

/// A whole line is exactly one record: the oslo prefix, one message, its fields.
fn assert_whole_line(line: &str, pid: u32) {
    let mut words = line.split(' ');
    let date = words.next().unwrap_or_default();
    let time = words.next().unwrap_or_default();
    assert!(
        date.len() == 10 && date.as_bytes()[4] == b'-',
        "bad date in {line:?}"
    );
    assert!(
        time.len() == 12 && time.as_bytes()[8] == b'.',
        "bad time in {line:?}"
    );
    assert_eq!(
        words.next(),
        Some(pid.to_string().as_str()),
        "bad pid in {line:?}"
    );
    assert_eq!(
        line.matches(" INFO launcher [-] record ").count(),
        1,
        "{line:?}"
    );
    assert_eq!(line.matches(PADDING).count(), 1, "{line:?}");
    assert!(line.contains(&format!("{PADDING} end thread=")), "{line:?}");
}

fn parse_ids(line: &str) -> (usize, usize) {
    let field = |name: &str| -> usize {
        line.split(' ')
            .find_map(|word| word.strip_prefix(name))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {line:?}"))
    };
    (field("thread="), field("seq="))
}

fn assert_messages(text: &str, expected: &[&str]) {
    let messages: Vec<_> = text
        .lines()
        .map(|line| {
            line.split_once(" [-] ")
                .map_or(line, |(_, message)| message)
        })
        .collect();
    assert_eq!(messages, expected, "{text}");
}

fn cleanup(dir: &Path) {
    fs::remove_dir_all(dir).expect("the scratch directory can be removed");
}
