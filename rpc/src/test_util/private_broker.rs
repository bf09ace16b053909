//! A RabbitMQ node per test, started with `rabbitmq-server -detached`.
//!
//! Each node has its own name, `pymsboot-test-<pid>-<n>@localhost` where
//! `<pid>` is the test process, its own AMQP and distribution ports, and its
//! own directory under the temp dir for config, Mnesia data and logs. It
//! shares epmd and the Erlang cookie of the system node, so
//! `rabbitmqctl -n <node>` reaches it.
//!
//! The Debian `rabbitmq-server` and `rabbitmqctl` wrappers, run as root, `su`
//! to the `rabbitmq` user and keep the environment, so the node is configured
//! through `RABBITMQ_*` variables and its directory belongs to `rabbitmq`.
//!
//! A node is ready when its port answers the AMQP protocol header with a
//! `connection.start` naming the node as its cluster: a listener that took
//! the port in the meantime is not mistaken for it, and the boot is retried
//! on fresh ports.
//!
//! The first [`PrivateBroker::start`] of a process stops the nodes, and
//! removes the directories, of test processes that died without dropping
//! theirs.

use std::fs::{self, File};
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::ops::RangeInclusive;
use std::os::unix::fs::chown;
use std::path::{Path, PathBuf};
use std::process::{self, Command, Output, Stdio};
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Node names and directories start with this, then `<owner pid>-<n>`.
const NODE_PREFIX: &str = "pymsboot-test-";
/// The host part of node names: a short name that needs no DNS.
const NODE_HOST: &str = "localhost";
/// How long a node gets to boot, and its app to start or stop.
const PATIENCE: Duration = Duration::from_secs(60);
/// How long a launched node's OS process gets to show up.
const APPEAR_PATIENCE: Duration = Duration::from_secs(10);
/// How long a stopped node's OS process gets to exit before it is killed.
const EXIT_PATIENCE: Duration = Duration::from_secs(30);
/// The pause between two probes of a port or a process.
const POLL: Duration = Duration::from_millis(50);
/// Boots tried, each on fresh ports, before [`PrivateBroker::start`] gives up.
const ATTEMPTS: u32 = 3;
/// The ports `rabbitmqctl` itself listens on while it runs; a node must leave them free.
const CLI_DIST_PORTS: RangeInclusive<u16> = 35672..=35682;
/// The protocol header an AMQP 0-9-1 client opens with.
const AMQP_HEADER: &[u8; 8] = b"AMQP\x00\x00\x09\x01";
/// The frame type of the `connection.start` a ready broker answers with.
const FRAME_METHOD: u8 = 1;
/// More than any `connection.start` frame takes.
const MAX_START_FRAME: usize = 64 * 1024;

/// A RabbitMQ node of its own for one test: its own name, ports and data dir.
///
/// Dropping it stops the node and removes its directory, also when the test
/// panics.
///
/// ```no_run
/// use rpc::test_util::PrivateBroker;
///
/// let broker = PrivateBroker::start()?;
/// let url = broker.transport_url(); // rabbit://guest:guest@127.0.0.1:<port>//
/// broker.stop_app()?; // the port closes, connections are dropped
/// broker.start_app()?; // same port, same data
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct PrivateBroker {
    node: String,
    dir: PathBuf,
    port: u16,
    dist_port: u16,
}

/// Why one boot failed.
enum BootError {
    /// The node exited while booting, typically because a port was taken in
    /// the meantime: worth another try on fresh ports.
    Exited(io::Error),
    /// Anything else.
    Other(io::Error),
}

impl From<io::Error> for BootError {
    fn from(error: io::Error) -> Self {
        BootError::Other(error)
    }
}

