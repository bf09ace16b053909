//! The supervisor as an operator sees it: workers sharing one port, respawn
//! and crash-loop backoff, reloads, log reopening, graceful and forced stops,
//! worker-count signals, the pid file and the `NOTIFY_SOCKET` protocol.

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::harness::cluster::{Api, ApiConfig, is_alive, threads};
use crate::harness::dir::TempDir;
use crate::harness::eventually::{consistently, ensure, eventually, eventually_within};
use crate::harness::http::{self, Connection, Request};
use crate::harness::load::{Load, Mode};
use crate::harness::logs::{self, LogLine};
use crate::harness::{bin, run, trace};

/// Sends `n` concurrent `GET /v1` on fresh connections; each must get a 200.
fn burst(api: &Api, n: usize) {
    let port = api.port();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|_| s.spawn(move || http::get(port, "/v1")))
            .collect();
        for handle in handles {
            let response = handle
                .join()
                .expect("a client thread panicked")
                .expect("GET /v1");
            assert_eq!(response.status, 200, "GET /v1: {}", response.text());
        }
    });
}

/// Pids that wrote an access line to the current log file.
fn access_pids(api: &Api) -> BTreeSet<i32> {
    api.log_lines()
        .iter()
        .filter(|l| l.access().is_some())
        .map(|l| l.pid)
        .collect()
}

/// Lines of the master matching `pred`.
fn master_lines(api: &Api, pred: impl Fn(&LogLine) -> bool) -> Vec<LogLine> {
    let master = api.master_pid();
    api.log_lines()
        .into_iter()
        .filter(|l| l.pid == master && pred(l))
        .collect()
}

fn mentions(line: &LogLine, words: &[&str]) -> bool {
    let message = line.message.to_lowercase();
    words.iter().all(|w| message.contains(w))
}

#[test]
fn several_workers_accept_on_one_port() {
    // Arrange
    let mut api = Api::start(ApiConfig::default().workers(2));
    let workers = api.worker_pids();
    assert_eq!(workers.len(), 2, "two workers after READY=1");

    // Act: keep sending bursts until two different workers have answered.
    let served = eventually("requests answered by two different workers", || {
        api.assert_running();
        burst(&api, 8);
        let pids = access_pids(&api);
        ensure(pids.len() >= 2, || {
            format!("access lines only from {pids:?}")
        })
        .map(|()| pids)
    });

    // Assert
    assert!(
        served.is_subset(&workers),
        "access lines from {served:?}, workers are {workers:?}"
    );
    assert!(
        !served.contains(&api.master_pid()),
        "the master never serves"
    );
}

#[test]
fn a_killed_worker_is_replaced_and_the_replacement_serves() {
    // Arrange
    let mut api = Api::start(ApiConfig::default().workers(2));
    let before = api.worker_pids();
    let mark = api.notify().mark();

    // Act
    let victim = api.kill_worker();
    let after = api.wait_workers(mark, 2, &BTreeSet::from([victim]));

    // Assert
    let new: Vec<i32> = after.difference(&before).copied().collect();
    assert_eq!(
        new.len(),
        1,
        "exactly one new worker: before {before:?}, after {after:?}"
    );
    let replacement = new[0];
    eventually("the replacement to serve a request", || {
        burst(&api, 8);
        ensure(access_pids(&api).contains(&replacement), || {
            format!("nothing from {replacement} yet")
        })
    });
    assert!(is_alive(api.master_pid()));
}

