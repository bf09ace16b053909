//! The storage check: whether `[engine] storage_dir` can hold movies right
//! now. The directory must exist (or be creatable), be a directory, take a
//! small file written, fsynced and removed again, and have room for it.
//!
//! One function, [`check`], serves `pymsboot-manage config check`, a worker's
//! readiness at start and after every reload, and the periodic check whose
//! verdict [`StorageHealth`] keeps for `get_health` and the downloader.

use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use launcher::{Readiness, Shutdown};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::unistd::AccessFlags;
use tokio::sync::watch;

/// The size of the probe file: one block, so a full file system fails it.
const PROBE_SIZE: usize = 4096;
/// Below this much free space the check passes with a warning: large
/// downloads will start failing soon.
pub const LOW_SPACE: u64 = 1 << 30;

/// What [`check`] may do to a missing directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prepare {
    /// Create it, as the engine does before its first download.
    Create,
    /// Leave it alone and only check that it could be created: a check run
    /// by the operator, perhaps as another user, must not create it.
    Inspect,
}

/// Why the storage directory cannot hold movies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("storage_dir {} {reason}", path.display())]
pub struct StorageProblem {
    /// The directory, for the engine's log and the operator's tools.
    pub path: PathBuf,
    /// What is wrong, without the path: "is not writable: Read-only file
    /// system (os error 30)".
    pub reason: String,
}

impl StorageProblem {
    fn new(path: &Path, reason: String) -> StorageProblem {
        StorageProblem {
            path: path.to_owned(),
            reason,
        }
    }

    /// The problem without the server's path, for answers that leave the host.
    pub fn summary(&self) -> String {
        format!("the storage directory {}", self.reason)
    }
}

/// A storage directory that passed the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageReport {
    /// Bytes available to the engine on its file system.
    pub free: u64,
}

impl StorageReport {
    /// Whether the free space is below [`LOW_SPACE`].
    pub fn low_space(&self) -> bool {
        self.free < LOW_SPACE
    }
}

/// Checks that `dir` can hold movies. Blocking (it fsyncs): call it from
/// `spawn_blocking` in async code.
///
/// # Errors
/// A [`StorageProblem`] naming the directory and what is wrong with it.
pub fn check(dir: &Path, prepare: Prepare) -> Result<StorageReport, StorageProblem> {
    let problem = |reason: String| StorageProblem::new(dir, reason);
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(problem("is not a directory".into())),
        Err(error) if missing(&error) => match prepare {
            Prepare::Create => std::fs::create_dir_all(dir).map_err(|error| {
                problem(format!("does not exist and cannot be created: {error}"))
            })?,
            Prepare::Inspect => return inspect_missing(dir),
        },
        Err(error) => return Err(problem(format!("cannot be reached: {error}"))),
    }
    let report = free_space(dir)?;
    probe(dir)?;
    Ok(report)
}

/// Not there, or a parent is a file: either way it would have to be created.
fn missing(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::NotFound || error.raw_os_error() == Some(Errno::ENOTDIR as i32)
}

/// A missing directory can be created when its nearest existing parent is
/// a directory this process may write to.
fn inspect_missing(dir: &Path) -> Result<StorageReport, StorageProblem> {
    let cannot = |error: io::Error| {
        StorageProblem::new(
            dir,
            format!("does not exist and cannot be created: {error}"),
        )
    };
    let parent = dir
        .ancestors()
        .skip(1)
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .find(|p| std::fs::symlink_metadata(p).is_ok())
        .unwrap_or(Path::new("/"));
    if !parent.is_dir() {
        return Err(cannot(io::Error::from_raw_os_error(Errno::ENOTDIR as i32)));
    }
    // access(2) answers EROFS on a read-only file system, even for root.
    nix::unistd::access(parent, AccessFlags::W_OK | AccessFlags::X_OK)
        .map_err(|errno| cannot(io::Error::from(errno)))?;
    free_space(parent).map_err(|p| StorageProblem::new(dir, p.reason))
}

