//! `auth_strategy = keystone`, keystonemiddleware's behaviour: the service
//! gets its own token with password authentication (and a new one before it
//! expires, or when Keystone stops taking it), and asks Keystone about each
//! user token it has not seen lately with `GET /v3/auth/tokens`.
//!
//! Keystone's verdicts, good and bad, are remembered (by the token's SHA-256)
//! until `min(token expiry, token_cache_time)`; requests that arrive together
//! with one unknown token share one question to Keystone. When Keystone
//! cannot be asked, a token not remembered is answered 503: never let in.

mod cache;
pub mod conf;
mod http;
mod token;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, StatusCode};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use super::Identity;
use cache::{TokenCache, TokenKey};
use conf::KeystoneSettings;
use http::{HttpClient, HttpResponse};

const X_AUTH_TOKEN: HeaderName = HeaderName::from_static("x-auth-token");
const X_SUBJECT_TOKEN: HeaderName = HeaderName::from_static("x-subject-token");

/// The service's token is replaced this long before it expires, so no
/// validation carries one that expires on the way (keystoneauth's margin).
const SERVICE_TOKEN_MARGIN: Duration = Duration::from_secs(30);

/// What Keystone said about one token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A valid token scoped to a project.
    Valid(Identity),
    /// A valid token with no project (unscoped, domain or system scope).
    NoProject,
    /// Unknown, expired or revoked.
    Refused,
}

/// Why a token could not be judged. Never holds a token.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(String);

/// The service's own token and when to replace it.
struct ServiceToken {
    value: HeaderValue,
    renew_at: Instant,
}

/// The Keystone authenticator of one API worker.
pub struct Keystone {
    settings: KeystoneSettings,
    http: HttpClient,
    challenge: HeaderValue,
    cache: TokenCache,
    /// Validations under way, by token key: later askers wait on the first.
    inflight: Mutex<std::collections::HashMap<TokenKey, Arc<OnceCell<Outcome>>>>,
    service_token: tokio::sync::Mutex<Option<ServiceToken>>,
}

type Outcome = Result<(Verdict, Instant), Unavailable>;

impl std::fmt::Debug for Keystone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keystone")
            .field("identity", &self.settings.identity_v3)
            .finish_non_exhaustive()
    }
}

impl Keystone {
    /// The authenticator `config` describes; no request is sent yet.
    ///
    /// # Errors
    /// The problems of a configuration that cannot reach Keystone.
    pub fn from_config(
        config: &launcher::Config,
    ) -> Result<Keystone, Vec<launcher::conf::ConfigProblem>> {
        let settings = KeystoneSettings::from_config(config)?;
        let http = HttpClient::new(&settings).map_err(|reason| {
            let opt = if settings.cafile.is_some() {
                &conf::CAFILE
            } else {
                &conf::AUTH_URL
            };
            vec![config.problem(opt, reason)]
        })?;
        let challenge = HeaderValue::from_str(&settings.www_authenticate).map_err(|_| {
            vec![config.problem(
                &conf::WWW_AUTHENTICATE_URI,
                "cannot be sent in a header".to_owned(),
            )]
        })?;
        Ok(Keystone {
            settings,
            http,
            challenge,
            cache: TokenCache::new(cache::CAPACITY),
            inflight: Mutex::default(),
            service_token: tokio::sync::Mutex::new(None),
        })
    }

    /// `WWW-Authenticate` for a 401: `Keystone uri="<www_authenticate_uri>"`.
    pub fn challenge(&self) -> &HeaderValue {
        &self.challenge
    }

    /// What Keystone says (or said lately) about `token`.
    ///
    /// # Errors
    /// [`Unavailable`] when the token is not remembered and Keystone cannot
    /// be asked or does not take the service's credentials.
    pub(crate) async fn judge(&self, token: &str) -> Result<Verdict, Unavailable> {
        let key: TokenKey = Sha256::digest(token.as_bytes()).into();
        if let Some(verdict) = self.cache.get(&key, Instant::now()) {
            return Ok(verdict);
        }
        let cell = {
            let mut inflight = self
                .inflight
                .lock()
                .expect("the in-flight lock is never held across a panic");
            Arc::clone(inflight.entry(key).or_default())
        };
        let outcome = cell.get_or_init(|| self.ask(token)).await.clone();
        if let Ok((verdict, until)) = &outcome
            && self.settings.cache_time.is_some()
        {
            self.cache.insert(key, verdict.clone(), *until);
        }
        let mut inflight = self
            .inflight
            .lock()
            .expect("the in-flight lock is never held across a panic");
        if inflight.get(&key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            inflight.remove(&key);
        }
        outcome.map(|(verdict, _)| verdict)
    }

