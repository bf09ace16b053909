//! [`Error`]: what the engine's operations fail with, and the one mapping to
//! and from the class names that travel in oslo failures.

use rpc::RemoteError;
use uuid::Uuid;

/// The module name our failures carry, as a Python peer sees it.
pub const MODULE: &str = "pymsboot.common.exception";

/// Why an engine operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// No movie has this id.
    #[error("Movie {id} could not be found.")]
    MovieNotFound {
        /// The id asked for.
        id: String,
    },
    /// Another movie has this name.
    #[error("A movie named {name:?} already exists.")]
    MovieExists {
        /// The name.
        name: String,
    },
    /// The request is invalid (a bad value, an unknown marker).
    #[error("{0}")]
    Invalid(String),
    /// The database failed; details are logged, not sent.
    #[error("The movie store is unavailable.")]
    StoreUnavailable,
    /// Something unexpected; details are logged, not sent.
    #[error("An unexpected error occurred.")]
    Internal,
}

impl Error {
    /// A movie that does not exist.
    pub fn not_found(id: Uuid) -> Error {
        Error::MovieNotFound { id: id.to_string() }
    }

    /// The oslo class name of this error.
    pub fn class(&self) -> &'static str {
        match self {
            Error::MovieNotFound { .. } => "MovieNotFound",
            Error::MovieExists { .. } => "MovieExists",
            Error::Invalid(_) => "Invalid",
            Error::StoreUnavailable => "StoreUnavailable",
            Error::Internal => "InternalError",
        }
    }

    /// Reads a remote failure back; `None` for a class the engine never sends.
    pub fn from_remote(remote: &RemoteError) -> Option<Error> {
        let detail = || {
            remote
                .kwargs
                .get("detail")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        Some(match remote.class.as_str() {
            "MovieNotFound" => Error::MovieNotFound { id: detail() },
            "MovieExists" => Error::MovieExists { name: detail() },
            "Invalid" => Error::Invalid(remote.message.clone()),
            "StoreUnavailable" => Error::StoreUnavailable,
            "InternalError" => Error::Internal,
            _ => return None,
        })
    }
}

impl From<Error> for RemoteError {
    fn from(error: Error) -> RemoteError {
        let mut remote = RemoteError::new(error.class(), MODULE, error.to_string());
        let detail = match &error {
            Error::MovieNotFound { id } => Some(id.clone()),
            Error::MovieExists { name } => Some(name.clone()),
            _ => None,
        };
        if let Some(detail) = detail {
            remote.kwargs.insert("detail".into(), detail.into());
        }
        remote
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_survives_the_trip_through_an_oslo_failure() {
        let errors = [
            Error::MovieNotFound {
                id: Uuid::nil().to_string(),
            },
            Error::MovieExists {
                name: "Alien".into(),
            },
            Error::Invalid("limit must be between 1 and 1000".into()),
            Error::StoreUnavailable,
            Error::Internal,
        ];
        for error in errors {
            let remote = RemoteError::from(error.clone());
            assert_eq!(remote.message, error.to_string());
            assert_eq!(Error::from_remote(&remote), Some(error));
        }
    }

    #[test]
    fn the_not_found_message_is_the_contracts() {
        assert_eq!(
            Error::not_found(Uuid::nil()).to_string(),
            format!("Movie {} could not be found.", Uuid::nil())
        );
    }
}