#[test]
fn a_crash_looping_worker_backs_off_and_sigterm_still_stops_the_master() {
    // Arrange: every worker of this master exits 1 right after fork.
    let mut api = Api::spawn(
        ApiConfig::default()
            .workers(1)
            .env("PYMSBOOT_FAULT_WORKER_BOOT", "exit"),
    );
    eventually("the master to log that it is backing off", || {
        api.assert_running();
        ensure(
            !master_lines(&api, |l| mentions(l, &["backing off"])).is_empty(),
            || crate::harness::cluster::tail(&api.log_text(), 10),
        )
    });
    let exits = |api: &Api| {
        master_lines(api, |l| {
            mentions(l, &["exit"]) && !mentions(l, &["backing off"])
        })
        .len()
    };
    let backoffs = |api: &Api| master_lines(api, |l| mentions(l, &["backing off"])).len();
    let (exits_before, backoffs_before) = (exits(&api), backoffs(&api));

    // Act: watch the loop for a measurement window.
    std::thread::sleep(Duration::from_secs(3));
    let (exits_in_window, backoffs_in_window) =
        (exits(&api) - exits_before, backoffs(&api) - backoffs_before);

    // Assert: far below what spinning would give, still respawning, master up.
    trace!("in 3 s: {exits_in_window} exit lines, {backoffs_in_window} backing-off lines");
    api.assert_running();
    assert!(
        exits_in_window <= 15 && backoffs_in_window <= 15,
        "{exits_in_window} exits and {backoffs_in_window} back-offs logged in 3 s for one slot"
    );
    assert!(
        exits_in_window + backoffs_in_window >= 1,
        "the master stopped respawning the slot:\n{}",
        crate::harness::cluster::tail(&api.log_text(), 20)
    );
    assert!(
        !api.notify().all().iter().any(|d| d.has("READY=1")),
        "READY=1 sent although no worker ever became ready"
    );

    // Act: SIGTERM while a respawn is being delayed.
    let asked = Instant::now();
    let status = api.stop();

    // Assert
    trace!("master exited {:?} after SIGTERM", asked.elapsed());
    assert!(
        status.success(),
        "exit status {status} after SIGTERM during backoff"
    );
}

#[test]
fn five_reloads_under_load_fail_no_request_start_new_generations_and_apply_debug() {
    // Arrange
    let config = ApiConfig::default().workers(2);
    let mut api = Api::start(config.clone());
    let load = Load::start(
        api.port(),
        &[Mode::KeepAlive, Mode::KeepAlive, Mode::Close, Mode::Close],
    );
    load.wait_progress(20);
    let mut generation = api.worker_pids();

    // Act: five reloads; `debug = true` from the third on.
    for round in 1..=5 {
        let debug = round >= 3;
        if round == 3 {
            let debug_lines = api
                .log_lines()
                .into_iter()
                .filter(|l| l.level == "DEBUG")
                .count();
            assert_eq!(debug_lines, 0, "DEBUG lines written while debug = false");
        }
        api.rewrite_config(&config.clone().debug(debug));
        let mark = api.reload();
        let next = api.wait_workers(mark, 2, &generation);
        trace!("reload {round}: {generation:?} -> {next:?}");
        generation = next;
        load.wait_progress(20);
    }
    let report = load.stop();

    // Assert
    assert!(
        report.failures.is_empty(),
        "{} of {} requests failed during reloads:\n{}",
        report.failures.len(),
        report.failures.len() + report.ok.len(),
        report.failures.join("\n")
    );
    eventually("a DEBUG line from a worker of the last generation", || {
        http::get(api.port(), "/v1").map_err(|e| e.to_string())?;
        let lines = api.log_lines();
        ensure(
            lines
                .iter()
                .any(|l| l.level == "DEBUG" && generation.contains(&l.pid)),
            || format!("no DEBUG line from {generation:?}"),
        )
    });
}

#[test]
fn a_bad_value_on_reload_keeps_the_old_workers_and_logs_the_problem() {
    // Arrange
    let config = ApiConfig::default().workers(2);
    let mut api = Api::start(config.clone());
    let before = api.worker_pids();
    api.rewrite_config(&config.set("api", "api_workers", "many"));

    // Act
    let mark = api.reload();

    // Assert
    api.wait_notify(mark, "STATUS=reload failed: ...", |d| {
        d.get("STATUS")
            .is_some_and(|s| s.starts_with("reload failed"))
    });
    let path = api.config_path().display().to_string();
    let problem = eventually(
        "an ERROR line naming the file, the option and the value",
        || {
            api.log_lines()
                .into_iter()
                .find(|l| {
                    l.level == "ERROR"
                        && l.raw.contains(&path)
                        && l.raw.contains("[api] api_workers")
                        && l.raw.contains("many")
                })
                .ok_or("not yet")
        },
    );
    trace!("{}", problem.raw);
    assert_eq!(
        api.worker_pids(),
        before,
        "the old workers keep serving with the same pids"
    );
    burst(&api, 4);
    let served = access_pids(&api);
    assert!(
        served.is_subset(&before),
        "served by {served:?}, old workers {before:?}"
    );
}

