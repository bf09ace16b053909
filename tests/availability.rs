//! The promise operators buy: no request fails because the service starts or
//! reloads, on the path users take (HTTP → RPC → engine → database), and a
//! generation that cannot get ready says why and can be replaced.
//!
//! - Reloads of both masters under load on the full path.
//! - A cold start with requests already waiting in the backlog; engine and
//!   API started at the same instant.
//! - API reloads that cannot work (dead broker, durable queues on an exchange
//!   that exists without) rolled back without a failed request.
//! - A first generation stuck on a dead broker: its reason in `STATUS=` and
//!   the state report, then superseded by a fixed configuration on SIGHUP.
//! - Reply queues of exited workers deleted, not left to expire.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use engine::test_util::Backend;
use serde_json::json;

use crate::harness::cluster::{Cluster, ServiceConfig};
use crate::harness::eventually::{ensure, eventually};
use crate::harness::http::{Connection, Request};
use crate::harness::load::{Load, Mode};
use crate::harness::trace;

/// Thirty-two clients, half on keep-alive connections, half on a new
/// connection per request (which the accept queue of a reload must not lose).
fn thirty_two_clients() -> Vec<Mode> {
    (0..32)
        .map(|i| {
            if i % 2 == 0 {
                Mode::KeepAlive
            } else {
                Mode::Close
            }
        })
        .collect()
}

/// A movie created through the API; its `GET` goes through the engine and the database.
fn seeded_movie_path(cluster: &Cluster) -> String {
    let movie = cluster.create(&json!({"name": "Seeded", "url": "http://127.0.0.1:9/seed"}));
    let id = movie["id"].as_str().expect("the movie's id");
    format!("/v1/movies/{id}")
}

fn five_reloads_of_both_masters_fail_no_request(workers: u32) {
    // Arrange
    let mut cluster = Cluster::start_with(Backend::Sqlite, |c| c.workers(workers));
    let path = seeded_movie_path(&cluster);
    let load = Load::start_on(cluster.port(), &path, &thirty_two_clients());
    load.wait_progress(200);

    // Act
    for round in 1..=5 {
        let engines = cluster.engine().worker_pids();
        let apis = cluster.api().worker_pids();
        let marks = (
            cluster.engine().notify().mark(),
            cluster.api().notify().mark(),
        );
        cluster.engine().hup();
        cluster.api().hup();
        cluster
            .engine_mut()
            .wait_workers(marks.0, workers as usize, &engines);
        cluster
            .api_mut()
            .wait_workers(marks.1, workers as usize, &apis);
        trace!("round {round}: both masters reloaded");
        load.wait_progress(200);
    }
    let report = load.stop();

    // Assert
    trace!("{} requests served across 5 reloads", report.ok.len());
    report.assert_no_failures("during reloads");
}

#[test]
fn five_reloads_of_both_masters_under_load_on_the_full_path_fail_no_request() {
    five_reloads_of_both_masters_fail_no_request(2);
}

#[test]
fn five_reloads_with_one_worker_each_under_load_on_the_full_path_fail_no_request() {
    five_reloads_of_both_masters_fail_no_request(1);
}

#[test]
fn requests_waiting_in_the_backlog_while_the_api_starts_all_get_200() {
    // Arrange: the engine serves; the API, on a fixed port, is stopped.
    let port = rpc::test_util::free_port();
    let mut cluster =
        Cluster::start_with(Backend::Sqlite, |c| c.set("api", "port", &port.to_string()));
    let path = seeded_movie_path(&cluster);
    cluster.api_mut().stop();

    // Act: 100 clients knock until the socket is bound, each then sends its
    // request at once, while the API's first workers boot.
    let statuses: Vec<Result<u16, String>> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..100)
            .map(|_| {
                let path = path.as_str();
                scope.spawn(move || {
                    let mut conn = eventually("the API's socket to accept", || {
                        let conn = Connection::open(port);
                        if conn.is_err() {
                            std::thread::sleep(Duration::from_millis(2));
                        }
                        conn
                    });
                    conn.send(&Request::get(path))
                        .map(|r| r.status)
                        .map_err(|e| e.to_string())
                })
            })
            .collect();
        cluster.api_mut().respawn();
        clients
            .into_iter()
            .map(|c| c.join().expect("client thread"))
            .collect()
    });

    // Assert
    let failed: Vec<_> = statuses.iter().filter(|s| **s != Ok(200)).collect();
    assert!(
        failed.is_empty(),
        "{} of 100 requests sent while the API started failed: {failed:?}",
        failed.len()
    );
}

