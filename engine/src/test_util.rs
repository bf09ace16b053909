//! [`TestDb`]: a fresh, uniquely named, migrated database per test on the
//! local PostgreSQL (`postgres@127.0.0.1:5432`) or MariaDB
//! (`root@127.0.0.1:3306`) server, or a SQLite file in a temporary directory;
//! dropped when the `TestDb` is.
//!
//! Names carry their creation time and the creating process id
//! (`pymsboot_test_<secs>_<pid>_<random>`), so the first `TestDb` of each
//! process sweeps away leftovers of crashed runs (a dead pid, or older than
//! an hour) without touching databases of tests running beside it.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Once;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::mysql::MySqlConnection;
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection};

pub use crate::db::Backend;
use crate::db::{DatabaseUrl, Store};
use crate::objects::ListQuery;
use crate::scope::Caller;

const PREFIX: &str = "pymsboot_test_";
const POSTGRES_SERVER: &str = "postgresql://postgres@127.0.0.1:5432";
const MYSQL_SERVER: &str = "mysql+pymysql://root@127.0.0.1:3306";
/// Where databases are created and dropped from.
const POSTGRES_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const MYSQL_ADMIN: &str = "mysql://root@127.0.0.1:3306";
/// Leftovers older than this are removed even if their pid looks alive.
const MAX_AGE: Duration = Duration::from_secs(3600);
const POOL_SIZE: u32 = 5;

/// A TLS server configuration for `localhost` and `127.0.0.1` with a freshly
/// made self-signed certificate, which no system trusts, and that
/// certificate (DER), for the tests that serve HTTPS.
///
/// # Panics
/// When the certificate cannot be made.
pub fn self_signed_tls() -> (std::sync::Arc<rustls::ServerConfig>, Vec<u8>) {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let certified = rcgen::generate_simple_self_signed(names).expect("a certificate");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .expect("a server configuration");
    (std::sync::Arc::new(config), certified.cert.der().to_vec())
}

/// A fresh database for one test, dropped on `Drop`.
#[derive(Debug)]
pub struct TestDb {
    backend: Backend,
    name: String,
    url: String,
    /// Made on first use, in the caller's runtime, which the pool lives on.
    store: std::sync::OnceLock<Store>,
}

impl TestDb {
    /// A fresh, migrated database on `backend`.
    ///
    /// # Panics
    ///
    /// When the database server cannot be reached or the migrations fail:
    /// the test cannot run.
    pub fn new(backend: Backend) -> TestDb {
        let db = TestDb::unmigrated(backend);
        let url = db.database_url();
        block_on(async move {
            let store = Store::connect(&url, 1, 0, Duration::ZERO)
                .await
                .expect("connect to the test database");
            store.migrate().await.expect("migrate the test database");
            store.close().await;
        });
        db
    }

    /// A fresh, empty database on `backend`, for testing migrations.
    ///
    /// # Panics
    ///
    /// When the database server cannot be reached.
    pub fn unmigrated(backend: Backend) -> TestDb {
        sweep_once(backend);
        let name = unique_name();
        let url = match backend {
            Backend::Sqlite => format!("sqlite:///{}", sqlite_file(&name).display()),
            Backend::Postgres => format!("{POSTGRES_SERVER}/{name}"),
            Backend::MySql => format!("{MYSQL_SERVER}/{name}"),
        };
        let task_name = name.clone();
        block_on(async move { create_database(backend, &task_name).await })
            .expect("create the test database");
        TestDb {
            backend,
            name,
            url,
            store: std::sync::OnceLock::new(),
        }
    }

    /// The database's SQLAlchemy-style URL, as `[database] connection` takes it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The parsed [`url`](TestDb::url).
    pub fn database_url(&self) -> DatabaseUrl {
        parse(&self.url)
    }

    /// A store on this database (a clone of one shared pool, connected on
    /// first use in the caller's runtime). Must be called inside a runtime:
    /// the pool lives there.
    pub fn store(&self) -> Store {
        self.store.get_or_init(|| self.separate_store()).clone()
    }

    /// A store with a pool of its own, as another engine process would have.
    pub fn separate_store(&self) -> Store {
        Store::connect_lazy(&self.database_url(), POOL_SIZE).expect("open the test database")
    }

    /// Which backend this database is on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The query-plan lines of every statement `list(caller, query)` runs,
    /// to check that a page is read off an index.
    ///
    /// # Errors
    ///
    /// The database's, or an unknown marker.
    pub async fn explain_list(
        &self,
        caller: &Caller,
        query: &ListQuery,
    ) -> Result<Vec<String>, sqlx::Error> {
        self.store().explain_list(caller, query).await
    }

    /// Refreshes the planner's statistics, as a database in service has them.
    ///
    /// # Errors
    ///
    /// The database's.
    pub async fn analyze(&self) -> Result<(), sqlx::Error> {
        self.store().analyze().await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (backend, name) = (self.backend, self.name.clone());
        if let Err(error) = block_on(async move { drop_database(backend, &name).await }) {
            eprintln!("cannot drop test database {}: {error}", self.name);
        }
    }
}