impl PrivateBroker {
    /// Starts a node and waits until it accepts AMQP connections.
    ///
    /// `guest`/`guest` can log in from 127.0.0.1 to the virtual host `/`.
    /// Takes about five seconds.
    ///
    /// # Errors
    /// When the node cannot be set up or launched (not root nor `rabbitmq`,
    /// RabbitMQ not installed), exits while booting on every attempt, or
    /// does not accept connections within 60 seconds.
    pub fn start() -> io::Result<PrivateBroker> {
        Self::start_with_config("")
    }

    /// Starts a node as [`PrivateBroker::start`] does, with `extra` appended
    /// to its `rabbitmq.conf` (e.g. `max_message_size = 1048576`).
    ///
    /// # Errors
    /// As [`PrivateBroker::start`]; a setting the node rejects makes it exit
    /// while booting.
    pub fn start_with_config(extra: &str) -> io::Result<PrivateBroker> {
        static SWEEP: Once = Once::new();
        SWEEP.call_once(sweep_leftovers);

        let mut attempt = 1;
        loop {
            match Self::boot(extra) {
                Ok(broker) => return Ok(broker),
                Err(BootError::Exited(_)) if attempt < ATTEMPTS => attempt += 1,
                Err(BootError::Exited(error) | BootError::Other(error)) => return Err(error),
            }
        }
    }

    /// The AMQP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `rabbit://guest:guest@127.0.0.1:<port>//`, for the virtual host `/`.
    pub fn transport_url(&self) -> String {
        format!("rabbit://guest:guest@127.0.0.1:{}//", self.port)
    }

    /// Stops the RabbitMQ application but not the node (`rabbitmqctl
    /// stop_app`): the broker drops its connections and closes its port.
    ///
    /// Returns once the port refuses connections.
    ///
    /// # Errors
    /// When `rabbitmqctl` fails, or the port still accepts after 60 seconds.
    pub fn stop_app(&self) -> io::Result<()> {
        rabbitmqctl(&self.node, "stop_app")?;
        self.await_port("refuse connections", || refuses(self.port))
    }

    /// Starts the RabbitMQ application again (`rabbitmqctl start_app`), with
    /// the same port and data.
    ///
    /// Returns once the port accepts AMQP connections.
    ///
    /// # Errors
    /// When `rabbitmqctl` fails, or the port does not accept within 60
    /// seconds.
    pub fn start_app(&self) -> io::Result<()> {
        rabbitmqctl(&self.node, "start_app")?;
        self.await_port("accept AMQP connections", || self.accepts_amqp())
    }

