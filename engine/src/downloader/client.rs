//! The HTTP client downloads go through, with the network policy of
//! [`guard`](super::guard) built in, and what its failures mean.

use std::error::Error as StdError;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::{StatusCode, Url};

use super::guard::{self, GuardResolver, Refusal};

/// How downloads talk to the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchSettings {
    /// How long establishing a connection (TCP and TLS) may take.
    pub connect_timeout: Duration,
    /// How long a download may go without receiving a byte.
    pub idle_timeout: Duration,
    /// The most redirects one download follows.
    pub max_redirects: usize,
    /// `[engine] allow_private_networks`: allow loopback, private, link-local
    /// and other non-public addresses.
    pub allow_private_networks: bool,
    /// The `User-Agent` header sent.
    pub user_agent: String,
}

impl Default for FetchSettings {
    fn default() -> FetchSettings {
        FetchSettings {
            connect_timeout: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(30),
            max_redirects: 5,
            allow_private_networks: false,
            user_agent: concat!("pymsboot-engine/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// A download client: a `reqwest::Client` whose resolver and redirect policy
/// enforce the network policy, with the settings the download loop needs.
/// Cheap to clone: clones share connections.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    allow_private_networks: bool,
    idle_timeout: Duration,
}

/// Builds the download client for `settings`.
///
/// It resolves names through the guard resolver, checks every redirect,
/// ignores proxy settings from the environment (a proxy would connect on our
/// behalf, past the address checks), and neither asks for nor decodes
/// compressed bodies (the checksum is of the bytes the server holds).
///
/// # Errors
/// [`FetchError::Client`] when the TLS configuration cannot be set up, for
/// example without readable system root certificates.
pub fn build_client(settings: &FetchSettings) -> Result<Client, FetchError> {
    install_crypto_provider();
    let allow = settings.allow_private_networks;
    let max = settings.max_redirects;
    let redirects = reqwest::redirect::Policy::custom(move |attempt| {
        let number = attempt.previous().len();
        match guard::check_redirect(attempt.url(), number, max, allow) {
            Ok(()) => attempt.follow(),
            Err(refusal) => attempt.error(refusal),
        }
    });
    let http = reqwest::Client::builder()
        .user_agent(settings.user_agent.as_str())
        .dns_resolver(GuardResolver::new(allow))
        .redirect(redirects)
        .connect_timeout(settings.connect_timeout)
        // Reset by every read: an idle timeout, not a cap on the whole download.
        .read_timeout(settings.idle_timeout)
        .no_proxy()
        .build()
        .map_err(|source| FetchError::Client { source })?;
    Ok(Client {
        http,
        allow_private_networks: allow,
        idle_timeout: settings.idle_timeout,
    })
}

/// reqwest is built without a default TLS crypto provider (its default,
/// aws-lc-rs, needs cmake to build), so the process uses `ring`. A provider
/// someone installed earlier is kept.
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Client {
    /// The underlying client, with the resolver and redirect checks installed.
    /// The first hop of a URL whose host is an IP literal is not checked by
    /// it: [`fetch`](super::fetch) does that before sending.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Parses `url` and checks what the resolver cannot: the scheme and an
    /// IP-literal host.
    pub(crate) fn first_hop(&self, url: &str) -> Result<Url, FetchError> {
        let parsed = Url::parse(url).map_err(|error| FetchError::InvalidUrl {
            reason: error.to_string(),
        })?;
        guard::check_url(&parsed, self.allow_private_networks)?;
        Ok(parsed)
    }

    /// What a failed request or body read means for the download.
    pub(crate) fn explain(&self, error: &reqwest::Error) -> FetchError {
        let host = || {
            error
                .url()
                .and_then(Url::host_str)
                .unwrap_or("the server")
                .to_owned()
        };
        if let Some(refusal) = find::<Refusal>(error) {
            return FetchError::Refused(refusal.clone());
        }
        if let Some(tls) = find::<rustls::Error>(error) {
            return FetchError::Tls {
                host: host(),
                cause: tls.to_string(),
            };
        }
        if error.is_connect() {
            return FetchError::Connect {
                host: host(),
                cause: root_cause(error),
            };
        }
        if error.is_timeout() {
            return FetchError::Idle {
                after: self.idle_timeout,
            };
        }
        FetchError::Interrupted {
            cause: root_cause(error),
        }
    }
}

/// The first error of type `T` in the source chain of `error`, looking inside
/// `io::Error`s too (their `source` skips the error they wrap).
fn find<'a, T: StdError + 'static>(error: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut next = Some(error);
    while let Some(current) = next {
        if let Some(found) = current.downcast_ref::<T>() {
            return Some(found);
        }
        let wrapped = current
            .downcast_ref::<io::Error>()
            .and_then(io::Error::get_ref);
        if let Some(found) = wrapped.and_then(|inner| find::<T>(inner)) {
            return Some(found);
        }
        next = current.source();
    }
    None
}

/// The innermost message: reqwest's outer ones repeat the URL, which may
/// hold credentials, and say little ("error sending request").
fn root_cause(error: &(dyn StdError + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

/// Why a download failed. Messages are sentences for the movie's `error`.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The network policy refused the URL, an address or a redirect.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The URL does not parse.
    #[error("the URL is not valid: {reason}")]
    InvalidUrl {
        /// What the parser said.
        reason: String,
    },
    /// The server answered with an error status.
    #[error("the server answered {status}")]
    Status {
        /// The status, e.g. `404 Not Found`.
        status: StatusCode,
    },
    /// The file is, or turned out to be, larger than `[engine] max_download_size`.
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// No byte arrived for the idle timeout.
    #[error("no data received for {} s", .after.as_secs_f64())]
    Idle {
        /// The idle timeout.
        after: Duration,
    },
    /// No connection could be made (DNS failure, refused, timed out).
    #[error("could not connect to {host}: {cause}")]
    Connect {
        /// The host connected to.
        host: String,
        /// The innermost error.
        cause: String,
    },
    /// The TLS handshake failed, e.g. an untrusted certificate.
    #[error("the TLS connection to {host} failed: {cause}")]
    Tls {
        /// The host connected to.
        host: String,
        /// What rustls said.
        cause: String,
    },
    /// The connection broke while the response was being read.
    #[error("the transfer was interrupted: {cause}")]
    Interrupted {
        /// The innermost error.
        cause: String,
    },
    /// The `.part` file could not be written. The message leaves the path
    /// and the system error out: it reaches every client through the
    /// movie's `error`; the engine logs both.
    #[error("the engine cannot write to its storage directory")]
    Io {
        /// The file.
        path: PathBuf,
        /// The system error.
        #[source]
        source: io::Error,
    },
    /// The HTTP client could not be built.
    #[error("cannot set up the download client: {source}")]
    Client {
        /// What reqwest said.
        #[source]
        source: reqwest::Error,
    },
    /// The download was stopped (the movie was deleted or got a new URL).
    #[error("the download was cancelled")]
    Cancelled,
}

impl FetchError {
    /// Whether trying again later may succeed: connection failures, timeouts,
    /// interrupted transfers, 5xx, 408 and 429. Refusals, 4xx, the size limit,
    /// local write errors and cancellation are final.
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::Status { status } => {
                status.is_server_error()
                    || *status == StatusCode::REQUEST_TIMEOUT
                    || *status == StatusCode::TOO_MANY_REQUESTS
            }
            FetchError::Idle { .. }
            | FetchError::Connect { .. }
            | FetchError::Interrupted { .. } => true,
            _ => false,
        }
    }
}