#[test]
fn engine_and_api_started_at_the_same_instant_answer_the_first_request_without_a_timeout() {
    for round in 1..=3 {
        // Arrange: the RPC timeout is long, so a request published before
        // any engine consumes would show as a minute-long wait.
        let cluster = Cluster::spawn_together(Backend::Sqlite, |c| {
            c.set("DEFAULT", "rpc_response_timeout", "60")
        });

        // Act: the first request, as soon as the API's socket accepts.
        let started = Instant::now();
        let response = cluster.list_movies("");
        let took = started.elapsed();

        // Assert
        trace!(
            "round {round}: first request {} after {took:?}",
            response.status
        );
        assert_eq!(response.status, 200, "round {round}: {}", response.text());
        assert!(
            took < rpc::ROUTE_WAIT,
            "round {round}: the first request took {took:?}"
        );
    }
}

/// An API reload to `broken`, under load on the full path: rolled back
/// with `reason` in the log, no request failed, the old workers still serve.
fn api_reload_is_rolled_back(broken: impl FnOnce(ServiceConfig) -> ServiceConfig, reason: &str) {
    // Arrange
    let mut cluster = Cluster::start_with(Backend::Sqlite, |c| c.graceful_shutdown_timeout(3));
    let path = seeded_movie_path(&cluster);
    let load = Load::start_on(cluster.port(), &path, &thirty_two_clients());
    load.wait_progress(100);
    let api = cluster.api_mut();
    let before = api.worker_pids();
    api.rewrite_config(&broken(api.config().clone()));
    let mark = api.notify().mark();

    // Act
    api.hup();

    // Assert
    api.wait_notify(mark, "READY=1 with a failed reload", |d| {
        d.has("READY=1")
            && d.get("STATUS")
                .is_some_and(|s| s.starts_with("reload failed") && s.contains(reason))
    });
    let rollback = eventually("the rollback and its reason in the log", || {
        api.log_lines()
            .into_iter()
            .find(|l| l.message.contains("reload rolled back") && l.message.contains(reason))
            .ok_or("not yet")
    });
    trace!("{}", rollback.raw);
    eventually("only the old workers left", || {
        let now = api.worker_pids();
        ensure(now == before, || format!("{now:?} != {before:?}"))
    });
    load.wait_progress(100);
    let report = load.stop();
    report.assert_no_failures("during the rolled-back reload");
}

#[test]
fn an_engine_reload_to_a_database_url_it_cannot_use_is_rejected_before_any_fork() {
    // Arrange
    let mut cluster = Cluster::start(Backend::Sqlite);
    let path = seeded_movie_path(&cluster);
    let engine = cluster.engine_mut();
    let before = engine.worker_pids();
    let broken = engine.config().clone().set(
        "database",
        "connection",
        "postgresql://u:dbsecretpw@db.example:notaport/pymsboot",
    );
    engine.rewrite_config(&broken);
    let mark = engine.notify().mark();

    // Act
    engine.hup();

    // Assert: rejected as a configuration problem, no generation started.
    engine.wait_notify(mark, "READY=1 with a rejected reload", |d| {
        d.has("READY=1")
            && d.get("STATUS")
                .is_some_and(|s| s.starts_with("reload failed"))
    });
    let problem = eventually("the problem in the log", || {
        engine
            .log_lines()
            .into_iter()
            .find(|l| l.message.contains("[database] connection"))
            .ok_or("not yet")
    });
    assert!(!problem.raw.contains("dbsecretpw"), "{}", problem.raw);
    assert!(
        !engine.log_text().contains("generation 2"),
        "a generation was started"
    );
    assert_eq!(engine.worker_pids(), before);
    assert_eq!(cluster.request(Request::get(&path)).status, 200);
}