#[test]
fn sigusr1_after_renaming_moves_every_process_to_the_new_file_without_losing_a_line() {
    // Arrange
    let mut api = Api::start(ApiConfig::default().workers(2));
    let load = Load::start(api.port(), &[Mode::Close, Mode::Close, Mode::KeepAlive]);
    load.wait_progress(20);
    let master = api.master_pid();
    let mut files = Vec::new();

    // Act: three rotations under load.
    for k in 1..=3 {
        let rotated = api.dir().join(format!("api.log.{k}"));
        std::fs::rename(api.log_path(), &rotated).expect("rename api.log");
        files.push(rotated);
        api.usr1();
        let mut last_ask = Instant::now() - Duration::from_secs(1);
        eventually("a line from the master in the new api.log", || {
            api.assert_running();
            if last_ask.elapsed() > Duration::from_millis(300) {
                api.usr2();
                last_ask = Instant::now();
            }
            ensure(api.log_lines().iter().any(|l| l.pid == master), || {
                "none yet".to_owned()
            })
        });
        let workers = api.worker_pids();
        eventually(
            "an access line from every worker in the new api.log",
            || {
                let writers: BTreeSet<i32> = api.log_lines().iter().map(|l| l.pid).collect();
                ensure(workers.is_subset(&writers), || {
                    format!("writers {writers:?}, workers {workers:?}")
                })
            },
        );
    }
    let report = load.stop();
    files.push(api.log_path().to_path_buf());

    // Assert
    assert!(
        report.failures.is_empty(),
        "failed requests:\n{}",
        report.failures.join("\n")
    );
    let union = || -> Vec<LogLine> {
        files
            .iter()
            .flat_map(|f| logs::parse_all(&logs::read_text(f)))
            .collect()
    };
    let counts = eventually("an access line for every successful request", || {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for line in union() {
            if let (Some(id), Some(_)) = (line.request_id(), line.access()) {
                *counts.entry(id.to_owned()).or_default() += 1;
            }
        }
        let missing = report
            .ok
            .iter()
            .filter(|id| !counts.contains_key(*id))
            .count();
        ensure(missing == 0, || {
            format!(
                "{missing} of {} request ids have no access line",
                report.ok.len()
            )
        })
        .map(|()| counts)
    });
    let twice: Vec<_> = report.ok.iter().filter(|id| counts[*id] != 1).collect();
    assert!(
        twice.is_empty(),
        "access lines written more than once: {twice:?}"
    );
    let mut seen = BTreeSet::new();
    let duplicated: Vec<String> = union()
        .into_iter()
        .map(|l| l.raw)
        .filter(|raw| !seen.insert(raw.clone()))
        .collect();
    assert!(
        duplicated.is_empty(),
        "lines present twice across the files: {duplicated:#?}"
    );
}

/// Opens a connection a worker has surely accepted (it answered on it), then
/// sends the head of a `POST /v1` announcing `len` body bytes and `sent` of them.
fn start_slow_request(api: &Api, len: usize, sent: usize) -> Connection {
    let mut conn = Connection::open(api.port()).expect("connect");
    let warmup = conn
        .send(&Request::get("/healthcheck"))
        .expect("GET /healthcheck");
    assert_eq!(warmup.status, 200);
    assert!(conn.is_open(), "the server closed a keep-alive connection");
    conn.write_head(
        &Request::new("POST", "/v1").header("Content-Type", "application/json"),
        len,
    )
    .expect("send the request head");
    conn.write_body(&vec![b' '; sent])
        .expect("send the start of the body");
    conn
}

