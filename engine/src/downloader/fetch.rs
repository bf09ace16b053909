//! One download: a streaming GET into `<storage_dir>/<uuid>.part`, hashed
//! with SHA-256 on the way, size-capped, fsynced; [`commit`] then renames it
//! to `<uuid>`. Memory stays bounded whatever the file size: the body is
//! never held, only one chunk and a fixed write buffer at a time.
//!
//! A `.part` left by an interrupted run is resumed with a `Range` request
//! when the server honours it, and downloaded again in full when it does not.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_RANGE, RANGE};
use reqwest::{Response, StatusCode};
use tokio_util::sync::CancellationToken;

use part::Part;

mod part;

pub use super::client::{Client, FetchError, FetchSettings, build_client};

/// The shortest time between two progress reports: the caller writes each
/// one to the database.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(500);

/// The longest pause between two retries, however many there were.
const MAX_BACKOFF_DOUBLINGS: u32 = 6;

/// The limits of one download.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchLimits {
    /// The largest file accepted, in bytes; `None` for no limit.
    pub max_size: Option<u64>,
}

impl FetchLimits {
    /// The limits for `[engine] max_download_size`, where 0 means no limit.
    pub fn from_max_download_size(bytes: u64) -> FetchLimits {
        FetchLimits {
            max_size: (bytes > 0).then_some(bytes),
        }
    }
}

/// A complete download, fsynced in its `.part` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// Its size in bytes.
    pub size: u64,
    /// The SHA-256 of its bytes, 64 lowercase hex digits.
    pub sha256_hex: String,
}

/// Downloads `url` into `part_path`, resuming the file if it already holds
/// a beginning, and calls `progress` with the bytes stored so far at most
/// every [`PROGRESS_INTERVAL`] and once at the end. The `.part` is left in
/// place on failure, for a retry to resume.
///
/// # Errors
/// Any [`FetchError`]; [`FetchError::is_transient`] tells whether a retry
/// may help.
pub async fn fetch(
    client: &Client,
    url: &str,
    part_path: &Path,
    limits: &FetchLimits,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<Fetched, FetchError> {
    let never = CancellationToken::new();
    let job = Job {
        client,
        url,
        part_path,
        limits,
        cancel: &never,
    };
    job.run(progress).await
}

/// [`fetch`], retrying transient failures up to `retries` times after
/// pauses of `backoff`, doubled each time (capped at 64 × `backoff`).
/// Cancelling `cancel` stops the download within one chunk. Whenever this
/// returns an error the `.part` is removed: it would not match a new URL.
/// Dropping the future instead (at shutdown) keeps it, for a later resume.
///
/// # Errors
/// The last failure, a permanent one, or [`FetchError::Cancelled`].
#[expect(
    clippy::too_many_arguments,
    reason = "one value per download setting; a struct would only rename them"
)]
pub async fn fetch_with_retries(
    client: &Client,
    url: &str,
    part_path: &Path,
    limits: &FetchLimits,
    progress: &mut (dyn FnMut(u64) + Send),
    retries: u32,
    backoff: Duration,
    cancel: &CancellationToken,
) -> Result<Fetched, FetchError> {
    let job = Job {
        client,
        url,
        part_path,
        limits,
        cancel,
    };
    let result = job.run_with_retries(progress, retries, backoff).await;
    if result.is_err() {
        remove_part(part_path).await;
    }
    result
}

/// Renames the complete `part` to `final_path` and fsyncs their directory,
/// so the rename survives a crash.
///
/// # Errors
/// The rename or the directory fsync failed.
pub async fn commit(part: &Path, final_path: &Path) -> io::Result<()> {
    tokio::fs::rename(part, final_path).await?;
    let dir = match final_path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
        .await
        .map_err(io::Error::other)?
}

async fn remove_part(part_path: &Path) {
    match tokio::fs::remove_file(part_path).await {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => {
            tracing::warn!(path = %part_path.display(), %error, "cannot remove the partial download")
        }
    }
}

/// One download's inputs, passed around together.
struct Job<'a> {
    client: &'a Client,
    url: &'a str,
    part_path: &'a Path,
    limits: &'a FetchLimits,
    cancel: &'a CancellationToken,
}

