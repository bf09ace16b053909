//! Tests of [`load`](super::load) and [`Config`](super::Config) against real
//! files in a scratch directory.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

/// A directory of its own per test, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("launcher-conf-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir is writable");
        Scratch(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("temp dir is writable");
        }
        std::fs::write(&path, text).expect("temp dir is writable");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A test option: not mutable, not secret, unless the caller says otherwise.
const fn opt(section: &'static str, name: &'static str, kind: OptKind, default: OptDefault) -> Opt {
    Opt {
        section,
        name,
        kind,
        default,
        help: "Help.",
        mutable: false,
        secret: false,
    }
}

static FLAG: Opt = Opt {
    mutable: true,
    ..opt("DEFAULT", "flag", OptKind::Bool, OptDefault::Value("false"))
};
static PORT: Opt = opt("api", "port", OptKind::Port, OptDefault::Value("9666"));
static WORKERS: Opt = opt(
    "api",
    "workers",
    OptKind::Int {
        min: Some(0),
        max: Some(64),
    },
    OptDefault::Value("0"),
);
static NAMES: Opt = opt("api", "names", OptKind::List, OptDefault::Value("a,b"));
static NOTE: Opt = opt("api", "api_note", OptKind::Str, OptDefault::Unset);
static CONNECTION: Opt = Opt {
    secret: true,
    ..opt(
        "database",
        "connection",
        OptKind::Url {
            schemes: &["sqlite", "postgresql", "mysql"],
        },
        OptDefault::Value("sqlite:////var/lib/x.sqlite"),
    )
};
static PASSWORD: Opt = Opt {
    secret: true,
    ..opt("database", "password", OptKind::Str, OptDefault::Unset)
};
static HOST: Opt = opt(
    "engine",
    "host",
    OptKind::HostAddress,
    OptDefault::Computed {
        describe: "hostname",
        compute: || "node-1".to_owned(),
    },
);

const TABLE: &[&Opt] = &[
    &FLAG,
    &PORT,
    &WORKERS,
    &NAMES,
    &NOTE,
    &CONNECTION,
    &PASSWORD,
    &HOST,
];

fn files(paths: &[&Path]) -> Sources {
    Sources {
        files: paths.iter().map(|p| p.to_path_buf()).collect(),
        ..Sources::default()
    }
}

fn load_ok(sources: &Sources) -> Config {
    load(sources, &[TABLE]).unwrap_or_else(|problems| panic!("unexpected problems: {problems:?}"))
}

