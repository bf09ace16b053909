//! The `[engine]` and `[database]` options. Not behind the `server` feature:
//! the API needs `[engine] topic` to address the engine.

use launcher::conf::{Opt, OptDefault, OptKind};

fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// `[engine] host`: this engine's server name, for its `topic.host` queue.
pub static HOST: Opt = Opt {
    section: "engine",
    name: "host",
    kind: OptKind::Str,
    default: OptDefault::Computed {
        describe: "the machine's hostname",
        compute: hostname,
    },
    help: "Name of this engine on the message bus: requests addressed to this server go to the \
           queue <topic>.<host>. Must be unique among the engines sharing a topic.",
    mutable: false,
    secret: false,
};

/// `[engine] topic`: the RPC topic the engine consumes.
pub static TOPIC: Opt = Opt::new(
    "engine",
    "topic",
    OptKind::Str,
    "pymsboot_engine",
    "The RPC topic the engines listen on.",
);

/// `[engine] engine_workers`: how many engine worker processes run.
pub static ENGINE_WORKERS: Opt = Opt::new(
    "engine",
    "engine_workers",
    OptKind::Int {
        min: Some(0),
        max: Some(1024),
    },
    "0",
    "Number of engine worker processes. 0 means one per CPU available to the service.",
);

/// `[engine] storage_dir`: where downloaded movies are kept.
pub static STORAGE_DIR: Opt = Opt::new(
    "engine",
    "storage_dir",
    OptKind::Str,
    "/var/lib/pymsboot/movies",
    "Directory where downloaded movies are stored, one file per movie named by its id.",
);

/// `[engine] max_concurrent_downloads`.
pub static MAX_CONCURRENT_DOWNLOADS: Opt = Opt::new(
    "engine",
    "max_concurrent_downloads",
    OptKind::Int {
        min: Some(1),
        max: Some(1024),
    },
    "4",
    "How many downloads one engine worker runs at once; more wait in the queue.",
);

/// `[engine] max_download_size`.
pub static MAX_DOWNLOAD_SIZE: Opt = Opt::new(
    "engine",
    "max_download_size",
    OptKind::at_least(0),
    "0",
    "The largest movie, in bytes, the engine downloads; a larger one ends in the error state. \
     0 means no limit.",
);

/// `[engine] allow_private_networks`.
pub static ALLOW_PRIVATE_NETWORKS: Opt = Opt::new(
    "engine",
    "allow_private_networks",
    OptKind::Bool,
    "false",
    "Allow downloads from loopback, private and link-local addresses. Every address a download \
     resolves to, on every redirect, is checked.",
);

/// `[engine] download_retries`.
pub static DOWNLOAD_RETRIES: Opt = Opt::new(
    "engine",
    "download_retries",
    OptKind::Int {
        min: Some(0),
        max: Some(100),
    },
    "3",
    "How many times a download is retried after a transient failure (connection error, \
     server error, timeout), with a doubling pause starting at 1 second.",
);

/// `[engine] download_connect_timeout`.
pub static DOWNLOAD_CONNECT_TIMEOUT: Opt = Opt::new(
    "engine",
    "download_connect_timeout",
    OptKind::Int {
        min: Some(1),
        max: None,
    },
    "10",
    "Seconds allowed to connect to a download server.",
);

/// `[engine] download_idle_timeout`.
pub static DOWNLOAD_IDLE_TIMEOUT: Opt = Opt::new(
    "engine",
    "download_idle_timeout",
    OptKind::Int {
        min: Some(1),
        max: None,
    },
    "30",
    "Seconds a download may go without receiving data before it fails.",
);

/// `[engine] download_claim_timeout`.
pub static DOWNLOAD_CLAIM_TIMEOUT: Opt = Opt::new(
    "engine",
    "download_claim_timeout",
    OptKind::Int {
        min: Some(3),
        max: None,
    },
    "60",
    "Seconds after which a download whose engine stopped refreshing its claim (it crashed or \
     lost its database) is taken over by another engine and resumed.",
);

/// `[engine] periodic_interval`.
pub static PERIODIC_INTERVAL: Opt = Opt::new(
    "engine",
    "periodic_interval",
    OptKind::Int {
        min: Some(1),
        max: None,
    },
    "60",
    "Seconds between runs of the periodic tasks: looking for downloads to resume and removing \
     files in storage_dir that no movie refers to. One worker per host runs them at a time.",
);

/// `[engine] storage_check_interval`.
pub static STORAGE_CHECK_INTERVAL: Opt = Opt::new(
    "engine",
    "storage_check_interval",
    OptKind::Int {
        min: Some(1),
        max: None,
    },
    "10",
    "Seconds between checks that storage_dir is a writable directory with free space. While \
     the check fails, a starting worker does not become ready, a running one starts no \
     download, and GET /healthcheck of the API answers 503 with the reason.",
);

/// `[database] connection`: the SQLAlchemy-style database URL.
pub static CONNECTION: Opt = Opt {
    section: "database",
    name: "connection",
    kind: OptKind::Url {
        schemes: &["sqlite", "postgresql", "postgres", "mysql", "mariadb"],
    },
    default: OptDefault::Value("sqlite:////var/lib/pymsboot/pymsboot.sqlite"),
    help: "The database URL: sqlite:///relative/path, sqlite:////absolute/path, \
           postgresql://user:pass@host/db (or postgresql+psycopg2://) or \
           mysql+pymysql://user:pass@host/db.",
    mutable: false,
    secret: true,
};

/// `[database] max_pool_size`.
pub static MAX_POOL_SIZE: Opt = Opt::new(
    "database",
    "max_pool_size",
    OptKind::at_least(1),
    "5",
    "The most connections one engine worker keeps open to the database.",
);

/// `[database] max_retries`.
pub static MAX_RETRIES: Opt = Opt::new(
    "database",
    "max_retries",
    OptKind::at_least(-1),
    "10",
    "How many times to retry the database connection at start. -1 retries forever.",
);

/// `[database] retry_interval`.
pub static RETRY_INTERVAL: Opt = Opt::new(
    "database",
    "retry_interval",
    OptKind::at_least(0),
    "10",
    "Seconds between database connection attempts at start.",
);

/// `[database] auto_migrate`.
pub static AUTO_MIGRATE: Opt = Opt::new(
    "database",
    "auto_migrate",
    OptKind::Bool,
    "true",
    "Apply pending schema migrations when the engine starts, as pymsboot-manage db sync does.",
);

/// Every `[engine]` and `[database]` option.
pub static OPTS: &[&Opt] = &[
    &HOST,
    &TOPIC,
    &ENGINE_WORKERS,
    &STORAGE_DIR,
    &MAX_CONCURRENT_DOWNLOADS,
    &MAX_DOWNLOAD_SIZE,
    &ALLOW_PRIVATE_NETWORKS,
    &DOWNLOAD_RETRIES,
    &DOWNLOAD_CONNECT_TIMEOUT,
    &DOWNLOAD_IDLE_TIMEOUT,
    &DOWNLOAD_CLAIM_TIMEOUT,
    &PERIODIC_INTERVAL,
    &STORAGE_CHECK_INTERVAL,
    &CONNECTION,
    &MAX_POOL_SIZE,
    &MAX_RETRIES,
    &RETRY_INTERVAL,
    &AUTO_MIGRATE,
];
