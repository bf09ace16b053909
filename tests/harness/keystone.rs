//! A real Keystone (30.0.0, served by gunicorn from `.venv-keystone`) for one
//! test: its own directory, loopback port, SQLite database and Fernet keys.
//!
//! Facts it relies on are in `shared/research/keystone.md`. Bootstrapping a
//! Keystone (`db_sync`, `fernet_setup`, `credential_setup`, `bootstrap`)
//! takes seconds, and nextest runs every test in a process of its own, so
//! the bootstrapped state is made once into a template directory under the
//! target dir, keyed by the requirements, the Python and the configuration,
//! and each test copies it. The `keystone.conf` is written per test, pointing
//! at the copies.
//!
//! The catalog's endpoints are stored as `$(public_endpoint)s/v3/`, which
//! Keystone fills in from the per-test `public_endpoint`: the template
//! holds no port, yet tokens carry a catalog that points at this Keystone.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Once, OnceLock};
use std::time::Instant;

use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::{Value, json};

use super::dir::TempDir;
use super::eventually::eventually;
use super::files::sha256_hex;
use super::http::{self, Request, Response};
use super::service::tail;
use super::{run, trace};

/// The bootstrap admin's password (user `admin`, domain `Default`).
pub(crate) const ADMIN_PASSWORD: &str = "keystone-admin-secret";

/// The password of the service user [`Keystone::service_user`] creates.
const SERVICE_PASSWORD: &str = "pymsboot-service-secret";

/// Roles `keystone-manage bootstrap` creates; each one implies the next
/// ones of the chain admin → manager → member → reader, `service` stands
/// alone.
pub(crate) const ROLES: [&str; 5] = ["admin", "manager", "member", "reader", "service"];

/// Where the Keystone venv lives and what it is made from, relative to the
/// repository root; Keystone 30 needs Python 3.11.
const VENV: &str = ".venv-keystone";
const REQUIREMENTS: &str = "tests/python/keystone-requirements.txt";
const MIN_PYTHON: &str = "3.11";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn venv_bin(name: &str) -> PathBuf {
    repo().join(VENV).join("bin").join(name)
}

