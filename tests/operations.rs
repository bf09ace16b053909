//! The files an operator installs: compose files and the Dockerfile, man
//! pages, `make install`, the logrotate file, the systemd units and the init
//! script. Each is read or run with the real tool that will read it
//! (`man`, `groff`, `logrotate`, `systemd-analyze`, `sh`, `start-stop-daemon`).

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use yaml_rust2::{Yaml, YamlLoader};

use crate::harness::dir::TempDir;
use crate::harness::{bin, run};

/// The source tree.
fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// Where the built binaries are.
fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_pymsboot-engine"))
        .parent()
        .expect("a binary lives in a directory")
        .to_path_buf()
}

/// A system tool by name, also looked up in the sbin directories.
fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("`{name}` is not installed (.ci/run installs it)"))
}

fn text(output: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Whether the process runs: it exists and is not a zombie waiting for a
/// parent (or a reaper that never comes) to collect it.
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat.rsplit_once(") ")?.1.chars().next()?;
            Some(!matches!(state, 'Z' | 'X'))
        })
        .unwrap_or(false)
}

fn id(flag: &str) -> String {
    let output = run(Command::new("id").arg(flag));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

// ---------------------------------------------------------------- compose, Dockerfile

fn compose(name: &str) -> Yaml {
    let mut docs = YamlLoader::load_from_str(&read(&format!("compose/{name}")))
        .unwrap_or_else(|e| panic!("compose/{name} is not YAML: {e}"));
    assert_eq!(docs.len(), 1, "compose/{name} holds one document");
    docs.remove(0)
}

fn service<'a>(doc: &'a Yaml, name: &str) -> &'a Yaml {
    let service = &doc["services"][name];
    assert!(service.is_hash(), "no service `{name}`");
    service
}

fn strings(node: &Yaml) -> Vec<&str> {
    node.as_vec()
        .map(|items| items.iter().filter_map(Yaml::as_str).collect())
        .unwrap_or_default()
}

/// The container side of each `ports` entry (`[ip:]host:container`).
fn container_ports(service: &Yaml) -> Vec<&str> {
    strings(&service["ports"])
        .into_iter()
        .filter_map(|p| p.rsplit(':').next())
        .collect()
}

/// Every named volume a service mounts is declared at the top of its file.
fn assert_named_volumes_declared(doc: &Yaml, file: &str) {
    let services = doc["services"].as_hash().expect("a services map");
    for (name, service) in services {
        for volume in strings(&service["volumes"]) {
            let source = volume.split(':').next().unwrap_or_default();
            if !source.starts_with(['.', '/']) {
                assert!(
                    doc["volumes"][source].is_null() || doc["volumes"][source].is_hash(),
                    "{file}: {name:?} mounts volume `{source}`, which is not declared"
                );
            }
        }
    }
}

#[test]
fn the_broker_and_database_compose_files_name_their_images_ports_and_volumes() {
    for (file, name, image, port, data) in [
        (
            "rabbitmq.yml",
            "rabbitmq",
            "rabbitmq:",
            "5672",
            "/var/lib/rabbitmq",
        ),
        (
            "postgresql.yml",
            "postgresql",
            "postgres:",
            "5432",
            "/var/lib/postgresql/data",
        ),
    ] {
        let doc = compose(file);
        let s = service(&doc, name);
        assert!(
            s["image"].as_str().is_some_and(|i| i.starts_with(image)),
            "{file}: image {:?}",
            s["image"]
        );
        assert!(container_ports(s).contains(&port), "{file}: port {port}");
        assert!(
            strings(&s["volumes"])
                .iter()
                .any(|v| v.ends_with(&format!(":{data}"))),
            "{file}: {data} is not on a volume"
        );
        assert!(
            !s["healthcheck"]["test"].is_badvalue(),
            "{file}: healthcheck"
        );
        assert_named_volumes_declared(&doc, file);
    }
}

