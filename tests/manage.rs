//! `pymsboot-manage config generate` and `config check`: the sample lists
//! every option with its default, the committed sample matches it, and a check
//! reports every problem without ever printing a password. `policy generate`:
//! the committed policy sample matches it, and uncommented it changes nothing.

use std::path::Path;
use std::process::{Command, Output};

use crate::harness::dir::TempDir;
use crate::harness::{bin, run};

fn manage(args: &[&str]) -> Output {
    run(Command::new(bin("pymsboot-manage")).args(args))
}

/// `config check` of `text`; callers are `noauth` unless the text says
/// otherwise, as Keystone's settings are not what these tests are about.
fn check(text: &str) -> (TempDir, String, Output) {
    if text.contains("auth_strategy") || text.contains("[keystone_authtoken]") {
        check_as_is(text)
    } else {
        check_as_is(&format!("{text}\n[api]\nauth_strategy = noauth\n"))
    }
}

fn check_as_is(text: &str) -> (TempDir, String, Output) {
    let dir = TempDir::new();
    let path = dir.join("check.conf");
    std::fs::write(&path, text).expect("write the config file");
    let path = path.display().to_string();
    let output = manage(&["--config-file", &path, "config", "check"]);
    (dir, path, output)
}

fn all_output(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn generate() -> String {
    let output = manage(&["config", "generate"]);
    assert_eq!(output.status.code(), Some(0), "{}", all_output(&output));
    String::from_utf8(output.stdout).expect("the sample is UTF-8")
}

#[test]
fn config_generate_prints_every_section_and_option_with_its_default() {
    // Act
    let sample = generate();

    // Assert
    for section in [
        "[DEFAULT]",
        "[api]",
        "[engine]",
        "[database]",
        "[oslo_messaging_rabbit]",
    ] {
        assert!(
            sample.lines().any(|l| l.trim() == section),
            "section {section} missing"
        );
    }
    for option in [
        "#debug = false",
        "#graceful_shutdown_timeout = 60",
        "#control_exchange = openstack",
        "#rpc_response_timeout = 60",
        "#host = 0.0.0.0",
        "#port = 9666",
        "#api_workers = 0",
        "#max_request_body_size = 114688",
        "#topic = pymsboot_engine",
        "#engine_workers = 0",
        "#max_concurrent_downloads = 4",
        "#max_download_size = 0",
        "#allow_private_networks = false",
        "#max_pool_size = 5",
        "#max_retries = 10",
        "#retry_interval = 10",
    ] {
        assert!(
            sample.lines().any(|l| l.trim() == option),
            "`{option}` missing from the sample"
        );
    }
    for option in [
        "#log_file",
        "#log_dir",
        "#use_stderr",
        "#use_json",
        "#transport_url",
        "#connection",
    ] {
        assert!(
            sample.lines().any(|l| l.trim().starts_with(option)),
            "`{option} = ...` missing from the sample"
        );
    }
}

#[test]
fn the_committed_sample_is_what_config_generate_prints() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/pymsboot.conf.sample");
    let committed = std::fs::read_to_string(&committed)
        .unwrap_or_else(|e| panic!("read {}: {e}", committed.display()));
    assert!(
        committed == generate(),
        "conf/pymsboot.conf.sample drifted: regenerate it with `pymsboot-manage config generate`"
    );
}

fn policy_generate() -> String {
    let output = manage(&["policy", "generate"]);
    assert_eq!(output.status.code(), Some(0), "{}", all_output(&output));
    String::from_utf8(output.stdout).expect("the policy sample is UTF-8")
}

#[test]
fn the_committed_policy_sample_is_what_policy_generate_prints() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/policy.yaml.sample");
    let committed = std::fs::read_to_string(&committed)
        .unwrap_or_else(|e| panic!("read {}: {e}", committed.display()));
    assert!(
        committed == policy_generate(),
        "conf/policy.yaml.sample drifted: regenerate it with `pymsboot-manage policy generate`"
    );
}

#[test]
fn the_policy_sample_uncommented_loads_and_decides_as_the_defaults() {
    // Arrange: every rule of the sample uncommented, in a file.
    let sample = policy_generate();
    let uncommented: String = sample
        .lines()
        .map(|line| {
            format!(
                "{}\n",
                line.strip_prefix("#\"")
                    .map_or(line.to_string(), |rule| format!("\"{rule}"))
            )
        })
        .collect();
    assert!(uncommented.contains("\n\"movie:get\": "), "{uncommented}");
    let dir = TempDir::new();
    let path = dir.join("policy.yaml");
    std::fs::write(&path, &uncommented).expect("write the policy file");

    // Act
    let loaded = api::policy::Enforcer::load(&path).expect("the uncommented sample loads");

    // Assert: the same decision as the defaults for every rule, caller and target.
    let defaults = api::policy::Enforcer::default();
    for rule in api::policy::DEFAULTS {
        for roles in [
            &[][..],
            &["reader"],
            &["member"],
            &["admin"],
            &["Member", "reader"],
        ] {
            let creds = api::policy::Credentials {
                user_id: Some("user".into()),
                project_id: Some("project-a".into()),
                roles: roles.iter().map(|r| r.to_string()).collect(),
                is_admin: false,
            };
            for project in ["project-a", "project-b"] {
                let target: api::policy::Target =
                    [("project_id".to_string(), project.to_string())].into();
                assert_eq!(
                    loaded.authorize(rule.name, &target, &creds),
                    defaults.authorize(rule.name, &target, &creds),
                    "{} for {roles:?} on {project}",
                    rule.name
                );
            }
        }
    }
}

