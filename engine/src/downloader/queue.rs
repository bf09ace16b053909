//! The engine side of downloads: claims movies from the store, runs at most
//! `max_concurrent_downloads` at once, writes progress, and stops a download
//! when its movie is deleted or gets a new URL, here or on another engine.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use launcher::Shutdown;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::fetch::{self, FetchLimits, FetchSettings};
use crate::db::{Claim, Store};
use crate::storage::StorageHealth;

/// What a movie's `error` says when the local storage failed: the path and
/// the system error stay in the engine's log, away from every client.
const STORAGE_FAILED: &str = "the engine cannot write to its storage directory";

/// How a download ended, for the store.
enum Ending {
    Done,
    /// Stopped for shutdown: the claim goes back so another engine resumes it.
    Released,
    /// Deleted or re-pointed meanwhile: nothing to record.
    Abandoned,
}

/// What the downloader is configured with.
#[derive(Debug, Clone)]
pub struct DownloadSettings {
    /// `[engine] storage_dir`.
    pub storage_dir: PathBuf,
    /// `[engine] max_concurrent_downloads`.
    pub max_concurrent: usize,
    /// `[engine] max_download_size`; `None` for no limit.
    pub max_size: Option<u64>,
    /// Timeouts, redirects and the network policy.
    pub fetch: FetchSettings,
    /// Retries of a transient failure.
    pub retries: u32,
    /// The first pause between retries (doubling).
    pub retry_backoff: Duration,
    /// A claim whose owner has not refreshed it this long is taken over.
    pub claim_timeout: Duration,
    /// How often an idle downloader looks for work it was not told about
    /// (movies queued by another engine, claims whose owner died).
    pub poll_interval: Duration,
}

/// Runs the downloads of one engine worker.
pub struct Downloader {
    store: Store,
    settings: DownloadSettings,
    client: fetch::Client,
    owner: String,
    storage: StorageHealth,
    wake: Notify,
    running: Mutex<HashMap<Uuid, CancellationToken>>,
}

impl Downloader {
    /// A downloader over `store`; `owner` names this worker in claims;
    /// nothing is claimed while `storage` reports a problem.
    ///
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(
        store: Store,
        settings: DownloadSettings,
        owner: String,
        storage: StorageHealth,
    ) -> Result<Arc<Downloader>, fetch::FetchError> {
        let client = fetch::build_client(&settings.fetch)?;
        Ok(Arc::new(Downloader {
            store,
            settings,
            client,
            owner,
            storage,
            wake: Notify::new(),
            running: Mutex::new(HashMap::new()),
        }))
    }

    /// The health of the storage directory downloads are written to.
    pub fn storage(&self) -> &StorageHealth {
        &self.storage
    }

    /// New work may be waiting: look now instead of at the next poll.
    pub fn kick(&self) {
        self.wake.notify_one();
    }

    /// Stops the download of `id` if this worker runs it; its `.part` goes.
    pub fn cancel(&self, id: Uuid) {
        if let Some(token) = self
            .running
            .lock()
            .expect("never poisoned: no panic while held")
            .get(&id)
        {
            token.cancel();
        }
    }

    /// Removes the stored file of `id` (a deleted movie), if this host has it.
    pub async fn remove_file(&self, id: Uuid) {
        for path in [self.final_path(id), self.part_path(id)] {
            match tokio::fs::remove_file(&path).await {
                Ok(()) => tracing::info!(movie_id = %id, path = %path.display(), "removed"),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => {
                    tracing::warn!(movie_id = %id, path = %path.display(), %error, "cannot remove")
                }
            }
        }
    }

    fn final_path(&self, id: Uuid) -> PathBuf {
        self.settings.storage_dir.join(id.to_string())
    }

    fn part_path(&self, id: Uuid) -> PathBuf {
        self.settings.storage_dir.join(format!("{id}.part"))
    }

