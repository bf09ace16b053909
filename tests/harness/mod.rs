//! Test machinery shared by every end-to-end test.
//!
//! - [`service`]: start `pymsboot-api` or `pymsboot-engine` in its own directory and signal it.
//! - [`cluster`]: engine and API on a fresh database, driven with typed REST verbs.
//! - [`files`]: a local HTTP server of generated files (known SHA-256), slow files and 404s.
//! - [`python`]: the stock Python oslo.messaging peer, run from the project's venv.
//! - [`keystone`]: a private real Keystone per test, with projects, users and tokens.
//! - [`tls_proxy`]: an HTTPS front with a self-signed certificate for a plain HTTP server.
//! - [`rpc_session`]: a blocking Rust RPC session on a cluster's exchange.
//! - [`notify`]: a `NOTIFY_SOCKET` listener that records every datagram and its sender.
//! - [`http`]: a small HTTP/1.1 client over `TcpStream`.
//! - [`load`]: client threads that keep requests flowing and count failures.
//! - [`logs`]: parse oslo-style log lines and access lines.
//! - [`eventually`]: wait for a condition, bounded by `PYMSBOOT_TEST_PATIENCE`.
//! - [`dir`]: a temporary directory removed on drop.

pub(crate) mod cluster;
pub(crate) mod dir;
pub(crate) mod eventually;
pub(crate) mod files;
pub(crate) mod http;
pub(crate) mod keystone;
pub(crate) mod load;
pub(crate) mod logs;
pub(crate) mod notify;
pub(crate) mod python;
pub(crate) mod rpc_session;
pub(crate) mod service;
pub(crate) mod tls_proxy;

/// Prints to stderr only when `TEST_LOG` is set, so passing runs stay silent.
macro_rules! trace {
    ($($arg:tt)*) => {
        if std::env::var_os("TEST_LOG").is_some() {
            eprintln!("[e2e] {}", format_args!($($arg)*));
        }
    };
}
pub(crate) use trace;

/// Path of a binary built by this package.
pub(crate) fn bin(name: &str) -> std::path::PathBuf {
    match name {
        "pymsboot-api" => env!("CARGO_BIN_EXE_pymsboot-api").into(),
        "pymsboot-engine" => env!("CARGO_BIN_EXE_pymsboot-engine").into(),
        "pymsboot-manage" => env!("CARGO_BIN_EXE_pymsboot-manage").into(),
        other => panic!("no such binary in this package: {other}"),
    }
}

/// A fresh `req-<uuid v4>` request id.
pub(crate) fn new_request_id() -> String {
    format!("req-{}", uuid_v4())
}

/// A random version 4 UUID, lower-case and hyphenated.
pub(crate) fn uuid_v4() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Whether `id` is `req-` followed by a lower-case hyphenated version 4 UUID.
pub(crate) fn is_request_id(id: &str) -> bool {
    let Some(uuid) = id.strip_prefix("req-") else {
        return false;
    };
    let groups: Vec<&str> = uuid.split('-').collect();
    let lengths_ok = groups.len() == 5 && groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12]);
    lengths_ok
        && uuid
            .chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c))
        && groups[2].starts_with('4')
        && groups[3].starts_with(['8', '9', 'a', 'b'])
}

/// Runs a command that is expected to exit by itself, within the patience.
///
/// # Panics
/// When it cannot start or is still running after the patience; it is then
/// killed with its whole process group.
pub(crate) fn run(command: &mut std::process::Command) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    let child = command
        .env_remove("NOTIFY_SOCKET")
        .env_remove("PYMSBOOT_FAULT_WORKER_BOOT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("a pid fits in i32"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(eventually::patience()) {
        Ok(output) => {
            let output = output.expect("collect the command's output");
            trace!(
                "{command:?} -> {}\nstdout:\n{}\nstderr:\n{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            // Anything it left in its group (workers of a service that should not have started).
            let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
            output
        }
        Err(_) => {
            let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
            panic!(
                "{command:?} did not exit within {:?}",
                eventually::patience()
            );
        }
    }
}

/// A name no other test (in this run or a concurrent one) uses: for topics,
/// exchanges and databases.
pub(crate) fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "test_{prefix}_{}_{}_{nanos:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}