/// Makes (or checks) the Keystone venv, once per process.
///
/// Not bounded by the patience: with an empty pip cache the install takes
/// about a minute; pip's own network timeouts bound it.
///
/// # Panics
/// When `scripts/python-venv` fails, e.g. without a CPython 3.11 or later.
fn ensure_venv() {
    static VENV_ONCE: Once = Once::new();
    VENV_ONCE.call_once(|| {
        let output = Command::new(repo().join("scripts/python-venv"))
            .args([VENV, REQUIREMENTS, MIN_PYTHON])
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .output()
            .expect("run scripts/python-venv");
        assert!(
            output.status.success(),
            "scripts/python-venv {VENV} {REQUIREMENTS} {MIN_PYTHON} failed \
             (Keystone 30 needs CPython {MIN_PYTHON} or later):\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    });
}

/// The `keystone.conf` of a Keystone whose state is in `dir`, answering on
/// `port`.
fn keystone_conf(dir: &Path, port: u16) -> String {
    let dir = dir.display();
    format!(
        "[DEFAULT]
use_stderr = true
public_endpoint = http://127.0.0.1:{port}

[database]
connection = sqlite:///{dir}/keystone.db

[token]
provider = fernet

[fernet_tokens]
key_repository = {dir}/fernet-keys

[credential]
key_repository = {dir}/credential-keys

# Without a cache one validation runs hundreds of SQL queries; the memory
# backend is per process, hence one gunicorn worker.
[cache]
enabled = true
backend = dogpile.cache.memory

# Tests only: the default cost makes every login take a third of a second.
[identity]
password_hash_rounds = 4
"
    )
}

/// The state that is the same for every test.
const STATE_FILES: [&str; 3] = ["keystone.db", "fernet-keys", "credential-keys"];

/// The arguments of `keystone-manage bootstrap`.
fn bootstrap_args() -> Vec<&'static str> {
    let endpoint = "$(public_endpoint)s/v3/";
    vec![
        "bootstrap",
        "--bootstrap-password",
        ADMIN_PASSWORD,
        "--bootstrap-admin-url",
        endpoint,
        "--bootstrap-public-url",
        endpoint,
        "--bootstrap-internal-url",
        endpoint,
        "--bootstrap-region-id",
        "RegionOne",
    ]
}

/// The bootstrapped template directory, made when missing, once per process.
fn template() -> PathBuf {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE
        .get_or_init(|| {
            ensure_venv();
            let stamp = std::fs::read_to_string(repo().join(VENV).join("pymsboot-stamp"))
                .expect("read the Keystone venv's stamp");
            let key = format!(
                "{stamp}\n{}\n{}",
                keystone_conf(Path::new("/template"), 0),
                bootstrap_args().join(" ")
            );
            let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
            let path = root.join(format!(
                "keystone-template-{}",
                &sha256_hex(key.as_bytes())[..16]
            ));
            std::fs::create_dir_all(&root).expect("create the cargo target tmp dir");
            let lock = File::create(root.join("keystone-template.lock"))
                .expect("create the Keystone template lock file");
            // Tests in other processes may want the same template at once.
            let _lock = Flock::lock(lock, FlockArg::LockExclusive)
                .map_err(|(_, e)| e)
                .expect("lock the Keystone template");
            if !path.join("ready").exists() {
                build_template(&path);
            }
            path
        })
        .clone()
}

/// Bootstraps a Keystone into a scratch directory, then moves it to `path`;
/// the caller holds the lock.
///
/// # Panics
/// When a `keystone-manage` step fails: its output is in the message.
fn build_template(path: &Path) {
    let started = Instant::now();
    let scratch = path.with_extension("building");
    let _ = std::fs::remove_dir_all(&scratch);
    let _ = std::fs::remove_dir_all(path);
    std::fs::create_dir_all(&scratch).expect("create the template scratch dir");
    for dir in ["fernet-keys", "credential-keys"] {
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(scratch.join(dir))
            .expect("create a key repository");
    }
    let conf = scratch.join("keystone.conf");
    std::fs::write(&conf, keystone_conf(&scratch, 0)).expect("write the template keystone.conf");
    // As root, keystone-manage wants to be told who owns the key files: the
    // user running the tests, who owns the directory just made.
    let meta = std::fs::metadata(&scratch).expect("stat the template scratch dir");
    let (uid, gid) = (meta.uid().to_string(), meta.gid().to_string());
    let owner = ["--keystone-user", &uid, "--keystone-group", &gid];
    let steps: [Vec<&str>; 4] = [
        vec!["db_sync"],
        [&["fernet_setup"][..], &owner].concat(),
        [&["credential_setup"][..], &owner].concat(),
        bootstrap_args(),
    ];
    for step in &steps {
        let output = run(Command::new(venv_bin("keystone-manage"))
            .arg("--config-file")
            .arg(&conf)
            .args(step)
            .env("PYTHONWARNINGS", "ignore"));
        assert!(
            output.status.success(),
            "building the Keystone template in {}: keystone-manage {} exited with {}\n\
             stdout:\n{}\nstderr:\n{}",
            scratch.display(),
            step[0],
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    std::fs::write(scratch.join("ready"), "").expect("mark the template ready");
    std::fs::rename(&scratch, path).expect("move the Keystone template into place");
    trace!(
        "keystone template {} built in {:?}",
        path.display(),
        started.elapsed()
    );
}

/// Copies the template's state into `dir`.
fn copy_state(template: &Path, dir: &Path) {
    for name in STATE_FILES {
        let from = template.join(name);
        let to = dir.join(name);
        if from.is_dir() {
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&to)
                .expect("create a key repository");
            for entry in std::fs::read_dir(&from).expect("list a template key repository") {
                let entry = entry.expect("read a template key repository");
                std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy a key file");
            }
        } else {
            std::fs::copy(&from, &to).expect("copy the template database");
        }
    }
}

/// A loopback port nobody listened on a moment ago.
fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .expect("bind a free loopback port")
        .port()
}

/// What `[keystone_authtoken]` needs to log the service in.
#[derive(Clone, Debug)]
pub(crate) struct ServiceUser {
    /// `pymsboot`.
    pub username: String,
    /// Its password.
    pub password: String,
    /// `service`.
    pub project_name: String,
    /// The `service` project's id.
    pub project_id: String,
    /// The user's id.
    pub user_id: String,
    /// `Default`.
    pub user_domain_name: String,
    /// `Default`.
    pub project_domain_name: String,
}

/// One test's Keystone; stopped (its whole process group killed) on drop.
pub(crate) struct Keystone {
    dir: TempDir,
    port: u16,
    /// gunicorn's master, leader of its process group; `None` while stopped.
    child: Option<Child>,
    admin_token: OnceLock<String>,
    service_user: OnceLock<ServiceUser>,
    role_ids: OnceLock<BTreeMap<String, String>>,
}

/// How a start attempt ended.
enum Started {
    Ready,
    /// gunicorn exited before answering; its log says why.
    Exited(String),
}

impl Keystone {
    /// Starts a private Keystone on a free loopback port, from a copy of the
    /// bootstrapped template, and waits until `GET /v3` answers 200.
    ///
    /// # Panics
    /// When the venv or the template cannot be made, or Keystone does not
    /// come up within the patience (its log is in the message).
    pub(crate) fn start() -> Keystone {
        let started = Instant::now();
        let template = template();
        let dir = TempDir::new();
        copy_state(&template, dir.path());
        let mut keystone = Keystone {
            dir,
            port: 0,
            child: None,
            admin_token: OnceLock::new(),
            service_user: OnceLock::new(),
            role_ids: OnceLock::new(),
        };
        // The port is free when picked but someone may take it before
        // gunicorn binds: then try another.
        for attempt in 1..=3 {
            keystone.port = free_port();
            std::fs::write(
                keystone.dir.join("keystone.conf"),
                keystone_conf(keystone.dir.path(), keystone.port),
            )
            .expect("write keystone.conf");
            match keystone.spawn_and_wait() {
                Started::Ready => {
                    trace!(
                        "keystone on port {} ready {:?} after start",
                        keystone.port,
                        started.elapsed()
                    );
                    return keystone;
                }
                Started::Exited(log) if attempt < 3 && log.contains("in use") => {
                    trace!("keystone port {} was taken; trying another", keystone.port);
                }
                Started::Exited(log) => panic!("Keystone exited before it was ready:\n{log}"),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT/v3`, the `auth_url` of `[keystone_authtoken]`.
    pub(crate) fn auth_url(&self) -> String {
        format!("{}/v3", self.url())
    }

    /// The loopback port it answers on, the same across [`Keystone::stop`]
    /// and [`Keystone::start_again`].
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// gunicorn's and Keystone's output so far (Keystone logs to stderr).
    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.join("keystone.log")).unwrap_or_default()
    }

    /// Sends `request` to Keystone, with `X-Auth-Token: token` when given
    /// and a JSON body when given.
    ///
    /// # Errors
    /// When the connection fails, e.g. refused while Keystone is stopped.
    pub(crate) fn send(
        &self,
        mut request: Request,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> io::Result<Response> {
        if let Some(token) = token {
            request = request.header("X-Auth-Token", token);
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        http::send(self.port, request)
    }

    /// Sends a request that must succeed with `status`.
    ///
    /// # Panics
    /// On a connection error or another status; the message shows the
    /// response and the end of the log.
    fn expect(
        &self,
        what: &str,
        request: Request,
        token: Option<&str>,
        body: Option<&Value>,
        status: u16,
    ) -> Response {
        let sent = Instant::now();
        let response = self.send(request, token, body).unwrap_or_else(|e| {
            panic!("Keystone {what}: {e}\nlog:\n{}", tail(&self.log_text(), 40))
        });
        trace!(
            "keystone {what}: {} in {:?}",
            response.status,
            sent.elapsed()
        );
        assert_eq!(
            response.status,
            status,
            "Keystone {what}: {}\nlog:\n{}",
            response.text(),
            tail(&self.log_text(), 40)
        );
        response
    }

    /// A token of the bootstrap admin scoped to the whole system, which
    /// Keystone 30's policies ask for to manage projects, users and roles.
    /// Issued once, then reused (it outlives a stop and a start).
    pub(crate) fn system_admin_token(&self) -> String {
        self.admin_token
            .get_or_init(|| {
                let body = password_auth("admin", ADMIN_PASSWORD, json!({"system": {"all": true}}));
                subject_token(&self.expect(
                    "system admin token",
                    Request::new("POST", "/v3/auth/tokens"),
                    None,
                    Some(&body),
                    201,
                ))
            })
            .clone()
    }

    /// Creates a project in the `Default` domain: its id.
    pub(crate) fn create_project(&self, name: &str) -> String {
        let body = json!({"project": {"name": name, "domain_id": "default"}});
        let response = self.expect(
            &format!("create project {name}"),
            Request::new("POST", "/v3/projects"),
            Some(&self.system_admin_token()),
            Some(&body),
            201,
        );
        id_of(&response.json()["project"])
    }

    /// Creates a user in the `Default` domain whose default project is
    /// `project_id`, and gives it `role` (one of [`ROLES`]) on that
    /// project: its id.
    pub(crate) fn create_user(
        &self,
        name: &str,
        password: &str,
        project_id: &str,
        role: &str,
    ) -> String {
        assert!(ROLES.contains(&role), "{role:?} is none of {ROLES:?}");
        let admin = self.system_admin_token();
        let body = json!({"user": {
            "name": name,
            "password": password,
            "domain_id": "default",
            "default_project_id": project_id,
        }});
        let response = self.expect(
            &format!("create user {name}"),
            Request::new("POST", "/v3/users"),
            Some(&admin),
            Some(&body),
            201,
        );
        let user_id = id_of(&response.json()["user"]);
        let role_id = self.role_id(role);
        self.expect(
            &format!("give {name} role {role}"),
            Request::new(
                "PUT",
                &format!("/v3/projects/{project_id}/users/{user_id}/roles/{role_id}"),
            ),
            Some(&admin),
            None,
            204,
        );
        user_id
    }

    /// The id of one of [`ROLES`]. The ids come from the template, so they
    /// are looked up once; each system-scoped request costs Keystone tens
    /// of SQL queries (the system roles of a token are not cached).
    fn role_id(&self, role: &str) -> String {
        let ids = self.role_ids.get_or_init(|| {
            let response = self.expect(
                "list roles",
                Request::get("/v3/roles"),
                Some(&self.system_admin_token()),
                None,
                200,
            );
            let roles = response.json();
            roles["roles"]
                .as_array()
                .unwrap_or_else(|| panic!("no roles in {roles}"))
                .iter()
                .map(|r| (r["name"].as_str().unwrap_or_default().to_owned(), id_of(r)))
                .collect()
        });
        ids.get(role)
            .unwrap_or_else(|| panic!("no role {role:?} in Keystone: {ids:?}"))
            .clone()
    }

    /// The service's own user: `pymsboot` in project `service` with role
    /// `service`, created on first use (bootstrap makes no `service`
    /// project).
    pub(crate) fn service_user(&self) -> ServiceUser {
        self.service_user
            .get_or_init(|| {
                let project_id = self.create_project("service");
                let user_id =
                    self.create_user("pymsboot", SERVICE_PASSWORD, &project_id, "service");
                ServiceUser {
                    username: "pymsboot".into(),
                    password: SERVICE_PASSWORD.into(),
                    project_name: "service".into(),
                    project_id,
                    user_id,
                    user_domain_name: "Default".into(),
                    project_domain_name: "Default".into(),
                }
            })
            .clone()
    }

    /// A fresh token of the service user, scoped to the `service` project.
    pub(crate) fn service_token(&self) -> String {
        let user = self.service_user();
        self.token(&user.username, &user.password, &user.project_id)
    }

    /// A project-scoped token by password (user in the `Default` domain):
    /// the `X-Subject-Token` Keystone answers with.
    pub(crate) fn token(&self, user_name: &str, password: &str, project_id: &str) -> String {
        let body = password_auth(user_name, password, json!({"project": {"id": project_id}}));
        subject_token(&self.expect(
            &format!("token for {user_name}"),
            Request::new("POST", "/v3/auth/tokens"),
            None,
            Some(&body),
            201,
        ))
    }

    /// `GET /v3/auth/tokens?nocatalog` as keystonemiddleware sends it:
    /// `auth_token` (the service's) validates `subject` (the user's).
    ///
    /// # Errors
    /// When the connection fails.
    pub(crate) fn validate(&self, auth_token: &str, subject: &str) -> io::Result<Response> {
        let sent = Instant::now();
        let response = self.send(
            Request::get("/v3/auth/tokens?nocatalog").header("X-Subject-Token", subject),
            Some(auth_token),
            None,
        );
        trace!(
            "keystone validate: {:?} in {:?}",
            response.as_ref().map(|r| r.status),
            sent.elapsed()
        );
        response
    }

    /// Revokes `token` with the admin token; validating it then gives 404.
    pub(crate) fn revoke(&self, token: &str) {
        self.expect(
            "revoke a token",
            Request::new("DELETE", "/v3/auth/tokens").header("X-Subject-Token", token),
            Some(&self.system_admin_token()),
            None,
            204,
        );
    }

    /// Kills gunicorn's whole process group and waits until the port
    /// refuses connections. The state stays for [`Keystone::start_again`].
    pub(crate) fn stop(&mut self) {
        self.kill();
        let port = self.port;
        eventually(
            "Keystone's port to refuse connections",
            || match TcpStream::connect(("127.0.0.1", port)) {
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Ok(()),
                other => Err(format!("{other:?}")),
            },
        );
    }

    /// Starts it again on the same port and state after [`Keystone::stop`],
    /// and waits until it answers.
    ///
    /// # Panics
    /// When it is running, or does not come up within the patience.
    pub(crate) fn start_again(&mut self) {
        assert!(self.child.is_none(), "Keystone is still running");
        if let Started::Exited(log) = self.spawn_and_wait() {
            panic!("Keystone exited before it was ready again:\n{log}");
        }
    }

    fn spawn_and_wait(&mut self) -> Started {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.dir.join("keystone.log"))
            .expect("open keystone.log");
        let log_start = self.log_text().len();
        let child = Command::new(venv_bin("gunicorn"))
            .arg("--bind")
            .arg(format!("127.0.0.1:{}", self.port))
            .args(["--workers", "1", "--threads", "4"])
            // Otherwise instances share a control socket under ~/.gunicorn.
            .arg("--no-control-socket")
            .args(["--access-logfile", "-"])
            .arg("--pythonpath")
            .arg(repo().join("tests/python"))
            .arg("keystone_app:application")
            .current_dir(self.dir.path())
            .env("OS_KEYSTONE_CONFIG_DIR", self.dir.path())
            .env("PYTHONWARNINGS", "ignore")
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log file handle"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn gunicorn from {VENV}: {e}"));
        self.child = Some(child);
        let port = self.port;
        let outcome = eventually("Keystone to answer GET /v3 with 200", || {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Ok(Started::Exited(format!(
                    "gunicorn exited with {status}; log:\n{}",
                    &self.log_text()[log_start..]
                )));
            }
            match http::get(port, "/v3") {
                Ok(r) if r.status == 200 => Ok(Started::Ready),
                Ok(r) => Err(format!("{} {}", r.status, r.text())),
                Err(e) => Err(e.to_string()),
            }
        });
        if matches!(outcome, Started::Exited(_)) {
            self.kill();
        }
        outcome
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let group = Pid::from_raw(i32::try_from(child.id()).expect("a pid fits in i32"));
            let _ = killpg(group, Signal::SIGKILL);
            let _ = child.wait();
        }
    }
}

impl Drop for Keystone {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() && std::env::var_os("TEST_LOG").is_some() {
            eprintln!(
                "[e2e] keystone on port {} log tail:\n{}",
                self.port,
                tail(&self.log_text(), 80)
            );
        }
    }
}

/// The body of a password authentication of a `Default`-domain user.
fn password_auth(user_name: &str, password: &str, scope: Value) -> Value {
    json!({"auth": {
        "identity": {
            "methods": ["password"],
            "password": {"user": {
                "name": user_name,
                "domain": {"id": "default"},
                "password": password,
            }},
        },
        "scope": scope,
    }})
}

fn subject_token(response: &Response) -> String {
    response
        .header("x-subject-token")
        .unwrap_or_else(|| panic!("no X-Subject-Token in {:?}", response.headers))
        .to_owned()
}

fn id_of(entity: &Value) -> String {
    entity["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {entity}"))
        .to_owned()
}
