//! SIGHUP: a new generation per reload without failing a request, a rejected
//! reload that keeps the old workers, and the `NOTIFY_SOCKET` protocol around it.

use super::{access_pids, burst};
use std::time::Duration;

use crate::harness::cluster::{Api, ApiConfig, is_alive};
use crate::harness::eventually::{consistently, ensure, eventually};
use crate::harness::http;
use crate::harness::load::{Load, Mode};
use crate::harness::trace;

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
        load.wait_progress(100);
    }
    let report = load.stop();
    trace!("{} requests served across 5 reloads", report.ok.len());

    // Assert
    report.assert_no_failures("during reloads");
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

#[test]
fn sighups_in_quick_succession_end_in_one_new_generation_and_never_stop_the_master() {
    // Arrange
    let mut api = Api::start(ApiConfig::default().workers(2));
    let before = api.worker_pids();
    let mark = api.notify().mark();

    // Act
    for _ in 0..3 {
        api.hup();
    }

    // Assert: each SIGHUP read supersedes the generation the one before it
    // was booting; only the last becomes ready, and it alone serves.
    let count = |api: &Api, line: &str| {
        api.notify()
            .since(mark)
            .iter()
            .filter(|d| d.has(line))
            .count()
    };
    eventually("a READY=1 after the last RELOADING=1", || {
        api.assert_running();
        let since = api.notify().since(mark);
        let last_reloading = since.iter().rposition(|d| d.has("RELOADING=1"));
        let ready_after =
            last_reloading.is_some_and(|at| since[at..].iter().any(|d| d.has("READY=1")));
        ensure(ready_after, || {
            format!("{:?}", crate::harness::notify::texts(&since))
        })
    });
    api.wait_workers(mark, 2, &before);
    consistently(
        Duration::from_secs(1),
        "no further reload, two workers, master up",
        || {
            let (reloading, workers) = (count(&api, "RELOADING=1"), api.worker_pids().len());
            ensure(
                (1..=3).contains(&reloading) && workers == 2 && is_alive(api.master_pid()),
                || format!("{reloading} reloads for 3 quick SIGHUPs, {workers} workers"),
            )
        },
    );
    burst(&api, 4);
}
