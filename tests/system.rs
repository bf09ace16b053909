//! The whole system as an operator runs it: systemd's notify protocol from
//! both services, the shipped logrotate file under load, and the README's
//! quick start followed word for word.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use engine::test_util::Backend;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::json;

use crate::harness::cluster::{Api, ApiConfig, Cluster, json_request};
use crate::harness::dir::TempDir;
use crate::harness::eventually::{ensure, eventually, eventually_within};
use crate::harness::files::FileServer;
use crate::harness::http::{self, Request};
use crate::harness::load::{Load, Mode};
use crate::harness::logs;

#[test]
fn both_services_tell_systemd_ready_reloading_and_stopping() {
    let mut cluster = Cluster::start(Backend::Sqlite);
    for engine in [true, false] {
        let service = if engine {
            cluster.engine_mut()
        } else {
            cluster.api_mut()
        };
        let program = service.program().binary();
        let start =
            service.wait_notify(0, &format!("READY=1 from {program}"), |d| d.has("READY=1"));

        service.hup();
        let reloading = service.wait_notify(start + 1, "RELOADING=1", |d| {
            d.has("RELOADING=1")
                && d.get("MONOTONIC_USEC")
                    .is_some_and(|v| v.parse::<u64>().is_ok())
        });
        let ready = service.wait_notify(reloading + 1, "READY=1 after the reload", |d| {
            d.has("READY=1")
        });
        service.term();
        // The service may be gone by the time we look: read the socket only.
        service
            .notify()
            .wait_for(ready + 1, "STOPPING=1", |d| d.has("STOPPING=1"));

        assert!(
            service.wait_exit().success(),
            "{program} did not stop cleanly"
        );
    }
}

#[test]
fn the_shipped_logrotate_file_rotates_under_load_without_losing_or_doubling_a_line() {
    let api = Api::start(ApiConfig::default().workers(2));
    let config = api.dir().join("logrotate.conf");
    std::fs::write(&config, rotate_config(api.dir(), api.pid_path()))
        .expect("write logrotate.conf");
    let state = api.dir().join("logrotate.state");
    let load = Load::start(api.port(), &[Mode::Close, Mode::KeepAlive]);
    load.wait_progress(20);

    for rotation in 1..=4 {
        let out = Command::new("logrotate")
            .arg("-f")
            .arg("-s")
            .arg(&state)
            .arg(&config)
            .output()
            .expect("run logrotate");
        assert!(
            out.status.success(),
            "logrotate failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The master says so in the new file once it has reopened; the
        // workers follow the signal it forwards.
        let workers = api.worker_pids();
        eventually(
            &format!("every process writing to the new api.log after rotation {rotation}"),
            || {
                let lines = api.log_lines();
                let reopened = lines
                    .iter()
                    .any(|l| l.message.contains("log file reopened"));
                let writers: std::collections::BTreeSet<i32> =
                    lines.iter().map(|l| l.pid).collect();
                ensure(reopened && workers.is_subset(&writers), || {
                    format!("writers {writers:?}")
                })
            },
        );
        load.wait_progress(50);
    }
    let report = load.stop();

    assert!(
        report.failures.is_empty(),
        "failed requests: {:?}",
        report.failures
    );
    let counts = logs::access_line_counts(&report.ok, || all_rotated_lines(api.dir()));
    let doubled: Vec<_> = report.ok.iter().filter(|id| counts[*id] != 1).collect();
    assert!(
        doubled.is_empty(),
        "requests logged more than once: {doubled:?}"
    );
    assert!(
        api.dir().join("api.log.2.gz").exists(),
        "older rotations are compressed"
    );
}

/// The shipped file, its paths moved into `dir` and its owner made root
/// (the `pymsboot` user does not exist on a test machine).
fn rotate_config(dir: &Path, pid_file: &Path) -> String {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("resources/pymsboot_log_rotate");
    std::fs::read_to_string(shipped)
        .expect("resources/pymsboot_log_rotate")
        .replace(
            "/var/log/pymsboot/*.log",
            &format!("{}/api.log", dir.display()),
        )
        .replace("create 0640 pymsboot pymsboot", "create 0640 root root")
        .replace(
            "/run/pymsboot/pymsboot-api.pid",
            &pid_file.display().to_string(),
        )
        .replace(
            "/run/pymsboot/pymsboot-engine.pid",
            &dir.join("no-engine.pid").display().to_string(),
        )
}

/// Every line of `api.log` and its rotations, compressed or not.
fn all_rotated_lines(dir: &Path) -> Vec<logs::LogLine> {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).expect("read the test dir").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("api.log") {
            continue;
        }
        if name.ends_with(".gz") {
            let out = Command::new("gzip")
                .arg("-dc")
                .arg(entry.path())
                .output()
                .expect("gzip -dc");
            text.push_str(&String::from_utf8_lossy(&out.stdout));
        } else {
            text.push_str(&logs::read_text(&entry.path()));
        }
    }
    logs::parse_all(&text)
}

/// The quick start's first command, exactly as the README writes it.
fn readme_run_command() -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let block = readme
        .split("```sh\n")
        .nth(1)
        .expect("a sh block in the README");
    let first = block.lines().next().expect("a first command");
    first
        .split('#')
        .next()
        .expect("a command")
        .trim()
        .to_string()
}

