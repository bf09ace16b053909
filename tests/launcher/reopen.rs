//! SIGUSR1 after a rename: every process moves to the new log file and no
//! line is lost or written twice.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::harness::cluster::{Api, ApiConfig};
use crate::harness::eventually::{ensure, eventually};
use crate::harness::load::{Load, Mode};
use crate::harness::logs::{self, LogLine};
use crate::harness::trace;

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
        eventually("a line from every worker in the new api.log", || {
            let writers: BTreeSet<i32> = api.log_lines().iter().map(|l| l.pid).collect();
            ensure(workers.is_subset(&writers), || {
                format!("writers {writers:?}, workers {workers:?}")
            })
        });
        load.wait_progress(100);
    }
    let report = load.stop();
    trace!("{} requests served across 3 rotations", report.ok.len());
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
    let counts = logs::access_line_counts(&report.ok, union);
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
