//! A service binary under test (`pymsboot-api` or `pymsboot-engine`): a
//! generated config in the test's own directory, port 0 for the API, a log
//! file, a pid file and a `NOTIFY_SOCKET` of our own; typed verbs for the
//! signals an operator sends; and a `Drop` that leaves no process behind.

use std::collections::BTreeSet;
use std::fs::File;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use super::dir::TempDir;
use super::eventually::{ensure, eventually};
use super::http::{self, Request, Response};
use super::logs::{self, LogLine};
use super::notify::{Datagram, Notify};
use super::{bin, trace};

/// Which service binary to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Program {
    /// `pymsboot-api`: listens on a port.
    Api,
    /// `pymsboot-engine`: consumes the engine topic; no port.
    Engine,
}

impl Program {
    /// The binary's name.
    pub(crate) fn binary(self) -> &'static str {
        match self {
            Program::Api => "pymsboot-api",
            Program::Engine => "pymsboot-engine",
        }
    }

    /// The short name used for the files in the test's directory.
    fn short(self) -> &'static str {
        match self {
            Program::Api => "api",
            Program::Engine => "engine",
        }
    }
}

/// What to put in the generated configuration file and environment.
#[derive(Clone, Debug)]
pub(crate) struct ServiceConfig {
    /// The binary to run with it.
    pub program: Program,
    /// `[api] api_workers` and `[engine] engine_workers`.
    pub workers: u32,
    /// `[DEFAULT] graceful_shutdown_timeout`, seconds.
    pub graceful_shutdown_timeout: u64,
    /// `[DEFAULT] debug`.
    pub debug: bool,
    /// Further `(section, option, value)` entries; they win over the above.
    pub extra: Vec<(String, String, String)>,
    /// Extra environment variables for the master.
    pub env: Vec<(String, String)>,
    /// A `--pid-file` other than the one in the test's directory.
    pub pid_file: Option<PathBuf>,
    /// A `log_file` other than the one in the test's directory.
    pub log_file: Option<PathBuf>,
    /// Extra command-line arguments after `--config-file` and `--pid-file`.
    pub args: Vec<String>,
    /// This test's own control exchange and engine topic, so no other test's
    /// engine ever answers it.
    pub isolation: String,
}

impl Default for ServiceConfig {
    fn default() -> ServiceConfig {
        ServiceConfig {
            program: Program::Api,
            workers: 2,
            graceful_shutdown_timeout: 15,
            debug: false,
            extra: Vec::new(),
            env: Vec::new(),
            pid_file: None,
            log_file: None,
            args: Vec::new(),
            isolation: super::unique_name("api"),
        }
    }
}

impl ServiceConfig {
    /// The same configuration, for `program`.
    pub(crate) fn program(mut self, program: Program) -> ServiceConfig {
        self.program = program;
        self
    }

    /// The control exchange this configuration isolates its RPC on.
    pub(crate) fn exchange(&self) -> String {
        format!("{}_exchange", self.isolation)
    }

    /// The engine topic this configuration isolates its RPC on.
    pub(crate) fn topic(&self) -> &str {
        &self.isolation
    }

    /// Sets the worker count of the program (`[api] api_workers` or
    /// `[engine] engine_workers`).
    pub(crate) fn workers(mut self, n: u32) -> ServiceConfig {
        self.workers = n;
        self
    }

    /// Sets `[DEFAULT] graceful_shutdown_timeout`.
    pub(crate) fn graceful_shutdown_timeout(mut self, seconds: u64) -> ServiceConfig {
        self.graceful_shutdown_timeout = seconds;
        self
    }

    /// Sets `[DEFAULT] debug`.
    pub(crate) fn debug(mut self, on: bool) -> ServiceConfig {
        self.debug = on;
        self
    }

    /// Sets any option, raw.
    pub(crate) fn set(mut self, section: &str, option: &str, value: &str) -> ServiceConfig {
        self.extra
            .push((section.into(), option.into(), value.into()));
        self
    }