fn problem_lines(sources: &Sources) -> Vec<String> {
    match load(sources, &[TABLE]) {
        Ok(config) => panic!("expected problems, loaded {config:?}"),
        Err(problems) => problems.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn defaults_come_out_when_nothing_is_configured() {
    let config = load_ok(&Sources::default());
    assert!(!config.bool(&FLAG));
    assert_eq!(config.port(&PORT), 9666);
    assert_eq!(config.int(&WORKERS), 0);
    assert_eq!(config.list(&NAMES), ["a", "b"]);
    assert_eq!(config.str(&NOTE), None);
    assert_eq!(config.str(&CONNECTION), Some("sqlite:////var/lib/x.sqlite"));
    assert!(config.files().is_empty());
}

#[test]
fn computed_defaults_are_computed_at_load() {
    assert_eq!(load_ok(&Sources::default()).str(&HOST), Some("node-1"));
}

#[test]
fn the_launchers_own_options_load_with_their_defaults() {
    let config = load(&Sources::default(), &[OPTS]).expect("defaults are valid");
    assert!(!config.bool(&options::DEBUG));
    assert_eq!(config.str(&options::LOG_FILE), None);
    assert_eq!(config.str(&options::LOG_DIR), None);
    assert!(!config.bool(&options::USE_STDERR));
    assert!(!config.bool(&options::USE_JSON));
    assert_eq!(config.int(&options::GRACEFUL_SHUTDOWN_TIMEOUT), 60);
}

#[test]
fn later_files_win_and_files_are_listed_in_reading_order() {
    let dir = Scratch::new();
    let first = dir.write("a.conf", "[api]\nport = 1\nworkers = 2\n");
    let second = dir.write("b.conf", "[api]\nport = 3\n");
    let config = load_ok(&files(&[&first, &second]));
    assert_eq!(config.port(&PORT), 3);
    assert_eq!(config.int(&WORKERS), 2);
    assert_eq!(config.files(), [first, second]);
}

#[test]
fn repeated_sections_merge_and_the_last_key_wins() {
    let dir = Scratch::new();
    let path = dir.write(
        "a.conf",
        "[api]\nport = 1\nworkers = 2\n[DEFAULT]\nflag = on\n[api]\nport = 4\nport = 5\n",
    );
    let config = load_ok(&files(&[&path]));
    assert_eq!(
        (config.port(&PORT), config.int(&WORKERS), config.bool(&FLAG)),
        (5, 2, true)
    );
}

#[test]
fn unknown_sections_and_options_are_ignored() {
    let dir = Scratch::new();
    let text = "[oslo_messaging_kafka]\nkafka_max_fetch_bytes = x\n[api]\nno_such = ?\nport = 80\n";
    let config = load_ok(&files(&[&dir.write("a.conf", text)]));
    assert_eq!(config.port(&PORT), 80);
}

#[test]
fn section_names_match_like_oslo_and_dashes_read_as_underscores() {
    let dir = Scratch::new();
    let text = "[API]\nport = 80\n[default]\nflag = true\n[DEFAULT]\n[engine]\nhost = h\n";
    let config = load_ok(&files(&[&dir.write("a.conf", text)]));
    assert_eq!(config.port(&PORT), 80);
    assert!(
        !config.bool(&FLAG),
        "[default] is not [DEFAULT] in oslo.config"
    );
    let config = load_ok(&files(&[
        &dir.write("b.conf", "[api]\nport = 80\napi-note = x\n")
    ]));
    assert_eq!(config.str(&NOTE), Some("x"));
}

#[test]
fn comments_and_inline_hashes_follow_oslo() {
    let dir = Scratch::new();
    let text = "# port = 1\n[api]\n; port = 2\napi_note = keep # this\n#port = 3\n";
    let config = load_ok(&files(&[&dir.write("a.conf", text)]));
    assert_eq!(config.port(&PORT), 9666);
    assert_eq!(config.str(&NOTE), Some("keep # this"));
}

#[test]
fn overrides_win_over_every_file() {
    let dir = Scratch::new();
    let path = dir.write(
        "a.conf",
        "[DEFAULT]\nflag = false\n[api]\napi_note = file\n",
    );
    let mut sources = files(&[&path]);
    sources.overrides = vec![
        Override {
            section: "DEFAULT",
            name: "flag",
            value: "true".into(),
        },
        Override {
            section: "api",
            name: "api-note",
            value: "flag".into(),
        },
    ];
    let config = load_ok(&sources);
    assert!(config.bool(&FLAG));
    assert_eq!(config.str(&NOTE), Some("flag"));
}

#[test]
fn an_override_of_an_undeclared_option_is_a_problem() {
    let sources = Sources {
        overrides: vec![Override {
            section: "DEFAULT",
            name: "nope",
            value: "1".into(),
        }],
        ..Sources::default()
    };
    assert_eq!(
        problem_lines(&sources),
        ["command line: [DEFAULT] nope: no such option"]
    );
}

#[test]
fn every_problem_is_reported_at_once_with_file_and_option() {
    let dir = Scratch::new();
    let one = dir.write("one.conf", "[api]\nport = 99999\nworkers = many\n");
    let two = dir.write(
        "two.conf",
        "[DEFAULT]\nflag = maybe\n[engine]\nhost = -bad-\n",
    );
    let three = dir.write("three.conf", "[api]\ngarbage\n");
    let missing = dir.0.join("missing.conf");
    let mut sources = files(&[&one, &missing, &two, &three]);
    sources.overrides = vec![Override {
        section: "api",
        name: "port",
        value: "-1".into(),
    }];
    let (one, two, three, missing) = (
        one.display(),
        two.display(),
        three.display(),
        missing.display(),
    );
    assert_eq!(
        problem_lines(&sources),
        [
            format!("{missing}: cannot read: No such file or directory (os error 2)"),
            format!("{three}: line 2: no ':' or '=' found in assignment"),
            format!(
                "{two}: [DEFAULT] flag = 'maybe': expected a boolean: true/false, yes/no, on/off or 1/0"
            ),
            "command line: [api] port = '-1': expected an integer from 0 to 65535".to_owned(),
            format!("{one}: [api] workers = 'many': expected an integer from 0 to 64"),
            format!(
                "{two}: [engine] host = '-bad-': expected an IPv4 or IPv6 address or a host name"
            ),
        ]
    );
}

#[test]
fn an_empty_value_is_an_empty_string_an_empty_list_or_a_problem() {
    let dir = Scratch::new();
    let path = dir.write("a.conf", "[api]\napi_note =\nnames =\n");
    let config = load_ok(&files(&[&path]));
    assert_eq!(config.str(&NOTE), Some(""));
    assert!(config.list(&NAMES).is_empty());
    let path = dir.write("b.conf", "[DEFAULT]\nflag =\n[api]\nworkers =\n");
    assert_eq!(problem_lines(&files(&[&path])).len(), 2);
}

#[test]
fn a_config_dir_is_read_after_the_files_in_name_order() {
    let dir = Scratch::new();
    let file = dir.write(
        "main.conf",
        "[api]\nport = 1\nworkers = 1\napi_note = main\n",
    );
    let b = dir.write("d/20-b.conf", "[api]\nport = 3\n");
    let a = dir.write("d/10-a.conf", "[api]\nport = 2\nworkers = 2\n");
    dir.write("d/.hidden.conf", "[api]\napi_note = hidden\n");
    dir.write("d/notes.txt", "[api]\napi_note = txt\n");
    let sources = Sources {
        dirs: vec![dir.0.join("d")],
        ..files(&[&file])
    };
    let config = load_ok(&sources);
    assert_eq!((config.port(&PORT), config.int(&WORKERS)), (3, 2));
    assert_eq!(config.str(&NOTE), Some("main"));
    assert_eq!(config.files(), [file, a, b]);
}

#[test]
fn a_missing_config_dir_is_a_problem_and_an_empty_one_is_fine() {
    let dir = Scratch::new();
    std::fs::create_dir(dir.0.join("empty")).expect("temp dir is writable");
    let empty = Sources {
        dirs: vec![dir.0.join("empty")],
        ..Sources::default()
    };
    assert!(load_ok(&empty).files().is_empty());
    let missing = dir.0.join("missing");
    let sources = Sources {
        dirs: vec![missing.clone()],
        ..Sources::default()
    };
    assert_eq!(
        problem_lines(&sources),
        [format!(
            "{}: cannot read directory: No such file or directory (os error 2)",
            missing.display()
        )]
    );
}

#[test]
fn secrets_are_redacted_in_display_values_debug_and_problems() {
    let dir = Scratch::new();
    let text = "[database]\nconnection = mysql+pymysql://u:hunter2@db/x\npassword = hunter2\n";
    let config = load_ok(&files(&[&dir.write("a.conf", text)]));
    assert_eq!(
        config.str(&CONNECTION),
        Some("mysql+pymysql://u:hunter2@db/x")
    );
    assert_eq!(
        config.display_value(&CONNECTION),
        "mysql+pymysql://u:***@db/x"
    );
    assert_eq!(config.display_value(&PASSWORD), "***");
    assert_eq!(config.display_value(&NOTE), "<None>");
    let debug = format!("{config:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("[database] connection"), "{debug}");

    let bad = dir.write(
        "b.conf",
        "[database]\nconnection = oracle://u:hunter2@db/x\n",
    );
    let lines = problem_lines(&files(&[&bad]));
    assert!(lines[0].contains("'oracle://u:***@db/x'"), "{lines:?}");
}

#[test]
fn changes_list_differing_options_with_redacted_values() {
    let dir = Scratch::new();
    let old =
        load_ok(&files(&[&dir.write(
            "a.conf",
            "[database]\nconnection = mysql://u:one@db/x\n",
        )]));
    let text = "[DEFAULT]\nflag = yes\n[database]\nconnection = mysql://u:two@db/x\n";
    let new = load_ok(&files(&[&dir.write("b.conf", text)]));
    let changes: Vec<String> = old.changes(&new).iter().map(ToString::to_string).collect();
    assert_eq!(
        changes,
        [
            "[DEFAULT] flag changed from false to true",
            "[database] connection changed from mysql://u:***@db/x to mysql://u:***@db/x",
        ]
    );
    assert!(old.changes(&old.clone()).is_empty());
}

#[test]
fn a_required_option_without_a_value_is_a_problem() {
    static REQUIRED: Opt = opt("api", "port", OptKind::Port, OptDefault::Unset);
    let problems = load(&Sources::default(), &[&[&REQUIRED]]).expect_err("no value anywhere");
    assert_eq!(
        problems[0].to_string(),
        "configuration: [api] port: a value is required"
    );
}

#[test]
fn an_invalid_built_in_default_and_a_double_declaration_are_reported() {
    static BAD_DEFAULT: Opt = opt("api", "workers", WORKERS.kind, OptDefault::Value("lots"));
    static TWIN: Opt = opt("api", "port", OptKind::Port, OptDefault::Value("9666"));
    let problems = load(
        &Sources::default(),
        &[&[&BAD_DEFAULT, &PORT], &[&TWIN, &PORT]],
    )
    .expect_err("bad tables");
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "option tables: [api] port: declared more than once",
            "built-in default: [api] workers = 'lots': expected an integer from 0 to 64",
        ]
    );
}

#[test]
#[should_panic(expected = "option [api] port is a port value; Config::int cannot read it")]
fn reading_an_option_with_the_wrong_accessor_panics() {
    load_ok(&Sources::default()).int(&PORT);
}

#[test]
#[should_panic(expected = "was not in the tables given to conf::load")]
fn reading_an_undeclared_option_panics() {
    load(&Sources::default(), &[OPTS])
        .expect("defaults are valid")
        .port(&PORT);
}

#[test]
fn a_typo_in_an_owned_section_loads_with_a_warning_naming_the_option_meant() {
    let dir = Scratch::new();
    let path = dir.write(
        "a.conf",
        "[api]\nworker = 3\nworker = 4\nport = 80\n[DEFAULT]\nflga = on\nuse_syslog = true\n",
    );
    let config = load_ok(&files(&[&path]));
    let warnings: Vec<String> = config.warnings().iter().map(ToString::to_string).collect();
    let file = path.display();
    assert_eq!(
        warnings,
        [
            format!("{file}: [api] worker is not a known option; did you mean workers?"),
            format!("{file}: [DEFAULT] flga is not a known option; did you mean flag?"),
        ],
        "each typo once; oslo.log's use_syslog is not one"
    );
    assert_eq!(config.port(&PORT), 80);
}
