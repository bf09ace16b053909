//! Who this store is, and what it deleted: the facts that let the engine
//! prove a file in `storage_dir` is its own before it removes one.

use std::collections::HashSet;

use uuid::Uuid;

use super::pool::Arg;
use super::row::now_micros;
use super::{Store, is_unique_violation, unavailable};
use crate::error::Error;

impl Store {
    /// The identity the schema's creation gave this store; `None` when the
    /// schema predates it (not migrated) or the row was removed by hand.
    ///
    /// # Errors
    ///
    /// The database error, for the caller to report with its context.
    pub async fn identity(&self) -> Result<Option<String>, sqlx::Error> {
        self.pool()
            .fetch_optional::<String>("SELECT id FROM store_identity WHERE singleton = 1", &[])
            .await
    }

    /// Whether the store holds any movie.
    ///
    /// # Errors
    ///
    /// The database error.
    pub async fn has_movies(&self) -> Result<bool, sqlx::Error> {
        let any = self
            .pool()
            .fetch_optional::<String>("SELECT id FROM movies ORDER BY id LIMIT 1", &[])
            .await?;
        Ok(any.is_some())
    }

    /// Records that this store deleted the movie `id`, so that its files,
    /// wherever they are, may be removed.
    pub(crate) async fn record_deletion(&self, id: Uuid) -> Result<(), Error> {
        let args = [Arg::from(id.to_string()), Arg::from(now_micros())];
        let insert = "INSERT INTO movie_deletions (id, deleted_at) VALUES (?, ?)";
        match self.pool().execute(insert, &args).await {
            Ok(_) => Ok(()),
            // Deleted before (a movie re-created with its id): renew the record.
            Err(error) if is_unique_violation(&error) => {
                let update = "UPDATE movie_deletions SET deleted_at = ? WHERE id = ?";
                let args = [Arg::from(now_micros()), Arg::from(id.to_string())];
                self.pool()
                    .execute(update, &args)
                    .await
                    .map(drop)
                    .map_err(unavailable)
            }
            Err(error) => Err(unavailable(error)),
        }
    }

    /// The movies this store deleted (and remembers).
    ///
    /// # Errors
    ///
    /// [`Error::StoreUnavailable`].
    pub async fn deleted_ids(&self) -> Result<HashSet<Uuid>, Error> {
        let ids: Vec<String> = self
            .pool()
            .fetch_all("SELECT id FROM movie_deletions", &[])
            .await
            .map_err(unavailable)?;
        // A record that is not a UUID names no file: skipped, never an error.
        Ok(ids
            .iter()
            .filter_map(|id| Uuid::try_parse(id.trim()).ok())
            .collect())
    }

    /// Forgets deletions recorded before `before` (microseconds since the epoch).
    ///
    /// # Errors
    ///
    /// [`Error::StoreUnavailable`].
    pub async fn forget_deletions_before(&self, before: i64) -> Result<u64, Error> {
        self.pool()
            .execute(
                "DELETE FROM movie_deletions WHERE deleted_at < ?",
                &[Arg::from(before)],
            )
            .await
            .map_err(unavailable)
    }
}