    /// Asks Keystone about `token`: the verdict and until when it may be
    /// remembered.
    async fn ask(&self, token: &str) -> Outcome {
        let now = Instant::now();
        let cache_until = now + self.settings.cache_time.unwrap_or_default();
        let Ok(subject) = HeaderValue::from_str(token) else {
            return Ok((Verdict::Refused, cache_until));
        };
        let url = format!("{}/auth/tokens?nocatalog", self.settings.identity_v3);
        let mut renewed = false;
        loop {
            let service = self.service_token(renewed).await?;
            let response = self
                .http
                .send(
                    Method::GET,
                    &url,
                    &[(X_AUTH_TOKEN, service), (X_SUBJECT_TOKEN, subject.clone())],
                    None,
                )
                .await
                .map_err(|error| Unavailable(error.to_string()))?;
            match response.status {
                StatusCode::OK => {
                    let parsed = token::parse(&response.body).map_err(|reason| {
                        Unavailable(format!("Keystone's token validation answer: {reason}"))
                    })?;
                    let until = cache_until.min(instant_at(parsed.expires_at));
                    return Ok((parsed.verdict, until));
                }
                StatusCode::NOT_FOUND => return Ok((Verdict::Refused, cache_until)),
                // The service's token was revoked or expired early: one new one.
                StatusCode::UNAUTHORIZED if !renewed => {
                    renewed = true;
                }
                status => {
                    return Err(Unavailable(format!(
                        "Keystone answered {status} to a token validation{}",
                        if status == StatusCode::FORBIDDEN || status == StatusCode::UNAUTHORIZED {
                            " (does the service user have the service role?)"
                        } else {
                            ""
                        }
                    )));
                }
            }
        }
    }

    /// The service's token: the current one, or a new one when it is due
    /// for renewal or `stale` (Keystone refused it).
    async fn service_token(&self, stale: bool) -> Result<HeaderValue, Unavailable> {
        let mut current = self.service_token.lock().await;
        if let Some(token) = current.as_ref()
            && !stale
            && token.renew_at > Instant::now()
        {
            return Ok(token.value.clone());
        }
        let fresh = self.issue_service_token().await?;
        let value = fresh.value.clone();
        *current = Some(fresh);
        Ok(value)
    }

    async fn issue_service_token(&self) -> Result<ServiceToken, Unavailable> {
        let credentials = &self.settings.credentials;
        let body = serde_json::json!({
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": credentials.username,
                            "domain": {"name": credentials.user_domain_name},
                            "password": credentials.password,
                        }
                    }
                },
                "scope": {
                    "project": {
                        "name": credentials.project_name,
                        "domain": {"name": credentials.project_domain_name},
                    }
                }
            }
        });
        let url = format!("{}/auth/tokens?nocatalog", self.settings.identity_v3);
        let response: HttpResponse = self
            .http
            .send(Method::POST, &url, &[], Some(&body))
            .await
            .map_err(|error| Unavailable(error.to_string()))?;
        if response.status != StatusCode::CREATED {
            let reason = format!(
                "Keystone answered {} to the service's authentication as user {:?} in project {:?}",
                response.status, credentials.username, credentials.project_name
            );
            tracing::error!("{reason}; check [keystone_authtoken]");
            return Err(Unavailable(reason));
        }
        let value = response
            .headers
            .get(&X_SUBJECT_TOKEN)
            .cloned()
            .ok_or_else(|| Unavailable("Keystone issued no X-Subject-Token".to_owned()))?;
        let expires_at = token::expiry(&response.body).map_err(|reason| {
            Unavailable(format!(
                "Keystone's answer to the service's authentication: {reason}"
            ))
        })?;
        let renew_at = instant_at(expires_at)
            .checked_sub(SERVICE_TOKEN_MARGIN)
            .unwrap_or_else(Instant::now);
        tracing::info!(user = %credentials.username, "obtained the service's token from Keystone");
        Ok(ServiceToken { value, renew_at })
    }
}

/// The [`Instant`] of a wall-clock time given in Unix seconds.
fn instant_at(unix_seconds: i64) -> Instant {
    let now_unix = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let now = Instant::now();
    let ahead = unix_seconds.saturating_sub(now_unix);
    if ahead <= 0 {
        now
    } else {
        now + Duration::from_secs(ahead.unsigned_abs())
    }
}