#[test]
fn sigterm_lets_a_slow_request_in_flight_complete_then_exits_0() {
    // Arrange
    let mut api = Api::start(
        ApiConfig::default()
            .workers(2)
            .graceful_shutdown_timeout(15),
    );
    let body_len = 20;
    let mut conn = start_slow_request(&api, body_len, 5);
    let mark = api.notify().mark();

    // Act: stop the service, then trickle the rest of the body.
    api.term();
    api.notify().wait_line(mark, "STOPPING=1");
    for _ in 5..body_len {
        conn.write_body(b" ").expect("trickle the body");
        std::thread::sleep(Duration::from_millis(50));
    }
    let response = conn
        .read_response("POST")
        .expect("the in-flight request completes");
    let status = api.wait_exit();

    // Assert
    assert_eq!(
        response.status,
        405,
        "POST /v1 after its body arrived: {}",
        response.text()
    );
    assert!(
        response.closes(),
        "a response during the drain carries Connection: close"
    );
    assert!(status.success(), "exit status {status}");
    assert!(!api.pid_path().exists(), "the pid file is removed on exit");
    eventually("no process of the tree left", || {
        let left = api.process_group();
        ensure(left.is_empty(), || format!("{left:?}"))
    });
}

#[test]
fn a_request_that_never_ends_is_cut_at_graceful_shutdown_timeout_and_nothing_remains() {
    // Arrange
    let mut api = Api::start(ApiConfig::default().workers(2).graceful_shutdown_timeout(2));
    let workers = api.worker_pids();
    let _conn = start_slow_request(&api, 1000, 1);

    // Act
    let asked = Instant::now();
    api.term();
    let status = api.wait_exit();
    let took = asked.elapsed();

    // Assert
    trace!("master exited {took:?} after SIGTERM with a request stuck in flight");
    assert!(status.success(), "exit status {status}");
    assert!(
        took >= Duration::from_millis(1900),
        "exited after {took:?}, before the 2 s grace ended"
    );
    assert!(
        workers.iter().all(|w| !is_alive(*w)),
        "workers still alive after the master exited"
    );
    let left = api.process_group();
    assert!(left.is_empty(), "processes of the tree remain: {left:?}");
}

#[test]
fn a_second_sigterm_stops_at_once() {
    // Arrange: grace 0 waits forever for the stuck request.
    let mut api = Api::start(ApiConfig::default().workers(1).graceful_shutdown_timeout(0));
    let _conn = start_slow_request(&api, 1000, 1);
    let mark = api.notify().mark();
    api.term();
    api.notify().wait_line(mark, "STOPPING=1");
    assert!(
        api.try_exit().is_none(),
        "the first SIGTERM waits for the request in flight"
    );

    // Act
    api.term();

    // Assert
    api.wait_exit();
    eventually("no process of the tree left", || {
        let left = api.process_group();
        ensure(left.is_empty(), || format!("{left:?}"))
    });
}

#[test]
fn killing_the_master_takes_every_worker_down_and_frees_the_port() {
    // Arrange
    let mut api = Api::start(ApiConfig::default().workers(2));
    let workers = api.worker_pids();
    let port = api.port();

    // Act
    let killed = Instant::now();
    api.signal(Signal::SIGKILL);
    api.wait_exit();

    // Assert: the contract's bound is 2 s from the kill.
    let bound = Duration::from_secs(2).saturating_sub(killed.elapsed());
    eventually_within(
        bound,
        "every worker gone within 2 s of the master's SIGKILL",
        || {
            let alive: Vec<i32> = workers.iter().copied().filter(|w| is_alive(*w)).collect();
            ensure(alive.is_empty(), || format!("still alive: {alive:?}"))
        },
    );
    trace!(
        "workers gone {:?} after the master's SIGKILL",
        killed.elapsed()
    );
    TcpListener::bind(("127.0.0.1", port)).expect("the port can be bound again");
}