    /// Adds an environment variable.
    pub(crate) fn env(mut self, name: &str, value: &str) -> ServiceConfig {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Uses `path` as `--pid-file`.
    pub(crate) fn pid_file(mut self, path: &Path) -> ServiceConfig {
        self.pid_file = Some(path.into());
        self
    }

    /// Logs to `path` instead of the test's directory.
    pub(crate) fn log_file(mut self, path: &Path) -> ServiceConfig {
        self.log_file = Some(path.into());
        self
    }

    /// Adds a command-line argument.
    pub(crate) fn arg(mut self, arg: &str) -> ServiceConfig {
        self.args.push(arg.into());
        self
    }

    /// The INI text, logging to `log_file`.
    pub(crate) fn render(&self, log_file: &Path) -> String {
        let mut sections: Vec<(String, Vec<(String, String)>)> = vec![
            (
                "DEFAULT".into(),
                vec![
                    ("debug".into(), self.debug.to_string()),
                    ("control_exchange".into(), self.exchange()),
                    ("log_file".into(), log_file.display().to_string()),
                    (
                        "graceful_shutdown_timeout".into(),
                        self.graceful_shutdown_timeout.to_string(),
                    ),
                ],
            ),
            (
                "api".into(),
                vec![
                    ("host".into(), "127.0.0.1".into()),
                    ("port".into(), "0".into()),
                    ("api_workers".into(), self.workers.to_string()),
                    // Most tests are not about identity; those that are set it.
                    ("auth_strategy".into(), "noauth".into()),
                ],
            ),
            (
                "engine".into(),
                vec![
                    ("topic".into(), self.isolation.clone()),
                    ("engine_workers".into(), self.workers.to_string()),
                ],
            ),
        ];
        for (section, option, value) in &self.extra {
            let index = match sections.iter().position(|(s, _)| s == section) {
                Some(i) => i,
                None => {
                    sections.push((section.clone(), Vec::new()));
                    sections.len() - 1
                }
            };
            let entries = &mut sections[index].1;
            entries.retain(|(o, _)| o != option);
            entries.push((option.clone(), value.clone()));
        }
        let mut text = String::new();
        for (section, entries) in sections {
            text.push_str(&format!("[{section}]\n"));
            for (option, value) in entries {
                text.push_str(&format!("{option} = {value}\n"));
            }
            text.push('\n');
        }
        text
    }
}

/// A running service master and its workers.
pub(crate) struct Service {
    program: Program,
    config: ServiceConfig,
    child: Child,
    exit: Option<ExitStatus>,
    master: i32,
    port: u16,
    config_path: PathBuf,
    log_path: PathBuf,
    pid_path: PathBuf,
    stderr_path: PathBuf,
    /// Where this run of the master starts in the log file and notify stream.
    log_mark: usize,
    ready_mark: usize,
    notify: Notify,
    dir: TempDir,
}

impl Service {
    /// Starts the service and waits for `READY=1`.
    pub(crate) fn start(config: ServiceConfig) -> Service {
        let mut service = Service::spawn(config);
        service.wait_ready();
        service
    }

    /// Starts the service and waits only until the API logs its listening
    /// port (the engine has none: it returns at once).
    pub(crate) fn spawn(config: ServiceConfig) -> Service {
        let dir = TempDir::new();
        let notify = Notify::bind(dir.path());
        let program = config.program;
        let short = program.short();
        let config_path = dir.join(&format!("{short}.conf"));
        let log_path = config
            .log_file
            .clone()
            .unwrap_or_else(|| dir.join(&format!("{short}.log")));
        let pid_path = config
            .pid_file
            .clone()
            .unwrap_or_else(|| dir.join(&format!("{short}.pid")));
        let stderr_path = dir.join("stderr.txt");
        write_atomically(&config_path, &config.render(&log_path));
        let child = spawn_master(program, &config, &config_path, &pid_path, &notify, &dir);
        let master = i32::try_from(child.id()).expect("a pid fits in i32");
        trace!(
            "{} master {master} in {}",
            program.binary(),
            dir.path().display()
        );
        let mut service = Service {
            program,
            config,
            child,
            exit: None,
            master,
            port: 0,
            config_path,
            log_path,
            pid_path,
            stderr_path,
            log_mark: 0,
            ready_mark: 0,
            notify,
            dir,
        };
        service.port = service.wait_listening();
        service
    }

