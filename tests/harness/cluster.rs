//! The whole system under test: `pymsboot-engine` and `pymsboot-api` on one
//! generated configuration, a fresh database of their own ([`TestDb`]), a
//! storage directory of their own and an exchange and topic no other test
//! uses; typed verbs for the REST calls and for what an operator does to the
//! engine (stop it, kill it, start it again).
//!
//! [`Api`] and [`ApiConfig`] are the API alone, for the tests that need no engine.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use engine::test_util::{Backend, TestDb};
use serde_json::Value;

use super::dir::TempDir;
use super::eventually::{ensure, eventually};
use super::http::{self, Request, Response};
pub(crate) use super::service::{Program, Service, ServiceConfig, is_alive, tail, threads};

/// `pymsboot-api` alone.
pub(crate) type Api = Service;
/// The configuration of [`Api`] (or of any [`Service`]).
pub(crate) type ApiConfig = ServiceConfig;

/// The lock file the engine keeps in its storage directory.
const PERIODIC_LOCK: &str = ".pymsboot-periodic.lock";

/// Engine and API, running against a database and a storage directory of their own.
pub(crate) struct Cluster {
    // Fields drop in order: the processes go before their database and files.
    api: Service,
    engine: Service,
    _db: TestDb,
    storage: TempDir,
    /// The runtime the test database's (idle) pool lives on.
    _runtime: tokio::runtime::Runtime,
}

impl Cluster {
    /// Starts engine and API on a fresh database on `backend`, with the
    /// defaults of [`Cluster::config`].
    pub(crate) fn start(backend: Backend) -> Cluster {
        Cluster::start_with(backend, |config| config)
    }

    /// Starts engine and API on a fresh database on `backend`; `adjust`
    /// may change the configuration both get after the defaults are set.
    /// Returns once both reported `READY=1` and `/healthcheck` answers 200.
    pub(crate) fn start_with(
        backend: Backend,
        adjust: impl FnOnce(ServiceConfig) -> ServiceConfig,
    ) -> Cluster {
        let mut cluster = Cluster::spawn_with(backend, adjust, |config| {
            Service::start(config.program(Program::Engine))
        });
        cluster.api.wait_ready();
        cluster.wait_healthy();
        cluster
    }

    /// Starts engine and API at the same instant, as `make run`, compose and
    /// systemd do, and returns once the API has bound its port: neither is
    /// necessarily ready yet.
    pub(crate) fn spawn_together(
        backend: Backend,
        adjust: impl FnOnce(ServiceConfig) -> ServiceConfig,
    ) -> Cluster {
        Cluster::spawn_with(backend, adjust, |config| {
            Service::spawn(config.program(Program::Engine))
        })
    }

    /// The database, the storage directory and the two masters: the engine
    /// as `start_engine` starts it, then the API without waiting for it.
    fn spawn_with(
        backend: Backend,
        adjust: impl FnOnce(ServiceConfig) -> ServiceConfig,
        start_engine: impl FnOnce(ServiceConfig) -> Service,
    ) -> Cluster {
        // `TestDb` opens a lazy pool, which needs a runtime to be entered.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the test database");
        let db = {
            let _entered = runtime.enter();
            TestDb::new(backend)
        };
        let storage = TempDir::new();
        let config = adjust(Cluster::config(&db, storage.path()));
        let engine = start_engine(config.clone());
        let api = Service::spawn(config.program(Program::Api));
        Cluster {
            api,
            engine,
            _db: db,
            storage,
            _runtime: runtime,
        }
    }

    /// The configuration a cluster starts with: two workers each, the
    /// database, the storage directory, downloads from loopback allowed
    /// (the tests' file server), and short claim and periodic intervals so a
    /// restarted engine resumes an interrupted download within seconds.
    pub(crate) fn config(db: &TestDb, storage_dir: &Path) -> ServiceConfig {
        ServiceConfig::default()
            .workers(2)
            .set("DEFAULT", "rpc_response_timeout", "10")
            .set("database", "connection", db.url())
            .set("engine", "storage_dir", &storage_dir.display().to_string())
            .set("engine", "allow_private_networks", "true")
            .set("engine", "download_claim_timeout", "3")
            .set("engine", "periodic_interval", "1")
    }

    /// Waits until `/healthcheck` answers 200.
    pub(crate) fn wait_healthy(&self) {
        eventually("GET /healthcheck to answer 200", || {
            let response = self.api.get("/healthcheck").map_err(|e| e.to_string())?;
            ensure(response.status == 200, || {
                format!("{} {}", response.status, response.text())
            })
        });
    }

    /// The API.
    pub(crate) fn api(&self) -> &Service {
        &self.api
    }

    /// Engine and API, to do the same to both.
    pub(crate) fn services_mut(&mut self) -> [&mut Service; 2] {
        [&mut self.engine, &mut self.api]
    }

    /// The API, to signal or stop it.
    pub(crate) fn api_mut(&mut self) -> &mut Service {
        &mut self.api
    }

    /// The engine.
    pub(crate) fn engine(&self) -> &Service {
        &self.engine
    }

    /// The engine, to signal it.
    pub(crate) fn engine_mut(&mut self) -> &mut Service {
        &mut self.engine
    }

    /// The engine's `[engine] storage_dir`.
    pub(crate) fn storage_dir(&self) -> &Path {
        self.storage.path()
    }

    /// The control exchange of this cluster's RPC.
    pub(crate) fn exchange(&self) -> String {
        self.engine.config().exchange()
    }