/// Runs `pymsboot-api` with a config file holding `text` (and nothing else).
fn api_with_config(text: &str) -> (TempDir, String, std::process::Output) {
    let dir = TempDir::new();
    let path = dir.join("a.conf");
    std::fs::write(&path, text).expect("write the config file");
    let output = run(Command::new(bin("pymsboot-api"))
        .arg("--config-file")
        .arg(&path));
    (dir, path.display().to_string(), output)
}

fn stderr_lines(output: &std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_bad_value_at_start_exits_2_with_one_line_naming_file_option_value_and_what_is_allowed() {
    // Arrange / Act
    let (_dir, path, output) = api_with_config("[api]\nhost = 127.0.0.1\nport = 99999\n");

    // Assert
    assert_eq!(
        output.status.code(),
        Some(2),
        "stderr: {:?}",
        stderr_lines(&output)
    );
    let lines = stderr_lines(&output);
    let line = lines
        .iter()
        .find(|l| l.contains(&path) && l.contains("[api] port") && l.contains("99999"))
        .unwrap_or_else(|| panic!("no line naming {path}, [api] port and 99999 in {lines:#?}"));
    assert!(
        line.contains("65535"),
        "the line says what is allowed: {line}"
    );
}

#[test]
fn every_bad_value_at_start_gets_its_own_line() {
    // Arrange / Act
    let (_dir, path, output) = api_with_config(
        "[DEFAULT]\ndebug = maybe\n\n[api]\nhost = 127.0.0.1\nport = 99999\napi_workers = many\n",
    );

    // Assert
    assert_eq!(output.status.code(), Some(2));
    let lines = stderr_lines(&output);
    for (option, value) in [
        ("[DEFAULT] debug", "maybe"),
        ("[api] port", "99999"),
        ("[api] api_workers", "many"),
    ] {
        let matching = lines
            .iter()
            .filter(|l| l.contains(&path) && l.contains(option) && l.contains(value))
            .count();
        assert_eq!(matching, 1, "one line for {option} = {value} in {lines:#?}");
    }
}

#[test]
fn a_missing_config_file_or_an_unknown_flag_exits_2() {
    let dir = TempDir::new();
    let missing = dir.join("nope.conf");
    let output = run(Command::new(bin("pymsboot-api"))
        .arg("--config-file")
        .arg(&missing));
    assert_eq!(
        output.status.code(),
        Some(2),
        "missing file: {:?}",
        stderr_lines(&output)
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(&missing.display().to_string()),
        "the error names the missing file: {:?}",
        stderr_lines(&output)
    );

    let output = run(Command::new(bin("pymsboot-api")).arg("--no-such-flag"));
    assert_eq!(
        output.status.code(),
        Some(2),
        "unknown flag: {:?}",
        stderr_lines(&output)
    );
}

#[test]
fn version_and_help_print_and_exit_0() {
    let version = run(Command::new(bin("pymsboot-api")).arg("--version"));
    assert_eq!(version.status.code(), Some(0));
    assert!(
        !String::from_utf8_lossy(&version.stdout).trim().is_empty(),
        "--version prints a version"
    );

    let help = run(Command::new(bin("pymsboot-api")).arg("--help"));
    assert_eq!(help.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&help.stdout).contains("--config-file"),
        "--help lists --config-file"
    );
}

#[test]
fn the_master_stays_single_threaded_after_start_reloads_and_respawns() {
    // Arrange
    let mut api = Api::start(ApiConfig::default().workers(2));
    let master = api.master_pid();
    assert_eq!(threads(master), Some(1), "threads after start");
    for worker in api.worker_pids() {
        let n = threads(worker).expect("a worker's thread count");
        assert!(n <= 4, "worker {worker} runs {n} threads");
    }

    // Act / Assert: reloads.
    let mut generation = api.worker_pids();
    for _ in 0..3 {
        let mark = api.reload();
        generation = api.wait_workers(mark, 2, &generation);
    }
    assert_eq!(threads(master), Some(1), "threads after 3 reloads");

    // Act / Assert: respawns.
    for _ in 0..5 {
        let mark = api.notify().mark();
        let victim = api.kill_worker();
        api.wait_workers(mark, 2, &BTreeSet::from([victim]));
    }
    assert_eq!(threads(master), Some(1), "threads after 5 respawns");
    for worker in api.worker_pids() {
        let n = threads(worker).expect("a worker's thread count");
        assert!(n <= 4, "worker {worker} runs {n} threads");
    }
}

