//! A likely typo of an option in a section the project owns (`[api]
//! api_worker`) is reported with the option meant, by `config check` and in
//! the startup log, as a warning: the file still loads. The options of the
//! oslo libraries, which a full oslo-config-generator sample sets, are not
//! typos.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Output};

use crate::harness::cluster::{Api, ApiConfig};
use crate::harness::dir::TempDir;
use crate::harness::eventually::{ensure, eventually};
use crate::harness::{bin, run};

fn check(text: &str) -> Output {
    let dir = TempDir::new();
    let path = dir.join("check.conf");
    std::fs::write(&path, text).expect("write the config file");
    let path = path.display().to_string();
    run(Command::new(bin("pymsboot-manage")).args(["--config-file", &path, "config", "check"]))
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `(section, name)` of every option the project declares.
fn declared() -> HashSet<(String, String)> {
    let mut tables = vec![
        launcher::conf::options::OPTS,
        api::conf::OPTS,
        engine::conf::OPTS,
    ];
    tables.extend_from_slice(rpc::conf::OPTS);
    tables
        .iter()
        .flat_map(|table| table.iter())
        .map(|opt| (opt.section.to_owned(), opt.name.to_owned()))
        .collect()
}

#[test]
fn config_check_names_the_option_a_typo_meant_and_still_exits_0() {
    // Act
    let output = check(
        "[DEFAULT]\ndebgu = true\n\n[api]\napi_worker = 2\nport = 9666\nauth_strategy = noauth\n\n\
         [oslo_concurrency]\nlock_pth = /var/lock\n",
    );

    // Assert
    let said = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{said}");
    assert!(
        said.contains("[api] api_worker is not a known option; did you mean api_workers?"),
        "{said}"
    );
    assert!(
        said.contains("[DEFAULT] debgu is not a known option; did you mean debug?"),
        "{said}"
    );
    assert!(
        !said.contains("lock_pth"),
        "sections the project does not own are not checked: {said}"
    );
}

#[test]
fn every_option_of_the_oslo_generated_sample_set_is_not_reported() {
    // Arrange: the sample oslo-config-generator wrote for oslo.messaging,
    // oslo.log, oslo.service and oslo.db, with every option the project does
    // not declare set (the project's own keep their defaults).
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("launcher/tests/fixtures/oslo-generated.conf");
    let text = std::fs::read_to_string(&fixture).expect("the fixture is checked in");
    let declared = declared();
    let mut section = String::new();
    let mut set = 0;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.to_owned();
            }
            let option = line
                .strip_prefix('#')
                .and_then(|rest| rest.split_once(" ="))
                .filter(|(name, _)| {
                    !name.is_empty()
                        && name
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                });
            match option {
                Some((name, _)) if !declared.contains(&(section.clone(), name.to_owned())) => {
                    set += 1;
                    format!("{name} = 1")
                }
                _ => line.to_owned(),
            }
        })
        .collect();
    assert!(set >= 100, "only {set} options were set");

    // Act
    // The oslo sample has no [api]: the API is told not to need Keystone.
    let output = check(&(lines.join("\n") + "\n[api]\nauth_strategy = noauth\n"));

    // Assert
    let said = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{said}");
    assert!(!said.contains("warning"), "{said}");
}

#[test]
fn a_service_started_with_a_typo_logs_it_as_a_warning() {
    // Act
    let api = Api::start(
        ApiConfig::default()
            .workers(1)
            .set("api", "api_worker", "2"),
    );

    // Assert
    let line = eventually("the warning in the startup log", || {
        let found = api.log_lines().into_iter().find(|l| {
            l.message
                .contains("[api] api_worker is not a known option; did you mean api_workers?")
        });
        ensure(found.is_some(), || "none yet".to_owned()).map(|()| found)
    });
    let line = line.expect("found");
    assert_eq!(line.level, "WARNING", "{}", line.raw);
}
