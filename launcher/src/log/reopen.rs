//! Where formatted records go: an append-only log file that can be reopened
//! at its path (logrotate's `create` mode), and stderr.
//!
//! Each record is formatted into one `String` and handed to the kernel with a
//! single `write(2)` on an `O_APPEND` descriptor. Nothing is buffered in user
//! space, so a fork cannot copy half-written data into a child that would
//! write it a second time, and appends from several processes sharing the
//! file never interleave within a line. When the disk is full, [`append`]
//! keeps each record whole or absent and counts the absent ones.
//!
//! [`append`]: super::append

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd as _, RawFd};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::LogError;
use super::append::{Appender, LossReport, Stderr};
use super::format::{self, LogRecord};

/// Log files are readable by the `adm` group (as logrotate's `create 0640`)
/// and by nobody else: they may hold request details.
const LOG_FILE_MODE: u32 = 0o640;

/// An open log file and the path it was opened at.
#[derive(Debug)]
struct LogFile {
    path: PathBuf,
    file: File,
}

impl LogFile {
    /// Opens for appending, creating the file if needed. Never truncates: a
    /// file that another process (or a previous run) is writing keeps its lines.
    ///
    /// Opened for reading too where permitted, so that a record cut short by
    /// a full disk can be recognised at the end of the file and taken back.
    fn open(path: &Path) -> Result<Self, LogError> {
        let open = |read| {
            OpenOptions::new()
                .read(read)
                .append(true)
                .create(true)
                .mode(LOG_FILE_MODE)
                .open(path)
        };
        open(true)
            .or_else(|error| match error.kind() {
                io::ErrorKind::PermissionDenied => open(false),
                _ => Err(error),
            })
            .map(|file| Self {
                path: path.to_owned(),
                file,
            })
            .map_err(|source| LogError::Open {
                path: path.to_owned(),
                source,
            })
    }
}

/// What the sinks are, and how records are shaped, at one moment.
#[derive(Debug)]
struct State {
    file: Option<LogFile>,
    use_stderr: bool,
    use_json: bool,
}

/// The process's log sinks, shared by the subscriber (writing) and the
/// [`LogHandle`](super::LogHandle) (reopening and reconfiguring).
///
/// Writers hold the read lock only while formatting and writing one record;
/// a swap holds the write lock only to exchange two values. The lock is a
/// `std` one because the master is synchronous and no caller awaits.
#[derive(Debug)]
pub(crate) struct Sinks {
    state: RwLock<State>,
    /// Held across each write, so no other thread of this process appends
    /// between a short write and its repair; and the loss counts, which
    /// outlive a reopen.
    appenders: Mutex<Appenders>,
}

#[derive(Debug)]
struct Appenders {
    file: Appender,
    stderr: Appender,
}

impl Sinks {
    /// Opens the file at `path`, if any.
    pub(crate) fn open(
        path: Option<&Path>,
        use_stderr: bool,
        use_json: bool,
    ) -> Result<Self, LogError> {
        let file = path.map(LogFile::open).transpose()?;
        Ok(Self {
            state: RwLock::new(State {
                file,
                use_stderr,
                use_json,
            }),
            appenders: Mutex::new(Appenders {
                file: Appender::new("the log file"),
                stderr: Appender::new("stderr"),
            }),
        })
    }

    /// Formats `record` and writes it to every sink.
    ///
    /// A failed write has nowhere to be reported at once (logging about
    /// logging would recurse): the record is counted as lost, and the sink's
    /// next successful write says how many were.
    pub(crate) fn write(&self, record: &LogRecord) {
        let state = self.read();
        let format = if state.use_json {
            format::json
        } else {
            format::text
        };
        let line = format(record);
        let mut appenders = self
            .appenders
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(log) = &state.file {
            appenders.file.append(&log.file, record, &line, format);
        }
        if state.file.is_none() || state.use_stderr {
            appenders.stderr.append(&Stderr, record, &line, format);
        }
    }

    /// The records this process could not write, per sink.
    pub(crate) fn losses(&self) -> LossReport {
        let pid = std::process::id();
        let appenders = self
            .appenders
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        LossReport {
            sinks: vec![appenders.file.report(pid), appenders.stderr.report(pid)],
        }
    }

    /// Reopens the log file at its path, if there is one.
    ///
    /// The new file is opened before the lock is taken, so writers never wait
    /// on `open(2)` and never see a closed descriptor; a record written during
    /// the swap lands in exactly one of the two files.
    pub(crate) fn reopen(&self) -> Result<(), LogError> {
        let Some(path) = self.current_path() else {
            return Ok(());
        };
        let fresh = LogFile::open(&path)?;
        let mut state = self.write_lock();
        // A concurrent `configure` may have moved the log elsewhere meanwhile;
        // its choice wins and the file opened here is closed unused.
        if state.file.as_ref().is_some_and(|log| log.path == path) {
            let old = state.file.replace(fresh);
            drop(state);
            drop(old);
        }
        Ok(())
    }