impl Job<'_> {
    async fn run_with_retries(
        &self,
        progress: &mut (dyn FnMut(u64) + Send),
        retries: u32,
        backoff: Duration,
    ) -> Result<Fetched, FetchError> {
        let mut attempt = 0;
        loop {
            match self.run(progress).await {
                Err(error) if error.is_transient() && attempt < retries => {
                    let pause = backoff.saturating_mul(1 << attempt.min(MAX_BACKOFF_DOUBLINGS));
                    tracing::info!(%error, attempt, ?pause, "download failed; retrying");
                    tokio::select! {
                        () = self.cancel.cancelled() => return Err(FetchError::Cancelled),
                        () = tokio::time::sleep(pause) => {}
                    }
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn run(&self, progress: &mut (dyn FnMut(u64) + Send)) -> Result<Fetched, FetchError> {
        if self.cancel.is_cancelled() {
            return Err(FetchError::Cancelled);
        }
        let (mut response, mut part) = self.start().await?;
        self.check_declared_size(&response, part.size())?;
        progress(part.size());
        if let Err(error) = self.copy_body(&mut response, &mut part, progress).await {
            if error.is_transient() {
                // Best effort: a failure here only makes the resume shorter.
                let _ = part.flush().await;
            }
            return Err(error);
        }
        let fetched = part
            .finish()
            .await
            .map_err(|source| self.io_error(source))?;
        progress(fetched.size);
        Ok(fetched)
    }

    /// Streams the body into `part`, one chunk at a time.
    async fn copy_body(
        &self,
        response: &mut Response,
        part: &mut Part,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<(), FetchError> {
        let mut last_report = Instant::now();
        loop {
            let chunk = tokio::select! {
                () = self.cancel.cancelled() => return Err(FetchError::Cancelled),
                chunk = response.chunk() => chunk.map_err(|error| self.client.explain(&error))?,
            };
            let Some(chunk) = chunk else { return Ok(()) };
            if let Some(limit) = self.limits.max_size
                && part.size() + chunk.len() as u64 > limit
            {
                return Err(self.too_large());
            }
            part.write(&chunk)
                .await
                .map_err(|source| self.io_error(source))?;
            if last_report.elapsed() >= PROGRESS_INTERVAL {
                progress(part.size());
                last_report = Instant::now();
            }
        }
    }

    /// Sends the request, resuming an existing `.part` when the server
    /// answers the `Range` request with exactly the bytes that follow it.
    async fn start(&self) -> Result<(Response, Part), FetchError> {
        let url = self.client.first_hop(self.url)?;
        let existing = tokio::fs::metadata(self.part_path)
            .await
            .map_or(0, |meta| meta.len());
        if existing > 0 {
            let request = self
                .client
                .http()
                .get(url.clone())
                .header(RANGE, format!("bytes={existing}-"));
            let response = self.send(request).await?;
            match response.status() {
                StatusCode::PARTIAL_CONTENT if content_range_start(&response) == Some(existing) => {
                    let part = Part::resume(self.part_path, existing)
                        .await
                        .map_err(|source| self.io_error(source))?;
                    return Ok((response, part));
                }
                // The server ignored the range: this is the whole file.
                StatusCode::OK => return Ok((response, self.create_part().await?)),
                // A range we did not ask for, or none it can serve: start over.
                StatusCode::PARTIAL_CONTENT | StatusCode::RANGE_NOT_SATISFIABLE => {}
                status => return Err(FetchError::Status { status }),
            }
        }
        let response = self.send(self.client.http().get(url)).await?;
        match response.status() {
            StatusCode::OK => Ok((response, self.create_part().await?)),
            status => Err(FetchError::Status { status }),
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Response, FetchError> {
        tokio::select! {
            () = self.cancel.cancelled() => Err(FetchError::Cancelled),
            response = request.send() => response.map_err(|error| self.client.explain(&error)),
        }
    }

    /// Refuses up front a file whose declared size is over the limit.
    fn check_declared_size(&self, response: &Response, already: u64) -> Result<(), FetchError> {
        let declared = match content_range_total(response) {
            Some(total) => Some(total),
            None => response.content_length().map(|length| already + length),
        };
        match (declared, self.limits.max_size) {
            (Some(declared), Some(limit)) if declared > limit => Err(self.too_large()),
            _ => Ok(()),
        }
    }

    async fn create_part(&self) -> Result<Part, FetchError> {
        Part::create(self.part_path)
            .await
            .map_err(|source| self.io_error(source))
    }

    fn too_large(&self) -> FetchError {
        FetchError::TooLarge {
            limit: self.limits.max_size.unwrap_or_default(),
        }
    }

    fn io_error(&self, source: io::Error) -> FetchError {
        FetchError::Io {
            path: self.part_path.to_owned(),
            source,
        }
    }
}

/// `bytes <start>-<end>/<total>` → start.
fn content_range_start(response: &Response) -> Option<u64> {
    let (range, _) = content_range(response)?;
    range.split_once('-')?.0.trim().parse().ok()
}

/// `bytes <start>-<end>/<total>` → total, unless it is `*`.
fn content_range_total(response: &Response) -> Option<u64> {
    let (_, total) = content_range(response)?;
    total.trim().parse().ok()
}

fn content_range(response: &Response) -> Option<(&str, &str)> {
    let value = response.headers().get(CONTENT_RANGE)?.to_str().ok()?;
    value.strip_prefix("bytes ")?.split_once('/')
}
