//! Who the caller is, for `[api] auth_strategy` (CONTRACT §8): the
//! [`Authenticator`] a worker builds from its configuration, and the
//! [`Identity`] it gives each request that may go on.
//!
//! - [`basic`]: `http_basic`, an htpasswd file of bcrypt entries checked
//!   against `Authorization: Basic`, with an optional project and roles per
//!   user.
//! - [`keystone`]: `keystone`, tokens validated by Keystone, cached.
//! - `noauth`: nobody is asked; every caller is an admin of project `noauth`.

pub mod basic;
pub mod keystone;

use std::sync::Arc;

use hyper::HeaderMap;
use hyper::header::{AUTHORIZATION, HeaderValue};
use launcher::Config;
use launcher::conf::ConfigProblem;

pub use basic::{BasicAuthError, BasicUsers, UserFileError};
pub use keystone::Keystone;

use crate::conf;
use crate::error::ApiError;

/// The project (and user) every `noauth` caller acts as.
pub const NOAUTH_PROJECT: &str = "noauth";

/// The challenge of `http_basic`.
const BASIC_CHALLENGE: &str = "Basic realm=\"pymsboot\"";

/// A caller whose credentials were checked: what policy and the engine's
/// project scope decide against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user's id (for `http_basic`, the user name).
    pub user_id: String,
    /// The project the caller acts in; never empty, as a context with no
    /// project would be unscoped.
    pub project_id: String,
    /// The caller's roles on that project.
    pub roles: Vec<String>,
}

/// How a worker checks callers, as `[api] auth_strategy` says.
#[derive(Debug)]
pub enum Authenticator {
    /// `noauth`.
    NoAuth,
    /// `http_basic`, with the user file read at the worker's start.
    Basic(Arc<BasicUsers>),
    /// `keystone`; boxed, as it is much the largest.
    Keystone(Box<Keystone>),
}

impl Authenticator {
    /// The authenticator `config` describes; the user file is read now.
    ///
    /// # Errors
    /// The problems that keep it from working: an unreadable or bad user
    /// file, missing Keystone settings.
    pub fn from_config(config: &Config) -> Result<Authenticator, Vec<ConfigProblem>> {
        match config.text(&conf::AUTH_STRATEGY) {
            "noauth" => Ok(Authenticator::NoAuth),
            "http_basic" => {
                let file = config.text(&conf::HTTP_BASIC_AUTH_USER_FILE);
                let users = BasicUsers::load(std::path::Path::new(file)).map_err(|error| {
                    vec![config.problem(&conf::HTTP_BASIC_AUTH_USER_FILE, error.to_string())]
                })?;
                if users.is_empty() {
                    tracing::warn!(
                        file,
                        "the http_basic user file lists no user: nobody can get in"
                    );
                }
                Ok(Authenticator::Basic(Arc::new(users)))
            }
            _ => Keystone::from_config(config).map(|k| Authenticator::Keystone(Box::new(k))),
        }
    }

    /// The problems [`Authenticator::from_config`] would meet, for the
    /// master's checks before a start or a reload. Sends nothing to Keystone.
    pub fn check(config: &Config) -> Vec<ConfigProblem> {
        Authenticator::from_config(config).err().unwrap_or_default()
    }

    /// Who sent a request with these `headers`.
    ///
    /// # Errors
    /// [`ApiError::Unauthorized`] without credentials or with bad ones,
    /// [`ApiError::Forbidden`] for a Keystone token scoped to no project,
    /// [`ApiError::AuthUnavailable`] when Keystone cannot be asked.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Identity, ApiError> {
        match self {
            Authenticator::NoAuth => Ok(Identity {
                user_id: NOAUTH_PROJECT.to_owned(),
                project_id: NOAUTH_PROJECT.to_owned(),
                roles: vec!["admin".to_owned()],
            }),
            Authenticator::Basic(users) => basic_identity(users, headers).await,
            Authenticator::Keystone(keystone) => keystone_identity(keystone, headers).await,
        }
    }
}

async fn basic_identity(
    users: &Arc<BasicUsers>,
    headers: &HeaderMap,
) -> Result<Identity, ApiError> {
    let unauthorized = |message| ApiError::Unauthorized {
        message,
        challenge: HeaderValue::from_static(BASIC_CHALLENGE),
    };
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Err(unauthorized("Authentication required."));
    };
    let Ok(value) = value.to_str() else {
        return Err(unauthorized("Malformed Authorization header."));
    };
    // bcrypt costs milliseconds of CPU by design: off the worker's event loop.
    let (users, value) = (Arc::clone(users), value.to_owned());
    let outcome = tokio::task::spawn_blocking(move || users.authenticate(&value))
        .await
        .map_err(|error| ApiError::Internal(format!("the password check failed: {error}")))?;
    outcome.map_err(|error| match error {
        BasicAuthError::MalformedHeader { .. } => unauthorized("Malformed Authorization header."),
        BasicAuthError::BadCredentials => unauthorized("Wrong user name or password."),
    })
}

async fn keystone_identity(keystone: &Keystone, headers: &HeaderMap) -> Result<Identity, ApiError> {
    let unauthorized = |message| ApiError::Unauthorized {
        message,
        challenge: keystone.challenge().clone(),
    };
    let Some(token) = headers.get("x-auth-token") else {
        return Err(unauthorized(
            "Authentication required: send a Keystone token in X-Auth-Token.",
        ));
    };
    let Ok(token) = token.to_str() else {
        return Err(unauthorized("The token is not valid."));
    };
    match keystone.judge(token.trim()).await {
        Ok(keystone::Verdict::Valid(identity)) => Ok(identity),
        Ok(keystone::Verdict::Refused) => Err(unauthorized("The token is not valid.")),
        Ok(keystone::Verdict::NoProject) => Err(ApiError::Forbidden(
            "The token is not scoped to a project; use a project-scoped token.".to_owned(),
        )),
        Err(unavailable) => Err(ApiError::AuthUnavailable {
            cause: format!("token validation: {unavailable}"),
        }),
    }
}
