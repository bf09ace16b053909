//! Workers sharing one port, replacement of a dead worker, crash-loop
//! backoff, the single-threaded master and resizing with SIGTTIN/SIGTTOU.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::{access_pids, burst, master_lines, mentions};
use crate::harness::cluster::{Api, ApiConfig, is_alive, threads};
use crate::harness::eventually::{consistently, ensure, eventually};
use crate::harness::load::{Load, Mode};
use crate::harness::trace;

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

// The fault variable exists only in debug builds of the workers, and the
// binaries under test are built with the profile of this test.
#[cfg(debug_assertions)]
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
fn sigttin_adds_a_worker_and_sigttou_removes_one_but_never_the_last_without_failing_a_request() {
    // Arrange
    let mut api = Api::start(ApiConfig::default().workers(2));
    let none = BTreeSet::new();
    let original = api.worker_pids();
    let load = Load::start(api.port(), &[Mode::KeepAlive, Mode::Close]);
    load.wait_progress(20);

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
        load.wait_progress(50);
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
    load.wait_progress(20);
    let report = load.stop();
    assert!(
        report.failures.is_empty(),
        "failed requests while resizing:\n{}",
        report.failures.join("\n")
    );
}

#[test]
fn zero_api_workers_means_one_worker_per_cpu() {
    // Arrange
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);

    // Act
    let api = Api::start(ApiConfig::default().workers(0));

    // Assert
    assert_eq!(
        api.worker_pids().len(),
        cpus,
        "api_workers = 0 on {cpus} CPUs"
    );
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