    /// Applies new settings. A changed path opens the new file first; if that
    /// fails, the old file stays in use and the format and stderr changes
    /// still apply.
    pub(crate) fn configure(
        &self,
        path: Option<&Path>,
        use_stderr: bool,
        use_json: bool,
    ) -> Result<(), LogError> {
        let current = self.current_path();
        let opened = match path {
            Some(path) if current.as_deref() != Some(path) => Some(LogFile::open(path)),
            _ => None,
        };
        let mut state = self.write_lock();
        state.use_stderr = use_stderr;
        state.use_json = use_json;
        let old = match opened {
            Some(Ok(fresh)) => state.file.replace(fresh),
            Some(Err(error)) => return Err(error),
            None if path.is_none() => state.file.take(),
            None => None,
        };
        drop(state);
        drop(old);
        Ok(())
    }

    /// The descriptor of the log file, if one is open.
    pub(crate) fn fds(&self) -> Vec<RawFd> {
        self.read()
            .file
            .iter()
            .map(|log| log.file.as_raw_fd())
            .collect()
    }

    /// The path of the log file, if one is open.
    pub(crate) fn current_path(&self) -> Option<PathBuf> {
        self.read().file.as_ref().map(|log| log.path.clone())
    }

    // Poisoning cannot leave `State` half-updated: every mutation is a single
    // assignment. So a panic elsewhere must not stop the process from logging.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_lock(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt as _;

    use tracing::Level;

    use super::*;
    use crate::log::format::LocalTime;

    fn scratch_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("launcher-log-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("the temp dir is writable");
        dir
    }

    fn record(message: &str) -> LogRecord {
        LogRecord {
            time: LocalTime::now(),
            pid: std::process::id(),
            level: Level::INFO,
            target: "launcher".to_owned(),
            request_id: None,
            user_identity: None,
            message: message.to_owned(),
            fields: Vec::new(),
        }
    }

    fn read(path: &Path) -> String {
        fs::read_to_string(path).unwrap_or_default()
    }

    #[test]
    fn a_new_log_file_is_created_with_mode_0640_and_existing_lines_are_kept() {
        let dir = scratch_dir("mode");
        let path = dir.join("svc.log");
        fs::write(&path, "old line\n").expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
        let sinks = Sinks::open(Some(&path), false, false).expect("open");
        sinks.write(&record("appended"));
        let text = read(&path);
        assert!(text.starts_with("old line\n"), "{text}");
        assert!(text.trim_end().ends_with("appended"), "{text}");

        let fresh = dir.join("fresh.log");
        sinks.configure(Some(&fresh), false, false).expect("open");
        let mode = fs::metadata(&fresh).expect("created").permissions().mode();
        // The umask may only take bits away.
        assert_eq!(mode & 0o777 & !0o640, 0, "{mode:o}");
        fs::remove_dir_all(dir).expect("cleanup");
    }

    #[test]
    fn reopen_follows_a_renamed_file_to_a_new_one_at_the_path() {
        let dir = scratch_dir("rename");
        let path = dir.join("svc.log");
        let sinks = Sinks::open(Some(&path), false, false).expect("open");
        let before = sinks.fds();
        sinks.write(&record("one"));
        fs::rename(&path, dir.join("svc.log.1")).expect("rename");
        sinks.write(&record("two"));
        sinks.reopen().expect("reopen");
        sinks.write(&record("three"));
        let rotated = read(&dir.join("svc.log.1"));
        assert!(rotated.contains("] one\n") && rotated.contains("] two\n"));
        assert!(!rotated.contains("three"));
        assert!(read(&path).contains("] three\n"));
        assert_eq!(sinks.fds().len(), 1);
        assert_eq!(before.len(), 1);
        fs::remove_dir_all(dir).expect("cleanup");
    }

    #[test]
    fn a_failed_path_change_keeps_the_old_file_but_applies_the_format() {
        let dir = scratch_dir("configure");
        let path = dir.join("svc.log");
        let sinks = Sinks::open(Some(&path), false, false).expect("open");
        let missing = dir.join("no-such-dir").join("svc.log");
        let error = sinks
            .configure(Some(&missing), false, true)
            .expect_err("the directory does not exist");
        assert!(matches!(&error, LogError::Open { path, .. } if *path == missing));
        sinks.write(&record("still here"));
        let line = read(&path);
        let value: serde_json::Value = serde_json::from_str(&line).expect("JSON now");
        assert_eq!(value["message"], "still here");
        fs::remove_dir_all(dir).expect("cleanup");
    }

    #[test]
    fn records_a_full_device_refuses_are_counted_for_the_state_report() {
        let sinks = Sinks::open(Some(Path::new("/dev/full")), false, false).expect("open");
        assert_eq!(sinks.losses().to_string(), "no log records lost");
        sinks.write(&record("one"));
        sinks.write(&record("two"));
        let report = sinks.losses();
        assert_eq!(report.total(), 2);
        assert!(
            report
                .to_string()
                .starts_with("2 log records lost writing to the log file, the last at "),
            "{report}"
        );
    }

    #[test]
    fn without_a_file_there_is_no_fd_and_reopen_is_a_no_op() {
        let sinks = Sinks::open(None, true, false).expect("no file to open");
        assert!(sinks.fds().is_empty());
        sinks.reopen().expect("nothing to reopen");
    }
}
