//! The log file's filesystem fills up while every process logs: each record
//! lands whole or not at all, and once there is room again each process says
//! how many of its records were lost.
//!
//! The log file lives on a small tmpfs of the test's own, filled with a filler
//! file. The services also log to stderr (a file on the ordinary disk), which
//! keeps every record: a record there that the log file lacks was lost.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use super::burst;
use crate::harness::cluster::{Api, ApiConfig};
use crate::harness::dir::TempDir;
use crate::harness::eventually::{ensure, eventually};
use crate::harness::logs::{self, LogLine};
use crate::harness::trace;

#[test]
fn a_full_log_disk_loses_whole_text_records_and_says_how_many() {
    // Arrange
    let disk = Tmpfs::mount();
    let mut api = Api::start(
        ApiConfig::default()
            .workers(2)
            .log_file(&disk.join("api.log"))
            .set("DEFAULT", "use_stderr", "true"),
    );

    // Act
    fill_then_free(&mut api, &disk);

    // Assert
    let file = check_accounting(&mut api);
    for line in file.lines() {
        let record = LogLine::parse(line);
        assert!(
            record.is_some() && line.as_bytes()[..4].iter().all(u8::is_ascii_digit),
            "not a text record beginning with its timestamp: {line:?}"
        );
    }
}

#[test]
fn a_full_log_disk_loses_whole_json_records_and_says_how_many() {
    // Arrange: the harness finds the API's port in a text line, so the
    // service starts with text and switches to JSON with a reload.
    let disk = Tmpfs::mount();
    let config = ApiConfig::default()
        .workers(2)
        .log_file(&disk.join("api.log"))
        .set("DEFAULT", "use_stderr", "true");
    let mut api = Api::start(config.clone());
    let old = api.worker_pids();
    api.rewrite_config(&config.set("DEFAULT", "use_json", "true"));
    let mark = api.reload();
    api.wait_workers(mark, 2, &old);
    let json_from = logs::read_text(api.log_path()).len();

    // Act
    fill_then_free(&mut api, &disk);

    // Assert
    let file = check_accounting(&mut api);
    let json = &file[json_from..];
    assert!(json.lines().count() > 0);
    for line in json.lines() {
        let value: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON record ({e}): {line:?}"));
        assert!(
            value["pid"].is_u64() && value["message"].is_string(),
            "{line}"
        );
    }
    assert!(
        json.lines()
            .filter_map(Record::parse)
            .any(|r| r.lost_notice().is_some()),
        "no JSON notice of lost records in:\n{json}"
    );
}

/// A tmpfs of 256 KiB on a directory of the test's own, unmounted on drop.
struct Tmpfs {
    dir: TempDir,
}

impl Tmpfs {
    fn mount() -> Tmpfs {
        let dir = TempDir::new();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mount -t tmpfs failed ({status}): this test needs root"
        );
        Tmpfs { dir }
    }

    fn join(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Writes a filler file until the filesystem refuses a single byte more.
    fn fill(&self) -> PathBuf {
        let path = self.join("filler");
        let mut file = File::create(&path).expect("create the filler");
        let block = vec![b'x'; 4096];
        for chunk in [&block[..], &block[..1]] {
            loop {
                match file.write(chunk) {
                    Ok(_) => {}
                    Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                    Err(e) => panic!("write the filler: {e}"),
                }
            }
        }
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: a process of a failed test may still hold the log file open.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Fills the log's filesystem, makes the master and the workers log until
/// each has lost records, frees the space and makes every process log again.
fn fill_then_free(api: &mut Api, disk: &Tmpfs) {
    let filler = disk.fill();
    let master = u64::try_from(api.master_pid()).expect("a pid is positive");
    eventually("records lost by the master and by a worker", || {
        api.assert_running();
        burst(api, 8);
        api.usr2();
        let lost = lost_by_pid(&read_both(api));
        trace!("lost so far: {lost:?}");
        ensure(lost.contains_key(&master) && lost.len() >= 2, || {
            format!("lost so far: {lost:?}")
        })
    });
    std::fs::remove_file(filler).expect("remove the filler");
    burst(api, 8);
    api.usr2();
}

/// Once the processes are quiet: the log file holds exactly the records of
/// stderr, less the lost ones, plus per process notices that add up to the
/// lost ones; every process with losses reports them on `SIGUSR2`. Returns the
/// log file's text.
fn check_accounting(api: &mut Api) -> String {
    let (_, file) = eventually("the log file to account for every lost record", || {
        api.assert_running();
        let both = read_both(api);
        let (stderr, file) = (&both.0, &both.1);
        let in_stderr: BTreeSet<&str> = stderr.lines().collect();
        let foreign: Vec<&str> = file
            .lines()
            .filter(|l| !in_stderr.contains(l))
            .filter(|l| Record::parse(l).and_then(|r| r.lost_notice()).is_none())
            .collect();
        ensure(foreign.is_empty(), || {
            format!("lines in the log file that no process wrote whole: {foreign:#?}")
        })?;
        let lost = lost_by_pid(&both);
        let mut noticed = BTreeMap::<u64, u64>::new();
        for record in file.lines().filter_map(Record::parse) {
            if let Some(n) = record.lost_notice() {
                *noticed.entry(record.pid).or_default() += n;
            }
        }
        ensure(!lost.is_empty() && noticed == lost, || {
            format!("lost per pid {lost:?}, noticed per pid {noticed:?}")
        })?;
        Ok::<_, String>(both)
    });
    let reports: Vec<&str> = file
        .lines()
        .filter(|l| {
            l.contains("state report: ") && l.contains("log records lost writing to the log file")
        })
        .collect();
    assert!(
        !reports.is_empty(),
        "no state report counts the lost records:\n{file}"
    );
    file
}

/// Stderr, then the log file: a record in stderr has had its try at the
/// log file already, since each process writes the file first.
fn read_both(api: &Api) -> (String, String) {
    let stderr = api.stderr_text();
    (stderr, logs::read_text(api.log_path()))
}

/// Per pid, how many records are in stderr but not in the log file.
fn lost_by_pid((stderr, file): &(String, String)) -> BTreeMap<u64, u64> {
    let mut in_file = BTreeMap::<&str, u64>::new();
    for line in file.lines() {
        *in_file.entry(line).or_default() += 1;
    }
    let mut lost = BTreeMap::<u64, u64>::new();
    for line in stderr.lines() {
        let Some(record) = Record::parse(line) else {
            continue;
        };
        match in_file.get_mut(line) {
            Some(n) if *n > 0 => *n -= 1,
            _ => *lost.entry(record.pid).or_default() += 1,
        }
    }
    lost
}

/// A record in either format.
struct Record {
    pid: u64,
    message: String,
}

impl Record {
    fn parse(line: &str) -> Option<Record> {
        if line.starts_with('{') {
            let value: Value = serde_json::from_str(line).ok()?;
            return Some(Record {
                pid: value["pid"].as_u64()?,
                message: value["message"].as_str()?.to_owned(),
            });
        }
        let parsed = LogLine::parse(line)?;
        Some(Record {
            pid: u64::try_from(parsed.pid).ok()?,
            message: parsed.message,
        })
    }

    /// `N` of "N log records were lost: the log file could not be written …".
    fn lost_notice(&self) -> Option<u64> {
        let (count, rest) = self.message.split_once(' ')?;
        let rest = rest
            .strip_prefix("log records were lost: ")
            .or_else(|| rest.strip_prefix("log record was lost: "))?;
        rest.starts_with("the log file could not be written (No space left on device) from ")
            .then(|| count.parse().ok())?
    }
}
