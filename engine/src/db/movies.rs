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
use crate::scope::{Caller, Scope};

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
    /// Stores a new movie, queued for download, with `new.uuid` or a fresh
    /// id, owned by the caller's project and user (none for an unscoped
    /// caller).
    ///
    /// # Errors
    ///
    /// [`Error::MovieExists`] when the name is taken within the caller's
    /// project, or the id by another movie (the same movie of the same
    /// project under the same id is answered with, so a repeated create
    /// succeeds once and is then a no-op), [`Error::StoreUnavailable`] when
    /// the database fails.
    #[tracing::instrument(skip_all, fields(movie_id = tracing::field::Empty))]
    pub async fn create(&self, caller: &Caller, new: &NewMovie) -> Result<Movie, Error> {
        let id = new.uuid.unwrap_or_else(Uuid::new_v4);
        tracing::Span::current().record("movie_id", tracing::field::display(id));
        let now = now_micros();
        let (project_id, user_id) = caller.owner();
        let sql = "INSERT INTO movies (id, name, movie_rank, url, state, bytes_downloaded, meta, \
                   created_at, updated_at, download_generation, project_id, user_id) \
                   VALUES (?, ?, ?, ?, 'queued', 0, ?, ?, ?, 0, ?, ?)";
        let args = [
            Arg::from(id.to_string()),
            Arg::from(new.name.as_str()),
            Arg::from(new.rank),
            Arg::from(new.url.as_str()),
            Arg::from(meta_text(&new.meta)?),
            Arg::from(now),
            Arg::from(now),
            Arg::from(project_id.unwrap_or_default()),
            Arg::from(user_id.unwrap_or_default()),
        ];
        match self.pool().execute(sql, &args).await {
            Ok(_) => self.get(&Caller::unscoped(), id).await,
            Err(error) if is_unique_violation(&error) => {
                self.created_before(id, project_id, new).await
            }
            Err(error) => Err(unavailable(error)),
        }
    }

    /// The answer to a create whose insert met a taken name or id: when the
    /// id already holds this very movie, in the caller's own project, the
    /// request was made before (a redelivery after a worker died, a client's
    /// retry with the same id) and succeeded; it is answered with the movie,
    /// not with "already exists". Another project's movie under that id is
    /// never shown: the id is taken, and that is all the caller learns.
    async fn created_before(
        &self,
        id: Uuid,
        project_id: Option<&str>,
        new: &NewMovie,
    ) -> Result<Movie, Error> {
        let exists = || Error::MovieExists {
            name: new.name.clone(),
        };
        let row = match self.row(&Scope::Everything, id).await {
            Ok(row) => row,
            Err(Error::MovieNotFound { .. }) => return Err(exists()),
            Err(error) => return Err(error),
        };
        let stored_meta: Option<Map<String, Value>> = serde_json::from_str(&row.meta).ok();
        let same = row.project_id == project_id.unwrap_or_default()
            && row.name == new.name
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

    /// The movie with this id, if the caller may reach it.
    ///
    /// # Errors
    ///
    /// [`Error::MovieNotFound`] (also for a movie out of the caller's
    /// scope), [`Error::StoreUnavailable`], or [`Error::Internal`] for a
    /// stored row that does not parse.
    #[tracing::instrument(skip_all, fields(movie_id = %id))]
    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<Movie, Error> {
        self.row(&caller.item_scope(), id)
            .await?
            .into_movie()
            .map_err(unreadable)
    }

    /// Changes a movie's name, rank, meta or URL. A new URL puts the movie
    /// back in the queue with its download fields cleared and its download
    /// generation bumped, which ends any claim on it.
    ///
    /// # Errors
    ///
    /// [`Error::MovieNotFound`] (also out of the caller's scope),
    /// [`Error::MovieExists`] for a name taken within the movie's project,
    /// [`Error::StoreUnavailable`].
    #[tracing::instrument(skip_all, fields(movie_id = %id))]
    pub async fn update(
        &self,
        caller: &Caller,
        id: Uuid,
        update: &MovieUpdate,
    ) -> Result<Updated, Error> {
        let scope = caller.item_scope();
        for _ in 0..UPDATE_ATTEMPTS {
            let current = self.row(&scope, id).await?;
            // A client sending back the URL as it was shown (credentials
            // hidden) does not change it.
            let url_changed = update
                .url
                .as_ref()
                .is_some_and(|url| *url != current.url && *url != hide_credentials(&current.url));
            let (sql, args) = update_statement(id, &scope, update, &current, url_changed)?;
            match self.pool().execute(&sql, &args).await {
                // The row changed generation (or went away) since we read it.
                Ok(0) => continue,
                Ok(_) => {
                    let movie = self.get(caller, id).await?;
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
    /// [`Error::MovieNotFound`] (also out of the caller's scope),
    /// [`Error::StoreUnavailable`].
    #[tracing::instrument(skip_all, fields(movie_id = %id))]
    pub async fn delete(&self, caller: &Caller, id: Uuid) -> Result<(), Error> {
        let (sql, args) = by_id("DELETE FROM movies", &caller.item_scope(), id);
        let deleted = self
            .pool()
            .execute(&sql, &args)
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

    /// The stored row of a movie within `scope`.
    pub(crate) async fn row(&self, scope: &Scope, id: Uuid) -> Result<MovieRow, Error> {
        let (sql, args) = by_id(&format!("SELECT {MOVIE_COLUMNS} FROM movies"), scope, id);
        self.pool()
            .fetch_optional(&sql, &args)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| Error::not_found(id))
    }
}

/// `statement` narrowed to the movie `id` within `scope`.
fn by_id(statement: &str, scope: &Scope, id: Uuid) -> (String, Vec<Arg>) {
    let mut args = vec![Arg::from(id.to_string())];
    let mut sql = format!("{statement} WHERE id = ?");
    if let Some((filter, project)) = scope_filter(scope) {
        sql = format!("{sql} AND {filter}");
        args.push(project);
    }
    (sql, args)
}

/// The condition keeping a query within `scope`, and its argument; none
/// for every movie.
pub(crate) fn scope_filter(scope: &Scope) -> Option<(&'static str, Arg)> {
    match scope {
        Scope::Everything => None,
        Scope::Project(project) => Some(("project_id = ?", Arg::from(project.as_str()))),
    }
}

/// The UPDATE for `update`, guarded by the download generation read with
/// `current` so that it cannot undo a URL change made in between, and kept
/// within `scope` in case the movie was deleted and its id taken meanwhile.
fn update_statement(
    id: Uuid,
    scope: &Scope,
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
    let (sql, where_args) = by_id(&format!("UPDATE movies SET {}", sets.join(", ")), scope, id);
    args.extend(where_args);
    args.push(Arg::from(current.generation));
    Ok((format!("{sql} AND download_generation = ?"), args))
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
