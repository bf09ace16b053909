//! The Keystone harness does what the identity tests rely on: a validated
//! token lists the implied roles, a revoked one is refused, and a stopped
//! Keystone refuses connections, then comes back with its state.

use std::collections::BTreeSet;
use std::io::ErrorKind;

use serde_json::Value;

use crate::harness::keystone::Keystone;

/// The role names of a validation answer.
fn roles(body: &Value) -> BTreeSet<String> {
    body["token"]["roles"]
        .as_array()
        .unwrap_or_else(|| panic!("no roles in {body}"))
        .iter()
        .map(|r| r["name"].as_str().expect("a role name").to_owned())
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

#[test]
fn keystone_harness_validates_with_implied_roles_and_refuses_revoked_tokens() {
    let keystone = Keystone::start();
    let service = keystone.service_user();
    assert_eq!(
        (
            service.username.as_str(),
            service.project_name.as_str(),
            service.user_domain_name.as_str(),
            service.project_domain_name.as_str()
        ),
        ("pymsboot", "service", "Default", "Default")
    );
    assert!(!service.user_id.is_empty());
    let service_token = keystone.token(&service.username, &service.password, &service.project_id);

    let project = keystone.create_project("movies");
    let cases = [
        ("alice", "member", set(&["member", "reader"])),
        ("bob", "reader", set(&["reader"])),
        (
            "carol",
            "admin",
            set(&["admin", "manager", "member", "reader"]),
        ),
    ];
    let mut member_token = String::new();
    for (name, role, implied) in cases {
        let password = format!("{name}-password");
        let user_id = keystone.create_user(name, &password, &project, role);
        let token = keystone.token(name, &password, &project);
        let response = keystone.validate(&service_token, &token).expect("validate");
        assert_eq!(response.status, 200, "{name}: {}", response.text());
        let body = response.json();
        assert_eq!(body["token"]["user"]["id"], user_id.as_str(), "{body}");
        assert_eq!(body["token"]["user"]["name"], name, "{body}");
        assert_eq!(body["token"]["project"]["id"], project.as_str(), "{body}");
        assert_eq!(body["token"]["project"]["name"], "movies", "{body}");
        assert_eq!(roles(&body), implied, "{name} with role {role}");
        if role == "member" {
            member_token = token;
        }
    }

    keystone.revoke(&member_token);
    let response = keystone
        .validate(&service_token, &member_token)
        .expect("validate");
    assert_eq!(response.status, 404, "revoked: {}", response.text());

    let response = keystone
        .validate(&service_token, "garbage")
        .expect("validate");
    assert_eq!(response.status, 404, "garbage: {}", response.text());
    let response = keystone
        .validate("garbage", &service_token)
        .expect("validate");
    assert_eq!(
        response.status,
        401,
        "bad service token: {}",
        response.text()
    );
}

#[test]
fn keystone_harness_stops_and_starts_again_with_its_state() {
    let mut keystone = Keystone::start();
    let port = keystone.port();
    assert_eq!(keystone.url(), format!("http://127.0.0.1:{port}"));
    let project = keystone.create_project("movies");
    keystone.create_user("dave", "dave-password", &project, "member");
    let kept = keystone.token("dave", "dave-password", &project);
    let revoked = keystone.token("dave", "dave-password", &project);
    keystone.revoke(&revoked);
    let service_token = keystone.service_token();

    keystone.stop();
    let refused = keystone
        .validate(&service_token, &kept)
        .expect_err("a stopped Keystone answers nothing");
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused, "{refused}");

    keystone.start_again();
    assert_eq!(keystone.port(), port);
    let response = keystone.validate(&service_token, &kept).expect("validate");
    assert_eq!(response.status, 200, "kept: {}", response.text());
    assert_eq!(roles(&response.json()), set(&["member", "reader"]));
    let response = keystone
        .validate(&service_token, &revoked)
        .expect("validate");
    assert_eq!(response.status, 404, "revoked: {}", response.text());
    // The cached system admin token outlives the restart too.
    keystone.create_project("after-restart");

    // The catalog points at this Keystone, whatever port the template had.
    let catalog = keystone
        .send(
            crate::harness::http::Request::get("/v3/auth/catalog"),
            Some(&service_token),
            None,
        )
        .expect("catalog")
        .json();
    let url = &catalog["catalog"][0]["endpoints"][0]["url"];
    assert_eq!(
        url.as_str(),
        Some(format!("{}/", keystone.auth_url()).as_str()),
        "{catalog}"
    );
    assert!(
        keystone.log_text().contains("GET /v3/auth/tokens"),
        "{}",
        keystone.log_text()
    );
}
