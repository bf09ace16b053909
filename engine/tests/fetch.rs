//! The download core against a real HTTP server on 127.0.0.1: checksums,
//! bounded memory, limits, timeouts, retries, resume, cancellation, redirects
//! and the refusal of private addresses.
#![cfg(feature = "server")]

// Helpers.
#[path = "fetch/server.rs"]
mod server;
#[path = "fetch/tls.rs"]
mod tls;

// Tests.
#[path = "fetch/failures.rs"]
mod failures;
#[path = "fetch/policy.rs"]
mod policy;
#[path = "fetch/transfer.rs"]
mod transfer;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use engine::downloader::{
    AddressKind, Client, FetchError, FetchLimits, FetchSettings, Fetched, Refusal, build_client,
    check_redirect, commit, fetch, fetch_with_retries,
};
use reqwest::Url;
use server::{Pattern, Server};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

/// A directory of its own for each test, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("pymsboot-fetch-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }

    fn part(&self) -> PathBuf {
        self.0.join("movie.part")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn client(allow_private_networks: bool) -> Client {
    build_client(&FetchSettings {
        idle_timeout: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(2),
        allow_private_networks,
        ..FetchSettings::default()
    })
    .expect("client builds")
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

const NO_LIMIT: FetchLimits = FetchLimits { max_size: None };

async fn get(
    client: &Client,
    url: &str,
    scratch: &Scratch,
    limits: &FetchLimits,
) -> Result<Fetched, FetchError> {
    fetch(client, url, &scratch.part(), limits, &mut |_| {}).await
}

async fn get_with_retries(
    client: &Client,
    url: &str,
    scratch: &Scratch,
    retries: u32,
) -> Result<Fetched, FetchError> {
    let cancel = CancellationToken::new();
    let backoff = Duration::from_millis(10);
    fetch_with_retries(
        client,
        url,
        &scratch.part(),
        &NO_LIMIT,
        &mut |_| {},
        retries,
        backoff,
        &cancel,
    )
    .await
}

/// (peak resident set, current resident set) of this process, in KiB.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let field = |name: &str| {
        let line = status
            .lines()
            .find(|line| line.starts_with(name))
            .expect("field present");
        line.split_whitespace()
            .nth(1)
            .and_then(|kib| kib.parse().ok())
            .expect("KiB value")
    };
    (field("VmHWM:"), field("VmRSS:"))
}
