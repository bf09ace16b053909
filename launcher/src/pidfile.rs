//! The pid file: taken before the sockets are bound, locked while the master
//! lives, removed on exit.
//!
//! The lock is an `fcntl` record lock on the pid file itself: unlike `flock`,
//! it is not shared with forked children, so it dies with the master even
//! when workers linger. Locking, then writing in place, is what makes two
//! masters started at the same instant exclusive: a file written aside and
//! renamed into place would carry a lock of its own, and both would run.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Why the pid file could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum PidFileError {
    /// Another live master holds the lock.
    #[error("already running (pid {pid}, pid file {path})")]
    AlreadyRunning {
        /// The pid file.
        path: PathBuf,
        /// The pid of the running master.
        pid: i32,
    },
    /// The file could not be written.
    #[error("cannot write pid file {path}: {source}")]
    Io {
        /// The pid file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// A pid file held by this process.
#[derive(Debug)]
pub(crate) struct PidFile {
    path: PathBuf,
    pid: u32,
    /// Holds the lock: closing any descriptor of the file would release it.
    file: File,
}

impl PidFile {
    /// Takes `path` for this process, replacing a stale file.
    ///
    /// # Errors
    /// [`PidFileError::AlreadyRunning`] when a live process holds it, or the
    /// directory is not writable.
    pub(crate) fn create(path: &Path) -> Result<PidFile, PidFileError> {
        let io_error = |source| PidFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        let pid = std::process::id();
        loop {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o644)
                .open(path)
                .map_err(io_error)?;
            if let Err(error) = lock(&file) {
                if !matches!(error.raw_os_error(), Some(libc::EAGAIN | libc::EACCES)) {
                    return Err(io_error(error));
                }
                return Err(PidFileError::AlreadyRunning {
                    path: path.to_path_buf(),
                    pid: holder(&mut file).map_err(io_error)?,
                });
            }
            // A master that was exiting may have removed the file between our
            // open and our lock; then the lock is on a file nobody else sees.
            if !is_at(&file, path).map_err(io_error)? {
                continue;
            }
            let written = file
                .set_len(0)
                .and_then(|()| file.write_all(format!("{pid}\n").as_bytes()))
                .and_then(|()| file.sync_all());
            if let Err(source) = written {
                let _ = fs::remove_file(path);
                return Err(io_error(source));
            }
            return Ok(PidFile {
                path: path.to_path_buf(),
                pid,
                file,
            });
        }
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // Only our own, and removed while still locked: opening the file
        // again to check would release the lock (fcntl locks go with any
        // descriptor of the file), letting a new master take a file we then remove.
        let ours = std::process::id() == self.pid && is_at(&self.file, &self.path).unwrap_or(false);
        if ours {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// The pid of the live process holding `file`'s lock: the one the file
/// names, or the lock's owner while the file is still being written.
fn holder(file: &mut File) -> io::Result<i32> {
    let mut probe = write_lock();
    nix::fcntl::fcntl(&*file, nix::fcntl::FcntlArg::F_GETLK(&mut probe))
        .map_err(io::Error::from)?;
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    Ok(text.trim().parse().unwrap_or(probe.l_pid))
}

/// Whether `path` still names the open `file`.
fn is_at(file: &File, path: &Path) -> io::Result<bool> {
    let open = file.metadata()?;
    match fs::metadata(path) {
        Ok(named) => Ok(named.dev() == open.dev() && named.ino() == open.ino()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error),
    }
}

fn lock(file: &File) -> io::Result<()> {
    nix::fcntl::fcntl(file, nix::fcntl::FcntlArg::F_SETLK(&write_lock()))
        .map(drop)
        .map_err(io::Error::from)
}

fn write_lock() -> libc::flock {
    libc::flock {
        l_type: libc::F_WRLCK as i16,
        l_whence: libc::SEEK_SET as i16,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("pidfile-{}-{name}", std::process::id()));
        fs::create_dir_all(&dir).expect("temp dir");
        dir.join("test.pid")
    }

    #[test]
    fn the_file_holds_our_pid_and_goes_away_on_drop() {
        let path = temp_path("drop");
        let pid_file = PidFile::create(&path).expect("create");
        assert_eq!(
            fs::read_to_string(&path).expect("read"),
            format!("{}\n", std::process::id())
        );
        drop(pid_file);
        assert!(!path.exists());
    }

    #[test]
    fn a_stale_file_is_replaced() {
        let path = temp_path("stale");
        fs::write(&path, "999999\n").expect("write");
        let _pid_file = PidFile::create(&path).expect("create over a stale file");
        assert_eq!(
            fs::read_to_string(&path).expect("read"),
            format!("{}\n", std::process::id())
        );
    }
}
