//! Create, read, update and delete a movie. Unique violations (a taken name
//! or id) become [`Error::MovieExists`]; other database failures
//! [`Error::StoreUnavailable`].

use std::collections::HashSet;

use serde_json::{Map, Value};
use uuid::Uuid;

use super::pool::Arg;
use super::row::{BadRow, IdRow, MOVIE_COLUMNS, MovieRow, hide_credentials, now_micros};
use super::{Store, is_unique_violation, unavailable};
use crate::error::Error;
use crate::objects::{Movie, MovieUpdate, NewMovie};

/// How often an update retries when a concurrent URL change moved the row
/// under it; each retry means another writer made progress.
const UPDATE_ATTEMPTS: usize = 8;

/// What [`Store::update`] made of a movie.
#[derive(Debug, Clone, PartialEq)]
pub struct Updated {
    /// The movie as stored after the update.
    pub movie: Movie,
    /// Whether the URL changed: the movie is queued again and the bytes of
    /// the old URL must not be resumed from.
    pub url_changed: bool,
}

impl Store {
    /// Stores a new movie, queued for download, with `new.uuid` or a fresh id.
    ///
    /// # Errors
    ///
    /// [`Error::MovieExists`] when the name or the id is taken by another
    /// movie (the same movie under the same id is answered with, so a
    /// repeated create succeeds once and is then a no-op),
    /// [`Error::StoreUnavailable`] when the database fails.
    #[tracing::instrument(skip_all, fields(movie_id = tracing::field::Empty))]
    pub async fn create(&self, new: &NewMovie) -> Result<Movie, Error> {
        let id = new.uuid.unwrap_or_else(Uuid::new_v4);
        tracing::Span::current().record("movie_id", tracing::field::display(id));
        let now = now_micros();
        let sql = "INSERT INTO movies (id, name, movie_rank, url, state, bytes_downloaded, meta, \
                   created_at, updated_at, download_generation) \
                   VALUES (?, ?, ?, ?, 'queued', 0, ?, ?, ?, 0)";
        let args = [
            Arg::from(id.to_string()),
            Arg::from(new.name.as_str()),
            Arg::from(new.rank),
            Arg::from(new.url.as_str()),
            Arg::from(meta_text(&new.meta)?),
            Arg::from(now),
            Arg::from(now),
        ];
        match self.pool().execute(sql, &args).await {
            Ok(_) => self.get(id).await,
            Err(error) if is_unique_violation(&error) => self.created_before(id, new).await,
            Err(error) => Err(unavailable(error)),
        }
    }

    /// The answer to a create whose insert met a taken name or id: when the
    /// id already holds this very movie, the request was made before (a
    /// redelivery after a worker died, a client's retry with the same id) and
    /// succeeded; it is answered with the movie, not with "already exists".
    async fn created_before(&self, id: Uuid, new: &NewMovie) -> Result<Movie, Error> {
        let exists = || Error::MovieExists {
            name: new.name.clone(),
        };
        let row = match self.row(id).await {
            Ok(row) => row,
            Err(Error::MovieNotFound { .. }) => return Err(exists()),
            Err(error) => return Err(error),
        };
        let stored_meta: Option<Map<String, Value>> = serde_json::from_str(&row.meta).ok();
        let same = row.name == new.name
            && row.url == new.url
            && row.rank == new.rank
            && stored_meta.as_ref() == Some(&new.meta);
        if !same {
            return Err(exists());
        }
        tracing::info!(
            "the movie was created by an earlier delivery of this request; answering with it"
        );
        row.into_movie().map_err(unreadable)
    }

    /// The movie with this id.
    ///
    /// # Errors
    ///
    /// [`Error::MovieNotFound`], [`Error::StoreUnavailable`], or
    /// [`Error::Internal`] for a stored row that does not parse.
    #[tracing::instrument(skip_all, fields(movie_id = %id))]
    pub async fn get(&self, id: Uuid) -> Result<Movie, Error> {
        self.row(id).await?.into_movie().map_err(unreadable)
    }

    /// Changes a movie's name, rank, meta or URL. A new URL puts the movie
    /// back in the queue with its download fields cleared and its download
    /// generation bumped, which ends any claim on it.
    ///
    /// # Errors
    ///
    /// [`Error::MovieNotFound`], [`Error::MovieExists`] for a taken name,
    /// [`Error::StoreUnavailable`].
    #[tracing::instrument(skip_all, fields(movie_id = %id))]
    pub async fn update(&self, id: Uuid, update: &MovieUpdate) -> Result<Updated, Error> {
        for _ in 0..UPDATE_ATTEMPTS {
            let current = self.row(id).await?;
            // A client sending back the URL as it was shown (credentials
            // hidden) does not change it.
            let url_changed = update
                .url
                .as_ref()
                .is_some_and(|url| *url != current.url && *url != hide_credentials(&current.url));
            let (sql, args) = update_statement(id, update, &current, url_changed)?;
            match self.pool().execute(&sql, &args).await {
                // The row changed generation (or went away) since we read it.
                Ok(0) => continue,
                Ok(_) => {
                    let movie = self.get(id).await?;
                    return Ok(Updated { movie, url_changed });
                }
                Err(error) if is_unique_violation(&error) => {
                    let name = update.name.clone().unwrap_or(current.name);
                    return Err(Error::MovieExists { name });
                }
                Err(error) => return Err(unavailable(error)),
            }
        }
        tracing::error!(
            attempts = UPDATE_ATTEMPTS,
            "movie kept changing under an update"
        );
        Err(Error::StoreUnavailable)
    }