#[test]
fn sigttin_adds_a_worker_and_sigttou_removes_one_but_never_the_last() {
    // Arrange
    let mut api = Api::start(ApiConfig::default().workers(2));
    let none = BTreeSet::new();
    let original = api.worker_pids();

    // Act / Assert
    let mark = api.notify().mark();
    api.ttin();
    let three = api.wait_workers(mark, 3, &none);
    assert!(
        original.is_subset(&three),
        "TTIN adds a worker and keeps the others"
    );

    for n in [2, 1] {
        let mark = api.notify().mark();
        api.ttou();
        api.wait_workers(mark, n, &none);
    }
    api.ttou();
    consistently(
        Duration::from_secs(1),
        "exactly one worker after TTOU at one",
        || {
            let pids = api.worker_pids();
            ensure(pids.len() == 1, || format!("{pids:?}"))
        },
    );
    burst(&api, 2);
}

#[test]
fn sigusr2_logs_a_state_report_and_kills_nothing() {
    // Arrange
    let mut api = Api::start(ApiConfig::default().workers(2));
    let before = api.worker_pids();

    // Act
    api.usr2();

    // Assert
    eventually("an INFO `state report` line from the master", || {
        api.assert_running();
        ensure(
            !master_lines(&api, |l| {
                l.level == "INFO" && mentions(l, &["state report"])
            })
            .is_empty(),
            || "none yet".to_owned(),
        )
    });
    assert_eq!(api.worker_pids(), before);
}

#[test]
fn operator_signals_sent_to_a_worker_do_not_kill_it() {
    // Arrange
    let mut api = Api::start(ApiConfig::default().workers(2));
    let before = api.worker_pids();
    let worker = *before.iter().next().expect("a worker");

    // Act
    for signal in [
        Signal::SIGHUP,
        Signal::SIGUSR2,
        Signal::SIGTTIN,
        Signal::SIGTTOU,
        Signal::SIGWINCH,
    ] {
        api.signal_worker(worker, signal);
    }
    api.signal(Signal::SIGWINCH);
    api.usr2();

    // Assert: once the master has answered the last signal, nothing has moved.
    eventually("the master's state report", || {
        api.assert_running();
        ensure(
            !master_lines(&api, |l| mentions(l, &["state report"])).is_empty(),
            || "none yet".to_owned(),
        )
    });
    consistently(
        Duration::from_secs(1),
        "the same workers, all alive",
        || {
            let pids = api.worker_pids();
            ensure(pids == before && is_alive(worker), || {
                format!("workers now {pids:?}")
            })
        },
    );
    burst(&api, 4);
}

#[test]
fn sigterm_to_one_worker_retires_it_and_the_master_replaces_it_without_stopping() {
    // Arrange
    let mut api = Api::start(ApiConfig::default().workers(2));
    let worker = *api.worker_pids().iter().next().expect("a worker");
    let mark = api.notify().mark();

    // Act
    api.signal_worker(worker, Signal::SIGTERM);

    // Assert
    api.wait_workers(mark, 2, &BTreeSet::from([worker]));
    assert!(
        !api.notify().since(mark).iter().any(|d| d.has("STOPPING=1")),
        "the master started stopping after one worker got SIGTERM"
    );
    burst(&api, 4);
}

