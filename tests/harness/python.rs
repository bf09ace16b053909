//! The stock Python oslo.messaging peer (`tests/python/oslo_peer.py`, run by
//! the interpreter of the venv `scripts/python-venv` makes) as a client of
//! the Rust engine. Its command line and output are described in
//! `tests/python/README.md`.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Once;

use serde_json::Value;

use super::{run, trace};

/// The broker every test shares, each on its own exchange and topic.
pub(crate) const BROKER: &str = "rabbit://guest:guest@127.0.0.1:5672//";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The venv's interpreter, the venv made (or checked) once per process.
///
/// # Panics
/// When `scripts/python-venv` fails.
pub(crate) fn python() -> PathBuf {
    static VENV: Once = Once::new();
    VENV.call_once(|| {
        let output = run(&mut Command::new(repo().join("scripts/python-venv")));
        assert!(
            output.status.success(),
            "scripts/python-venv failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    });
    repo().join(".venv/bin/python")
}

/// A Python `RPCClient` of one exchange and topic, run once per request.
#[derive(Clone, Debug)]
pub(crate) struct PythonClient {
    exchange: String,
    topic: String,
    context: Option<Value>,
}

impl PythonClient {
    /// A client of `topic` on `exchange`, namespace `engine`, version 1.0.
    pub(crate) fn new(exchange: &str, topic: &str) -> PythonClient {
        PythonClient {
            exchange: exchange.to_owned(),
            topic: topic.to_owned(),
            context: None,
        }
    }

    /// The same client sending these context keys (`--context`), e.g.
    /// `{"project_id": "p", "user": "u", "is_admin": false}`.
    pub(crate) fn with_context(&self, context: Value) -> PythonClient {
        PythonClient {
            context: Some(context),
            ..self.clone()
        }
    }

    /// `client.call(ctxt, method, **kwargs)`: the peer's JSON outcome,
    /// `{"ok": true, "result": ...}` or `{"ok": false, "class": ..., "exc_type": ...}`.
    pub(crate) fn call(&self, method: &str, kwargs: &Value) -> Value {
        self.send("call", method, kwargs)
    }

    /// `client.cast(ctxt, method, **kwargs)`: `{"ok": true, "result": null}`
    /// once the broker confirmed the publish.
    pub(crate) fn cast(&self, method: &str, kwargs: &Value) -> Value {
        self.send("cast", method, kwargs)
    }

    /// A call that must succeed: its result.
    ///
    /// # Panics
    /// When the peer reports an exception.
    pub(crate) fn call_ok(&self, method: &str, kwargs: &Value) -> Value {
        let outcome = self.call(method, kwargs);
        assert_eq!(
            outcome["ok"], true,
            "{method}({kwargs}) from Python: {outcome}"
        );
        outcome["result"].clone()
    }

    fn send(&self, verb: &str, method: &str, kwargs: &Value) -> Value {
        let mut command = Command::new(python());
        command
            .arg(repo().join("tests/python/oslo_peer.py"))
            .arg(verb)
            .args(["--url", BROKER])
            .args(["--exchange", &self.exchange])
            .args(["--topic", &self.topic])
            .args(["--timeout", "20"]);
        if let Some(context) = &self.context {
            command.arg("--context").arg(context.to_string());
        }
        let output = run(command
            .arg(method)
            .arg(kwargs.to_string())
            .env("PYTHONWARNINGS", "ignore"));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "oslo_peer.py {verb} {method} exited with {}:\n{stderr}",
            output.status
        );
        let line = stdout.lines().last().unwrap_or_default();
        trace!("python {verb} {method}({kwargs}) -> {line}");
        serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("oslo_peer.py printed {stdout:?} ({e}); stderr:\n{stderr}"))
    }
}
