//! [`DatabaseUrl`]: the SQLAlchemy-style URLs of `[database] connection`
//! (`sqlite:////abs`, `postgresql+psycopg2://…`, `mysql+pymysql://…`) read
//! into sqlx connect options. Printing one never shows its password.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use percent_encoding::percent_decode_str;
use sqlx::mysql::MySqlConnectOptions;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use url::{Host, Url};

use super::Backend;

/// How long a SQLite statement waits for another process's write lock. Several
/// engine workers share one file; every write we make is a single short
/// statement, so a wait this long means something is stuck.
pub(crate) const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// A parsed `[database] connection` URL. `Display` and `Debug` show it with
/// the password replaced by `***`.
#[derive(Clone)]
pub struct DatabaseUrl {
    redacted: String,
    pub(crate) target: Target,
}

/// What a [`DatabaseUrl`] connects to.
#[derive(Clone)]
pub(crate) enum Target {
    /// A SQLite database; `file` is `None` in memory.
    Sqlite {
        options: SqliteConnectOptions,
        file: Option<PathBuf>,
    },
    Postgres(PgConnectOptions),
    MySql(MySqlConnectOptions),
}

/// Why a database URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Not a URL at all (the text is not kept: it may hold a password).
    #[error("{url}: not a database URL: {reason}")]
    Malformed {
        /// The URL, password hidden.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A scheme other than sqlite, postgresql or mysql.
    #[error("{url}: unsupported database {scheme:?}; use sqlite, postgresql or mysql")]
    UnknownScheme {
        /// The URL, password hidden.
        url: String,
        /// The scheme, without its `+driver`.
        scheme: String,
    },
}

impl DatabaseUrl {
    /// Parses a SQLAlchemy-style URL. The `+driver` part of the scheme is
    /// ignored, and so are query parameters that mean nothing here.
    ///
    /// # Errors
    ///
    /// [`UrlError`] when the text is not a URL or names another database.
    pub fn parse(text: &str) -> Result<DatabaseUrl, UrlError> {
        let redacted = launcher::conf::redact_url(text);
        let malformed = |reason: &str| UrlError::Malformed {
            url: redacted.clone(),
            reason: reason.to_owned(),
        };
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| malformed("expected <scheme>://"))?;
        let database = scheme
            .split('+')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let target = match database.as_str() {
            "sqlite" => sqlite(rest),
            "postgresql" | "postgres" => Target::Postgres(postgres(&parse_url(text, &malformed)?)),
            "mysql" | "mariadb" => Target::MySql(mysql(&parse_url(text, &malformed)?)),
            _ => {
                return Err(UrlError::UnknownScheme {
                    url: redacted,
                    scheme: database,
                });
            }
        };
        Ok(DatabaseUrl { redacted, target })
    }

    /// `[database] connection`, as every reader of it must parse it.
    ///
    /// # Errors
    ///
    /// As [`DatabaseUrl::parse`].
    pub fn from_config(config: &launcher::Config) -> Result<DatabaseUrl, UrlError> {
        DatabaseUrl::parse(config.text(&crate::conf::CONNECTION))
    }

    /// Which database this URL names.
    pub fn backend(&self) -> Backend {
        match self.target {
            Target::Sqlite { .. } => Backend::Sqlite,
            Target::Postgres(_) => Backend::Postgres,
            Target::MySql(_) => Backend::MySql,
        }
    }
}

impl FromStr for DatabaseUrl {
    type Err = UrlError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        DatabaseUrl::parse(text)
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl").field(&self.redacted).finish()
    }
}

fn parse_url(text: &str, malformed: &dyn Fn(&str) -> UrlError) -> Result<Url, UrlError> {
    Url::parse(text).map_err(|e| malformed(&e.to_string()))
}

/// `sqlite://` is in memory, `sqlite:///rel` relative to the working
/// directory, `sqlite:////abs` absolute, as in SQLAlchemy.
fn sqlite(rest: &str) -> Target {
    let path = rest.split(['?', '#']).next().unwrap_or_default();
    let path = path.strip_prefix('/').unwrap_or(path);
    if path.is_empty() || path == ":memory:" {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .expect("sqlx accepts its own in-memory URL");
        return Target::Sqlite {
            options,
            file: None,
        };
    }
    let file = PathBuf::from(path);
    // WAL mode is set once a connection is open (see `connect`): as a
    // connect option it would fail, not wait, when workers start together.
    let options = SqliteConnectOptions::new()
        .filename(&file)
        .create_if_missing(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT);
    Target::Sqlite {
        options,
        file: Some(file),
    }
}