#[test]
fn the_pid_file_holds_the_master_pid_blocks_a_second_instance_and_is_removed_on_exit() {
    // Arrange
    let mut api = Api::start(ApiConfig::default().workers(1));
    let master = api.master_pid();
    let content = std::fs::read_to_string(api.pid_path()).expect("read the pid file");
    assert_eq!(content, format!("{master}\n"));

    // Act: a second instance with the same pid file.
    let other = TempDir::new();
    let other_conf = other.join("b.conf");
    let other_log = other.join("b.log");
    std::fs::write(
        &other_conf,
        ApiConfig::default().workers(1).render(&other_log),
    )
    .expect("write b.conf");
    let output = run(Command::new(bin("pymsboot-api"))
        .arg("--config-file")
        .arg(&other_conf)
        .arg("--pid-file")
        .arg(api.pid_path()));

    // Assert
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stderr),
        logs::read_text(&other_log)
    );
    assert_eq!(output.status.code(), Some(1), "second instance: {said}");
    assert!(
        said.contains(&master.to_string()),
        "the refusal names pid {master}: {said}"
    );
    assert_eq!(
        std::fs::read_to_string(api.pid_path()).expect("pid file"),
        content
    );
    assert_eq!(
        api.get("/healthcheck").expect("GET /healthcheck").status,
        200
    );

    let status = api.stop();
    assert!(status.success(), "exit status {status}");
    assert!(!api.pid_path().exists(), "the pid file is removed on exit");
}

#[test]
fn a_pid_file_left_by_a_killed_master_does_not_block_a_restart() {
    // Arrange
    let dir = TempDir::new();
    let pid_file = dir.join("api.pid");
    let mut first = Api::start(ApiConfig::default().workers(1).pid_file(&pid_file));
    first.signal(Signal::SIGKILL);
    first.wait_exit();
    assert!(pid_file.exists(), "SIGKILL leaves the pid file behind");
    drop(first);

    // Act
    let mut second = Api::start(ApiConfig::default().workers(1).pid_file(&pid_file));

    // Assert
    let content = std::fs::read_to_string(&pid_file).expect("read the pid file");
    assert_eq!(content, format!("{}\n", second.master_pid()));
    assert!(second.stop().success());
    assert!(!pid_file.exists());
}

#[test]
fn the_notify_socket_sees_ready_reloading_and_stopping_from_the_master_only() {
    // Arrange
    let config = ApiConfig::default().workers(2);
    let mut api = Api::start(config.clone());

    // Assert: READY=1 means serving.
    assert_eq!(
        api.get("/v1").expect("GET /v1 right after READY=1").status,
        200
    );
    assert!(
        api.notify()
            .all()
            .iter()
            .any(|d| d.workers_ready().is_some_and(|(_, r, w)| r == 2 && w == 2)),
        "a STATUS with 2/2 workers ready"
    );

    // Act / Assert: a good reload.
    let mark = api.reload();
    let reloading = api
        .notify()
        .since(mark)
        .into_iter()
        .find(|d| d.has("RELOADING=1"))
        .expect("RELOADING=1");
    let usec = reloading
        .get("MONOTONIC_USEC")
        .expect("MONOTONIC_USEC with RELOADING=1");
    assert!(
        usec.parse::<u64>().is_ok_and(|n| n > 0),
        "MONOTONIC_USEC={usec}"
    );

    // Act / Assert: a rejected reload still ends with READY=1.
    api.rewrite_config(&config.set("DEFAULT", "debug", "maybe"));
    let mark = api.reload();
    api.wait_notify(mark, "STATUS=reload failed: ...", |d| {
        d.get("STATUS")
            .is_some_and(|s| s.starts_with("reload failed"))
    });

    // Act / Assert: stop.
    let mark = api.notify().mark();
    let status = api.stop();
    assert!(status.success());
    let after = api.notify().since(mark);
    assert!(
        after.first().is_some_and(|d| d.has("STOPPING=1")),
        "STOPPING=1 first: {after:?}"
    );

    let strangers: Vec<_> = api
        .notify()
        .all()
        .into_iter()
        .filter(|d| d.pid != Some(api.master_pid()))
        .collect();
    assert!(
        strangers.is_empty(),
        "datagrams not from the master: {strangers:?}"
    );
}