    /// Claims and runs downloads until `shutdown`; then stops the running
    /// ones and hands their claims back, so another engine resumes them.
    pub async fn run(self: Arc<Self>, shutdown: Shutdown) {
        let permits = Arc::new(Semaphore::new(self.settings.max_concurrent.max(1)));
        let mut downloads = JoinSet::new();
        let heartbeat = tokio::spawn(Arc::clone(&self).keep_claims_alive(shutdown.clone()));
        loop {
            if !self.wait_for_storage(&shutdown).await {
                break;
            }
            let permit = tokio::select! {
                permit = Arc::clone(&permits).acquire_owned() => permit.expect("never closed"),
                () = shutdown.requested() => break,
            };
            while downloads.try_join_next().is_some() {}
            match self
                .store
                .claim_next(&self.owner, self.settings.claim_timeout)
                .await
            {
                Ok(Some(claim)) => {
                    let this = Arc::clone(&self);
                    let shutdown = shutdown.clone();
                    downloads.spawn(async move {
                        this.download(claim, shutdown).await;
                        drop(permit);
                    });
                    continue;
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "cannot look for downloads"),
            }
            drop(permit);
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.settings.poll_interval) => {}
                () = shutdown.requested() => break,
            }
        }
        while downloads.join_next().await.is_some() {}
        heartbeat.abort();
    }

    /// Returns once the storage directory is usable (`true`) or at shutdown
    /// (`false`): a download claimed meanwhile could only fail, where
    /// leaving it queued lets it wait for the fix or another engine.
    async fn wait_for_storage(&self, shutdown: &Shutdown) -> bool {
        let mut verdict = self.storage.subscribe();
        while verdict.borrow_and_update().is_some() {
            tokio::select! {
                changed = verdict.changed() => if changed.is_err() { return true },
                () = shutdown.requested() => return false,
            }
        }
        true
    }

    /// Refreshes this worker's claims, so that other engines only take over
    /// the downloads of a worker that died.
    async fn keep_claims_alive(self: Arc<Self>, shutdown: Shutdown) {
        let mut ticks = tokio::time::interval(self.settings.claim_timeout / 3);
        loop {
            tokio::select! {
                _ = ticks.tick() => {
                    if let Err(error) = self.store.heartbeat(&self.owner).await {
                        tracing::warn!(%error, "cannot refresh download claims");
                    }
                }
                () = shutdown.requested() => return,
            }
        }
    }

    #[tracing::instrument(skip_all, fields(movie_id = %claim.id))]
    async fn download(self: Arc<Self>, claim: Claim, shutdown: Shutdown) {
        let token = CancellationToken::new();
        self.running
            .lock()
            .expect("never poisoned")
            .insert(claim.id, token.clone());
        tracing::info!(url = %crate::db::hide_credentials(&claim.url), "download started");
        let ending = self.fetch_and_store(&claim, &token, &shutdown).await;
        match ending {
            Ending::Done | Ending::Abandoned => {}
            Ending::Released => {
                if let Err(error) = self.store.release(&claim).await {
                    tracing::warn!(%error, "cannot hand the download back");
                }
            }
        }
        self.running
            .lock()
            .expect("never poisoned")
            .remove(&claim.id);
    }

    async fn fetch_and_store(
        &self,
        claim: &Claim,
        token: &CancellationToken,
        shutdown: &Shutdown,
    ) -> Ending {
        if let Err(error) = tokio::fs::create_dir_all(&self.settings.storage_dir).await {
            let path = &self.settings.storage_dir;
            tracing::error!(path = %path.display(), %error, "cannot create the storage directory");
            return self.storage_failure(claim).await;
        }
        let part = self.part_path(claim.id);
        let (progress, progress_rx) = watch::channel(0u64);
        let writer = tokio::spawn(write_progress(
            self.store.clone(),
            claim.clone(),
            progress_rx,
            token.clone(),
        ));
        let limits = FetchLimits {
            max_size: self.settings.max_size,
        };
        let mut report = move |bytes: u64| {
            progress.send_replace(bytes);
        };
        let fetched = tokio::select! {
            fetched = fetch::fetch_with_retries(
                &self.client, &claim.url, &part, &limits, &mut report,
                self.settings.retries, self.settings.retry_backoff, token,
            ) => Some(fetched),
            () = shutdown.requested() => None,
        };
        writer.abort();
        match fetched {
            None => {
                tracing::info!("download interrupted by shutdown; another engine will resume it");
                Ending::Released
            }
            Some(_) if token.is_cancelled() => {
                tracing::info!("download cancelled");
                let _ = tokio::fs::remove_file(&part).await;
                Ending::Abandoned
            }
            Some(Err(fetch::FetchError::Io { path, source })) => {
                tracing::error!(path = %path.display(), error = %source, "cannot write the download");
                let _ = tokio::fs::remove_file(&part).await;
                self.storage_failure(claim).await
            }
            Some(Err(error)) => {
                let _ = tokio::fs::remove_file(&part).await;
                self.record_failure(claim, &error.to_string()).await
            }
            Some(Ok(fetched)) => self.record_success(claim, &part, fetched).await,
        }
    }

    async fn record_success(
        &self,
        claim: &Claim,
        part: &std::path::Path,
        fetched: fetch::Fetched,
    ) -> Ending {
        let final_path = self.final_path(claim.id);
        if let Err(error) = fetch::commit(part, &final_path).await {
            tracing::error!(path = %final_path.display(), %error, "cannot store the download");
            let _ = tokio::fs::remove_file(part).await;
            return self.storage_failure(claim).await;
        }
        let size = i64::try_from(fetched.size).unwrap_or(i64::MAX);
        let checksum = format!("sha256:{}", fetched.sha256_hex);
        match self.store.finish(claim, size, &checksum).await {
            Ok(true) => {
                tracing::info!(size, %checksum, "download complete");
                Ending::Done
            }
            // Deleted or re-pointed while the last bytes came in.
            Ok(false) => {
                let _ = tokio::fs::remove_file(&final_path).await;
                Ending::Abandoned
            }
            Err(error) => {
                tracing::warn!(%error, "cannot record the finished download");
                Ending::Released
            }
        }
    }

    /// A download the local storage failed (logged with its path by the
    /// caller): recorded without the path, and the storage checked at once,
    /// so that no further download is claimed while it stays broken.
    async fn storage_failure(&self, claim: &Claim) -> Ending {
        let _ = self.storage.check_now().await;
        self.record_failure(claim, STORAGE_FAILED).await
    }

    async fn record_failure(&self, claim: &Claim, message: &str) -> Ending {
        let message = crate::db::hide_credentials(message);
        tracing::warn!("download failed: {message}");
        match self.store.fail(claim, &message).await {
            Ok(_) => Ending::Abandoned,
            Err(error) => {
                tracing::warn!(%error, "cannot record the failure");
                Ending::Released
            }
        }
    }
}

/// Writes the latest progress to the store as it changes (the fetch reports
/// at a bounded rate); a claim that is no longer ours cancels the download.
async fn write_progress(
    store: Store,
    claim: Claim,
    mut progress: watch::Receiver<u64>,
    token: CancellationToken,
) {
    while progress.changed().await.is_ok() {
        let bytes = i64::try_from(*progress.borrow_and_update()).unwrap_or(i64::MAX);
        match store.record_progress(&claim, bytes).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(movie_id = %claim.id, "the movie was deleted or changed; stopping its download");
                token.cancel();
                return;
            }
            Err(error) => tracing::warn!(movie_id = %claim.id, %error, "cannot record progress"),
        }
    }
}