    /// Starts the master again, in the same directory with the same
    /// configuration, log file and notify socket, once the previous one is
    /// gone; waits for its `READY=1`.
    ///
    /// # Panics
    /// When the previous master still runs.
    pub(crate) fn respawn(&mut self) {
        assert!(
            self.try_exit().is_some(),
            "{} master {} still runs",
            self.program.binary(),
            self.master
        );
        self.log_mark = self.log_text().len();
        self.ready_mark = self.notify.mark();
        self.child = spawn_master(
            self.program,
            &self.config,
            &self.config_path,
            &self.pid_path,
            &self.notify,
            &self.dir,
        );
        self.master = i32::try_from(self.child.id()).expect("a pid fits in i32");
        self.exit = None;
        trace!("{} master {} respawned", self.program.binary(), self.master);
        self.port = self.wait_listening();
        self.wait_ready();
    }

    /// SIGKILLs the master and every worker at once (the whole process
    /// group), then waits until none of them is left.
    pub(crate) fn kill_hard(&mut self) {
        trace!("SIGKILL -> process group {}", self.master);
        let _ = killpg(Pid::from_raw(self.master), Signal::SIGKILL);
        self.wait_exit();
        let group = self.master;
        eventually("every process of the killed group to be gone", || {
            let left = process_group_members(group);
            ensure(left.is_empty(), || format!("still alive: {left:?}"))
        });
    }

    /// Which binary this is.
    pub(crate) fn program(&self) -> Program {
        self.program
    }

    /// The configuration it was started with.
    pub(crate) fn config(&self) -> &ServiceConfig {
        &self.config
    }

    fn wait_listening(&mut self) -> u16 {
        if self.program != Program::Api {
            return 0;
        }
        let mark = self.log_mark;
        eventually("the master to log `listening on 127.0.0.1:<port>`", || {
            self.assert_running();
            let text = self.log_text();
            text.get(mark..)
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains(" INFO "))
                .find_map(|l| {
                    let at = l.find("listening on 127.0.0.1:")? + "listening on 127.0.0.1:".len();
                    let digits: String = l[at..].chars().take_while(char::is_ascii_digit).collect();
                    digits.parse::<u16>().ok().filter(|p| *p != 0)
                })
                .ok_or("no such line yet")
        })
    }

    /// Panics with the master's stderr and log tail if it has exited.
    pub(crate) fn assert_running(&mut self) {
        if let Some(status) = self.try_exit() {
            panic!(
                "{} exited unexpectedly with {status}\nstderr:\n{}\nlog tail:\n{}",
                self.program.binary(),
                logs::read_text(&self.stderr_path),
                tail(&self.log_text(), 40)
            );
        }
    }

    /// Waits for the first `READY=1` of the current master.
    pub(crate) fn wait_ready(&mut self) {
        let mark = self.ready_mark;
        self.wait_notify(mark, "READY=1", |d| d.has("READY=1"));
    }

    /// Waits, while the master runs, for a datagram after `mark` matching `pred`.
    pub(crate) fn wait_notify(
        &mut self,
        mark: usize,
        what: &str,
        pred: impl Fn(&Datagram) -> bool,
    ) -> usize {
        eventually(&format!("notify datagram {what}"), || {
            self.assert_running();
            let all = self.notify.all();
            all.iter()
                .enumerate()
                .skip(mark)
                .find(|(_, d)| pred(d))
                .map(|(i, _)| i)
                .ok_or_else(|| super::notify::texts(&all[mark.min(all.len())..]))
        })
    }

    /// The notify listener.
    pub(crate) fn notify(&self) -> &Notify {
        &self.notify
    }