#[test]
fn config_check_accepts_the_generated_sample_once_keystone_is_configured() {
    // The sample's auth_strategy is keystone: as it stands, it says what is missing.
    let (_dir, _path, output) = check_as_is(&generate());
    let said = all_output(&output);
    assert_eq!(output.status.code(), Some(2), "{said}");
    for option in [
        "[keystone_authtoken] auth_url",
        "[keystone_authtoken] username",
        "[keystone_authtoken] password",
    ] {
        assert!(said.contains(option), "{option} not named:\n{said}");
    }

    let configured = format!(
        "{}\n[keystone_authtoken]\nauth_url = http://keystone.example:5000/v3\n\
         username = pymsboot\npassword = secret\n",
        generate()
    );
    let (_dir, _path, output) = check(&configured);
    let said = all_output(&output);
    assert_eq!(output.status.code(), Some(0), "{said}");
    assert!(!said.contains("secret"), "{said}");
}

#[test]
fn config_check_accepts_a_good_file_and_ignores_unknown_sections_and_options() {
    // Arrange
    let text = "# a comment\n; another\n[DEFAULT]\ndebug = Yes\nsome_unknown_option = 1\n\n\
                [api]\nport = 8080\napi_workers = 3\nauth_strategy = noauth\n\n[oslo_concurrency]\nlock_path = /var/lock\n";

    // Act
    let (_dir, _path, output) = check(text);

    // Assert
    assert_eq!(output.status.code(), Some(0), "{}", all_output(&output));
}

#[test]
fn config_check_lists_every_problem_and_exits_2() {
    // Arrange
    let text = "[DEFAULT]\ndebug = maybe\n\n[api]\nport = 99999\napi_workers = -1\n";

    // Act
    let (_dir, path, output) = check(text);

    // Assert
    let said = all_output(&output);
    assert_eq!(output.status.code(), Some(2), "{said}");
    for (option, value) in [
        ("[DEFAULT] debug", "maybe"),
        ("[api] port", "99999"),
        ("[api] api_workers", "-1"),
    ] {
        assert!(
            said.lines()
                .any(|l| l.contains(&path) && l.contains(option) && l.contains(value)),
            "no line naming {path}, {option} and {value}:\n{said}"
        );
    }
}

#[test]
fn config_check_never_prints_a_password() {
    // Arrange: good secrets next to a bad option, then bad secrets.
    let good_secrets = "[DEFAULT]\ntransport_url = rabbit://u:secretpw@h:5672/\n\n\
                        [database]\nconnection = postgresql://u:dbsecretpw@h/pymsboot\n\n\
                        [api]\nport = 99999\n";
    let bad_secrets = "[DEFAULT]\ntransport_url = rabbit://u:secretpw@h:notaport/\n\n\
                       [database]\nconnection = nosuchdb://u:dbsecretpw@h/pymsboot\n";

    for text in [good_secrets, bad_secrets] {
        // Act
        let (_dir, _path, output) = check(text);

        // Assert
        let said = all_output(&output);
        assert_eq!(output.status.code(), Some(2), "{said}");
        assert!(
            !said.contains("secretpw"),
            "a password was printed:\n{said}"
        );
    }
}

#[test]
fn config_check_and_the_engine_read_database_urls_with_one_parser() {
    // Every spelling the engine connects with passes the check.
    for good in [
        "sqlite:////var/lib/pymsboot/pymsboot.sqlite",
        "postgresql+psycopg2://u:pw@db.example/pymsboot",
        "postgres://u:pw@db.example/pymsboot",
        "mysql+pymysql://u:pw@db.example/pymsboot",
        "mariadb://u:pw@db.example/pymsboot",
    ] {
        let (_dir, _path, output) = check(&format!("[database]\nconnection = {good}\n"));
        assert_eq!(
            output.status.code(),
            Some(0),
            "{good}: {}",
            all_output(&output)
        );
    }

    // A URL of an accepted scheme that the engine cannot use fails the
    // check, naming the option, without its password.
    let (_dir, path, output) =
        check("[database]\nconnection = postgresql://u:dbsecretpw@db.example:notaport/pymsboot\n");

    let said = all_output(&output);
    assert_eq!(output.status.code(), Some(2), "{said}");
    assert!(
        said.lines()
            .any(|l| l.contains(&path) && l.contains("[database] connection")),
        "{said}"
    );
    assert!(
        !said.contains("dbsecretpw"),
        "a password was printed:\n{said}"
    );
}

#[test]
fn an_engine_with_a_database_url_it_cannot_use_exits_2_before_forking() {
    // Arrange
    let dir = TempDir::new();
    let path = dir.join("engine.conf");
    std::fs::write(
        &path,
        "[database]\nconnection = postgresql://u:dbsecretpw@db.example:notaport/pymsboot\n",
    )
    .expect("write the config file");

    // Act
    let output = run(Command::new(bin("pymsboot-engine"))
        .arg("--config-file")
        .arg(&path));

    // Assert
    let said = all_output(&output);
    assert_eq!(output.status.code(), Some(2), "{said}");
    assert!(said.contains("[database] connection"), "{said}");
    assert!(
        !said.contains("dbsecretpw"),
        "a password was printed:\n{said}"
    );
}
