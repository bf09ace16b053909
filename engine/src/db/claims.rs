//! Who downloads which movie. A movie is downloaded by one owner at a time,
//! across processes and hosts: a claim is a conditional UPDATE that only one
//! writer can win, guarded by the download generation read just before, and
//! kept alive by heartbeats. A claim whose heartbeat is older than
//! `stale_after` (its engine died) can be taken over.
//!
//! Times come from the engine's clock, so hosts sharing a database need
//! synchronized clocks (well within `stale_after`).

use std::time::Duration;

use uuid::Uuid;

use super::pool::{Arg, DbRow, FromDbRow};
use super::row::now_micros;
use super::{Claim, Store, unavailable};
use crate::error::Error;

/// How often `claim_next` tries another candidate after losing a race; each
/// loss means another owner took a movie, so this only ends a long run of bad luck.
const CLAIM_ATTEMPTS: usize = 32;

/// A claimable movie as read before the UPDATE that claims it.
struct Candidate {
    id: String,
    url: String,
    generation: i64,
    created_at: i64,
}

impl FromDbRow for Candidate {
    fn from_row(row: &dyn DbRow) -> Result<Self, sqlx::Error> {
        Ok(Candidate {
            id: row.text(0)?,
            url: row.text(1)?,
            generation: row.int(2)?,
            created_at: row.int(3)?,
        })
    }
}

const CANDIDATE: &str = "SELECT id, url, download_generation, created_at FROM movies";
/// Queued, or downloading by an owner whose heartbeat is older than `?`.
const CLAIMABLE: &str =
    "(state = 'queued' OR (state = 'downloading' AND (heartbeat IS NULL OR heartbeat < ?)))";
/// Still held by this claim: same owner, same generation, still downloading.
const HELD: &str = "id = ? AND owner = ? AND download_generation = ? AND state = 'downloading'";

impl Store {
    /// Claims the movie if it is queued, or downloading by an owner whose
    /// heartbeat is older than `stale_after`. `None` when it is not claimable
    /// (or another owner got it first).
    ///
    /// # Errors
    ///
    /// [`Error::StoreUnavailable`].
    #[tracing::instrument(skip_all, fields(movie_id = %id))]
    pub async fn claim(
        &self,
        id: Uuid,
        owner: &str,
        stale_after: Duration,
    ) -> Result<Option<Claim>, Error> {
        let cutoff = cutoff(stale_after);
        let sql = format!("{CANDIDATE} WHERE id = ? AND {CLAIMABLE}");
        let args = [Arg::from(id.to_string()), Arg::from(cutoff)];
        let candidate: Option<Candidate> = self
            .pool()
            .fetch_optional(&sql, &args)
            .await
            .map_err(unavailable)?;
        match candidate {
            Some(candidate) => self.take(candidate, owner, cutoff).await,
            None => Ok(None),
        }
    }

    /// Claims the oldest claimable movie; no two owners ever get the same one.
    ///
    /// # Errors
    ///
    /// [`Error::StoreUnavailable`].
    #[tracing::instrument(skip_all, fields(owner = %owner))]
    pub async fn claim_next(
        &self,
        owner: &str,
        stale_after: Duration,
    ) -> Result<Option<Claim>, Error> {
        for _ in 0..CLAIM_ATTEMPTS {
            let cutoff = cutoff(stale_after);
            let Some(candidate) = self.oldest_claimable(cutoff).await? else {
                return Ok(None);
            };
            if let Some(claim) = self.take(candidate, owner, cutoff).await? {
                return Ok(Some(claim));
            }
        }
        tracing::debug!(
            attempts = CLAIM_ATTEMPTS,
            "lost every race for a movie to claim"
        );
        Ok(None)
    }

    /// Records download progress and refreshes the heartbeat; `false` when
    /// the claim has ended (movie deleted, URL changed, or taken over).
    ///
    /// # Errors
    ///
    /// [`Error::StoreUnavailable`].
    #[tracing::instrument(skip_all, fields(movie_id = %claim.id))]
    pub async fn record_progress(
        &self,
        claim: &Claim,
        bytes_downloaded: i64,
    ) -> Result<bool, Error> {
        let now = now_micros();
        let sets = "bytes_downloaded = ?, heartbeat = ?, updated_at = ?";
        self.if_held(
            claim,
            sets,
            vec![Arg::from(bytes_downloaded), Arg::from(now), Arg::from(now)],
        )
        .await
    }