fn free_space(dir: &Path) -> Result<StorageReport, StorageProblem> {
    let stats = nix::sys::statvfs::statvfs(dir).map_err(|errno| {
        StorageProblem::new(
            dir,
            format!("cannot be inspected: {}", io::Error::from(errno)),
        )
    })?;
    #[allow(
        clippy::useless_conversion,
        reason = "u64 on 64-bit Linux, narrower elsewhere"
    )]
    let free = u64::from(stats.blocks_available()).saturating_mul(u64::from(stats.fragment_size()));
    if free < PROBE_SIZE as u64 {
        return Err(StorageProblem::new(
            dir,
            format!("is full: {free} bytes free"),
        ));
    }
    Ok(StorageReport { free })
}

/// Creates, writes, fsyncs and removes a small file, as a download does.
fn probe(dir: &Path) -> Result<(), StorageProblem> {
    let problem =
        |what: &str, error: io::Error| StorageProblem::new(dir, format!("{what}: {error}"));
    let (mut file, named) = open_probe(dir).map_err(|error| problem("is not writable", error))?;
    let written = file
        .write_all(&[0; PROBE_SIZE])
        .map_err(|error| problem("cannot be written to", error))
        .and_then(|()| {
            file.sync_all()
                .map_err(|error| problem("cannot be synced to disk", error))
        });
    drop(file);
    let removed = match named {
        Some(path) => std::fs::remove_file(path)
            .map_err(|error| problem("does not let files be removed", error)),
        None => Ok(()),
    };
    written.and(removed)
}

/// An unnamed file in `dir` (`O_TMPFILE`), so that nobody listing the
/// directory ever sees the probe, and it vanishes even if the process dies;
/// a named one where the file system cannot do that. The path is returned
/// when there is one to remove.
fn open_probe(dir: &Path) -> io::Result<(std::fs::File, Option<PathBuf>)> {
    let unnamed = std::fs::File::options()
        .write(true)
        .mode(0o600)
        .custom_flags(OFlag::O_TMPFILE.bits())
        .open(dir);
    match unnamed {
        Ok(file) => return Ok((file, None)),
        // No O_TMPFILE support: older kernels say EISDIR, file systems EOPNOTSUPP.
        Err(error)
            if [Errno::EOPNOTSUPP, Errno::EISDIR, Errno::EINVAL]
                .iter()
                .any(|errno| error.raw_os_error() == Some(*errno as i32)) => {}
        Err(error) => return Err(error),
    }
    let path = dir.join(format!(".pymsboot-probe-{}", std::process::id()));
    let file = std::fs::File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)?;
    Ok((file, Some(path)))
}

/// The latest verdict on a worker's storage directory, shared by the tasks
/// that act on it: readiness, the periodic check, `get_health` and the
/// downloader, which claims nothing while the storage is failing.
#[derive(Debug, Clone)]
pub struct StorageHealth {
    dir: PathBuf,
    problem: Arc<watch::Sender<Option<StorageProblem>>>,
    warned_low: Arc<AtomicBool>,
}

