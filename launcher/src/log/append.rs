//! Appending a record so that it lands whole or not at all, and keeping count
//! of the records that could not be written.
//!
//! A full disk (`ENOSPC`), an exhausted quota or a file-size limit makes
//! `write(2)` on the log file write part of a record, or nothing. A part
//! left on disk would have the next record glued onto it, so a short write is
//! first completed (the rest retried); if the rest cannot be written either,
//! the fragment is taken back off the end of the file; and if even that is
//! not possible (another process appended meanwhile, the sink is a pipe), the
//! fragment is remembered and ended with a newline before the next record.
//!
//! Every record that could not be written is counted. The first record that
//! can be written again is preceded by one WARNING saying how many were lost,
//! why, and from when to when; [`LossReport`] tells the same to `SIGUSR2`.

use std::fmt;
use std::fs::File;
use std::io::{self, Write as _};
use std::os::unix::fs::FileExt as _;

use tracing::Level;

use super::format::{LocalTime, LogRecord};

/// Where an [`Appender`] writes: the log file or stderr.
pub(crate) trait Sink {
    /// One `write(2)`: how many bytes of `buf` were written.
    fn write(&self, buf: &[u8]) -> io::Result<usize>;

    /// Removes `tail` from the end of the sink if the sink still ends with
    /// exactly these bytes; says whether it did.
    fn retract(&self, tail: &[u8]) -> io::Result<bool>;

    /// Whether the sink is empty or its last byte is a newline.
    fn ends_line(&self) -> io::Result<bool>;
}

impl Sink for File {
    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        // Spelled out: `self.write` would be this very method.
        io::Write::write(&mut &*self, buf)
    }

    // With several processes appending to one file, the bytes at the end are
    // ours only if they read back as what we wrote. A process that appends in
    // the instant between the check and the truncation loses its record's
    // tail; that needs space to be freed in that very instant, whereas
    // leaving the fragment would glue the next record onto it every time.
    fn retract(&self, tail: &[u8]) -> io::Result<bool> {
        let metadata = self.metadata()?;
        if !metadata.is_file() {
            return Ok(false);
        }
        let len = metadata.len();
        let Some(start) = u64::try_from(tail.len())
            .ok()
            .and_then(|n| len.checked_sub(n))
        else {
            return Ok(false);
        };
        let mut on_disk = vec![0; tail.len()];
        self.read_exact_at(&mut on_disk, start)?;
        if on_disk != tail {
            return Ok(false);
        }
        self.set_len(start)?;
        Ok(true)
    }

    // A `log_file` may name a FIFO or a terminal, whose size says nothing.
    fn ends_line(&self) -> io::Result<bool> {
        let metadata = self.metadata()?;
        if !metadata.is_file() {
            return Ok(false);
        }
        let len = metadata.len();
        if len == 0 {
            return Ok(true);
        }
        let mut last = [0; 1];
        self.read_exact_at(&mut last, len - 1)?;
        Ok(last[0] == b'\n')
    }
}

/// The process's stderr: a terminal, a pipe or the journal's socket, where
/// nothing can be taken back or read.
pub(crate) struct Stderr;

impl Sink for Stderr {
    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        io::stderr().lock().write(buf)
    }

    fn retract(&self, _tail: &[u8]) -> io::Result<bool> {
        Ok(false)
    }

    // Unknown, so a fragment is always ended: an empty line is harmless,
    // a record glued onto a fragment is not.
    fn ends_line(&self) -> io::Result<bool> {
        Ok(false)
    }
}

/// Writes records to one sink and accounts for those it could not write.
///
/// One per sink and process; the caller serialises its calls, so no other
/// thread of the process appends between a short write and its repair.
#[derive(Debug)]
pub(crate) struct Appender {
    /// How the sink is named in messages: "the log file", "stderr".
    sink_name: &'static str,
    /// A fragment of a record may end the sink without a newline.
    torn: bool,
    losses: Losses,
}

