//! Downloads: the [`Downloader`] that claims movies and runs at most
//! `max_concurrent_downloads` at once, the network policy, the HTTP client
//! and the streaming fetch of one movie.
//!
//! # Layout
//! - `queue`: [`Downloader`], which works the store's queue of movies to
//!   download: claims, concurrency, progress, cancellation.
//! - `guard`: the network policy, which addresses and redirects are refused.
//! - `client`: the HTTP client that applies that policy.
//! - `fetch`: the streaming, resumable fetch of one movie and its commit.

pub use fetch::{
    Client, FetchError, FetchLimits, FetchSettings, Fetched, PROGRESS_INTERVAL, build_client,
    commit, fetch, fetch_with_retries,
};
pub use guard::{AddressKind, Refusal, check_redirect, check_url, classify};
pub use queue::{DownloadSettings, Downloader};

mod client;
mod fetch;
mod guard;
mod queue;
