//! The `oslo.version` 2.0 envelope: requests and replies as bytes on the wire.
//! Pure: no I/O, tested against messages captured from Python peers.

use serde_json::{Map, Value, json};

use crate::context::Context;
use crate::failure::RemoteError;

const VERSION_KEY: &str = "oslo.version";
const MESSAGE_KEY: &str = "oslo.message";
const ENVELOPE_VERSION: &str = "2.0";

/// Why a message body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    /// The body (or the inner message) is not JSON of the expected shape.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// An envelope version this peer does not speak.
    #[error("unsupported envelope version {0}")]
    UnsupportedVersion(String),
}

/// A request: a call (it has [`CallInfo`]) or a cast.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The endpoint method.
    pub method: String,
    /// Keyword arguments.
    pub args: Map<String, Value>,
    /// The target namespace; absent means none.
    pub namespace: Option<String>,
    /// The requested version; absent means 1.0 to the server.
    pub version: Option<String>,
    /// What makes it a call; `None` for a cast.
    pub call: Option<CallInfo>,
    /// Used by servers to drop duplicates.
    pub unique_id: Option<String>,
    /// The caller's context.
    pub context: Context,
}

/// The call-only fields of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct CallInfo {
    /// `_msg_id`: the reply echoes it.
    pub msg_id: String,
    /// `_reply_q`: the queue the reply goes to.
    pub reply_queue: String,
    /// `_timeout`: the call-monitor interval in seconds, not the RPC timeout.
    pub monitor_timeout: Option<f64>,
}

/// A reply to a call.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The request's `_msg_id`.
    pub msg_id: String,
    /// The method's return value (`null` for none).
    pub result: Value,
    /// The exception, when the method raised one.
    pub failure: Option<RemoteError>,
    /// `false` only for call-monitor heartbeats.
    pub ending: bool,
    /// A fresh id per reply message.
    pub unique_id: Option<String>,
}

/// A fresh id in oslo's form: a uuid4 as 32 lowercase hex digits.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn wrap(inner: &Map<String, Value>) -> Vec<u8> {
    let envelope = json!({ VERSION_KEY: ENVELOPE_VERSION, MESSAGE_KEY: Value::Object(inner.clone()).to_string() });
    envelope.to_string().into_bytes()
}

fn unwrap(body: &[u8]) -> Result<Map<String, Value>, EnvelopeError> {
    let outer: Map<String, Value> = serde_json::from_slice(body)
        .map_err(|error| EnvelopeError::Malformed(error.to_string()))?;
    let Some(version) = outer.get(VERSION_KEY) else {
        // The legacy 1.0 format: the message itself, unwrapped.
        return Ok(outer);
    };
    let version = version.as_str().unwrap_or_default();
    let compatible = version
        .split_once('.')
        .is_some_and(|(major, minor)| major == "2" && minor == "0");
    if !compatible {
        return Err(EnvelopeError::UnsupportedVersion(version.to_string()));
    }
    let inner = outer
        .get(MESSAGE_KEY)
        .and_then(Value::as_str)
        .ok_or_else(|| {
            EnvelopeError::Malformed(format!("{MESSAGE_KEY} missing or not a string"))
        })?;
    serde_json::from_str(inner).map_err(|error| EnvelopeError::Malformed(error.to_string()))
}

fn take_string(message: &mut Map<String, Value>, key: &str) -> Option<String> {
    match message.remove(key) {
        Some(Value::String(text)) => Some(text),
        _ => None,
    }
}

impl Request {
    /// The body bytes of this request.
    pub fn encode(&self) -> Vec<u8> {
        let mut inner = Map::new();
        inner.insert("method".into(), Value::from(self.method.as_str()));
        inner.insert("args".into(), Value::Object(self.args.clone()));
        if let Some(namespace) = &self.namespace {
            inner.insert("namespace".into(), Value::from(namespace.as_str()));
        }
        if let Some(version) = &self.version {
            inner.insert("version".into(), Value::from(version.as_str()));
        }
        if let Some(call) = &self.call {
            inner.insert("_msg_id".into(), Value::from(call.msg_id.as_str()));
            inner.insert("_reply_q".into(), Value::from(call.reply_queue.as_str()));
            inner.insert(
                "_timeout".into(),
                call.monitor_timeout.map_or(Value::Null, Value::from),
            );
        }
        if let Some(unique_id) = &self.unique_id {
            inner.insert("_unique_id".into(), Value::from(unique_id.as_str()));
        }
        self.context.flatten_into(&mut inner);
        wrap(&inner)
    }