#[test]
fn the_system_compose_file_runs_migrations_engine_and_api_from_the_dockerfile() {
    // Arrange
    let doc = compose("pymsboot.yml");

    // Assert: it brings in the broker and the database.
    let included = strings(&doc["include"]);
    assert_eq!(included, ["rabbitmq.yml", "postgresql.yml"]);
    for file in included {
        assert!(repo().join("compose").join(file).is_file(), "{file}");
    }
    // The three programs of the one image, each given the mounted configuration.
    let build = &service(&doc, "db-sync")["build"];
    let context = repo()
        .join("compose")
        .join(build["context"].as_str().unwrap_or("?"));
    assert!(
        context
            .join(build["dockerfile"].as_str().unwrap_or("?"))
            .is_file()
    );
    for (name, command) in [
        ("db-sync", vec!["manage", "db", "sync"]),
        ("engine", vec!["engine"]),
        ("api", vec!["api"]),
    ] {
        let s = service(&doc, name);
        assert_eq!(s["image"].as_str(), Some("pymsboot:latest"), "{name}");
        assert_eq!(strings(&s["command"]), command, "{name}");
        assert!(
            strings(&s["volumes"]).contains(&"./pymsboot.conf:/etc/pymsboot/pymsboot.conf:ro"),
            "{name} does not mount the configuration"
        );
    }
    assert!(container_ports(service(&doc, "api")).contains(&"9666"));
    assert!(
        strings(&service(&doc, "engine")["volumes"])
            .iter()
            .any(|v| v.ends_with(":/var/lib/pymsboot")),
        "the engine's movies are not on a volume"
    );
    assert_eq!(
        service(&doc, "engine")["depends_on"]["db-sync"]["condition"].as_str(),
        Some("service_completed_successfully")
    );
    assert_named_volumes_declared(&doc, "pymsboot.yml");

    // The configuration it mounts is valid.
    let conf = repo().join("compose/pymsboot.conf");
    let output = run(Command::new(bin("pymsboot-manage"))
        .arg("--config-file")
        .arg(&conf)
        .args(["config", "check"]));
    assert!(output.status.success(), "{}", text(&output));
}

/// The `ENTRYPOINT` of the runtime image, as an argument vector.
fn entrypoint(dockerfile: &str) -> Vec<String> {
    let line = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("ENTRYPOINT "))
        .expect("the Dockerfile has an ENTRYPOINT");
    serde_json::from_str(line).expect("ENTRYPOINT is in exec (JSON) form")
}

#[test]
fn the_dockerfile_builds_in_a_rust_stage_and_runs_as_a_user_with_the_config_file() {
    // Arrange
    let dockerfile = read("Dockerfile");
    let stages: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();

    // Assert: the stages, the build, the runtime image.
    assert_eq!(stages.len(), 2, "{stages:?}");
    assert!(stages[0].contains("rust:1.95-bookworm") && stages[0].ends_with(" AS builder"));
    assert_eq!(stages[1], "FROM debian:bookworm-slim");
    assert!(dockerfile.contains("cargo build --release --locked --bins"));
    assert!(dockerfile.contains("ca-certificates"));
    let runtime = &dockerfile[dockerfile.rfind("FROM ").expect("a FROM")..];
    assert!(runtime.lines().any(|l| l == "USER pymsboot"));
    assert!(read(".dockerignore").lines().any(|l| l == "target/"));
    let argv = entrypoint(&dockerfile);
    assert!(
        argv.join(" ")
            .contains("--config-file /etc/pymsboot/pymsboot.conf")
    );

    // Act: the entry point with the image's paths pointed at this build.
    let conf = repo().join("compose/pymsboot.conf");
    let script = argv[2]
        .replace("/usr/local/bin/", &format!("{}/", bin_dir().display()))
        .replace("/etc/pymsboot/pymsboot.conf", &conf.display().to_string());
    let output = run(Command::new(&argv[0])
        .args([&argv[1], &script])
        .args(["manage", "config", "check"]));

    // Assert: the first argument chose the program, which read the file.
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(&conf.display().to_string()), "{stdout}");
}

// ---------------------------------------------------------------- man pages

const MAN_PAGES: [&str; 4] = [
    "man/pymsboot-api.1",
    "man/pymsboot-engine.1",
    "man/pymsboot-manage.1",
    "man/pymsboot.conf.5",
];

fn render(page: &str, command: &mut Command) -> Output {
    run(command
        .current_dir(repo())
        .env("LC_ALL", "C.UTF-8")
        .env("MANWIDTH", "80")
        .env_remove("MANOPT")
        .env_remove("GROFF_TMAC_PATH")
        .arg(page))
}

