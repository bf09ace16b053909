//! A connection of its own to a test database, for what the store does not
//! do: old migrations applied by hand, rows written as an older engine wrote
//! them, and the catalog read back.

use engine::test_util::{Backend, TestDb};
use sqlx::mysql::MySqlConnection;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};

/// One native connection to the test database.
pub(crate) enum Raw {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
    MySql(MySqlConnection),
}

impl Raw {
    pub(crate) async fn connect(db: &TestDb) -> Raw {
        let url = db.url();
        let connected = match db.backend() {
            Backend::Sqlite => {
                let path = url.strip_prefix("sqlite:///").expect("a sqlite URL");
                SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .connect()
                    .await
                    .map(Raw::Sqlite)
            }
            Backend::Postgres => PgConnection::connect(url).await.map(Raw::Postgres),
            Backend::MySql => {
                MySqlConnection::connect(&url.replace("mysql+pymysql://", "mysql://"))
                    .await
                    .map(Raw::MySql)
            }
        };
        connected.unwrap_or_else(|e| panic!("connect to {url}: {e}"))
    }

    pub(crate) async fn try_execute(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        let raw = sqlx::raw_sql(AssertSqlSafe(sql.to_owned()));
        match self {
            Raw::Sqlite(conn) => raw.execute(conn).await.map(drop),
            Raw::Postgres(conn) => raw.execute(conn).await.map(drop),
            Raw::MySql(conn) => raw.execute(conn).await.map(drop),
        }
    }

    pub(crate) async fn execute(&mut self, sql: &str) {
        self.try_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    pub(crate) async fn texts(&mut self, sql: &str) -> Vec<String> {
        let sql_safe = || AssertSqlSafe(sql.to_owned());
        let rows = match self {
            Raw::Sqlite(conn) => sqlx::query_scalar(sql_safe()).fetch_all(conn).await,
            Raw::Postgres(conn) => sqlx::query_scalar(sql_safe()).fetch_all(conn).await,
            Raw::MySql(conn) => sqlx::query_scalar(sql_safe()).fetch_all(conn).await,
        };
        rows.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Applies `migrations` from the migration files and records them, as
    /// the runner of an older release did.
    pub(crate) async fn apply_old_schema(&mut self, backend: Backend, migrations: &[(i64, &str)]) {
        let dir = match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::MySql => "mysql",
        };
        self.execute(
            "CREATE TABLE schema_migrations (version BIGINT NOT NULL PRIMARY KEY, \
             name VARCHAR(255) NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .await;
        for (version, name) in migrations {
            let file = format!("{}/migrations/{dir}/{name}.sql", env!("CARGO_MANIFEST_DIR"));
            let sql = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
            for statement in statements(&sql) {
                self.execute(&statement).await;
            }
            self.execute(&format!(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ({version}, '{name}', 0)"
            ))
            .await;
        }
    }

    /// Inserts a queued movie called `name` with the columns of migration
    /// 0001, as the engines before owners did; its id.
    pub(crate) async fn insert_old_movie(&mut self, name: &str) -> Result<uuid::Uuid, sqlx::Error> {
        let id = uuid::Uuid::new_v4();
        let name = name.replace('\'', "''");
        self.try_execute(&format!(
            "INSERT INTO movies (id, name, url, state, bytes_downloaded, meta, created_at, \
             updated_at, download_generation) \
             VALUES ('{id}', '{name}', 'http://example.com/old.mp4', 'queued', 0, '{{}}', 1, 1, 0)"
        ))
        .await
        .map(|()| id)
    }

    pub(crate) async fn close(self) {
        let closed = match self {
            Raw::Sqlite(conn) => conn.close().await,
            Raw::Postgres(conn) => conn.close().await,
            Raw::MySql(conn) => conn.close().await,
        };
        closed.expect("close the raw connection");
    }
}

/// The statements of a migration file, split as the runner splits them: at
/// each `;` that ends a line, `--` comment lines left out.
fn statements(sql: &str) -> Vec<String> {
    let kept: Vec<&str> = sql
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect();
    kept.join("\n")
        .split(";\n")
        .map(|statement| statement.trim().trim_end_matches(';').to_owned())
        .filter(|statement| !statement.is_empty())
        .collect()
}

/// The indexes with `name` among their columns, by name.
pub(crate) async fn name_indexes(raw: &mut Raw, backend: Backend) -> Vec<String> {
    let sql = match backend {
        Backend::Sqlite => {
            "SELECT DISTINCT m.name FROM sqlite_master m, pragma_index_info(m.name) c \
             WHERE m.type = 'index' AND m.tbl_name = 'movies' AND c.name = 'name' ORDER BY m.name"
        }
        Backend::Postgres => {
            "SELECT DISTINCT i.relname::text FROM pg_index x \
             JOIN pg_class i ON i.oid = x.indexrelid \
             JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = ANY(x.indkey) \
             WHERE x.indrelid = 'movies'::regclass AND a.attname = 'name' ORDER BY 1"
        }
        Backend::MySql => {
            "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'movies' AND COLUMN_NAME = 'name' \
             ORDER BY INDEX_NAME"
        }
    };
    raw.texts(sql).await
}

/// The unique indexes of `movies` other than its primary key, by name.
pub(crate) async fn unique_indexes(raw: &mut Raw, backend: Backend) -> Vec<String> {
    let sql = match backend {
        Backend::Sqlite => {
            "SELECT name FROM pragma_index_list('movies') WHERE \"unique\" = 1 AND origin = 'c' \
             ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT i.relname::text FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
             WHERE x.indrelid = 'movies'::regclass AND x.indisunique AND NOT x.indisprimary \
             ORDER BY 1"
        }
        Backend::MySql => {
            "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'movies' AND NON_UNIQUE = 0 \
             AND INDEX_NAME <> 'PRIMARY' ORDER BY INDEX_NAME"
        }
    };
    raw.texts(sql).await
}