impl StorageHealth {
    /// The health of `dir`, not checked yet.
    pub fn new(dir: PathBuf) -> StorageHealth {
        StorageHealth {
            dir,
            problem: Arc::new(watch::Sender::new(None)),
            warned_low: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The directory watched.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What the last check found wrong, if anything.
    pub fn problem(&self) -> Option<StorageProblem> {
        self.problem.borrow().clone()
    }

    /// Follows the verdict of every check.
    pub fn subscribe(&self) -> watch::Receiver<Option<StorageProblem>> {
        self.problem.subscribe()
    }

    /// Checks the directory now (creating it if missing), records the
    /// verdict and logs when it changes.
    pub async fn check_now(&self) -> Result<StorageReport, StorageProblem> {
        let dir = self.dir.clone();
        let result = tokio::task::spawn_blocking(move || check(&dir, Prepare::Create))
            .await
            .unwrap_or_else(|error| {
                Err(StorageProblem::new(
                    &self.dir,
                    format!("could not be checked: {error}"),
                ))
            });
        self.record(&result);
        result
    }

    fn record(&self, result: &Result<StorageReport, StorageProblem>) {
        let problem = result.as_ref().err().cloned();
        let changed = self.problem.send_if_modified(|current| {
            let changed = *current != problem;
            current.clone_from(&problem);
            changed
        });
        match (result, changed) {
            (Err(problem), true) => tracing::error!("{problem}; no download is started"),
            (Ok(_), true) => tracing::info!(dir = %self.dir.display(), "storage_dir usable again"),
            _ => {}
        }
        if let Ok(report) = result {
            let low = report.low_space();
            if low && !self.warned_low.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    dir = %self.dir.display(),
                    free = report.free,
                    "storage_dir is running out of space"
                );
            } else if !low {
                self.warned_low.store(false, Ordering::Relaxed);
            }
        }
    }

    /// Checks until the directory passes, every `retry`, reporting the
    /// problem as the reason this worker is not ready. `false` when
    /// `shutdown` came first.
    pub async fn wait_usable(
        &self,
        readiness: &Readiness,
        retry: Duration,
        shutdown: &Shutdown,
    ) -> bool {
        loop {
            match self.check_now().await {
                Ok(_) => return true,
                Err(problem) => readiness.waiting(&problem.to_string()),
            }
            tokio::select! {
                () = tokio::time::sleep(retry) => {}
                () = shutdown.requested() => return false,
            }
        }
    }

    /// Checks the directory every `interval` until `shutdown`, so that one
    /// that goes bad while the worker serves is noticed.
    pub async fn watch(self, interval: Duration, shutdown: Shutdown) {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = shutdown.requested() => return,
            }
            let _ = self.check_now().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "pymsboot-storage-{name}-{}-{}",
            std::process::id(),
            rpc::new_id()
        ));
        std::fs::create_dir_all(&dir).expect("create a scratch directory");
        dir
    }

    #[test]
    fn a_writable_directory_passes_and_keeps_no_probe() {
        let dir = scratch("ok");
        let report = check(&dir, Prepare::Create).expect("a writable directory passes");
        assert!(report.free > 0);
        assert_eq!(std::fs::read_dir(&dir).expect("list").count(), 0);
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn a_missing_directory_is_created_or_only_inspected() {
        let dir = scratch("missing");
        let inner = dir.join("a/b");
        check(&inner, Prepare::Inspect).expect("its parent is writable");
        assert!(!inner.exists(), "inspecting must not create it");
        check(&inner, Prepare::Create).expect("it can be created");
        assert!(inner.is_dir());
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn a_directory_under_a_file_or_a_file_is_refused_with_the_reason() {
        let dir = scratch("file");
        let file = dir.join("movies");
        std::fs::write(&file, b"not a directory").expect("write a file");
        for prepare in [Prepare::Create, Prepare::Inspect] {
            let under = check(&file.join("x"), prepare).expect_err("a parent is a file");
            assert!(
                under
                    .reason
                    .starts_with("does not exist and cannot be created")
                    && under.reason.contains("Not a directory"),
                "{under}"
            );
            let itself = check(&file, prepare).expect_err("a file is no directory");
            assert_eq!(itself.reason, "is not a directory");
        }
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn the_summary_leaves_the_path_out() {
        let problem = StorageProblem::new(
            Path::new("/srv/secret/movies"),
            "is not writable: Read-only file system (os error 30)".into(),
        );
        assert_eq!(
            problem.to_string(),
            "storage_dir /srv/secret/movies is not writable: Read-only file system (os error 30)"
        );
        assert!(!problem.summary().contains("/srv"), "{}", problem.summary());
    }
}
