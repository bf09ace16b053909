//! Downloads: the [`Downloader`] that claims movies and runs at most
//! `max_concurrent_downloads` at once, the network policy, the HTTP client
//! and the streaming fetch of one movie.

pub use fetch::{
    Client, FetchError, FetchLimits, FetchSettings, Fetched, PROGRESS_INTERVAL, build_client,
    commit, fetch, fetch_with_retries,
};
pub use guard::{AddressKind, Refusal, check_redirect, check_url, classify};
pub use pool::{DownloadSettings, Downloader};

mod client;
mod fetch;
mod guard;
mod pool;