    /// The port the workers serve on.
    ///
    /// # Panics
    /// For the engine, which listens on no port.
    pub(crate) fn port(&self) -> u16 {
        assert_eq!(self.program, Program::Api, "only the API listens on a port");
        self.port
    }

    /// The master's pid.
    pub(crate) fn master_pid(&self) -> i32 {
        self.master
    }

    /// The test's directory.
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The configuration file.
    pub(crate) fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The log file.
    pub(crate) fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The pid file.
    pub(crate) fn pid_path(&self) -> &Path {
        &self.pid_path
    }

    /// The master's live children, from `/proc/<pid>/task/<pid>/children`.
    pub(crate) fn worker_pids(&self) -> BTreeSet<i32> {
        children(self.master)
    }

    /// Sends `signal` to the master.
    pub(crate) fn signal(&self, signal: Signal) {
        trace!("{signal} -> master {}", self.master);
        kill(Pid::from_raw(self.master), signal).expect("signal the master");
    }

    /// SIGHUP: reload.
    pub(crate) fn hup(&self) {
        self.signal(Signal::SIGHUP);
    }

    /// SIGUSR1: reopen log files.
    pub(crate) fn usr1(&self) {
        self.signal(Signal::SIGUSR1);
    }

    /// SIGUSR2: state report.
    pub(crate) fn usr2(&self) {
        self.signal(Signal::SIGUSR2);
    }

    /// SIGTTIN: one worker more.
    pub(crate) fn ttin(&self) {
        self.signal(Signal::SIGTTIN);
    }

    /// SIGTTOU: one worker fewer.
    pub(crate) fn ttou(&self) {
        self.signal(Signal::SIGTTOU);
    }

    /// SIGTERM: graceful stop.
    pub(crate) fn term(&self) {
        self.signal(Signal::SIGTERM);
    }

    /// Sends `signal` to worker `pid`.
    pub(crate) fn signal_worker(&self, pid: i32, signal: Signal) {
        trace!("{signal} -> worker {pid}");
        kill(Pid::from_raw(pid), signal).expect("signal a worker");
    }

    /// SIGKILLs one worker and returns its pid.
    pub(crate) fn kill_worker(&self) -> i32 {
        let pid = *self
            .worker_pids()
            .iter()
            .next()
            .expect("a live worker to kill");
        self.signal_worker(pid, Signal::SIGKILL);
        pid
    }

    /// SIGHUP, then waits for `RELOADING=1` and the `READY=1` after it.
    /// Returns the notify mark taken before the signal.
    pub(crate) fn reload(&mut self) -> usize {
        let mark = self.notify.mark();
        self.hup();
        let reloading = self.wait_notify(mark, "RELOADING=1", |d| d.has("RELOADING=1"));
        self.wait_notify(reloading + 1, "READY=1 after RELOADING=1", |d| {
            d.has("READY=1")
        });
        mark
    }

    /// Waits until exactly `n` workers run, none of them in `old`, and a
    /// `STATUS` after `mark` said `n/n workers ready`; returns their pids.
    pub(crate) fn wait_workers(
        &mut self,
        mark: usize,
        n: usize,
        old: &BTreeSet<i32>,
    ) -> BTreeSet<i32> {
        eventually(
            &format!("{n} ready workers none of which is in {old:?}"),
            || {
                self.assert_running();
                let pids = self.worker_pids();
                let last_status = self
                    .notify
                    .since(mark)
                    .iter()
                    .rev()
                    .find_map(Datagram::workers_ready);
                let all_ready = last_status.is_some_and(|(_, r, w)| r == n as u64 && w == n as u64);
                ensure(
                    pids.len() == n && pids.is_disjoint(old) && all_ready,
                    || format!("pids {pids:?}, last STATUS {last_status:?}"),
                )
                .map(|()| pids)
            },
        )
    }

    /// The current log file's text.
    pub(crate) fn log_text(&self) -> String {
        logs::read_text(&self.log_path)
    }