#[test]
fn every_man_page_renders_without_a_warning() {
    for page in MAN_PAGES {
        // Act: as `man -l` shows it, with every groff warning on.
        let man = render(
            page,
            Command::new(tool("man")).args(["--warnings=w", "-E", "UTF-8", "-P", "cat", "-l"]),
        );
        let groff = render(
            page,
            Command::new(tool("groff")).args(["-man", "-Tutf8", "-ww", "-z"]),
        );

        // Assert
        assert!(
            man.status.success() && man.stderr.is_empty(),
            "man -l {page}: {}",
            text(&man)
        );
        assert!(groff.stderr.is_empty(), "groff {page}: {}", text(&groff));
        let shown = String::from_utf8_lossy(&man.stdout);
        let mut sections = vec!["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "FILES"];
        if page.ends_with(".1") {
            sections.push("EXIT STATUS");
        }
        sections.extend(["EXAMPLES", "SEE ALSO"]);
        for section in sections {
            assert!(shown.lines().any(|l| l == section), "{page}: no {section}");
        }
    }
}

#[test]
fn the_service_man_pages_list_every_signal_the_master_handles() {
    for page in ["man/pymsboot-api.1", "man/pymsboot-engine.1"] {
        let source = read(page);
        let signals = &source[source.find(".SH SIGNALS").expect("a SIGNALS section")..];
        for signal in [
            "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGTERM", "SIGINT", "SIGQUIT", "SIGTTIN", "SIGTTOU",
        ] {
            assert!(signals.contains(signal), "{page}: {signal}");
        }
    }
}

const BEGIN: &str = ".\\\" BEGIN GENERATED OPTIONS\n";
const END: &str = ".\\\" END GENERATED OPTIONS\n";

#[test]
fn the_option_reference_of_the_conf_man_page_matches_the_option_tables() {
    // Arrange
    let page = read("man/pymsboot.conf.5");
    let start = page.find(BEGIN).expect("a BEGIN GENERATED OPTIONS marker") + BEGIN.len();
    let end = page.find(END).expect("an END GENERATED OPTIONS marker");

    // Act
    let output = run(Command::new(bin("pymsboot-manage")).args(["config", "man"]));

    // Assert
    assert!(output.status.success(), "{}", text(&output));
    let generated = String::from_utf8(output.stdout).expect("roff is UTF-8");
    assert!(generated.contains(".SS [oslo_messaging_rabbit]"));
    assert!(
        page[start..end] == generated,
        "man/pymsboot.conf.5 is out of date with the option declarations: run `make man`"
    );
}

// ---------------------------------------------------------------- make install

fn make_install(destdir: &Path, extra: &[&str]) -> Output {
    run(Command::new("make")
        .current_dir(repo())
        // A `make test` above this test must not hand its jobserver down.
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("MAKELEVEL")
        .args(["--no-print-directory", "install"])
        .arg(format!("DESTDIR={}", destdir.display()))
        .arg(format!("BINDIR_SRC={}", bin_dir().display()))
        .args(extra))
}

fn mode(path: &Path) -> u32 {
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    meta.permissions().mode() & 0o7777
}

#[test]
fn make_install_lays_out_binaries_config_units_man_pages_and_logrotate() {
    // Arrange
    let dest = TempDir::new();

    // Act
    let output = make_install(dest.path(), &[]);

    // Assert
    assert!(output.status.success(), "{}", text(&output));
    let at = |path: &str| dest.join(path.trim_start_matches('/'));
    for (path, expected) in [
        ("/usr/local/bin/pymsboot-api", 0o755),
        ("/usr/local/bin/pymsboot-engine", 0o755),
        ("/usr/local/bin/pymsboot-manage", 0o755),
        ("/etc/pymsboot/pymsboot.conf", 0o640),
        ("/etc/pymsboot/pymsboot.conf.sample", 0o644),
        ("/lib/systemd/system/pymsboot-api.service", 0o644),
        ("/lib/systemd/system/pymsboot-engine.service", 0o644),
        ("/etc/init.d/pymsboot", 0o755),
        ("/etc/logrotate.d/pymsboot", 0o644),
        ("/usr/lib/sysusers.d/pymsboot.conf", 0o644),
        ("/usr/local/share/man/man1/pymsboot-api.1", 0o644),
        ("/usr/local/share/man/man1/pymsboot-engine.1", 0o644),
        ("/usr/local/share/man/man1/pymsboot-manage.1", 0o644),
        ("/usr/local/share/man/man5/pymsboot.conf.5", 0o644),
    ] {
        assert_eq!(mode(&at(path)), expected, "{path}");
    }
    let sample = read("conf/pymsboot.conf.sample");
    let installed = std::fs::read_to_string(at("/etc/pymsboot/pymsboot.conf")).expect("config");
    assert_eq!(installed, sample);
    assert_eq!(
        std::fs::read(at("/usr/local/bin/pymsboot-manage")).expect("installed binary"),
        std::fs::read(bin("pymsboot-manage")).expect("built binary")
    );
}

#[test]
fn make_install_keeps_an_existing_config_and_points_units_at_the_prefix() {
    // Arrange: an operator's configuration is already in place.
    let dest = TempDir::new();
    let conf = dest.join("etc/pymsboot/pymsboot.conf");
    std::fs::create_dir_all(conf.parent().expect("a parent")).expect("mkdir");
    std::fs::write(&conf, "[api]\nport = 8000\n").expect("write the config");

    // Act
    let output = make_install(dest.path(), &["PREFIX=/usr"]);

    // Assert
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        std::fs::read_to_string(&conf).expect("config"),
        "[api]\nport = 8000\n"
    );
    assert!(dest.join("usr/bin/pymsboot-api").is_file());
    assert!(dest.join("usr/share/man/man5/pymsboot.conf.5").is_file());
    let unit = std::fs::read_to_string(dest.join("lib/systemd/system/pymsboot-api.service"))
        .expect("unit");
    assert!(unit.contains("ExecStart=/usr/bin/pymsboot-api "), "{unit}");
    let init = std::fs::read_to_string(dest.join("etc/init.d/pymsboot")).expect("init script");
    assert!(init.lines().any(|l| l == "BINDIR=/usr/bin"));
}

