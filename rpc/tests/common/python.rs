//! A stock Python oslo.messaging peer (`tests/python/oslo_peer.py` in the
//! venv that `scripts/python-venv` makes), driven as a subprocess.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Once;

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn python() -> PathBuf {
    static VENV: Once = Once::new();
    VENV.call_once(|| {
        let status = Command::new(repo().join("scripts/python-venv"))
            .status()
            .expect("run scripts/python-venv");
        assert!(status.success(), "scripts/python-venv failed");
    });
    repo().join(".venv/bin/python")
}

fn peer(args: &[&str]) -> Command {
    let mut command = Command::new(python());
    command
        .arg(repo().join("tests/python/oslo_peer.py"))
        .args(args)
        .env("PYTHONWARNINGS", "ignore");
    if std::env::var_os("TEST_LOG").is_none() {
        command.stderr(Stdio::null());
    }
    command
}

/// A Python RPC server, stopped (SIGTERM) on drop.
pub(crate) struct PythonServer(Child);

impl PythonServer {
    /// Starts a server on `topic` in `exchange` and waits for its `READY`.
    pub(crate) fn start(url: &str, exchange: &str, topic: &str) -> PythonServer {
        let mut child = peer(&[
            "serve",
            "--url",
            url,
            "--exchange",
            exchange,
            "--topic",
            topic,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the Python server");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read READY");
        assert_eq!(line.trim(), "READY", "the Python server did not start");
        PythonServer(child)
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.0.wait();
    }
}

/// Runs a stock `RPCClient` call (or cast) and returns its JSON line:
/// `{"ok": true, "result": …}` or `{"ok": false, "class": …, "exc_type": …, …}`.
pub(crate) fn python_client(
    kind: &str,
    url: &str,
    exchange: &str,
    topic: &str,
    extra: &[&str],
    method: &str,
    kwargs: &Value,
) -> Value {
    let kwargs = kwargs.to_string();
    let mut args = vec![kind, "--url", url, "--exchange", exchange, "--topic", topic];
    args.extend_from_slice(extra);
    args.push(method);
    args.push(&kwargs);
    let output = peer(&args).output().expect("run the Python client");
    assert!(
        output.status.success(),
        "the Python client failed: {:?}",
        output.status
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("not one JSON line ({e}): {stdout}"))
}