    /// The current log file's records.
    pub(crate) fn log_lines(&self) -> Vec<LogLine> {
        logs::parse_all(&self.log_text())
    }

    /// The master's stderr so far.
    pub(crate) fn stderr_text(&self) -> String {
        logs::read_text(&self.stderr_path)
    }

    /// Replaces the configuration file (atomically, so a reload never reads half of it).
    pub(crate) fn rewrite_config(&self, config: &ServiceConfig) {
        write_atomically(&self.config_path, &config.render(&self.log_path));
    }

    /// Sends `request` on a new connection.
    pub(crate) fn request(&self, request: Request) -> io::Result<Response> {
        http::send(self.port, request)
    }

    /// `GET path` on a new connection.
    pub(crate) fn get(&self, path: &str) -> io::Result<Response> {
        http::get(self.port, path)
    }

    /// The master's exit status, if it has exited (reaps it).
    pub(crate) fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().expect("poll the master");
        }
        self.exit
    }

    /// Waits for the master to exit.
    pub(crate) fn wait_exit(&mut self) -> ExitStatus {
        eventually("the master to exit", || {
            self.try_exit().ok_or("still running")
        })
    }

    /// SIGTERM and wait for the exit.
    pub(crate) fn stop(&mut self) -> ExitStatus {
        self.term();
        self.wait_exit()
    }

    /// Every live process in the master's process group (master and workers).
    pub(crate) fn process_group(&self) -> Vec<i32> {
        process_group_members(self.master)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = killpg(Pid::from_raw(self.master), Signal::SIGKILL);
        for pid in self.worker_pids() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        if self.exit.is_none() {
            let _ = self.child.wait();
        }
        if std::thread::panicking() && std::env::var_os("TEST_LOG").is_some() {
            eprintln!(
                "[e2e] master {} stderr:\n{}\n[e2e] log tail:\n{}",
                self.master,
                self.stderr_text(),
                tail(&self.log_text(), 80)
            );
        }
    }
}

fn spawn_master(
    program: Program,
    config: &ServiceConfig,
    config_path: &Path,
    pid_path: &Path,
    notify: &Notify,
    dir: &TempDir,
) -> Child {
    let stdout = File::options()
        .create(true)
        .append(true)
        .open(dir.join("stdout.txt"))
        .expect("open stdout.txt");
    let stderr = File::options()
        .create(true)
        .append(true)
        .open(dir.join("stderr.txt"))
        .expect("open stderr.txt");
    Command::new(bin(program.binary()))
        .arg("--config-file")
        .arg(config_path)
        .arg("--pid-file")
        .arg(pid_path)
        .args(&config.args)
        .env_remove("PYMSBOOT_FAULT_WORKER_BOOT")
        .env("NOTIFY_SOCKET", notify.path())
        .envs(config.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", program.binary()))
}

/// The last `n` lines of `text`.
pub(crate) fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write the config file");
    std::fs::rename(&tmp, path).expect("move the config file into place");
}

/// Live children of `pid`.
pub(crate) fn children(pid: i32) -> BTreeSet<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .filter(|p| is_alive(*p))
        .collect()
}

/// `(state, ppid, pgrp)` from `/proc/<pid>/stat`.
fn stat(pid: i32) -> Option<(char, i32, i32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &text[text.rfind(')')? + 2..];
    let mut fields = after.split(' ');
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, ppid, pgrp))
}

/// Whether `pid` exists and is neither a zombie nor dead.
pub(crate) fn is_alive(pid: i32) -> bool {
    stat(pid).is_some_and(|(state, _, _)| !matches!(state, 'Z' | 'X' | 'x'))
}

/// The `Threads:` count of `pid`.
pub(crate) fn threads(pid: i32) -> Option<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Live processes whose process group is `pgrp`.
pub(crate) fn process_group_members(pgrp: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .expect("list /proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            stat(*pid).is_some_and(|(state, _, g)| g == pgrp && !matches!(state, 'Z' | 'X' | 'x'))
        })
        .collect()
}