// ---------------------------------------------------------------- logrotate

/// The shipped logrotate file with its paths moved under `dir` and the
/// owner of new files set to the user running the test.
fn logrotate_conf(dir: &TempDir) -> PathBuf {
    let owner = format!("create 0640 {} {}", id("-un"), id("-gn"));
    let shipped = read("resources/pymsboot_log_rotate");
    let rewritten = shipped
        .replace("/var/log/pymsboot", &dir.join("log").display().to_string())
        .replace("/run/pymsboot", &dir.join("run").display().to_string())
        .replace("create 0640 pymsboot pymsboot", &owner);
    let path = dir.join("logrotate.conf");
    std::fs::write(&path, rewritten).expect("write the logrotate file");
    std::fs::create_dir_all(dir.join("log")).expect("mkdir log");
    std::fs::create_dir_all(dir.join("run")).expect("mkdir run");
    path
}

#[test]
fn the_logrotate_file_rotates_daily_without_copytruncate() {
    let shipped = read("resources/pymsboot_log_rotate");
    let directives: Vec<&str> = shipped
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for directive in [
        "/var/log/pymsboot/*.log {",
        "daily",
        "rotate 14",
        "compress",
        "delaycompress",
        "missingok",
        "notifempty",
        "create 0640 pymsboot pymsboot",
        "sharedscripts",
        "postrotate",
        "endscript",
    ] {
        assert!(directives.contains(&directive), "missing `{directive}`");
    }
    assert!(!directives.iter().any(|d| d.contains("copytruncate")));
    assert!(shipped.contains("copytruncate loses") || shipped.contains("No copytruncate"));
    for unit in ["pymsboot-api", "pymsboot-engine"] {
        assert!(
            shipped.contains(&format!("/run/pymsboot/{unit}.pid")),
            "{unit}"
        );
    }
}