    /// The rows of `rabbitmqctl list_<items> <columns…>` on this node (e.g.
    /// `list("queues", &["name", "messages_unacknowledged"])`), each row
    /// split into its columns.
    ///
    /// # Errors
    /// When `rabbitmqctl` fails, e.g. on a column it does not know.
    pub fn list(&self, items: &str, columns: &[&str]) -> io::Result<Vec<Vec<String>>> {
        let command = format!("list_{items}");
        let mut args = vec!["-q", command.as_str(), "--no-table-headers"];
        args.extend_from_slice(columns);
        let printed = rabbitmqctl_output(&self.node, &args)?;
        Ok(printed
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| line.split('\t').map(str::to_string).collect())
            .collect())
    }

    /// The names of the client connections open on this node
    /// (`<client address> -> <node address>`).
    ///
    /// # Errors
    /// When `rabbitmqctl` fails.
    pub fn connections(&self) -> io::Result<Vec<String>> {
        let rows = self.list("connections", &["name"])?;
        Ok(rows
            .into_iter()
            .filter_map(|row| row.into_iter().next())
            .collect())
    }

    /// One try at a node on fresh ports. The returned error drops the
    /// half-started broker, which stops whatever was launched.
    fn boot(extra: &str) -> Result<PrivateBroker, BootError> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "{NODE_PREFIX}{}-{}",
            process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let port = node_port();
        let dist_port = loop {
            let candidate = node_port();
            if candidate != port {
                break candidate;
            }
        };
        let broker = PrivateBroker {
            node: format!("{name}@{NODE_HOST}"),
            dir: std::env::temp_dir().join(&name),
            port,
            dist_port,
        };
        broker.prepare_dir(extra)?;
        broker.launch()?;
        broker.await_boot()?;
        Ok(broker)
    }

    /// Whether this node answers the AMQP protocol header on its port: with
    /// a `connection.start` announcing this node as the cluster name.
    fn accepts_amqp(&self) -> bool {
        let probe = || -> io::Result<bool> {
            let mut stream =
                TcpStream::connect_timeout(&loopback(self.port), Duration::from_secs(1))?;
            stream.set_read_timeout(Some(Duration::from_secs(5)))?;
            stream.write_all(AMQP_HEADER)?;
            // Frame header: type (1 byte), channel (2), payload size (4).
            let mut header = [0; 7];
            stream.read_exact(&mut header)?;
            let size = u32::from_be_bytes([header[3], header[4], header[5], header[6]]) as usize;
            if header[0] != FRAME_METHOD || size > MAX_START_FRAME {
                return Ok(false);
            }
            let mut payload = vec![0; size];
            stream.read_exact(&mut payload)?;
            let node = self.node.as_bytes();
            Ok(payload.windows(node.len()).any(|window| window == node))
        };
        probe().unwrap_or(false)
    }

    /// A path in the node's directory.
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Writes the node's config into its directory, owned by `rabbitmq`.
    fn prepare_dir(&self, extra: &str) -> io::Result<()> {
        let _ = fs::remove_dir_all(&self.dir);
        fs::create_dir_all(self.path("mnesia"))?;
        fs::create_dir(self.path("log"))?;
        // The cluster name is announced in `connection.start`: it tells this
        // node from whatever else may have taken the port meanwhile.
        fs::write(
            self.path("rabbitmq.conf"),
            format!(
                "listeners.tcp.1 = 127.0.0.1:{}\ncluster_name = {}\n{extra}\n",
                self.port, self.node
            ),
        )?;
        fs::write(self.path("enabled_plugins"), "[].\n")?;
        // Replaces /etc/rabbitmq/rabbitmq-env.conf, whose NODENAME is the system node's.
        fs::write(self.path("rabbitmq-env.conf"), "")?;

        let (uid, gid) = rabbitmq_user()?;
        let owned = [
            "",
            "mnesia",
            "log",
            "rabbitmq.conf",
            "enabled_plugins",
            "rabbitmq-env.conf",
        ];
        for name in owned {
            let path = self.path(name);
            chown(&path, Some(uid), Some(gid)).map_err(|error| {
                io::Error::new(
                    error.kind(),
                    format!(
                        "chown {} to rabbitmq: {error} (RabbitMQ runs as rabbitmq, so tests run as root or rabbitmq)",
                        path.display()
                    ),
                )
            })?;
        }
        Ok(())
    }

    /// `rabbitmq-server -detached` with this node's name, ports and paths.
    fn launch(&self) -> io::Result<()> {
        let output = File::create(self.path("startup.out"))?;
        let status = Command::new(tool("rabbitmq-server"))
            .arg("-detached")
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_CONF_ENV_FILE", self.path("rabbitmq-env.conf"))
            .env("RABBITMQ_CONFIG_FILE", self.path("rabbitmq.conf"))
            .env(
                "RABBITMQ_ENABLED_PLUGINS_FILE",
                self.path("enabled_plugins"),
            )
            .env("RABBITMQ_MNESIA_BASE", self.path("mnesia"))
            .env("RABBITMQ_LOG_BASE", self.path("log"))
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env(
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
                "-kernel inet_dist_use_interface {127,0,0,1}",
            )
            .env("ERL_EPMD_ADDRESS", "127.0.0.1")
            .stdin(Stdio::null())
            .stdout(output.try_clone()?)
            .stderr(output)
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "rabbitmq-server -detached for {} failed ({status}): {}",
                self.node,
                self.boot_failure()
            )))
        }
    }

    /// Waits until the node accepts AMQP connections, or its OS process is
    /// gone.
    fn await_boot(&self) -> Result<(), BootError> {
        let launched = Instant::now();
        let mut seen = false;
        loop {
            if self.accepts_amqp() {
                return Ok(());
            }
            if !node_processes(&self.node).is_empty() {
                seen = true;
            } else if seen || launched.elapsed() > APPEAR_PATIENCE {
                return Err(BootError::Exited(io::Error::other(format!(
                    "{} exited while booting: {}",
                    self.node,
                    self.boot_failure()
                ))));
            }
            if launched.elapsed() > PATIENCE {
                return Err(BootError::Other(io::Error::new(
                    ErrorKind::TimedOut,
                    format!(
                        "{} not accepting AMQP connections on port {} after {PATIENCE:?}; see {}",
                        self.node,
                        self.port,
                        self.dir.display()
                    ),
                )));
            }
            thread::sleep(POLL);
        }
    }

    /// Waits until `probe` holds of the AMQP port.
    fn await_port(&self, what: &str, probe: impl Fn() -> bool) -> io::Result<()> {
        if eventually(PATIENCE, probe) {
            Ok(())
        } else {
            Err(io::Error::new(
                ErrorKind::TimedOut,
                format!(
                    "port {} of {} did not {what} within {PATIENCE:?}",
                    self.port, self.node
                ),
            ))
        }
    }

    /// Why the node failed, from its log or else from what `rabbitmq-server`
    /// printed.
    fn boot_failure(&self) -> String {
        let log = fs::read_to_string(self.path("log").join(format!("{}.log", self.node)))
            .unwrap_or_default();
        if log.contains("eaddrinuse") {
            return format!("AMQP port {} is taken (eaddrinuse)", self.port);
        }
        let printed = fs::read_to_string(self.path("startup.out")).unwrap_or_default();
        let reason = log
            .lines()
            .find(|line| line.contains("[error]"))
            .unwrap_or(printed.trim());
        if reason.is_empty() {
            format!(
                "nothing logged; distribution port {} may be taken",
                self.dist_port
            )
        } else {
            reason.chars().take(400).collect()
        }
    }
}