#[test]
fn an_api_reload_to_a_dead_broker_is_rolled_back_without_failing_a_request() {
    let dead = rpc::test_util::free_port();
    api_reload_is_rolled_back(
        |c| {
            c.set(
                "DEFAULT",
                "transport_url",
                &format!("rabbit://guest:guest@127.0.0.1:{dead}//"),
            )
        },
        "cannot connect to the message broker",
    );
}

#[test]
fn an_api_reload_to_durable_queues_on_an_existing_exchange_is_rolled_back_without_failing_a_request()
 {
    // The exchange exists, not durable: declaring it durable is refused.
    api_reload_is_rolled_back(
        |c| c.set("oslo_messaging_rabbit", "amqp_durable_queues", "true"),
        "inequivalent arg 'durable'",
    );
}

#[test]
fn a_start_stuck_on_a_dead_broker_says_why_then_a_fixed_config_and_sighup_serve() {
    // Arrange: both services pointed at a port nobody listens on.
    let dead = rpc::test_util::free_port();
    let dead_url = format!("rabbit://guest:guest@127.0.0.1:{dead}//");
    let mut cluster = Cluster::spawn_together(Backend::Sqlite, |c| {
        c.graceful_shutdown_timeout(2)
            .set("DEFAULT", "transport_url", &dead_url)
    });

    // Assert: the reason reaches systemd and, past the readiness deadline, the log.
    for service in cluster.services_mut() {
        service.wait_notify(0, "STATUS= with the reason", |d| {
            d.get("STATUS")
                .is_some_and(|s| s.contains("not ready: cannot connect to the message broker"))
        });
        eventually("the readiness deadline's ERROR line", || {
            ensure(
                service.log_lines().iter().any(|l| {
                    l.level == "ERROR"
                        && l.message.contains("generation 1 is not ready")
                        && l.message.contains("send SIGHUP")
                }),
                || "not yet".to_string(),
            )
        });
        service.usr2();
        eventually("the state report naming the reason", || {
            ensure(
                service.log_lines().iter().any(|l| {
                    l.message.contains("state report: worker")
                        && l.message.contains("not ready: cannot connect")
                }),
                || "not yet".to_string(),
            )
        });
    }

    // Act: the operator fixes the file and reloads.
    for service in cluster.services_mut() {
        let fixed = service.config().clone().set(
            "DEFAULT",
            "transport_url",
            "rabbit://guest:guest@127.0.0.1:5672//",
        );
        service.rewrite_config(&fixed);
        service.hup();
    }

    // Assert
    for service in cluster.services_mut() {
        service.wait_ready();
    }
    let created = cluster.create_movie(&json!({"name": "Fixed", "url": "http://127.0.0.1:9/x"}));
    assert_eq!(created.status, 202, "{}", created.text());
}

#[test]
fn after_fifty_reloads_under_load_no_reply_queue_of_an_exited_worker_is_left() {
    // Arrange
    let mut cluster = Cluster::start(Backend::Sqlite);
    let path = seeded_movie_path(&cluster);
    let load = Load::start_on(cluster.port(), &path, &[Mode::KeepAlive, Mode::Close]);
    load.wait_progress(20);

    // Act
    for _ in 0..50 {
        let before = cluster.api().worker_pids();
        let mark = cluster.api_mut().reload();
        cluster.api_mut().wait_workers(mark, 2, &before);
    }
    let report = load.stop();

    // Assert
    report.assert_no_failures("during 50 reloads");
    let serving = cluster.api().worker_pids();
    let exited: BTreeSet<String> = cluster
        .api()
        .log_lines()
        .into_iter()
        .filter(|l| l.message.contains("consuming replies") && !serving.contains(&l.pid))
        .filter_map(|l| {
            let at = l.raw.find("reply_")?;
            let name: String = l.raw[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            Some(name)
        })
        .collect();
    assert!(
        exited.len() >= 100,
        "only {} reply queues of exited workers logged",
        exited.len()
    );
    let left: Vec<&String> = exited.iter().filter(|q| queue_exists(q)).collect();
    assert!(left.is_empty(), "left on the broker: {left:?}");
}

/// Whether `queue` exists on the local broker.
fn queue_exists(queue: &str) -> bool {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(rpc::test_util::queue_exists(queue))
}