fn decoded(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

fn host(url: &Url) -> Option<String> {
    match url.host()? {
        Host::Ipv6(address) => Some(address.to_string()),
        host => Some(host.to_string()),
    }
}

fn database(url: &Url) -> Option<String> {
    let name = decoded(url.path().trim_start_matches('/'));
    (!name.is_empty()).then_some(name)
}

fn postgres(url: &Url) -> PgConnectOptions {
    let mut options = PgConnectOptions::new().application_name("pymsboot");
    if let Some(host) = host(url) {
        options = options.host(&host);
    }
    if let Some(port) = url.port() {
        options = options.port(port);
    }
    if !url.username().is_empty() {
        options = options.username(&decoded(url.username()));
    }
    if let Some(password) = url.password() {
        options = options.password(&decoded(password));
    }
    if let Some(name) = database(url) {
        options = options.database(&name);
    }
    for (key, value) in url.query_pairs() {
        options = match &*key {
            // libpq's way of naming a socket directory.
            "host" if value.starts_with('/') => options.socket(&*value),
            "host" => options.host(&value),
            "application_name" => options.application_name(&value),
            _ => ignored(&key, options),
        };
    }
    options
}

fn mysql(url: &Url) -> MySqlConnectOptions {
    // utf8mb4 whatever `charset` says: names may hold any character.
    let mut options = MySqlConnectOptions::new().charset("utf8mb4");
    if let Some(host) = host(url) {
        options = options.host(&host);
    }
    if let Some(port) = url.port() {
        options = options.port(port);
    }
    if !url.username().is_empty() {
        options = options.username(&decoded(url.username()));
    }
    if let Some(password) = url.password() {
        options = options.password(&decoded(password));
    }
    if let Some(name) = database(url) {
        options = options.database(&name);
    }
    for (key, value) in url.query_pairs() {
        options = match &*key {
            "unix_socket" | "socket" => options.socket(&*value),
            _ => ignored(&key, options),
        };
    }
    options
}

fn ignored<T>(key: &str, options: T) -> T {
    tracing::debug!(parameter = key, "database URL parameter ignored");
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite_file(text: &str) -> Option<PathBuf> {
        match DatabaseUrl::parse(text).expect("parses").target {
            Target::Sqlite { file, .. } => file,
            _ => panic!("{text} is not sqlite"),
        }
    }

    #[test]
    fn sqlite_urls_follow_sqlalchemy() {
        assert_eq!(
            sqlite_file("sqlite:///var/db.sqlite"),
            Some(PathBuf::from("var/db.sqlite"))
        );
        assert_eq!(
            sqlite_file("sqlite:////var/lib/x.sqlite"),
            Some(PathBuf::from("/var/lib/x.sqlite"))
        );
        assert_eq!(
            sqlite_file("sqlite:////var/x.sqlite?timeout=5"),
            Some(PathBuf::from("/var/x.sqlite"))
        );
        assert_eq!(sqlite_file("sqlite://"), None);
        assert_eq!(sqlite_file("sqlite:///:memory:"), None);
    }

    #[test]
    fn postgres_urls_with_a_driver_are_read() {
        let url = DatabaseUrl::parse(
            "postgresql+psycopg2://u%40x:p%2Fw@db.example:6432/movies?sslmode=disable",
        )
        .expect("parses");
        let Target::Postgres(options) = url.target else {
            panic!("not postgres")
        };
        assert_eq!(options.get_host(), "db.example");
        assert_eq!(options.get_port(), 6432);
        assert_eq!(options.get_username(), "u@x");
        assert_eq!(options.get_database(), Some("movies"));
    }

    #[test]
    fn mysql_urls_with_a_driver_are_read() {
        for text in [
            "mysql+pymysql://root:pw@127.0.0.1:3307/pymsboot?charset=utf8",
            "mysql://root:pw@127.0.0.1:3307/pymsboot",
        ] {
            let url = DatabaseUrl::parse(text).expect("parses");
            assert_eq!(url.backend(), Backend::MySql);
            let Target::MySql(options) = url.target else {
                panic!("not mysql")
            };
            assert_eq!(
                (options.get_host(), options.get_port()),
                ("127.0.0.1", 3307)
            );
            assert_eq!(options.get_database(), Some("pymsboot"));
            assert_eq!(options.get_charset(), "utf8mb4");
        }
    }

    #[test]
    fn printing_a_url_hides_its_password() {
        let url = DatabaseUrl::parse("postgresql://pymsboot:s3cret@db/pymsboot").expect("parses");
        assert_eq!(url.to_string(), "postgresql://pymsboot:***@db/pymsboot");
        assert!(!format!("{url:?}").contains("s3cret"));
    }

    #[test]
    fn other_databases_and_non_urls_are_refused_without_their_password() {
        let error = DatabaseUrl::parse("oracle://u:s3cret@db/x").expect_err("refused");
        assert!(matches!(&error, UrlError::UnknownScheme { scheme, .. } if scheme == "oracle"));
        assert!(!error.to_string().contains("s3cret"));
        assert!(matches!(
            DatabaseUrl::parse("just text"),
            Err(UrlError::Malformed { .. })
        ));
        let error = DatabaseUrl::parse("postgresql://u:s3cret@[bad/x").expect_err("refused");
        assert!(!error.to_string().contains("s3cret"));
    }
}