impl Drop for PrivateBroker {
    /// Stops the node (`rabbitmqctl stop`, then SIGKILL if it lingers), waits
    /// for its OS process to exit, and removes its directory.
    fn drop(&mut self) {
        stop_node(&self.node);
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A free TCP port on 127.0.0.1: bound to port 0, read back, released.
///
/// Nothing listens on it, so it also serves as a dead host in a failover
/// list. Another process may take it at any moment, though rarely does.
///
/// # Panics
/// When no port can be bound on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

/// A free port that `rabbitmqctl` will not want while the node runs.
fn node_port() -> u16 {
    loop {
        let port = free_port();
        if !CLI_DIST_PORTS.contains(&port) {
            return port;
        }
    }
}

/// `127.0.0.1:port`.
fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Whether connecting to `port` is refused.
fn refuses(port: u16) -> bool {
    matches!(
        TcpStream::connect_timeout(&loopback(port), Duration::from_secs(1)),
        Err(error) if error.kind() == ErrorKind::ConnectionRefused
    )
}

/// Whether `probe` holds within `patience`, asked every [`POLL`].
fn eventually(patience: Duration, probe: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + patience;
    loop {
        if probe() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(POLL);
    }
}

/// `/usr/sbin/<name>` where Debian puts the RabbitMQ tools, else `<name>`
/// from `PATH`.
fn tool(name: &str) -> PathBuf {
    let sbin = Path::new("/usr/sbin").join(name);
    if sbin.exists() { sbin } else { name.into() }
}

/// `rabbitmqctl -n <node> <command>`, failing with its output.
fn rabbitmqctl(node: &str, command: &str) -> io::Result<()> {
    rabbitmqctl_output(node, &[command]).map(drop)
}

/// `rabbitmqctl -n <node> <args…>`: what it printed, or a failure with its
/// first lines.
fn rabbitmqctl_output(node: &str, args: &[&str]) -> io::Result<String> {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(tool("rabbitmqctl"))
        .args(["-n", node, "--timeout", "60"])
        .args(args)
        .stdin(Stdio::null())
        .output()?;
    if status.success() {
        return Ok(String::from_utf8_lossy(&stdout).into_owned());
    }
    let command = args.join(" ");
    let printed = if stderr.is_empty() { stdout } else { stderr };
    let printed = String::from_utf8_lossy(&printed);
    let first_lines: Vec<&str> = printed.trim().lines().take(3).collect();
    Err(io::Error::other(format!(
        "rabbitmqctl -n {node} {command} failed ({status}): {}",
        first_lines.join(" / ")
    )))
}

/// The `rabbitmq` user's uid and gid, from `/etc/passwd`.
fn rabbitmq_user() -> io::Result<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd")?;
    passwd
        .lines()
        .find_map(|line| {
            let mut fields = line.split(':');
            if fields.next()? != "rabbitmq" {
                return None;
            }
            let _password = fields.next()?;
            Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
        })
        .ok_or_else(|| {
            io::Error::new(
                ErrorKind::NotFound,
                "no rabbitmq user in /etc/passwd; is rabbitmq-server installed?",
            )
        })
}

/// The OS pids and node names of the running test nodes (`beam.smp`
/// processes whose `RABBITMQ_NODENAME` starts with [`NODE_PREFIX`]).
fn test_nodes() -> Vec<(u32, String)> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse().ok()?;
            let comm = fs::read_to_string(entry.path().join("comm")).ok()?;
            if comm.trim_end() != "beam.smp" {
                return None;
            }
            let environ = fs::read(entry.path().join("environ")).ok()?;
            let node = environ
                .split(|byte| *byte == 0)
                .find_map(|var| var.strip_prefix(b"RABBITMQ_NODENAME=".as_slice()))?;
            let node = std::str::from_utf8(node).ok()?;
            node.starts_with(NODE_PREFIX)
                .then(|| (pid, node.to_string()))
        })
        .collect()
}

