//! A `[engine] storage_dir` the engine cannot write to is refused where an
//! operator looks, and never shown to clients: a worker does not get ready on
//! it (at start, or at a reload, which is rolled back while the old workers
//! serve), `config check` fails naming it, `/healthcheck` answers 503 while
//! it is broken at runtime, and a download it fails says so without the path.
//!
//! The broken directories are real: read-only and tiny tmpfs mounts (root
//! ignores file modes, not a read-only mount), and a path under a regular file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use engine::test_util::Backend;
use serde_json::json;

use crate::harness::cluster::Cluster;
use crate::harness::dir::TempDir;
use crate::harness::eventually::{ensure, eventually};
use crate::harness::files::FileServer;
use crate::harness::load::{Load, Mode};
use crate::harness::{bin, run};

/// A tmpfs mounted on a directory for one test, unmounted when dropped.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs with `options` (e.g. `size=1m,ro`) on `dir`, creating
    /// `dir` first; over an existing directory, it hides what was there.
    fn mount(dir: &Path, options: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).expect("create the mount point");
        let output = run(Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir));
        assert!(output.status.success(), "mount: {}", text(&output));
        Tmpfs {
            dir: dir.to_owned(),
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: a process still holding a file there must not keep it mounted.
        let _ = run(Command::new("umount").arg("-l").arg(&self.dir));
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn path_text(path: &Path) -> String {
    path.display().to_string()
}

#[test]
fn an_engine_on_a_read_only_storage_dir_is_never_ready_says_why_and_serves_once_it_is_fixed() {
    // Arrange
    let root = TempDir::new();
    let movies = root.join("movies");
    let read_only = Tmpfs::mount(&movies, "size=1m,ro");

    // Act
    let mut cluster = Cluster::spawn_together(Backend::Sqlite, |c| {
        c.graceful_shutdown_timeout(2)
            .set("engine", "storage_dir", &path_text(&movies))
    });

    // Assert: the reason reaches systemd and, past the readiness deadline, the log.
    let engine = cluster.engine_mut();
    engine.wait_notify(0, "STATUS= naming the storage problem", |d| {
        d.get("STATUS").is_some_and(|s| {
            s.contains(&format!(
                "not ready: storage_dir {} is not writable",
                movies.display()
            )) && s.contains("Read-only file system")
        })
    });
    eventually("the readiness deadline's ERROR line", || {
        ensure(
            engine.log_lines().iter().any(|l| {
                l.level == "ERROR" && l.message.contains("generation 1 is not ready: storage_dir")
            }),
            || "not yet".to_string(),
        )
    });
    assert!(
        !engine.notify().all().iter().any(|d| d.has("READY=1")),
        "the engine said READY=1 on a read-only storage_dir"
    );
    let health = cluster.get("/healthcheck");
    assert_eq!(health.status, 503, "{}", health.text());

    // Act: the operator fixes the directory; the workers check again by themselves.
    drop(read_only);

    // Assert
    cluster.engine_mut().wait_ready();
    cluster.wait_healthy();
}

#[test]
fn a_reload_to_a_read_only_storage_dir_is_rolled_back_while_the_full_path_keeps_answering() {
    // Arrange
    let root = TempDir::new();
    let movies = root.join("movies");
    let _read_only = Tmpfs::mount(&movies, "size=1m,ro");
    let mut cluster = Cluster::start_with(Backend::Sqlite, |c| c.graceful_shutdown_timeout(3));
    let seeded = cluster.create(&json!({"name": "Seeded", "url": "http://127.0.0.1:9/seed"}));
    let path = format!("/v1/movies/{}", seeded["id"].as_str().expect("an id"));
    let load = Load::start_on(cluster.port(), &path, &[Mode::KeepAlive, Mode::Close]);
    load.wait_progress(50);
    let engine = cluster.engine_mut();
    let before = engine.worker_pids();
    let broken = engine
        .config()
        .clone()
        .set("engine", "storage_dir", &path_text(&movies));
    engine.rewrite_config(&broken);
    let mark = engine.notify().mark();

    // Act
    engine.hup();

    // Assert
    engine.wait_notify(mark, "READY=1 with the reload rolled back", |d| {
        d.has("READY=1")
            && d.get("STATUS").is_some_and(|s| {
                s.starts_with("reload failed")
                    && s.contains("storage_dir")
                    && s.contains("Read-only file system")
            })
    });
    eventually("only the old workers left", || {
        let now = engine.worker_pids();
        ensure(now == before, || format!("{now:?} != {before:?}"))
    });
    load.wait_progress(50);
    load.stop()
        .assert_no_failures("during the rolled-back reload");
    let answer = cluster.get(&path);
    assert_eq!(answer.status, 200, "{}", answer.text());
}

#[test]
fn config_check_refuses_a_storage_dir_that_cannot_hold_movies_and_says_why() {
    // Arrange
    let root = TempDir::new();
    let read_only_dir = root.join("read-only");
    let _read_only = Tmpfs::mount(&read_only_dir, "size=1m,ro");
    let file = root.join("a-file");
    std::fs::write(&file, b"not a directory").expect("write a file");
    let cases = [
        (
            read_only_dir.clone(),
            "is not writable: Read-only file system",
        ),
        (
            file.join("movies"),
            "does not exist and cannot be created: Not a directory",
        ),
        (file.clone(), "is not a directory"),
    ];

    for (dir, reason) in cases {
        // Act
        let conf = root.join("check.conf");
        std::fs::write(
            &conf,
            format!(
                "[api]\nauth_strategy = noauth\n[engine]\nstorage_dir = {}\n",
                dir.display()
            ),
        )
        .expect("write the config file");
        let output = run(Command::new(bin("pymsboot-manage"))
            .arg("--config-file")
            .arg(&conf)
            .args(["config", "check"]));

        // Assert
        assert_eq!(output.status.code(), Some(2), "{}", text(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        let expected = format!(
            "[engine] storage_dir = '{}': the directory {reason}",
            dir.display()
        );
        assert!(stderr.contains(&expected), "want {expected:?} in {stderr}");
    }

    // A directory that does not exist yet is fine, and is not created by the check.
    let later = root.join("later/movies");
    let conf = root.join("check.conf");
    std::fs::write(
        &conf,
        format!(
            "[api]\nauth_strategy = noauth\n[engine]\nstorage_dir = {}\n",
            later.display()
        ),
    )
    .expect("write the config file");
    let output = run(Command::new(bin("pymsboot-manage"))
        .arg("--config-file")
        .arg(&conf)
        .args(["config", "check"]));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(!later.exists(), "config check created {}", later.display());
}

#[test]
fn healthcheck_answers_503_with_the_reason_while_storage_is_read_only_and_200_once_fixed() {
    // Arrange
    let files = FileServer::start();
    let file = files.add("after-the-fix.bin", 64 * 1024);
    let cluster = Cluster::start_with(Backend::Sqlite, |c| {
        c.set("engine", "storage_check_interval", "1")
    });
    let storage = cluster.storage_dir().to_owned();

    // Act: the directory turns read-only under the running engine.
    let read_only = Tmpfs::mount(&storage, "size=1m,ro");

    // Assert
    let body = eventually("GET /healthcheck to answer 503 with the reason", || {
        let response = cluster.get("/healthcheck");
        let body = response.text();
        ensure(
            response.status == 503 && body.starts_with("engine storage unavailable:"),
            || format!("{} {body}", response.status),
        )
        .map(|()| body)
    });
    assert_eq!(
        body,
        "engine storage unavailable: the storage directory is not writable: \
         Read-only file system (os error 30)"
    );
    assert!(!body.contains(&path_text(&storage)), "{body}");
    // Every worker has seen it before a download could be claimed.
    eventually("every engine worker to log the storage problem", || {
        let workers = cluster.engine().worker_pids();
        let lines = cluster.engine().log_lines();
        let seen = workers.iter().all(|pid| {
            lines.iter().any(|l| {
                l.pid == *pid && l.level == "ERROR" && l.message.contains("no download is started")
            })
        });
        ensure(seen, || format!("workers {workers:?}"))
    });
    // A movie accepted meanwhile waits instead of failing.
    let id = cluster.create(&json!({"name": "Accepted while broken", "url": file.url}))["id"]
        .as_str()
        .expect("an id")
        .to_owned();

    // Act: the operator fixes it.
    drop(read_only);

    // Assert
    eventually("GET /healthcheck to answer 200 OK", || {
        let response = cluster.get("/healthcheck");
        let body = response.text();
        ensure(response.status == 200 && body == "OK", || {
            format!("{} {body}", response.status)
        })
    });
    let done = cluster.wait_downloaded(&id);
    assert_eq!(done["checksum"], file.checksum().as_str(), "{done}");
}

#[test]
fn a_download_the_disk_cannot_hold_fails_without_showing_the_servers_path() {
    // Arrange: a storage directory of 1 MiB, a file of 4 MiB.
    let root = TempDir::new();
    let movies = root.join("movies");
    let _small = Tmpfs::mount(&movies, "size=1m");
    let files = FileServer::start();
    let big = files.add("big.bin", 4 * 1024 * 1024);
    let cluster = Cluster::start_with(Backend::Sqlite, |c| {
        c.set("engine", "storage_dir", &path_text(&movies))
    });

    // Act
    let id = cluster.create(&json!({"name": "Too big for the disk", "url": big.url}))["id"]
        .as_str()
        .expect("an id")
        .to_owned();

    // Assert: the client reads what failed, not where.
    let failed = cluster.wait_movie(&id, "error", |m| m["state"] == "error");
    assert_eq!(
        failed["error"], "the engine cannot write to its storage directory",
        "{failed}"
    );
    let listed = cluster.list_movies("").text();
    assert!(!listed.contains(&path_text(&movies)), "{listed}");
    // The operator reads both in the engine's log.
    eventually("the path and the system error in the engine's log", || {
        ensure(
            cluster.engine().log_lines().iter().any(|l| {
                l.level == "ERROR"
                    && l.message.contains(&path_text(&movies))
                    && l.message.contains("No space left on device")
            }),
            || "not yet".to_string(),
        )
    });
}