    /// Reads a request body (a 2.0 envelope, or a legacy bare message).
    ///
    /// # Errors
    /// Not JSON, no `method`, or an envelope version other than 2.0.
    pub fn decode(body: &[u8]) -> Result<Request, EnvelopeError> {
        let mut message = unwrap(body)?;
        let method = take_string(&mut message, "method")
            .ok_or_else(|| EnvelopeError::Malformed("no method".to_string()))?;
        let args = match message.remove("args") {
            Some(Value::Object(args)) => args,
            None | Some(Value::Null) => Map::new(),
            Some(_) => {
                return Err(EnvelopeError::Malformed(
                    "args is not an object".to_string(),
                ));
            }
        };
        let namespace = take_string(&mut message, "namespace");
        let version = take_string(&mut message, "version");
        let msg_id = take_string(&mut message, "_msg_id").filter(|id| !id.is_empty());
        let reply_queue = take_string(&mut message, "_reply_q");
        let monitor_timeout = message.remove("_timeout").and_then(|t| t.as_f64());
        let call = match (msg_id, reply_queue) {
            (Some(msg_id), Some(reply_queue)) => Some(CallInfo {
                msg_id,
                reply_queue,
                monitor_timeout,
            }),
            _ => None,
        };
        let unique_id = take_string(&mut message, "_unique_id");
        let context = Context::extract_from(&mut message);
        Ok(Request {
            method,
            args,
            namespace,
            version,
            call,
            unique_id,
            context,
        })
    }
}

impl Reply {
    /// The final reply to `msg_id`: a result or a failure.
    pub fn ending(msg_id: &str, outcome: Result<Value, RemoteError>) -> Reply {
        let (result, failure) = match outcome {
            Ok(result) => (result, None),
            Err(error) => (Value::Null, Some(error)),
        };
        Reply {
            msg_id: msg_id.to_string(),
            result,
            failure,
            ending: true,
            unique_id: Some(new_id()),
        }
    }

    /// A call-monitor heartbeat: "still working on it".
    pub fn heartbeat(msg_id: &str) -> Reply {
        Reply {
            msg_id: msg_id.to_string(),
            result: Value::Null,
            failure: None,
            ending: false,
            unique_id: Some(new_id()),
        }
    }

    /// The body bytes of this reply.
    pub fn encode(&self) -> Vec<u8> {
        let mut inner = Map::new();
        inner.insert("result".into(), self.result.clone());
        inner.insert(
            "failure".into(),
            self.failure
                .as_ref()
                .map_or(Value::Null, |f| Value::String(f.to_failure_string())),
        );
        inner.insert("ending".into(), Value::Bool(self.ending));
        inner.insert("_msg_id".into(), Value::from(self.msg_id.as_str()));
        if let Some(unique_id) = &self.unique_id {
            inner.insert("_unique_id".into(), Value::from(unique_id.as_str()));
        }
        wrap(&inner)
    }

    /// Reads a reply body.
    ///
    /// # Errors
    /// Not JSON, no `_msg_id`, or a `failure` that is not oslo's JSON string.
    pub fn decode(body: &[u8]) -> Result<Reply, EnvelopeError> {
        let mut message = unwrap(body)?;
        let msg_id = take_string(&mut message, "_msg_id")
            .ok_or_else(|| EnvelopeError::Malformed("reply without _msg_id".to_string()))?;
        let failure = match message.remove("failure") {
            Some(Value::String(text)) if !text.is_empty() => Some(
                RemoteError::from_failure_string(&text)
                    .map_err(|error| EnvelopeError::Malformed(error.to_string()))?,
            ),
            _ => None,
        };
        Ok(Reply {
            msg_id,
            result: message.remove("result").unwrap_or(Value::Null),
            failure,
            // Pre-2014 peers sent no `ending`; a message without it is final there.
            ending: message
                .remove("ending")
                .and_then(|e| e.as_bool())
                .unwrap_or(true),
            unique_id: take_string(&mut message, "_unique_id"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cast_has_no_call_fields() {
        let request = Request {
            method: "record".into(),
            args: Map::new(),
            namespace: None,
            version: None,
            call: None,
            unique_id: Some(new_id()),
            context: Context::default(),
        };
        let inner = unwrap(&request.encode()).expect("unwrap");
        for key in ["_msg_id", "_reply_q", "_timeout", "namespace", "version"] {
            assert!(!inner.contains_key(key), "{key}");
        }
        assert_eq!(Request::decode(&request.encode()).expect("decode"), request);
    }

    #[test]
    fn envelope_version_three_is_refused() {
        let body = br#"{"oslo.version": "3.0", "oslo.message": "{}"}"#;
        assert!(matches!(
            Request::decode(body),
            Err(EnvelopeError::UnsupportedVersion(_))
        ));
    }

    #[test]
    fn a_legacy_bare_message_is_accepted() {
        let body = br#"{"method": "ping", "args": {"a": 1}}"#;
        assert_eq!(Request::decode(body).expect("decode").args["a"], 1);
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for body in [
            &b"not json"[..],
            b"[]",
            br#"{"oslo.version": "2.0"}"#,
            br#"{"oslo.version": "2.0", "oslo.message": "{}"}"#,
        ] {
            assert!(Request::decode(body).is_err());
        }
    }

    #[test]
    fn ids_are_32_hex_digits() {
        let id = new_id();
        assert_eq!(id.len(), 32);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }
}