    /// The engine topic of this cluster's RPC.
    pub(crate) fn topic(&self) -> String {
        self.engine.config().topic().to_owned()
    }

    /// The API's port.
    pub(crate) fn port(&self) -> u16 {
        self.api.port()
    }

    /// The names of the files in the storage directory (the engine's lock
    /// file and store marker aside).
    pub(crate) fn stored_files(&self) -> BTreeSet<String> {
        std::fs::read_dir(self.storage_dir())
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|name| {
                        name != PERIODIC_LOCK && name != engine::store_marker::MARKER_FILE
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sends `request` to the API on a new connection.
    ///
    /// # Panics
    /// When no complete response comes back.
    pub(crate) fn request(&self, request: Request) -> Response {
        let what = format!("{} {}", request.method, request.path);
        self.api
            .request(request)
            .unwrap_or_else(|e| panic!("{what}: {e}"))
    }

    /// `GET path`.
    pub(crate) fn get(&self, path: &str) -> Response {
        self.request(Request::get(path))
    }

    /// `POST /v1/movies` with `body`.
    pub(crate) fn create_movie(&self, body: &Value) -> Response {
        self.request(json_request("POST", "/v1/movies", body))
    }

    /// `POST /v1/movies` that must be accepted: the movie it returned.
    ///
    /// # Panics
    /// When the answer is not a 202.
    pub(crate) fn create(&self, body: &Value) -> Value {
        let response = self.create_movie(body);
        assert_eq!(response.status, 202, "create {body}: {}", response.text());
        response.json()
    }

    /// `GET /v1/movies/<id>`.
    pub(crate) fn get_movie(&self, id: &str) -> Response {
        self.get(&format!("/v1/movies/{id}"))
    }

    /// `GET /v1/movies/<id>` that must succeed: the movie.
    ///
    /// # Panics
    /// When the answer is not a 200.
    pub(crate) fn movie(&self, id: &str) -> Value {
        let response = self.get_movie(id);
        assert_eq!(response.status, 200, "GET movie {id}: {}", response.text());
        response.json()
    }

    /// `GET /v1/movies?<query>` (`query` may be empty).
    pub(crate) fn list_movies(&self, query: &str) -> Response {
        if query.is_empty() {
            self.get("/v1/movies")
        } else {
            self.get(&format!("/v1/movies?{query}"))
        }
    }

    /// `PUT /v1/movies/<id>` with `body`.
    pub(crate) fn update_movie(&self, id: &str, body: &Value) -> Response {
        self.request(json_request("PUT", &format!("/v1/movies/{id}"), body))
    }

    /// `DELETE /v1/movies/<id>`.
    pub(crate) fn delete_movie(&self, id: &str) -> Response {
        self.request(Request::new("DELETE", &format!("/v1/movies/{id}")))
    }

    /// Polls the movie until `pred` holds for it; returns it.
    pub(crate) fn wait_movie(&self, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        eventually(&format!("movie {id}: {what}"), || {
            let response = self.get_movie(id);
            if response.status != 200 {
                return Err(format!("{} {}", response.status, response.text()));
            }
            let movie = response.json();
            if pred(&movie) {
                Ok(movie)
            } else {
                Err(movie.to_string())
            }
        })
    }

    /// Waits until the movie is downloaded; returns it.
    ///
    /// # Panics
    /// When the movie ends in the error state instead, or the patience runs out.
    pub(crate) fn wait_downloaded(&self, id: &str) -> Value {
        let movie = self.wait_movie(id, "downloaded or error", |m| {
            m["state"] == "downloaded" || m["state"] == "error"
        });
        assert_eq!(movie["state"], "downloaded", "download failed: {movie}");
        movie
    }

    /// Waits until the movie's download has stored some bytes but not all.
    pub(crate) fn wait_mid_download(&self, id: &str) -> Value {
        self.wait_movie(id, "downloading with some bytes stored", |m| {
            m["state"] == "downloading" && m["bytes_downloaded"].as_u64().is_some_and(|b| b > 0)
        })
    }

    /// SIGKILLs the engine's master and workers at once, and waits until
    /// none is left.
    pub(crate) fn kill_engine_hard(&mut self) {
        self.engine.kill_hard();
    }

    /// Stops the engine gracefully (SIGTERM) and waits for its clean exit.
    ///
    /// # Panics
    /// When it does not exit with status 0.
    pub(crate) fn stop_engine(&mut self) {
        let status = self.engine.stop();
        assert!(status.success(), "the engine stopped with {status}");
    }

    /// Starts the engine again (after [`Cluster::kill_engine_hard`] or
    /// [`Cluster::stop_engine`]; a running one is stopped first) on the same
    /// configuration and log file, and waits until it is ready and the API
    /// sees it.
    pub(crate) fn restart_engine(&mut self) {
        if self.engine.try_exit().is_none() {
            self.stop_engine();
        }
        self.engine.respawn();
        self.wait_healthy();
    }

    /// Waits at most `bound` for the API's answer to `request`; the answer
    /// and how long it took.
    pub(crate) fn timed(&self, request: Request, bound: Duration) -> (Response, Duration) {
        let port = self.port();
        let started = std::time::Instant::now();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(http::send(port, request)));
        let response = rx
            .recv_timeout(bound)
            .unwrap_or_else(|_| panic!("no answer within {bound:?}"))
            .expect("a complete response");
        (response, started.elapsed())
    }
}

/// A request with a JSON body.
pub(crate) fn json_request(method: &str, path: &str, body: &Value) -> Request {
    Request::new(method, path)
        .header("Content-Type", "application/json")
        .body(body.to_string())
}