#[test]
fn logrotate_accepts_the_file_and_its_postrotate_signals_the_masters() {
    // Arrange: a log to rotate, a stand-in master in one pid file, no other.
    let dir = TempDir::new();
    let conf = logrotate_conf(&dir);
    let log = dir.join("log/pymsboot-api.log");
    std::fs::write(&log, "a line\n").expect("write the log");
    let mut master = Command::new("sleep")
        .arg("30")
        .spawn()
        .expect("spawn sleep");
    std::fs::write(
        dir.join("run/pymsboot-api.pid"),
        format!("{}\n", master.id()),
    )
    .expect("write the pid file");
    let state = dir.join("logrotate.state");
    let logrotate = |flag: &str| {
        run(Command::new(tool("logrotate"))
            .arg(flag)
            .arg("--state")
            .arg(&state)
            .arg(&conf))
    };

    // Act: check the file, then force a rotation.
    let debug = logrotate("--debug");
    let forced = logrotate("--force");

    // Assert
    let status = master.wait().expect("wait for the stand-in master");
    assert!(debug.status.success(), "{}", text(&debug));
    assert!(
        !String::from_utf8_lossy(&debug.stderr).contains("error"),
        "{}",
        text(&debug)
    );
    assert!(forced.status.success(), "{}", text(&forced));
    assert_eq!(
        status.signal(),
        Some(libc::SIGUSR1),
        "the master got no SIGUSR1"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("log/pymsboot-api.log.1")).expect("the rotated log"),
        "a line\n"
    );
    assert_eq!(std::fs::metadata(&log).expect("a new log").len(), 0);
    assert_eq!(mode(&log), 0o640);
}

// ---------------------------------------------------------------- systemd units

/// `Key=value` settings of a unit file, in order; comments skipped.
fn settings(unit: &str) -> Vec<(String, String)> {
    unit.lines()
        .filter(|l| !l.starts_with(['#', ';', '[']))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

fn setting<'a>(settings: &'a [(String, String)], key: &str) -> &'a str {
    settings
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {key}="))
}

#[test]
fn the_systemd_units_carry_the_settings_the_launcher_relies_on() {
    let graceful: u64 = match launcher::conf::options::GRACEFUL_SHUTDOWN_TIMEOUT.default {
        launcher::conf::OptDefault::Value(v) => v.parse().expect("a number of seconds"),
        _ => panic!("graceful_shutdown_timeout has a fixed default"),
    };
    for name in ["pymsboot-api", "pymsboot-engine"] {
        let unit = read(&format!("resources/systemd/{name}.service"));
        let s = settings(&unit);
        let exec = setting(&s, "ExecStart");
        assert!(
            exec.starts_with(&format!("/usr/local/bin/{name} ")),
            "{exec}"
        );
        assert!(
            exec.contains(" --config-file /etc/pymsboot/pymsboot.conf"),
            "{exec}"
        );
        assert!(
            exec.contains(&format!(" --pid-file /run/pymsboot/{name}.pid")),
            "{exec}"
        );
        for (key, value) in [
            ("Type", "notify"),
            ("NotifyAccess", "main"),
            ("ExecReload", "/bin/kill -HUP $MAINPID"),
            ("KillMode", "mixed"),
            ("Restart", "on-failure"),
            ("User", "pymsboot"),
            ("Group", "pymsboot"),
            ("RuntimeDirectory", "pymsboot"),
            ("StateDirectory", "pymsboot"),
            ("LogsDirectory", "pymsboot"),
            ("NoNewPrivileges", "yes"),
            ("ProtectSystem", "strict"),
            ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"),
            ("MemoryDenyWriteExecute", "yes"),
        ] {
            assert_eq!(setting(&s, key), value, "{name}: {key}");
        }
        let stop: u64 = setting(&s, "TimeoutStopSec").parse().expect("seconds");
        assert!(
            stop > graceful,
            "{name}: TimeoutStopSec {stop} <= {graceful}"
        );
        let after = setting(&s, "After");
        assert!(
            after.contains("network-online.target") && after.contains("rabbitmq-server.service")
        );
        // The master forks workers and uses prctl, socketpair and signalfd.
        assert!(!s.iter().any(|(k, _)| k == "SystemCallFilter"), "{name}");
    }
}

