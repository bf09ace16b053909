//! The marker file that binds a `storage_dir` to the database whose movies it
//! holds. The database's store identity is copied into
//! `<storage_dir>/.pymsboot-store` on first use; from then on an engine whose
//! database has another identity (a typo in `[database] connection`, a
//! failover to an empty replica, an old backup restored) refuses to start
//! rather than take every stored file for an orphan.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::db::Store;

/// The marker's name inside `storage_dir`.
pub const MARKER_FILE: &str = ".pymsboot-store";

/// Why a storage directory and a database do not go together.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// The directory was bound to another store.
    #[error(
        "{dir} holds the files of movie store {dir_store}, but the database {database} is \
         movie store {db_store}: it is not the database these movies were stored with (an \
         empty replica, a restored backup, a typo?). Point [database] connection back to \
         the right database; to start afresh with this one, move the files away and \
         remove {marker}"
    )]
    Mismatch {
        /// The storage directory.
        dir: PathBuf,
        /// The store the directory belongs to.
        dir_store: String,
        /// The store the database is.
        db_store: String,
        /// The database, password hidden.
        database: String,
        /// The marker file.
        marker: PathBuf,
    },
    /// The directory holds movie files, the database no movie, and nothing
    /// says they belong together.
    #[error(
        "{dir} holds {files} movie file(s) but the database {database} holds no movie: it \
         may not be the database these movies were stored with. Point [database] \
         connection to the right database, or move the files away"
    )]
    Unclaimed {
        /// The storage directory.
        dir: PathBuf,
        /// How many movie files it holds.
        files: usize,
        /// The database, password hidden.
        database: String,
    },
    /// The schema has no identity: it was not migrated.
    #[error(
        "the database {database} has no store identity: run `pymsboot-manage db sync` \
         (or set [database] auto_migrate = true)"
    )]
    NoIdentity {
        /// The database, password hidden.
        database: String,
    },
    /// The identity could not be read.
    #[error("cannot read the store identity of {database}: {error}")]
    Database {
        /// The database, password hidden.
        database: String,
        /// Why, passwords hidden.
        error: String,
    },
    /// The directory or the marker could not be read or written.
    #[error("cannot use {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Checks that `storage_dir` belongs to `store`'s database, binding it on
/// first use. `database` names the database in messages (password hidden).
///
/// # Errors
///
/// A [`BindError`] saying which store each side belongs to and what to do.
pub async fn bind(store: &Store, storage_dir: &Path, database: &str) -> Result<(), BindError> {
    let db_error = |error: sqlx::Error| BindError::Database {
        database: database.to_owned(),
        error: launcher::conf::redact_url(&error.to_string()),
    };
    let db_store =
        store
            .identity()
            .await
            .map_err(db_error)?
            .ok_or_else(|| BindError::NoIdentity {
                database: database.to_owned(),
            })?;
    let dir = storage_dir.to_path_buf();
    let files = match on_disk(storage_dir, move || inspect(&dir)).await? {
        OnDisk::Bound(dir_store) if dir_store == db_store => return Ok(()),
        OnDisk::Bound(dir_store) => {
            return Err(BindError::Mismatch {
                dir: storage_dir.to_path_buf(),
                dir_store,
                db_store,
                database: database.to_owned(),
                marker: storage_dir.join(MARKER_FILE),
            });
        }
        OnDisk::Unbound { files } => files,
    };
    // Unbound: a new directory, or one filled before markers existed. Its
    // files are adopted only by a database that has movies of its own.
    if files > 0 && !store.has_movies().await.map_err(db_error)? {
        return Err(BindError::Unclaimed {
            dir: storage_dir.to_path_buf(),
            files,
            database: database.to_owned(),
        });
    }
    let (dir, identity) = (storage_dir.to_path_buf(), db_store.clone());
    on_disk(storage_dir, move || {
        write_marker(&dir, &identity).map_err(io_error(&dir.join(MARKER_FILE)))
    })
    .await?;
    tracing::info!(dir = %storage_dir.display(), store = %db_store, "storage directory bound to this database's movie store");
    Ok(())
}

/// What a storage directory says about the store it belongs to.
enum OnDisk {
    /// Its marker names this store.
    Bound(String),
    /// No marker yet; it holds this many movie files.
    Unbound { files: usize },
}

/// Reads the marker, creating the directory if needed.
fn inspect(dir: &Path) -> Result<OnDisk, BindError> {
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let marker = dir.join(MARKER_FILE);
    match std::fs::read_to_string(&marker) {
        Ok(text) => Ok(OnDisk::Bound(text.trim().to_owned())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(OnDisk::Unbound {
            files: count_movie_files(dir).map_err(io_error(dir))?,
        }),
        Err(error) => Err(io_error(&marker)(error)),
    }
}

/// Runs file work off the worker's runtime: a slow disk must not stall the
/// broker connection's heartbeats.
async fn on_disk<T: Send + 'static>(
    dir: &Path,
    work: impl FnOnce() -> Result<T, BindError> + Send + 'static,
) -> Result<T, BindError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|error| Err(io_error(dir)(std::io::Error::other(error))))
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> BindError + use<> {
    let path = path.to_path_buf();
    move |source| BindError::Io { path, source }
}

/// Files named like a movie's (`<uuid>` or `<uuid>.part`).
pub(crate) fn is_movie_file(name: &str) -> Option<(uuid::Uuid, bool)> {
    let (stem, partial) = match name.strip_suffix(".part") {
        Some(stem) => (stem, true),
        None => (name, false),
    };
    uuid::Uuid::try_parse(stem).ok().map(|id| (id, partial))
}

fn count_movie_files(dir: &Path) -> std::io::Result<usize> {
    let mut count = 0;
    for entry in std::fs::read_dir(dir)? {
        if is_movie_file(&entry?.file_name().to_string_lossy()).is_some() {
            count += 1;
        }
    }
    Ok(count)
}

/// Written whole or not at all: a temporary file, synced, renamed over.
fn write_marker(dir: &Path, identity: &str) -> std::io::Result<()> {
    let temporary = dir.join(format!("{MARKER_FILE}.{}.tmp", std::process::id()));
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(format!("{identity}\n").as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, dir.join(MARKER_FILE))?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn movie_files_are_told_from_others() {
        let id = uuid::Uuid::new_v4();
        assert_eq!(is_movie_file(&id.to_string()), Some((id, false)));
        assert_eq!(is_movie_file(&format!("{id}.part")), Some((id, true)));
        for other in [
            MARKER_FILE,
            ".pymsboot-periodic.lock",
            "notes.txt",
            "x.part",
        ] {
            assert_eq!(is_movie_file(other), None, "{other}");
        }
    }
}