/// The OS pids of `node`.
fn node_processes(node: &str) -> Vec<u32> {
    test_nodes()
        .into_iter()
        .filter(|(_, name)| name == node)
        .map(|(pid, _)| pid)
        .collect()
}

/// Whether process `pid` exists.
fn process_exists(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

/// Stops `node` if it runs: `rabbitmqctl stop`, SIGKILL if its OS process
/// outlives [`EXIT_PATIENCE`]. Returns once the process is gone.
fn stop_node(node: &str) {
    let pids = node_processes(node);
    if pids.is_empty() {
        return;
    }
    let exited = || pids.iter().all(|pid| !process_exists(*pid));
    let _ = rabbitmqctl(node, "stop");
    if eventually(EXIT_PATIENCE, exited) {
        return;
    }
    for pid in &pids {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .output();
    }
    eventually(Duration::from_secs(5), exited);
}

/// Whether the test process named in a node or directory name is gone.
///
/// A name carrying this process's own pid counts as gone too: it was left by
/// an earlier process with the same pid, since this one has not started a
/// node before the sweep.
fn owner_is_gone(name: &str) -> bool {
    let owner = name
        .strip_prefix(NODE_PREFIX)
        .and_then(|rest| rest.split('-').next())
        .and_then(|pid| pid.parse::<u32>().ok());
    owner.is_some_and(|pid| pid == process::id() || !process_exists(pid))
}

/// Stops the nodes, and removes the directories, of test processes that are
/// gone.
fn sweep_leftovers() {
    for (_, node) in test_nodes() {
        if owner_is_gone(&node) {
            stop_node(&node);
        }
    }
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_str().is_some_and(owner_is_gone) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}