/// The records one process could not write to one sink.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Losses {
    /// The process these counts belong to: a forked worker starts its own.
    pid: u32,
    /// Every record lost since the process started.
    total: u64,
    /// The current run of lost records, not yet reported in the sink.
    unreported: u64,
    /// When the current run began.
    first: Option<LocalTime>,
    /// When the latest record was lost, and why.
    last: Option<LocalTime>,
    error: Option<String>,
}

impl Appender {
    pub(crate) fn new(sink_name: &'static str) -> Self {
        Self {
            sink_name,
            torn: false,
            losses: Losses::default(),
        }
    }

    /// Writes `line`, the formatting of `record`, to `sink`; first, if
    /// records were lost before, the WARNING that says so, formatted with
    /// `format`. A record that cannot be written is counted, not retried.
    pub(crate) fn append(
        &mut self,
        sink: &impl Sink,
        record: &LogRecord,
        line: &str,
        format: impl Fn(&LogRecord) -> String,
    ) {
        if self.losses.pid != record.pid {
            // The counts were inherited through fork and are the master's.
            // `torn` stays: the fragment may still end the shared file.
            self.losses = Losses {
                pid: record.pid,
                ..Losses::default()
            };
        }
        if self.losses.unreported > 0 {
            let notice = self.losses.notice(record.pid, self.sink_name);
            match self.put(sink, &format(&notice)) {
                Ok(()) => self.losses.reported(),
                Err(error) => {
                    self.losses.lost(record.time, &error);
                    return;
                }
            }
        }
        if let Err(error) = self.put(sink, line) {
            self.losses.lost(record.time, &error);
        }
    }

    /// What `SIGUSR2` reports about this sink.
    pub(crate) fn report(&self, pid: u32) -> SinkLosses {
        let losses = if self.losses.pid == pid {
            self.losses.clone()
        } else {
            Losses::default()
        };
        SinkLosses {
            sink_name: self.sink_name,
            total: losses.total,
            unreported: losses.unreported,
            last: losses.last.map(|t| t.text()),
            error: losses.error,
        }
    }

    /// Writes all of `line` or, as far as the sink allows, none of it.
    fn put(&mut self, sink: &impl Sink, line: &str) -> io::Result<()> {
        if self.torn {
            if !sink.ends_line().unwrap_or(false) {
                write_all(sink, b"\n").map_err(|(_, error)| error)?;
            }
            self.torn = false;
        }
        let bytes = line.as_bytes();
        let Err((written, error)) = write_all(sink, bytes) else {
            return Ok(());
        };
        if written > 0 && !sink.retract(&bytes[..written]).unwrap_or(false) {
            self.torn = true;
        }
        Err(error)
    }
}

/// Writes `buf` in as many writes as the sink needs. On failure, also says
/// how many bytes did get written.
fn write_all(sink: &impl Sink, buf: &[u8]) -> Result<(), (usize, io::Error)> {
    let mut written = 0;
    while written < buf.len() {
        match sink.write(&buf[written..]) {
            Ok(0) => return Err((written, io::ErrorKind::WriteZero.into())),
            Ok(n) => written += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err((written, error)),
        }
    }
    Ok(())
}

impl Losses {
    fn lost(&mut self, time: LocalTime, error: &io::Error) {
        self.total += 1;
        self.unreported += 1;
        self.first.get_or_insert(time);
        self.last = Some(time);
        self.error = Some(describe(error));
    }

    fn reported(&mut self) {
        self.unreported = 0;
        self.first = None;
    }

    /// The WARNING that reports the current run of lost records.
    fn notice(&self, pid: u32, sink_name: &str) -> LogRecord {
        let time = |t: Option<LocalTime>| t.map(|t| t.text()).unwrap_or_default();
        let records = if self.unreported == 1 {
            "log record was"
        } else {
            "log records were"
        };
        LogRecord {
            time: LocalTime::now(),
            pid,
            level: Level::WARN,
            target: module_path!().to_owned(),
            request_id: None,
            user_identity: None,
            message: format!(
                "{} {records} lost: {sink_name} could not be written ({}) from {} to {}",
                self.unreported,
                self.error.as_deref().unwrap_or("unknown error"),
                time(self.first),
                time(self.last),
            ),
            fields: Vec::new(),
        }
    }
}

