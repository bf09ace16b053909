//! Operator signals that must not disturb anything: SIGUSR2 reports, and
//! signals sent to a worker do not kill it.

use std::time::Duration;

use nix::sys::signal::Signal;

use super::{burst, master_lines, mentions};
use crate::harness::cluster::{Api, ApiConfig, is_alive};
use crate::harness::eventually::{consistently, ensure, eventually};

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