    /// Refreshes the heartbeat of every movie `owner` is downloading.
    ///
    /// # Errors
    ///
    /// [`Error::StoreUnavailable`].
    #[tracing::instrument(skip_all, fields(owner = %owner))]
    pub async fn heartbeat(&self, owner: &str) -> Result<(), Error> {
        let sql = "UPDATE movies SET heartbeat = ? WHERE owner = ? AND state = 'downloading'";
        self.pool()
            .execute(sql, &[Arg::from(now_micros()), Arg::from(owner)])
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Marks the download complete: state `downloaded`, `size`, `checksum`
    /// (`sha256:<hex>`), the claim released. `false` if the claim had ended.
    ///
    /// # Errors
    ///
    /// [`Error::StoreUnavailable`].
    #[tracing::instrument(skip_all, fields(movie_id = %claim.id))]
    pub async fn finish(&self, claim: &Claim, size: i64, checksum: &str) -> Result<bool, Error> {
        let sets = "state = 'downloaded', size = ?, bytes_downloaded = ?, checksum = ?, error = NULL, \
                    owner = NULL, heartbeat = NULL, updated_at = ?";
        let args = vec![
            Arg::from(size),
            Arg::from(size),
            Arg::from(checksum),
            Arg::from(now_micros()),
        ];
        self.if_held(claim, sets, args).await
    }

    /// Marks the download failed with a readable `error`, the claim
    /// released. `false` if the claim had ended.
    ///
    /// # Errors
    ///
    /// [`Error::StoreUnavailable`].
    #[tracing::instrument(skip_all, fields(movie_id = %claim.id))]
    pub async fn fail(&self, claim: &Claim, error: &str) -> Result<bool, Error> {
        let sets = "state = 'error', error = ?, owner = NULL, heartbeat = NULL, updated_at = ?";
        self.if_held(claim, sets, vec![Arg::from(error), Arg::from(now_micros())])
            .await
    }

    /// Puts a claimed movie back in the queue (a graceful stop mid-download);
    /// nothing happens if the claim had already ended.
    ///
    /// # Errors
    ///
    /// [`Error::StoreUnavailable`].
    #[tracing::instrument(skip_all, fields(movie_id = %claim.id))]
    pub async fn release(&self, claim: &Claim) -> Result<(), Error> {
        let sets = "state = 'queued', owner = NULL, heartbeat = NULL, updated_at = ?";
        self.if_held(claim, sets, vec![Arg::from(now_micros())])
            .await
            .map(drop)
    }

    /// Applies `sets` if `claim` still holds the movie; whether it did.
    async fn if_held(&self, claim: &Claim, sets: &str, mut args: Vec<Arg>) -> Result<bool, Error> {
        let sql = format!("UPDATE movies SET {sets} WHERE {HELD}");
        args.extend([
            Arg::from(claim.id.to_string()),
            Arg::from(claim.owner.as_str()),
            Arg::from(claim.generation),
        ]);
        let changed = self
            .pool()
            .execute(&sql, &args)
            .await
            .map_err(unavailable)?;
        Ok(changed == 1)
    }

    /// The oldest queued movie or stale download, whichever was created first.
    /// Two index lookups on `(state, created_at, id)` rather than one OR query
    /// that some planners would answer with a scan.
    async fn oldest_claimable(&self, cutoff: i64) -> Result<Option<Candidate>, Error> {
        let order = "ORDER BY created_at, id LIMIT 1";
        let queued = format!("{CANDIDATE} WHERE state = 'queued' {order}");
        let stale = format!(
            "{CANDIDATE} WHERE state = 'downloading' AND (heartbeat IS NULL OR heartbeat < ?) {order}"
        );
        let pool = self.pool();
        let queued: Option<Candidate> = pool
            .fetch_optional(&queued, &[])
            .await
            .map_err(unavailable)?;
        let stale: Option<Candidate> = pool
            .fetch_optional(&stale, &[Arg::from(cutoff)])
            .await
            .map_err(unavailable)?;
        Ok(match (queued, stale) {
            (Some(q), Some(s)) => Some(if (s.created_at, &s.id) < (q.created_at, &q.id) {
                s
            } else {
                q
            }),
            (q, s) => q.or(s),
        })
    }

    /// The conditional UPDATE that claims `candidate` if it is still
    /// claimable at the generation read; `None` when another writer won.
    async fn take(
        &self,
        candidate: Candidate,
        owner: &str,
        cutoff: i64,
    ) -> Result<Option<Claim>, Error> {
        let now = now_micros();
        let sql = format!(
            "UPDATE movies SET state = 'downloading', owner = ?, heartbeat = ?, updated_at = ? \
             WHERE id = ? AND download_generation = ? AND {CLAIMABLE}"
        );
        let args = [
            Arg::from(owner),
            Arg::from(now),
            Arg::from(now),
            Arg::from(candidate.id.as_str()),
            Arg::from(candidate.generation),
            Arg::from(cutoff),
        ];
        let won = self
            .pool()
            .execute(&sql, &args)
            .await
            .map_err(unavailable)?
            == 1;
        if !won {
            return Ok(None);
        }
        let id = Uuid::parse_str(candidate.id.trim()).map_err(|e| {
            tracing::error!(id = candidate.id, error = %e, "stored movie id is not a uuid");
            Error::Internal
        })?;
        tracing::info!(movie_id = %id, owner, generation = candidate.generation, "movie claimed");
        Ok(Some(Claim {
            id,
            url: candidate.url,
            generation: candidate.generation,
            owner: owner.to_owned(),
        }))
    }
}

/// Heartbeats older than this (in stored microseconds) are stale.
fn cutoff(stale_after: Duration) -> i64 {
    let stale_after = i64::try_from(stale_after.as_micros()).unwrap_or(i64::MAX);
    now_micros().saturating_sub(stale_after)
}
