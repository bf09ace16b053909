//! Decisions of the default rules, overrides from files, and load errors.

use std::path::Path;

use super::*;

const RULES: [&str; 6] = [
    "movie:get",
    "movie:get_all",
    "movie:get_all:all_projects",
    "movie:create",
    "movie:update",
    "movie:delete",
];

fn caller(roles: &[&str]) -> Credentials {
    Credentials {
        user_id: Some("u-a".into()),
        project_id: Some("project-a".into()),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        is_admin: false,
    }
}

fn in_project(project: &str) -> Target {
    [("project_id".to_string(), project.to_string())].into()
}

/// Each rule, in `RULES` order: whether the caller is allowed.
fn decisions(enforcer: &Enforcer, creds: &Credentials, target: &Target) -> Vec<bool> {
    RULES
        .iter()
        .map(|rule| enforcer.authorize(rule, target, creds))
        .collect()
}

#[test]
fn the_defaults_decide_for_readers_members_and_admins_of_project_a() {
    let enforcer = Enforcer::default();
    //          get    get_all all    create update delete
    let read = [true, true, false, false, false, false];
    let write = [true, true, false, true, true, true];
    let all = [true; 6];
    let nothing = [false; 6];
    let table: [(&[&str], &str, [bool; 6]); 12] = [
        (&["reader"], "project-a", read),
        (&["reader"], "project-b", nothing),
        (&["member"], "project-a", write),
        (&["member"], "project-b", nothing),
        (&["admin"], "project-a", all),
        (&["admin"], "project-b", all),
        // With keystone's implied roles in the token.
        (&["member", "reader"], "project-a", write),
        (&["admin", "member", "reader"], "project-b", all),
        // Roles match whatever their case.
        (&["Member"], "project-a", write),
        (&["ADMIN"], "project-b", all),
        (&[], "project-a", nothing),
        (&["observer"], "project-a", nothing),
    ];
    for (roles, project, expected) in table {
        let got = decisions(&enforcer, &caller(roles), &in_project(project));
        assert_eq!(got, expected, "{roles:?} of project-a on {project}");
    }
}

#[test]
fn a_movie_without_a_project_is_for_admins_only() {
    let enforcer = Enforcer::default();
    let unowned = Target::new();
    assert_eq!(
        decisions(&enforcer, &caller(&["member"]), &unowned),
        [false; 6]
    );
    assert_eq!(
        decisions(&enforcer, &caller(&["admin"]), &unowned),
        [true; 6]
    );
}

#[test]
fn a_rule_that_is_not_defined_denies() {
    let creds = caller(&["admin"]);
    assert!(!Enforcer::default().authorize("movie:rename", &in_project("project-a"), &creds));
}

#[test]
fn yaml_and_json_files_override_the_defaults() {
    let yaml = "# admins only may delete\n\"movie:delete\": \"role:admin\"\n\
                movie:get: '@'\nowner: 'user_id:%(user_id)s'\nmovie:update: rule:owner\n";
    let json = "{\"movie:delete\": \"role:admin\", \"movie:get\": \"@\",\
                 \"owner\": \"user_id:%(user_id)s\", \"movie:update\": \"rule:owner\"}";
    let member = caller(&["member"]);
    let mut target = in_project("project-a");
    target.insert("user_id".into(), "u-b".into());
    for (text, file) in [(yaml, "policy.yaml"), (json, "policy.json")] {
        let enforcer = Enforcer::from_text(text, Path::new(file)).expect(file);
        assert!(
            !enforcer.authorize("movie:delete", &target, &member),
            "{file}"
        );
        assert!(enforcer.authorize("movie:delete", &target, &caller(&["admin"])));
        assert!(enforcer.authorize("movie:get", &in_project("b"), &caller(&[])));
        assert!(
            !enforcer.authorize("movie:update", &target, &member),
            "{file}"
        );
        target.insert("user_id".into(), "u-a".into());
        assert!(
            enforcer.authorize("movie:update", &target, &member),
            "{file}"
        );
        target.insert("user_id".into(), "u-b".into());
        // What the file leaves alone keeps its default.
        assert!(
            enforcer.authorize("movie:create", &target, &member),
            "{file}"
        );
    }
}

#[test]
fn a_policy_file_is_read_from_disk() {
    let path = std::env::temp_dir().join(format!("policy-{}.yaml", std::process::id()));
    std::fs::write(&path, "movie:delete: \"!\"\n").expect("write the policy file");
    let enforcer = Enforcer::load(&path);
    std::fs::remove_file(&path).expect("remove the policy file");
    let enforcer = enforcer.expect("the file loads");
    assert!(!enforcer.authorize(
        "movie:delete",
        &in_project("project-a"),
        &caller(&["admin"])
    ));

    let missing = Enforcer::load(Path::new("/nonexistent/policy.yaml"));
    assert!(matches!(missing, Err(Error::Read { .. })), "{missing:?}");
}

#[test]
fn a_bad_file_is_an_error_naming_the_file_and_the_rule() {
    let table = [
        ("movie:get: 'role:reader and'\n", "\"movie:get\""),
        ("movie:get: rule:nowhere\n", "\"nowhere\""),
        ("a: rule:b\nb: rule:c\nc: rule:a\n", "a -> b -> c -> a"),
        ("admin_required: rule:movie:get\n", "loop"),
        ("movie:get: 3\n", "\"movie:get\""),
        ("- movie:get\n", "not a mapping"),
    ];
    for (text, named) in table {
        let error = Enforcer::from_text(text, Path::new("/etc/pymsboot/policy.yaml"))
            .expect_err(text)
            .to_string();
        assert!(error.contains("/etc/pymsboot/policy.yaml"), "{error}");
        assert!(error.contains(named), "{text:?}: {error}");
    }
}

#[test]
fn every_default_parses_and_is_described() {
    let enforcer = Enforcer::default();
    for rule in DEFAULTS {
        assert!(enforcer.rules.contains_key(rule.name), "{}", rule.name);
        assert!(!rule.description.is_empty(), "{}", rule.name);
    }
    for rule in RULES {
        assert!(DEFAULTS.iter().any(|d| d.name == rule), "{rule}");
    }
}

#[test]
fn the_sample_comments_out_each_default_after_its_description() {
    let sample = render_sample();
    assert!(sample.contains(
        "# Show a movie.\n# GET  /v1/movies/{movie_id}\n#\"movie:get\": \"rule:admin_required or \
         rule:project_member or rule:project_reader\"\n"
    ));
    assert!(
        sample
            .lines()
            .all(|line| line.is_empty() || line.starts_with('#'))
    );
    // All commented out, the sample loads and changes nothing.
    Enforcer::from_text(&sample, Path::new("policy.yaml.sample")).expect("the sample loads");
}
