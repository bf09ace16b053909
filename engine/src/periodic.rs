//! Periodic tasks of the engine: removing files in `storage_dir` that no
//! movie refers to (deleted on another host, or left by a crash). One worker
//! per host runs them at a time: the one holding a lock file in the storage
//! directory; when it dies the lock passes to another worker.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use launcher::Shutdown;
use nix::fcntl::{Flock, FlockArg};

use crate::db::Store;
use crate::downloader::Downloader;

const LOCK_FILE: &str = ".pymsboot-periodic.lock";

/// Runs the periodic tasks every `interval` until `shutdown`.
pub async fn run(
    store: Store,
    downloader: Arc<Downloader>,
    storage_dir: PathBuf,
    interval: Duration,
    claim_timeout: Duration,
    shutdown: Shutdown,
) {
    let mut lock: Option<Flock<File>> = None;
    let mut ticks = tokio::time::interval(interval);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = shutdown.requested() => return,
        }
        if lock.is_none() {
            lock = try_lock(&storage_dir);
            if lock.is_none() {
                continue;
            }
            tracing::info!("this worker runs the periodic tasks of this host");
        }
        downloader.kick();
        if let Err(error) = remove_orphans(&store, &storage_dir, claim_timeout).await {
            tracing::warn!(%error, "cannot clean the storage directory");
        }
    }
}

fn try_lock(storage_dir: &Path) -> Option<Flock<File>> {
    std::fs::create_dir_all(storage_dir).ok()?;
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(storage_dir.join(LOCK_FILE))
        .ok()?;
    Flock::lock(file, FlockArg::LockExclusiveNonblock).ok()
}

/// Removes `<uuid>` and `<uuid>.part` files no movie refers to, and `.part`
/// files no download has touched for twice as long as a claim lives.
async fn remove_orphans(
    store: &Store,
    storage_dir: &Path,
    claim_timeout: Duration,
) -> std::io::Result<()> {
    let known = store.stored_ids().await.map_err(std::io::Error::other)?;
    let mut entries = tokio::fs::read_dir(storage_dir).await?;
    while let Some(entry) = entries.next_entry().await? {
        let name = entry.file_name().to_string_lossy().into_owned();
        let (stem, partial) = match name.strip_suffix(".part") {
            Some(stem) => (stem, true),
            None => (name.as_str(), false),
        };
        let Ok(id) = uuid::Uuid::try_parse(stem) else {
            continue;
        };
        let idle = entry
            .metadata()
            .await
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| SystemTime::now().duration_since(modified).ok())
            .unwrap_or_default();
        // Young files may belong to a movie created after `known` was read.
        let orphan =
            (idle > claim_timeout && !known.contains(&id)) || (partial && idle > 2 * claim_timeout);
        if orphan {
            match tokio::fs::remove_file(entry.path()).await {
                Ok(()) => tracing::info!(file = %name, "removed a file no movie refers to"),
                Err(error) => {
                    tracing::warn!(file = %name, %error, "cannot remove an orphaned file")
                }
            }
        }
    }
    Ok(())
}