fn parse(url: &str) -> DatabaseUrl {
    DatabaseUrl::parse(url).expect("test database URLs are well formed")
}

fn sqlite_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(name).join("pymsboot.sqlite")
}

fn unique_name() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let random = &uuid::Uuid::new_v4().simple().to_string()[..8];
    format!("{PREFIX}{secs}_{}_{random}", std::process::id())
}

/// Runs `future` to completion on a thread with its own runtime, so that
/// it works from sync code, from `Drop`, and inside a test's runtime alike.
fn block_on<F>(future: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for database setup")
            .block_on(future)
    })
    .join()
    .expect("database setup thread")
}

async fn create_database(backend: Backend, name: &str) -> Result<(), sqlx::Error> {
    match backend {
        Backend::Sqlite => Ok(std::fs::create_dir_all(std::env::temp_dir().join(name))?),
        Backend::Postgres => admin(backend, &format!("CREATE DATABASE \"{name}\"")).await,
        Backend::MySql => admin(backend, &format!("CREATE DATABASE `{name}`")).await,
    }
}

async fn drop_database(backend: Backend, name: &str) -> Result<(), sqlx::Error> {
    match backend {
        Backend::Sqlite => match std::fs::remove_dir_all(std::env::temp_dir().join(name)) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error.into()),
            _ => Ok(()),
        },
        // FORCE ends the test's own pool connections, still open here.
        Backend::Postgres => {
            admin(
                backend,
                &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            )
            .await
        }
        Backend::MySql => admin(backend, &format!("DROP DATABASE IF EXISTS `{name}`")).await,
    }
}

/// Runs one statement on the server's maintenance connection.
async fn admin(backend: Backend, sql: &str) -> Result<(), sqlx::Error> {
    let sql = AssertSqlSafe(sql.to_owned());
    match backend {
        Backend::Postgres => {
            let mut conn = PgConnection::connect(POSTGRES_ADMIN).await?;
            sqlx::raw_sql(sql).execute(&mut conn).await?;
            conn.close().await
        }
        Backend::MySql => {
            let mut conn = MySqlConnection::connect(MYSQL_ADMIN).await?;
            sqlx::raw_sql(sql).execute(&mut conn).await?;
            conn.close().await
        }
        Backend::Sqlite => Ok(()),
    }
}

/// Leftover test databases of `backend`: their names.
async fn leftovers(backend: Backend) -> Result<Vec<String>, sqlx::Error> {
    let names: Vec<String> = match backend {
        Backend::Sqlite => std::fs::read_dir(std::env::temp_dir())?
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .collect(),
        Backend::Postgres => {
            let mut conn = PgConnection::connect(POSTGRES_ADMIN).await?;
            sqlx::query_scalar("SELECT datname::text FROM pg_database")
                .fetch_all(&mut conn)
                .await?
        }
        Backend::MySql => {
            let mut conn = MySqlConnection::connect(MYSQL_ADMIN).await?;
            sqlx::query_scalar("SELECT schema_name FROM information_schema.schemata")
                .fetch_all(&mut conn)
                .await?
        }
    };
    Ok(names.into_iter().filter(|name| is_stale(name)).collect())
}

/// Whether a `pymsboot_test_<secs>_<pid>_<random>` name belongs to a dead
/// process or is older than [`MAX_AGE`].
fn is_stale(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(PREFIX) else {
        return false;
    };
    let mut parts = rest.split('_');
    let (Some(Ok(secs)), Some(Ok(pid))) = (
        parts.next().map(str::parse::<u64>),
        parts.next().map(str::parse::<i32>),
    ) else {
        return false;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let dead = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
        == Err(nix::errno::Errno::ESRCH);
    dead || now.saturating_sub(secs) > MAX_AGE.as_secs()
}

/// Removes leftovers once per process and backend.
fn sweep_once(backend: Backend) {
    static SQLITE: Once = Once::new();
    static POSTGRES: Once = Once::new();
    static MYSQL: Once = Once::new();
    let once = match backend {
        Backend::Sqlite => &SQLITE,
        Backend::Postgres => &POSTGRES,
        Backend::MySql => &MYSQL,
    };
    once.call_once(|| {
        block_on(async move {
            // Another process may sweep the same leftover: failures are fine.
            for name in leftovers(backend).await.unwrap_or_default() {
                let _ = drop_database(backend, &name).await;
            }
        })
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_old_or_orphaned_test_databases_are_stale() {
        let mine = unique_name();
        assert!(!is_stale(&mine));
        assert!(is_stale(&format!(
            "{PREFIX}1_{}_abcd1234",
            std::process::id()
        )));
        assert!(is_stale(&format!(
            "{PREFIX}{}_{}_abcd1234",
            u64::MAX / 2,
            i32::MAX
        )));
        assert!(!is_stale("pymsboot"));
        assert!(!is_stale("pymsboot_test_x_y"));
    }
}
