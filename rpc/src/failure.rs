//! Failures as oslo.messaging sends them: a JSON object encoded as a string
//! inside the reply, naming the exception's class and module.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The module oslo.messaging names for its dispatch errors.
pub(crate) const DISPATCHER_MODULE: &str = "oslo_messaging.rpc.dispatcher";
/// The module of oslo.messaging's own exceptions.
pub(crate) const EXCEPTIONS_MODULE: &str = "oslo_messaging.exceptions";
/// The class of a failure the messaging layer, not the method, caused.
pub(crate) const MESSAGING_EXCEPTION: &str = "MessagingException";

/// An exception raised on the other side of a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteError {
    /// The exception class name, e.g. `MovieNotFound` or `NoSuchMethod`.
    pub class: String,
    /// The module of the class, e.g. `builtins` or `oslo_messaging.rpc.dispatcher`.
    pub module: String,
    /// `str(exc)` on the Python side.
    pub message: String,
    /// Traceback lines (free text; empty from a Rust peer).
    #[serde(default)]
    pub tb: Vec<String>,
    /// The exception's positional arguments.
    #[serde(default)]
    pub args: Vec<Value>,
    /// The exception's keyword arguments.
    #[serde(default)]
    pub kwargs: Map<String, Value>,
}

impl RemoteError {
    /// An error of `class` in `module` with `message`, as a Rust server raises it.
    pub fn new(class: &str, module: &str, message: impl Into<String>) -> RemoteError {
        let message = message.into();
        RemoteError {
            class: class.to_string(),
            module: module.to_string(),
            args: vec![Value::String(message.clone())],
            message,
            tb: Vec::new(),
            kwargs: Map::new(),
        }
    }

    /// `NoSuchMethod`, worded as oslo.messaging words it.
    pub fn no_such_method(method: &str) -> RemoteError {
        RemoteError::new(
            "NoSuchMethod",
            DISPATCHER_MODULE,
            format!("Endpoint does not support RPC method {method}"),
        )
    }

    /// `UnsupportedVersion`, worded as oslo.messaging words it.
    pub fn unsupported_version(version: &str, method: &str) -> RemoteError {
        RemoteError::new(
            "UnsupportedVersion",
            DISPATCHER_MODULE,
            format!("Endpoint does not support RPC version {version}. Attempted method: {method}"),
        )
    }

    /// A result too large to send back, replaced by this failure.
    pub fn reply_too_large(size: usize, limit: usize) -> RemoteError {
        RemoteError::new(
            MESSAGING_EXCEPTION,
            EXCEPTIONS_MODULE,
            format!("the reply is too large ({size} bytes, the limit is {limit})"),
        )
    }

    /// A reply the broker refused, replaced by this failure.
    pub fn reply_refused(reason: &str) -> RemoteError {
        RemoteError::new(
            MESSAGING_EXCEPTION,
            EXCEPTIONS_MODULE,
            format!("the broker refused the reply: {reason}"),
        )
    }

    /// The `failure` string of a reply.
    pub(crate) fn to_failure_string(&self) -> String {
        serde_json::to_string(self).expect("a RemoteError is always serializable")
    }

    /// Reads a reply's `failure` string; a re-raised `_Remote` suffix is dropped
    /// as oslo does.
    pub(crate) fn from_failure_string(failure: &str) -> Result<RemoteError, serde_json::Error> {
        let mut error: RemoteError = serde_json::from_str(failure)?;
        if error.class.ends_with("_Remote") && error.module.ends_with("_Remote") {
            error.class.truncate(error.class.len() - "_Remote".len());
            error.module.truncate(error.module.len() - "_Remote".len());
        }
        Ok(error)
    }
}

impl std::fmt::Display for RemoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.class, self.message)
    }
}

impl std::error::Error for RemoteError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_string_round_trips() {
        let error = RemoteError::no_such_method("nosuch");
        let back = RemoteError::from_failure_string(&error.to_failure_string()).expect("parse");
        assert_eq!(back, error);
        assert_eq!(back.message, "Endpoint does not support RPC method nosuch");
    }

    #[test]
    fn the_remote_suffix_is_dropped() {
        let text = r#"{"class": "Boom_Remote", "module": "x_Remote", "message": "m", "tb": [], "args": [], "kwargs": {}}"#;
        let error = RemoteError::from_failure_string(text).expect("parse");
        assert_eq!((error.class.as_str(), error.module.as_str()), ("Boom", "x"));
    }
}