/// The system's text for an OS error, without Rust's `(os error N)` suffix.
fn describe(error: &io::Error) -> String {
    match error.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_owned(),
        None => error.to_string(),
    }
}

/// How many records this process could not write to one sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SinkLosses {
    sink_name: &'static str,
    /// Since the process started.
    pub(crate) total: u64,
    /// Since the last write that succeeded; zero once writes succeed again.
    pub(crate) unreported: u64,
    last: Option<String>,
    error: Option<String>,
}

/// What the `SIGUSR2` state report says about this process's log writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LossReport {
    pub(crate) sinks: Vec<SinkLosses>,
}

impl LossReport {
    /// Records lost since the process started, over every sink.
    pub fn total(&self) -> u64 {
        self.sinks.iter().map(|s| s.total).sum()
    }
}

impl fmt::Display for LossReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut lossy = self.sinks.iter().filter(|s| s.total > 0).peekable();
        if lossy.peek().is_none() {
            return f.write_str("no log records lost");
        }
        for (index, sink) in lossy.enumerate() {
            if index > 0 {
                f.write_str("; ")?;
            }
            // The latest loss rather than "still failing": the report is
            // taken before its own line is written, which may succeed.
            let records = if sink.total == 1 { "record" } else { "records" };
            write!(
                f,
                "{} log {records} lost writing to {}, the last at {} ({})",
                sink.total,
                sink.sink_name,
                sink.last.as_deref().unwrap_or("?"),
                sink.error.as_deref().unwrap_or("unknown error"),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};
    use std::fs;

    use super::*;
    use crate::log::format;

    /// A disk with `room` bytes left that writes at most `chunk` bytes per
    /// call, as the kernel does when a write only partly fits.
    struct Disk {
        data: RefCell<Vec<u8>>,
        room: Cell<usize>,
        chunk: usize,
        /// `EINTR`s to return before writing anything.
        interrupts: Cell<u32>,
        /// A file (can be read and truncated), or a pipe (neither).
        seekable: bool,
    }

    impl Disk {
        fn file(room: usize) -> Self {
            Self {
                data: RefCell::default(),
                room: Cell::new(room),
                chunk: usize::MAX,
                interrupts: Cell::new(0),
                seekable: true,
            }
        }

        fn pipe(room: usize) -> Self {
            Self {
                seekable: false,
                ..Self::file(room)
            }
        }

        fn free(&self, bytes: usize) {
            self.room.set(self.room.get() + bytes);
        }

        fn text(&self) -> String {
            String::from_utf8(self.data.borrow().clone()).expect("UTF-8")
        }
    }

    impl Sink for Disk {
        fn write(&self, buf: &[u8]) -> io::Result<usize> {
            if self.interrupts.get() > 0 {
                self.interrupts.set(self.interrupts.get() - 1);
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(self.room.get()).min(self.chunk);
            if n == 0 {
                return Err(io::Error::from_raw_os_error(libc::ENOSPC));
            }
            self.data.borrow_mut().extend_from_slice(&buf[..n]);
            self.room.set(self.room.get() - n);
            Ok(n)
        }

        fn retract(&self, tail: &[u8]) -> io::Result<bool> {
            let mut data = self.data.borrow_mut();
            if !self.seekable || !data.ends_with(tail) {
                return Ok(false);
            }
            let keep = data.len() - tail.len();
            data.truncate(keep);
            self.free(tail.len());
            Ok(true)
        }

        fn ends_line(&self) -> io::Result<bool> {
            if !self.seekable {
                return Err(io::Error::from_raw_os_error(libc::ESPIPE));
            }
            Ok(self.data.borrow().last().is_none_or(|b| *b == b'\n'))
        }
    }

    const PID: u32 = 4242;

    fn record(message: &str) -> LogRecord {
        LogRecord {
            time: LocalTime::now(),
            pid: PID,
            level: Level::INFO,
            target: "api".to_owned(),
            request_id: None,
            user_identity: None,
            message: message.to_owned(),
            fields: Vec::new(),
        }
    }

    fn append(appender: &mut Appender, sink: &impl Sink, message: &str) {
        let record = record(message);
        appender.append(sink, &record, &format::text(&record), format::text);
    }

    /// The text lines of `text`, each checked to be one whole record.
    fn whole_records(text: &str) -> Vec<String> {
        assert!(text.is_empty() || text.ends_with('\n'), "{text:?}");
        text.lines()
            .map(|line| {
                let (prefix, message) = line
                    .split_once(" [-] ")
                    .unwrap_or_else(|| panic!("not a record: {line:?}"));
                assert!(prefix.contains(&format!(" {PID} ")), "{line:?}");
                assert!(!message.contains(" [-] "), "two records in {line:?}");
                message.to_owned()
            })
            .collect()
    }

    #[test]
    fn a_record_that_does_not_fit_is_taken_back_and_reported_once_space_returns() {
        let disk = Disk::file(format::text(&record("fits")).len() + 10);
        let mut appender = Appender::new("the log file");
        append(&mut appender, &disk, "fits");
        // Partly written, then ENOSPC on the rest: the part is removed.
        append(
            &mut appender,
            &disk,
            "a record much longer than the room that is left",
        );
        append(&mut appender, &disk, "also lost");
        assert_eq!(appender.report(PID).unreported, 2);

        disk.free(4096);
        append(&mut appender, &disk, "after");

        let messages = whole_records(&disk.text());
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert_eq!(messages[0], "fits");
        assert!(
            messages[1].starts_with(
                "2 log records were lost: the log file could not be written \
                 (No space left on device) from "
            ),
            "{}",
            messages[1]
        );
        assert_eq!(messages[2], "after");
        assert!(
            disk.text()
                .contains(" WARNING launcher.log.append [-] 2 log")
        );
        let report = appender.report(PID);
        assert_eq!((report.total, report.unreported), (2, 0));
    }

    #[test]
    fn a_short_write_is_completed_when_the_rest_fits() {
        let disk = Disk {
            chunk: 7,
            ..Disk::file(4096)
        };
        disk.interrupts.set(2);
        let mut appender = Appender::new("the log file");
        append(&mut appender, &disk, "one");
        append(&mut appender, &disk, "two");
        assert_eq!(whole_records(&disk.text()), ["one", "two"]);
        assert_eq!(appender.report(PID).total, 0);
    }

    #[test]
    fn a_fragment_that_cannot_be_taken_back_is_ended_before_the_next_record() {
        let disk = Disk::pipe(20);
        let mut appender = Appender::new("stderr");
        append(&mut appender, &disk, "cut short by the full pipe");
        disk.free(4096);
        append(&mut appender, &disk, "next");
        let text = disk.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text:?}");
        assert_eq!(lines[0].len(), 20, "the fragment, alone: {text:?}");
        let time = &lines[1][..23];
        assert!(
            lines[1].ends_with(&format!(
                "1 log record was lost: stderr could not be written \
                 (No space left on device) from {time} to {time}"
            )),
            "{text:?}"
        );
        assert!(lines[2].ends_with(" [-] next"), "{text:?}");
    }

    #[test]
    fn an_end_that_another_process_wrote_is_left_alone_and_not_doubled() {
        let disk = Disk::file(30);
        let mut appender = Appender::new("the log file");
        append(&mut appender, &disk, "cut short");
        // Another process appended a whole record after the fragment, so the
        // end is not ours to take back; the file ends a line, so no newline.
        let other = format::text(&record("other"));
        disk.data.borrow_mut().extend_from_slice(other.as_bytes());
        let fragment = disk.text();
        disk.free(4096);
        append(&mut appender, &disk, "next");
        let text = disk.text();
        let after = &text[fragment.len()..];
        assert!(after.contains("1 log record was lost"), "{text:?}");
        assert!(after.ends_with(" [-] next\n"), "{text:?}");
        assert!(!text.contains("\n\n"), "{text:?}");
    }

    #[test]
    fn a_forked_child_counts_its_own_losses() {
        let disk = Disk::file(0);
        let mut appender = Appender::new("the log file");
        append(&mut appender, &disk, "lost by the master");
        assert_eq!(appender.report(PID).total, 1);
        assert_eq!(appender.report(PID + 1).total, 0);

        disk.free(4096);
        let mut child = record("child");
        child.pid = PID + 1;
        appender.append(&disk, &child, &format::text(&child), format::text);
        assert!(!disk.text().contains("lost"), "{}", disk.text());
        assert_eq!(appender.report(PID + 1).total, 0);
    }

    #[test]
    fn the_notice_follows_the_json_format_when_that_is_in_use() {
        let disk = Disk::file(10);
        let mut appender = Appender::new("the log file");
        let lost = record("lost");
        appender.append(&disk, &lost, &format::json(&lost), format::json);
        assert!(disk.text().is_empty(), "the fragment was taken back");
        disk.free(4096);
        let next = record("next");
        appender.append(&disk, &next, &format::json(&next), format::json);
        let values: Vec<serde_json::Value> = disk
            .text()
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
            .collect();
        assert_eq!(values.len(), 2);
        assert_eq!(values[0]["level"], "WARNING");
        assert!(
            values[0]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("1 log record was lost")),
            "{}",
            values[0]
        );
        assert_eq!(values[1]["message"], "next");
    }

    #[test]
    fn the_report_says_how_many_when_and_why() {
        let at = |second| LocalTime {
            year: 2024,
            month: 5,
            day: 1,
            hour: 12,
            minute: 3,
            second,
            millis: 56,
            utc_offset: 0,
        };
        let lose = |appender: &mut Appender, disk: &Disk, second| {
            let record = LogRecord {
                time: at(second),
                ..record("lost")
            };
            appender.append(disk, &record, &format::text(&record), format::text);
        };
        let disk = Disk::file(0);
        let mut appender = Appender::new("the log file");
        let report = |appender: &Appender| LossReport {
            sinks: vec![appender.report(PID), Appender::new("stderr").report(PID)],
        };
        assert_eq!(report(&appender).to_string(), "no log records lost");

        lose(&mut appender, &disk, 4);
        assert_eq!(
            report(&appender).to_string(),
            "1 log record lost writing to the log file, \
             the last at 2024-05-01 12:03:04.056 (No space left on device)"
        );
        lose(&mut appender, &disk, 9);
        disk.free(4096);
        append(&mut appender, &disk, "written");
        let report = report(&appender);
        assert_eq!(report.total(), 2);
        assert_eq!(
            report.to_string(),
            "2 log records lost writing to the log file, \
             the last at 2024-05-01 12:03:09.056 (No space left on device)"
        );
        assert!(disk.text().contains(
            "2 log records were lost: the log file could not be written \
             (No space left on device) from 2024-05-01 12:03:04.056 to 2024-05-01 12:03:09.056\n"
        ));
    }

    #[test]
    fn a_real_file_gives_back_only_its_own_tail() {
        let dir = std::env::temp_dir().join(format!("launcher-append-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("the temp dir is writable");
        let path = dir.join("svc.log");
        fs::write(&path, "whole\nfrag").expect("write");
        let file = fs::OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .expect("open");
        assert!(!file.ends_line().expect("readable"));
        assert!(!file.retract(b"other").expect("readable"));
        assert!(file.retract(b"frag").expect("readable"));
        assert_eq!(fs::read_to_string(&path).expect("read"), "whole\n");
        assert!(file.ends_line().expect("readable"));
        assert!(
            !file
                .retract(b"a tail longer than the file")
                .expect("readable")
        );
        fs::remove_dir_all(dir).expect("cleanup");
    }
}
