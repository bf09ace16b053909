//! The pid file: written atomically after the sockets are bound, locked while
//! the master lives, removed on exit.
//!
//! The lock is an `fcntl` record lock: unlike `flock`, it is not shared with
//! forked children, so it dies with the master even when workers linger.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
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
pub struct PidFile {
    path: PathBuf,
    pid: u32,
    // Holds the lock: closing any descriptor of the file would release it.
    _lock: File,
}

impl PidFile {
    /// Takes `path` for this process, replacing a stale file.
    ///
    /// # Errors
    /// [`PidFileError::AlreadyRunning`] when a live process holds it, or the
    /// directory is not writable.
    pub fn create(path: &Path) -> Result<PidFile, PidFileError> {
        let io_error = |source| PidFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(pid) = holder(path).map_err(io_error)? {
            return Err(PidFileError::AlreadyRunning {
                path: path.to_path_buf(),
                pid,
            });
        }
        let pid = std::process::id();
        let temp = path.with_extension(format!("tmp.{pid}"));
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&temp)
            .map_err(io_error)?;
        let written = lock(&file)
            .and_then(|()| file.write_all(format!("{pid}\n").as_bytes()))
            .and_then(|()| file.sync_all())
            .and_then(|()| fs::rename(&temp, path));
        if let Err(source) = written {
            let _ = fs::remove_file(&temp);
            return Err(io_error(source));
        }
        Ok(PidFile {
            path: path.to_path_buf(),
            pid,
            _lock: file,
        })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // Only our own: a successor may already have replaced a file we lost.
        let ours = fs::read_to_string(&self.path)
            .map(|text| text.trim() == self.pid.to_string())
            .unwrap_or(false);
        if ours && std::process::id() == self.pid {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// The pid of the live process holding `path`'s lock, if any.
fn holder(path: &Path) -> io::Result<Option<i32>> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let mut probe = write_lock();
    nix::fcntl::fcntl(&file, nix::fcntl::FcntlArg::F_GETLK(&mut probe)).map_err(io::Error::from)?;
    if probe.l_type == libc::F_UNLCK as i16 {
        return Ok(None);
    }
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    Ok(Some(text.trim().parse().unwrap_or(probe.l_pid)))
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
            fs::read_to_string(&path).expect("read").trim(),
            std::process::id().to_string()
        );
    }
}