    /// Deletes a movie. A download in progress notices on its next progress
    /// report.
    ///
    /// # Errors
    ///
    /// [`Error::MovieNotFound`], [`Error::StoreUnavailable`].
    #[tracing::instrument(skip_all, fields(movie_id = %id))]
    pub async fn delete(&self, id: Uuid) -> Result<(), Error> {
        let deleted = self
            .pool()
            .execute(
                "DELETE FROM movies WHERE id = ?",
                &[Arg::from(id.to_string())],
            )
            .await
            .map_err(unavailable)?;
        if deleted == 0 {
            return Err(Error::not_found(id));
        }
        // Only after the row is gone: a record for a movie that was never
        // deleted would let the cleanup remove a live movie's file. Without
        // the record a leftover file is reported, never removed; the delete
        // itself succeeded and is answered so.
        if self.record_deletion(id).await.is_err() {
            tracing::warn!("the deletion could not be recorded; a leftover file will be kept");
        }
        Ok(())
    }

    /// Every stored movie id, to find files no movie refers to.
    ///
    /// # Errors
    ///
    /// [`Error::StoreUnavailable`], or [`Error::Internal`] for an id that is
    /// not a UUID.
    #[tracing::instrument(skip_all)]
    pub async fn stored_ids(&self) -> Result<HashSet<Uuid>, Error> {
        let rows: Vec<IdRow> = self
            .pool()
            .fetch_all("SELECT id FROM movies", &[])
            .await
            .map_err(unavailable)?;
        rows.into_iter()
            .map(|IdRow(id)| {
                Uuid::parse_str(id.trim()).map_err(|e| {
                    tracing::error!(id, error = %e, "stored movie id is not a uuid");
                    Error::Internal
                })
            })
            .collect()
    }

    /// The stored row of a movie.
    pub(crate) async fn row(&self, id: Uuid) -> Result<MovieRow, Error> {
        let sql = format!("SELECT {MOVIE_COLUMNS} FROM movies WHERE id = ?");
        self.pool()
            .fetch_optional(&sql, &[Arg::from(id.to_string())])
            .await
            .map_err(unavailable)?
            .ok_or_else(|| Error::not_found(id))
    }
}

/// The UPDATE for `update`, guarded by the download generation read with
/// `current` so that it cannot undo a URL change made in between.
fn update_statement(
    id: Uuid,
    update: &MovieUpdate,
    current: &MovieRow,
    url_changed: bool,
) -> Result<(String, Vec<Arg>), Error> {
    let mut sets = vec!["updated_at = ?"];
    let mut args = vec![Arg::from(now_micros())];
    if let Some(name) = &update.name {
        sets.push("name = ?");
        args.push(Arg::from(name.as_str()));
    }
    if let Some(rank) = update.rank {
        sets.push("movie_rank = ?");
        args.push(Arg::from(rank));
    }
    if let Some(meta) = &update.meta {
        sets.push("meta = ?");
        args.push(Arg::from(meta_text(meta)?));
    }
    if let (Some(url), true) = (&update.url, url_changed) {
        sets.push(
            "url = ?, state = 'queued', bytes_downloaded = 0, size = NULL, checksum = NULL, \
             error = NULL, owner = NULL, heartbeat = NULL, download_generation = download_generation + 1",
        );
        args.push(Arg::from(url.as_str()));
    }
    let sql = format!(
        "UPDATE movies SET {} WHERE id = ? AND download_generation = ?",
        sets.join(", ")
    );
    args.extend([Arg::from(id.to_string()), Arg::from(current.generation)]);
    Ok((sql, args))
}

fn meta_text(meta: &Map<String, Value>) -> Result<String, Error> {
    serde_json::to_string(meta).map_err(|e| {
        tracing::error!(error = %e, "meta does not serialize");
        Error::Internal
    })
}

/// A stored row that does not parse: logged, reported as internal.
pub(crate) fn unreadable(error: BadRow) -> Error {
    tracing::error!(%error, "movie store holds an unreadable row");
    Error::Internal
}
