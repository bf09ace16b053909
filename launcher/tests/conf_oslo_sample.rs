//! A sample written by the real `oslo-config-generator` for oslo.messaging,
//! oslo.log, oslo.service and oslo.db loads unchanged (CONTRACT §2), and so
//! do copies of it with options uncommented.

use std::path::{Path, PathBuf};

use launcher::conf::{self, Config, Opt, OptDefault, OptKind, Sources, options};

static RABBIT_RETRY_INTERVAL: Opt = Opt {
    section: "oslo_messaging_rabbit",
    name: "rabbit_retry_interval",
    kind: OptKind::Int {
        min: Some(1),
        max: None,
    },
    default: OptDefault::Value("1"),
    help: "How frequently to retry connecting with RabbitMQ.",
    mutable: false,
    secret: false,
};

static CONNECTION: Opt = Opt {
    section: "database",
    name: "connection",
    kind: OptKind::Url {
        schemes: &["sqlite", "postgresql", "mysql"],
    },
    default: OptDefault::Value("sqlite:////var/lib/pymsboot/pymsboot.sqlite"),
    help: "The SQLAlchemy connection string to use to connect to the database.",
    mutable: false,
    secret: true,
};

static SERVICE_OPTS: &[&Opt] = &[&RABBIT_RETRY_INTERVAL, &CONNECTION];

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oslo-generated.conf")
}

fn fixture_text() -> String {
    std::fs::read_to_string(fixture()).expect("the fixture is checked in")
}

fn load_one(path: &Path) -> Config {
    let sources = Sources {
        files: vec![path.to_path_buf()],
        ..Sources::default()
    };
    conf::load(&sources, &[options::OPTS, SERVICE_OPTS])
        .unwrap_or_else(|problems| panic!("{} did not load: {problems:#?}", path.display()))
}

/// Writes `text` to a file of this test's own, removed when dropped.
struct TempConf(PathBuf);

impl TempConf {
    fn new(test: &str, text: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("launcher-{test}-{}.conf", std::process::id()));
        std::fs::write(&path, text).expect("the temp dir is writable");
        TempConf(path)
    }
}

impl Drop for TempConf {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `text` with the one line `from` replaced by `to`.
fn set_line(text: &str, from: &str, to: &str) -> String {
    let needle = format!("\n{from}\n");
    assert_eq!(
        text.matches(&needle).count(),
        1,
        "the fixture has one `{from}` line"
    );
    text.replacen(&needle, &format!("\n{to}\n"), 1)
}

#[test]
fn the_generated_sample_loads_unchanged_with_the_launchers_options() {
    let sources = Sources {
        files: vec![fixture()],
        ..Sources::default()
    };
    let config = conf::load(&sources, &[options::OPTS]).expect("the oslo sample loads");
    assert!(!config.bool(&options::DEBUG));
    assert_eq!(config.str(&options::LOG_FILE), None);
    assert_eq!(config.int(&options::GRACEFUL_SHUTDOWN_TIMEOUT), 60);
    assert_eq!(config.files(), [fixture()]);
}

#[test]
fn the_generated_sample_leaves_rabbit_and_database_options_at_their_defaults() {
    let config = load_one(&fixture());
    assert_eq!(config.int(&RABBIT_RETRY_INTERVAL), 1);
    assert_eq!(
        config.str(&CONNECTION),
        Some("sqlite:////var/lib/pymsboot/pymsboot.sqlite")
    );
}

#[test]
fn a_copy_with_realistic_values_set_loads_them() {
    let mut text = fixture_text();
    for (from, to) in [
        ("#debug = false", "debug = True"),
        (
            "#log_file = <None>",
            "log_file = /var/log/pymsboot/pymsboot-api.log",
        ),
        (
            "#graceful_shutdown_timeout = 60",
            "graceful_shutdown_timeout = 30",
        ),
        (
            "#transport_url = rabbit://",
            "transport_url = rabbit://u:p@h1:5672,u:p@h2:5672/",
        ),
        (
            "#connection = <None>",
            "connection = postgresql+psycopg2://pymsboot:s3cret@db/pymsboot",
        ),
        ("#rabbit_retry_interval = 1", "rabbit_retry_interval = 2"),
    ] {
        text = set_line(&text, from, to);
    }
    let file = TempConf::new("realistic", &text);

    let config = load_one(&file.0);

    assert!(config.bool(&options::DEBUG));
    assert_eq!(
        config.str(&options::LOG_FILE),
        Some("/var/log/pymsboot/pymsboot-api.log")
    );
    assert_eq!(config.int(&options::GRACEFUL_SHUTDOWN_TIMEOUT), 30);
    assert_eq!(config.int(&RABBIT_RETRY_INTERVAL), 2);
    assert_eq!(
        config.str(&CONNECTION),
        Some("postgresql+psycopg2://pymsboot:s3cret@db/pymsboot")
    );
    assert_eq!(
        config.display_value(&CONNECTION),
        "postgresql+psycopg2://pymsboot:***@db/pymsboot"
    );
    assert!(!format!("{config:?}").contains("s3cret"));
}

#[test]
fn a_copy_with_every_default_uncommented_loads() {
    // `<None>` stands for "unset"; uncommented it would be the literal string.
    let text = fixture_text();
    let uncommented: Vec<&str> = text
        .lines()
        .map(|line| match line.strip_prefix('#') {
            Some(rest) if is_option_line(rest) && !rest.ends_with("= <None>") => rest,
            _ => line,
        })
        .collect();
    let count = uncommented
        .iter()
        .filter(|line| is_option_line(line))
        .count();
    assert!(count > 100, "only {count} options were uncommented");
    let file = TempConf::new("uncommented", &(uncommented.join("\n") + "\n"));

    let config = load_one(&file.0);

    assert!(!config.bool(&options::DEBUG));
    assert_eq!(config.int(&RABBIT_RETRY_INTERVAL), 1);
}

/// `name = value` with an oslo option name (`[a-z0-9_]+`) at the start.
fn is_option_line(line: &str) -> bool {
    line.split_once(" =").is_some_and(|(name, _)| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    })
}
