//! The pid file: its content, a second instance refused, two instances
//! started at the same instant, removal on exit, and a stale file left by a
//! killed master.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Barrier;

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use crate::harness::cluster::{Api, ApiConfig};
use crate::harness::dir::TempDir;
use crate::harness::eventually::{ensure, eventually};
use crate::harness::{bin, http, logs, run, trace};

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
    assert_eq!(api.get("/v1").expect("GET /v1").status, 200);

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
fn two_masters_started_at_the_same_instant_on_one_pid_file_exactly_one_runs() {
    // Several rounds: a race lost once in a while is still a race. Before the
    // lock was taken on the pid file itself, both masters ran in 4 of 5 tries.
    for round in 1..=5 {
        // Arrange: two masters on one pid file, each with its own config and log.
        let dir = TempDir::new();
        let pid_file = dir.join("api.pid");
        let launches = ["a", "b"].map(|name| Launch::new(&dir, name, &pid_file));

        // Act: both released at once.
        let barrier = Barrier::new(launches.len());
        let mut masters = std::thread::scope(|s| {
            launches
                .map(|launch| {
                    let barrier = &barrier;
                    s.spawn(move || {
                        barrier.wait();
                        launch.spawn()
                    })
                })
                .map(|handle| handle.join().expect("a spawning thread panicked"))
        });
        let exited = eventually(&format!("round {round}: one master to give up"), || {
            let exited: Vec<usize> = (0..masters.len())
                .filter(|&i| masters[i].try_exit().is_some())
                .collect();
            ensure(!exited.is_empty(), || {
                format!(
                    "masters {} and {} both still run",
                    masters[0].pid, masters[1].pid
                )
            })
            .map(|()| exited)
        });
        assert_eq!(
            exited.len(),
            1,
            "round {round}: both masters exited:\n{}\n{}",
            masters[0].said(),
            masters[1].said()
        );
        let [first, second] = masters;
        let (mut loser, mut survivor) = if exited[0] == 0 {
            (first, second)
        } else {
            (second, first)
        };
        trace!(
            "round {round}: master {} runs, master {} gave up",
            survivor.pid, loser.pid
        );

        // Assert: the loser refused, naming the survivor.
        let said = loser.said();
        let code = loser.try_exit().and_then(|status| status.code());
        assert_eq!(
            code,
            Some(1),
            "round {round}: the master that gave up: {said}"
        );
        let refusal = format!("already running (pid {}", survivor.pid);
        assert!(
            said.contains(&refusal),
            "round {round}: the refusal says {refusal:?}: {said}"
        );

        // Assert: the survivor serves and owns the pid file.
        let port = survivor.wait_listening();
        eventually(
            &format!("round {round}: the surviving master to answer GET /v1"),
            || {
                survivor.assert_running();
                let response = http::get(port, "/v1").map_err(|e| e.to_string())?;
                ensure(response.status == 200, || {
                    format!("{} {}", response.status, response.text())
                })
            },
        );
        let content = std::fs::read_to_string(&pid_file).expect("read the pid file");
        assert_eq!(
            content,
            format!("{}\n", survivor.pid),
            "round {round}: the pid file names the master that runs"
        );

        // Assert: the survivor stops cleanly and takes its pid file with it.
        kill(Pid::from_raw(survivor.pid), Signal::SIGTERM).expect("SIGTERM the survivor");
        let status = eventually(
            &format!("round {round}: the surviving master to exit"),
            || survivor.try_exit().ok_or("still running"),
        );
        assert!(
            status.success(),
            "round {round}: exit status {status}: {}",
            survivor.said()
        );
        assert!(
            !pid_file.exists(),
            "round {round}: the pid file is removed on exit"
        );
    }
}

/// A master ready to be started: its command, log file and stderr file.
struct Launch {
    command: Command,
    log: PathBuf,
    stderr: PathBuf,
}

impl Launch {
    /// `pymsboot-api` with config `<name>.conf` (logging to `<name>.log`,
    /// stderr to `<name>.stderr`) and `--pid-file pid_file`, in a process
    /// group of its own and without a `NOTIFY_SOCKET`.
    fn new(dir: &TempDir, name: &str, pid_file: &Path) -> Launch {
        let config = dir.join(&format!("{name}.conf"));
        let log = dir.join(&format!("{name}.log"));
        let stderr = dir.join(&format!("{name}.stderr"));
        std::fs::write(&config, ApiConfig::default().workers(1).render(&log))
            .expect("write the config file");
        let stderr_file = File::create(&stderr).expect("create the stderr file");
        let mut command = Command::new(bin("pymsboot-api"));
        command
            .arg("--config-file")
            .arg(&config)
            .arg("--pid-file")
            .arg(pid_file)
            .env_remove("NOTIFY_SOCKET")
            .env_remove("PYMSBOOT_FAULT_WORKER_BOOT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr_file)
            .process_group(0);
        Launch {
            command,
            log,
            stderr,
        }
    }

    fn spawn(mut self) -> Master {
        let child = self
            .command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn pymsboot-api: {e}"));
        Master {
            pid: i32::try_from(child.id()).expect("a pid fits in i32"),
            child,
            exit: None,
            log: self.log,
            stderr: self.stderr,
        }
    }
}

/// A master started by hand; dropping it SIGKILLs its whole process group,
/// so a failed round leaves nothing behind.
struct Master {
    pid: i32,
    child: Child,
    exit: Option<ExitStatus>,
    log: PathBuf,
    stderr: PathBuf,
}

impl Master {
    /// Its exit status, if it has exited (reaps it).
    fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().expect("poll the master");
        }
        self.exit
    }

    /// Panics with what it said if it has exited.
    fn assert_running(&mut self) {
        if let Some(status) = self.try_exit() {
            panic!("master {} exited with {status}: {}", self.pid, self.said());
        }
    }

    /// Its stderr followed by its log.
    fn said(&self) -> String {
        format!(
            "stderr:\n{}\nlog:\n{}",
            logs::read_text(&self.stderr),
            logs::read_text(&self.log)
        )
    }

    /// Waits while it runs for its `listening on 127.0.0.1:<port>` line; returns the port.
    fn wait_listening(&mut self) -> u16 {
        const LISTENING: &str = "listening on 127.0.0.1:";
        eventually("the master to log `listening on 127.0.0.1:<port>`", || {
            self.assert_running();
            logs::read_text(&self.log)
                .lines()
                .filter(|l| l.contains(" INFO "))
                .find_map(|l| {
                    let at = l.find(LISTENING)? + LISTENING.len();
                    let digits: String = l[at..].chars().take_while(char::is_ascii_digit).collect();
                    digits.parse::<u16>().ok().filter(|p| *p != 0)
                })
                .ok_or("no such line yet")
        })
    }
}

impl Drop for Master {
    fn drop(&mut self) {
        let _ = killpg(Pid::from_raw(self.pid), Signal::SIGKILL);
        if self.exit.is_none() {
            let _ = self.child.wait();
        }
    }
}