#[test]
fn the_readme_quick_start_runs_the_system_and_its_walk_through_works() {
    // A copy of the repository, as a new user would have it.
    let copy = TempDir::new();
    copy_tree(Path::new(env!("CARGO_MANIFEST_DIR")), copy.path());
    let command = readme_run_command();
    assert_eq!(command, "make run");
    let log = std::fs::File::create(copy.join("run.log")).expect("run.log");
    let mut run = Command::new("sh")
        .arg("-c")
        .arg(&command)
        .current_dir(copy.path())
        // Reuse this build's dependencies: the copy compiles only its own crates.
        .env("CARGO_TARGET_DIR", target_dir())
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .process_group(0)
        .spawn()
        .expect("start the quick start");
    let group = Pid::from_raw(i32::try_from(run.id()).expect("pid"));
    let stop = scopeguard(group);

    // The build may take minutes: wait on the health check, not a clock.
    eventually_within(
        Duration::from_secs(1800),
        "the quick start's API to be healthy",
        || {
            assert!(
                run.try_wait().expect("wait").is_none(),
                "make run ended: {}",
                tail(&copy.join("run.log"))
            );
            let response = http::get(9666, "/healthcheck").map_err(|e| e.to_string())?;
            ensure(response.status == 200, || response.text())
        },
    );

    let files = FileServer::start();
    let film = files.add("alien.mp4", 5_000_000);
    let created = http::send(
        9666,
        json_request(
            "POST",
            "/v1/movies",
            &json!({"name": "Alien", "url": film.url, "rank": 5}),
        ),
    )
    .expect("POST /v1/movies");
    assert_eq!(created.status, 202, "{}", created.text());
    let location = created.header("location").expect("Location").to_string();
    let id = created.json()["id"].as_str().expect("id").to_string();
    assert!(location.ends_with(&format!("/v1/movies/{id}")));
    let movie = eventually("the movie to be downloaded", || {
        let movie = http::get(9666, &format!("/v1/movies/{id}"))
            .map_err(|e| e.to_string())?
            .json();
        ensure(movie["state"] == "downloaded", || movie.to_string()).map(|()| movie)
    });
    assert_eq!(movie["checksum"], json!(film.checksum()));
    let listed = http::get(9666, "/v1/movies?sort_key=rank&sort_dir=desc&limit=10")
        .expect("list")
        .json();
    assert!(
        listed["movies"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["id"] == json!(id)))
    );
    let deleted =
        http::send(9666, Request::new("DELETE", &format!("/v1/movies/{id}"))).expect("DELETE");
    assert_eq!(deleted.status, 204);
    assert!(
        !copy.join(&format!("var/movies/{id}")).exists(),
        "the file is removed"
    );

    // SIGTERM, as an init system or a terminal would send it to the group.
    drop(stop);
    // make itself dies of the signal; what counts is how the services ended.
    eventually("make run to end", || {
        run.try_wait()
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "running".to_string())
    });
    for program in ["pymsboot-api", "pymsboot-engine"] {
        let log_path = copy.join(&format!("var/log/{program}.log"));
        let log = eventually(&format!("{program} to stop"), || {
            let log = std::fs::read_to_string(&log_path).map_err(|e| e.to_string())?;
            ensure(log.contains("all workers exited; master stops"), || {
                tail(&log_path)
            })
            .map(|()| log)
        });
        assert!(!log.contains(" ERROR "), "{program} logged errors:\n{log}");
        assert!(
            !log.contains("immediate stop"),
            "{program} was not stopped gracefully"
        );
        assert!(
            !copy.join(&format!("var/{program}.pid")).exists(),
            "{program} left its pid file"
        );
    }
}

/// Sends SIGTERM to the quick start's process group when dropped (also
/// when the test fails), so nothing is left listening on 9666.
fn scopeguard(group: Pid) -> impl Drop {
    struct Term(Pid);
    impl Drop for Term {
        fn drop(&mut self) {
            let _ = killpg(self.0, Signal::SIGTERM);
        }
    }
    Term(group)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// Copies the tracked files of the repository (what a clone would have).
fn copy_tree(from: &Path, to: &Path) {
    let listed = Command::new("git")
        .arg("-C")
        .arg(from)
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .output()
        .expect("git ls-files");
    for name in listed.stdout.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name);
        let (source, target) = (from.join(&*name), to.join(&*name));
        if !source.is_file() {
            continue;
        }
        std::fs::create_dir_all(target.parent().expect("a parent")).expect("mkdir");
        std::fs::copy(&source, &target).unwrap_or_else(|e| panic!("copy {name}: {e}"));
    }
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .rev()
        .take(20)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_reload_whose_new_engines_never_become_ready_is_rolled_back() {
    // The new generation points at a broker nobody runs: its workers keep
    // trying to connect and never report ready.
    let mut cluster = Cluster::start_with(Backend::Sqlite, |c| c.graceful_shutdown_timeout(2));
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let broken = cluster.engine().config().clone().set(
        "DEFAULT",
        "transport_url",
        &format!("rabbit://guest:guest@127.0.0.1:{dead_port}//"),
    );
    let engine = cluster.engine_mut();
    let before = engine.worker_pids();
    engine.rewrite_config(&broken);
    let mark = engine.notify().mark();

    engine.hup();

    engine
        .notify()
        .wait_for(mark, "READY=1 with a failed reload", |d| {
            d.has("READY=1")
                && d.get("STATUS")
                    .is_some_and(|s| s.starts_with("reload failed"))
        });
    eventually("the rollback in the engine's log", || {
        ensure(engine.log_text().contains("reload rolled back"), || {
            "not yet".to_string()
        })
    });
    eventually("only the old workers left", || {
        let now = engine.worker_pids();
        ensure(now == before, || format!("{now:?} != {before:?}"))
    });
    // The old generation still serves the API.
    let created = cluster.create_movie(&json!({"name": "After", "url": "http://127.0.0.1:9/x"}));
    assert_eq!(created.status, 202, "{}", created.text());
}