#[test]
fn systemd_analyze_verifies_the_units() {
    // Arrange: the units pointed at this build, the man pages they cite findable.
    let dir = TempDir::new();
    for section in ["man1", "man5"] {
        std::fs::create_dir_all(dir.join("man").join(section)).expect("mkdir");
    }
    for page in MAN_PAGES {
        let name = Path::new(page).file_name().expect("a file name");
        let section = if page.ends_with(".5") { "man5" } else { "man1" };
        std::fs::copy(repo().join(page), dir.join("man").join(section).join(name))
            .expect("copy a man page");
    }
    let mut units = Vec::new();
    for name in ["pymsboot-api.service", "pymsboot-engine.service"] {
        let unit = read(&format!("resources/systemd/{name}"))
            .replace("/usr/local/bin/", &format!("{}/", bin_dir().display()));
        let path = dir.join(name);
        std::fs::write(&path, unit).expect("write the unit");
        units.push(path);
    }

    // Act
    let output = run(Command::new(tool("systemd-analyze"))
        .env("MANPATH", dir.join("man"))
        .env("SYSTEMD_LOG_LEVEL", "notice")
        .arg("verify")
        .args(&units));

    // Assert: nothing said about our units (other units of the machine may
    // draw remarks of their own).
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && !stderr.contains("pymsboot"),
        "{}",
        text(&output)
    );
}

// ---------------------------------------------------------------- init script

#[test]
fn the_init_script_is_posix_shell_with_an_lsb_header_and_the_usual_actions() {
    let path = repo().join("resources/init.d/pymsboot");
    let output = run(Command::new("sh").arg("-n").arg(&path));
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(mode(&path) & 0o111, 0o111, "not executable");
    let script = read("resources/init.d/pymsboot");
    assert!(script.starts_with("#!/bin/sh\n### BEGIN INIT INFO\n"));
    for line in ["# Provides:", "# Default-Start:", "### END INIT INFO"] {
        assert!(script.contains(line), "{line}");
    }
    for action in [
        "start)",
        "stop)",
        "restart)",
        "reload | force-reload)",
        "status)",
    ] {
        assert!(script.contains(action), "{action}");
    }
}

#[test]
fn the_init_script_starts_reloads_reports_and_stops_the_api() {
    // Arrange: the script's settings, moved into this test's directory
    // through its defaults file.
    let dir = TempDir::new();
    let conf = dir.join("pymsboot.conf");
    std::fs::write(
        &conf,
        "[DEFAULT]\ngraceful_shutdown_timeout = 5\n\n[api]\nhost = 127.0.0.1\nport = 0\napi_workers = 1\n\
         auth_strategy = noauth\n",
    )
    .expect("write the config");
    let defaults = dir.join("default");
    std::fs::write(
        &defaults,
        format!(
            "BINDIR={}\nCONFIG_FILE={}\nRUN_AS={}\nRUN_GROUP={}\nRUNDIR={}\nLOGDIR={}\n\
             STATEDIR={}\nSTART_TIMEOUT=20\nSTOP_TIMEOUT=10\n",
            bin_dir().display(),
            conf.display(),
            id("-un"),
            id("-gn"),
            dir.join("run").display(),
            dir.join("log").display(),
            dir.join("state").display(),
        ),
    )
    .expect("write the defaults");
    let script = dir.join("pymsboot");
    std::fs::write(
        &script,
        read("resources/init.d/pymsboot")
            .replace("/etc/default/pymsboot", &defaults.display().to_string()),
    )
    .expect("write the script");
    let init = |action: &str| run(Command::new("sh").arg(&script).args([action, "api"]));
    let pid_file = dir.join("run/pymsboot-api.pid");

    // Act and assert, step by step.
    let started = init("start");
    assert!(started.status.success(), "start: {}", text(&started));
    let pid = std::fs::read_to_string(&pid_file).expect("the master wrote its pid file");
    let status = init("status");
    assert_eq!(status.status.code(), Some(0), "status: {}", text(&status));
    assert!(String::from_utf8_lossy(&status.stdout).contains(pid.trim()));
    let reloaded = init("reload");
    assert!(reloaded.status.success(), "reload: {}", text(&reloaded));
    let stopped = init("stop");
    assert!(stopped.status.success(), "stop: {}", text(&stopped));
    assert!(!pid_file.exists(), "the pid file outlived the master");
    assert!(!alive(pid.trim()), "the master {pid} still runs");
    let status = init("status");
    assert_eq!(status.status.code(), Some(3), "status: {}", text(&status));
    assert!(dir.join("log/pymsboot-api.log").is_file(), "no log file");
}
