//! Periodic tasks of the engine: removing files in `storage_dir` that this
//! store deleted (on another host) or left behind (a crash mid-download),
//! and nothing it cannot prove is its own. One worker per host runs them at
//! a time: the one holding a lock file in the storage directory; when it
//! dies the lock passes to another worker.

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use launcher::Shutdown;
use nix::fcntl::{Flock, FlockArg};

use crate::db::Store;
use crate::downloader::Downloader;
use crate::store_marker::is_movie_file;

const LOCK_FILE: &str = ".pymsboot-periodic.lock";

/// Runs the periodic tasks every `interval` until `shutdown`.
pub(crate) async fn run(
    store: Store,
    downloader: Arc<Downloader>,
    storage_dir: PathBuf,
    interval: Duration,
    claim_timeout: Duration,
    shutdown: Shutdown,
) {
    let mut lock: Option<Flock<File>> = None;
    let mut cleanup = Cleanup::default();
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
        if let Err(error) = cleanup.run(&store, &storage_dir, claim_timeout).await {
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

/// How long the record of a deletion is kept: long enough for the cleanup of
/// every host sharing the database to have run many times.
const DELETIONS_KEPT: Duration = Duration::from_secs(30 * 24 * 3600);

/// One file of `storage_dir` named like a movie's.
struct MovieFile {
    name: String,
    id: uuid::Uuid,
    partial: bool,
    idle: Duration,
}

/// What the cleanup remembers between runs: the unknown files it has
/// already reported, so each is reported once.
#[derive(Default)]
struct Cleanup {
    reported: HashSet<String>,
}

impl Cleanup {
    /// Removes only files this store can prove are its own and unneeded: the
    /// files of movies it deleted, and `.part` files of its movies that no
    /// download has touched for twice as long as a claim lives. Files of no
    /// movie it knows are reported and kept; when they are most of the
    /// directory, the database is probably not this directory's and nothing
    /// is removed at all.
    async fn run(
        &mut self,
        store: &Store,
        storage_dir: &Path,
        claim_timeout: Duration,
    ) -> std::io::Result<()> {
        let files = movie_files(storage_dir).await?;
        let known = store.stored_ids().await.map_err(std::io::Error::other)?;
        let deleted = store.deleted_ids().await.map_err(std::io::Error::other)?;
        let mut removable = Vec::new();
        let mut unknown = Vec::new();
        for file in &files {
            // Young files may belong to a movie created after `known` was read.
            if file.idle <= claim_timeout {
                continue;
            }
            if known.contains(&file.id) {
                if file.partial && file.idle > 2 * claim_timeout {
                    removable.push(file);
                }
            } else if deleted.contains(&file.id) {
                removable.push(file);
            } else {
                unknown.push(file);
            }
        }
        self.report_unknown(&unknown, storage_dir);
        if unknown.len() * 2 > files.len() && !removable.is_empty() {
            tracing::error!(
                dir = %storage_dir.display(),
                unknown = unknown.len(),
                files = files.len(),
                "most files in the storage directory belong to no movie of this database; \
                 removing nothing. Check [database] connection"
            );
            return Ok(());
        }
        for file in removable {
            match tokio::fs::remove_file(storage_dir.join(&file.name)).await {
                Ok(()) => tracing::info!(file = %file.name, "removed a file no movie needs"),
                Err(error) => {
                    tracing::warn!(file = %file.name, %error, "cannot remove a leftover file")
                }
            }
        }
        let before = i64::try_from(
            (SystemTime::now() - DELETIONS_KEPT)
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_micros(),
        )
        .unwrap_or(0);
        store
            .forget_deletions_before(before)
            .await
            .map_err(std::io::Error::other)?;
        Ok(())
    }

    fn report_unknown(&mut self, unknown: &[&MovieFile], storage_dir: &Path) {
        let new: Vec<&str> = unknown
            .iter()
            .map(|file| file.name.as_str())
            .filter(|name| !self.reported.contains(*name))
            .collect();
        if !new.is_empty() {
            tracing::warn!(
                dir = %storage_dir.display(),
                files = %new.join(", "),
                "files named like movies that this database never had; kept. Move them \
                 away if they are not needed"
            );
        }
        self.reported = unknown.iter().map(|file| file.name.clone()).collect();
    }
}

/// The files of `storage_dir` named `<uuid>` or `<uuid>.part`.
async fn movie_files(storage_dir: &Path) -> std::io::Result<Vec<MovieFile>> {
    let mut files = Vec::new();
    let mut entries = tokio::fs::read_dir(storage_dir).await?;
    while let Some(entry) = entries.next_entry().await? {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((id, partial)) = is_movie_file(&name) else {
            continue;
        };
        let idle = entry
            .metadata()
            .await
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| SystemTime::now().duration_since(modified).ok())
            .unwrap_or_default();
        files.push(MovieFile {
            name,
            id,
            partial,
            idle,
        });
    }
    Ok(files)
}
