//! `auth_strategy = keystone` against a real Keystone: tokens decide who gets
//! in, roles what they may do, projects which movies they see; validations
//! are cached and shared, and a Keystone outage lets in only tokens it
//! vouched for lately.

use serde_json::Value;

use crate::harness::cluster::{Cluster, json_request};
use crate::harness::dir::TempDir;
use crate::harness::eventually::{ensure, eventually};
use crate::harness::http::{self, Request, Response, assert_error};
use crate::harness::keystone::Keystone;
use crate::harness::tls_proxy::TlsProxy;

use super::basic::{movie_body, names};

/// A user of the test's Keystone and a token of theirs.
struct Person {
    user_id: String,
    project_id: String,
    token: String,
}

fn person(keystone: &Keystone, name: &str, project_id: &str, role: &str) -> Person {
    let password = format!("{name}-Secret-1");
    let user_id = keystone.create_user(name, &password, project_id, role);
    Person {
        user_id,
        project_id: project_id.to_owned(),
        token: keystone.token(name, &password, project_id),
    }
}

/// A cluster whose API validates tokens with `keystone`; `auth_url` as
/// given (with or without `/v3`).
fn keystone_cluster(keystone: &Keystone, auth_url: &str, extra: &[(&str, &str, &str)]) -> Cluster {
    let service = keystone.service_user();
    let www = keystone.auth_url();
    Cluster::start_with(engine::test_util::Backend::Sqlite, |config| {
        let mut config = config
            .set("api", "auth_strategy", "keystone")
            .set("keystone_authtoken", "www_authenticate_uri", &www)
            .set("keystone_authtoken", "auth_url", auth_url)
            .set("keystone_authtoken", "auth_type", "password")
            .set("keystone_authtoken", "username", &service.username)
            .set("keystone_authtoken", "password", &service.password)
            .set("keystone_authtoken", "project_name", &service.project_name)
            .set("keystone_authtoken", "user_domain_name", "Default")
            .set("keystone_authtoken", "project_domain_name", "Default");
        for (section, option, value) in extra {
            config = config.set(section, option, value);
        }
        config
    })
}

fn with_token(request: Request, token: &str) -> Request {
    request.header("X-Auth-Token", token)
}

fn get_as(cluster: &Cluster, who: &Person, path: &str) -> Response {
    cluster.request(with_token(Request::get(path), &who.token))
}

fn create_as(cluster: &Cluster, who: &Person, name: &str) -> Response {
    cluster.request(with_token(
        json_request("POST", "/v1/movies", &movie_body(name)),
        &who.token,
    ))
}

/// How many token validations Keystone has answered.
fn validations(keystone: &Keystone) -> usize {
    keystone
        .log_text()
        .lines()
        .filter(|l| l.contains("GET /v3/auth/tokens"))
        .count()
}

#[test]
fn keystone_tokens_roles_and_projects_decide_who_sees_and_does_what() {
    // Arrange
    let keystone = Keystone::start();
    let project_a = keystone.create_project("movies-a");
    let project_b = keystone.create_project("movies-b");
    let alice = person(&keystone, "alice", &project_a, "member");
    let rita = person(&keystone, "rita", &project_a, "reader");
    let bob = person(&keystone, "bob", &project_b, "member");
    let ada = person(&keystone, "ada", &project_b, "admin");
    let revoked = person(&keystone, "eve", &project_a, "member");
    keystone.revoke(&revoked.token);
    // auth_url without its /v3, as keystoneauth accepts it.
    let cluster = keystone_cluster(&keystone, &keystone.url(), &[("DEFAULT", "debug", "true")]);

    // Act
    let none = cluster.get("/v1/movies");
    let garbage = cluster.request(with_token(
        Request::get("/v1/movies"),
        "gAAAAAB-not-a-token",
    ));
    let refused = get_as(&cluster, &revoked, "/v1/movies");
    let created = create_as(&cluster, &alice, "Alien");
    let theirs = create_as(&cluster, &bob, "Brazil");
    let reader_list = get_as(&cluster, &rita, "/v1/movies");
    let reader_write = create_as(&cluster, &rita, "Casablanca");
    let alien: Value = created.json();
    let alien_id = alien["id"].as_str().unwrap_or_default().to_owned();
    let bob_get = get_as(&cluster, &bob, &format!("/v1/movies/{alien_id}"));
    let bob_delete = cluster.request(with_token(
        Request::new("DELETE", &format!("/v1/movies/{alien_id}")),
        &bob.token,
    ));
    let bob_list = get_as(&cluster, &bob, "/v1/movies");
    let member_everything = get_as(&cluster, &alice, "/v1/movies?all_projects=true");
    let admin_everything = get_as(&cluster, &ada, "/v1/movies?all_projects=true&sort_key=name");
    // A valid token with the admin role but no project: nothing to scope it to.
    let system = cluster.request(with_token(
        Request::get("/v1/movies"),
        &keystone.system_admin_token(),
    ));

    // Assert
    let challenge = format!("Keystone uri=\"{}\"", keystone.auth_url());
    for (what, response) in [
        ("no token", &none),
        ("a garbage token", &garbage),
        ("a revoked token", &refused),
    ] {
        assert_error(what, response, 401);
        assert_eq!(
            response.header("www-authenticate"),
            Some(challenge.as_str()),
            "{what}"
        );
    }
    assert_eq!(created.status, 202, "{}", created.text());
    assert_eq!(theirs.status, 202, "{}", theirs.text());
    assert_eq!(alien["project_id"], alice.project_id.as_str(), "{alien}");
    assert_eq!(alien["user_id"], alice.user_id.as_str(), "{alien}");
    assert_eq!(names(&reader_list), ["Alien"]);
    assert_error("a reader's create", &reader_write, 403);
    assert_error("another project's movie", &bob_get, 404);
    assert_error("deleting another project's movie", &bob_delete, 404);
    assert_eq!(names(&bob_list), ["Brazil"]);
    assert_error("a member listing every project", &member_everything, 403);
    assert_eq!(names(&admin_everything), ["Alien", "Brazil"]);
    assert_error("a system-scoped token", &system, 403);
    assert_eq!(
        get_as(&cluster, &alice, &format!("/v1/movies/{alien_id}")).status,
        200
    );

    // Both services name the caller on the request's lines, and no token
    // reaches a log.
    let request_id = created.request_id().expect("a request id").to_owned();
    let prefix = format!("{request_id} {} {} - - -", alice.user_id, alice.project_id);
    for service in [cluster.api(), cluster.engine()] {
        eventually("a line of the create naming alice and her project", || {
            let lines = service.log_lines();
            ensure(
                lines
                    .iter()
                    .any(|l| l.ctx.as_deref() == Some(prefix.as_str())),
                || format!("no line with [{prefix}]"),
            )
        });
        let log = service.log_text();
        for token in [&alice.token, &rita.token, &bob.token, &revoked.token] {
            assert!(!log.contains(token.as_str()), "a token reached the log");
        }
        assert!(
            !log.contains(&keystone.service_user().password),
            "the service password reached the log"
        );
    }
}

#[test]
fn keystone_down_keeps_recent_tokens_working_answers_503_to_others_and_recovers() {
    // Arrange
    let mut keystone = Keystone::start();
    let project = keystone.create_project("movies");
    let alice = person(&keystone, "alice", &project, "member");
    let bob = person(&keystone, "bob", &project, "reader");
    // One API worker: its cache is the one every request meets.
    let cluster = keystone_cluster(
        &keystone,
        &keystone.auth_url(),
        &[("api", "api_workers", "1")],
    );
    for _ in 0..8 {
        assert_eq!(get_as(&cluster, &alice, "/v1/movies").status, 200);
    }

    // Act
    keystone.stop();
    let cached: Vec<u16> = (0..8)
        .map(|_| get_as(&cluster, &alice, "/v1/movies").status)
        .collect();
    let unknown = get_as(&cluster, &bob, "/v1/movies");
    keystone.start_again();
    let recovered = eventually("bob gets in once Keystone is back", || {
        let response = get_as(&cluster, &bob, "/v1/movies");
        ensure(response.status == 200, || {
            format!("{} {}", response.status, response.text())
        })
        .map(|()| response)
    });

    // Assert
    assert!(cached.iter().all(|s| *s == 200), "cached token: {cached:?}");
    assert_error("a token not validated lately, Keystone down", &unknown, 503);
    assert!(
        !unknown.text().contains(&bob.token),
        "the token is in the error body"
    );
    assert_eq!(recovered.status, 200);
}

#[test]
fn requests_arriving_together_with_one_new_token_share_one_validation() {
    // Arrange: one API worker, so that one cache and one queue see them all.
    let keystone = Keystone::start();
    let project = keystone.create_project("movies");
    let alice = person(&keystone, "alice", &project, "member");
    let cluster = keystone_cluster(
        &keystone,
        &keystone.auth_url(),
        &[("api", "api_workers", "1")],
    );
    let before = validations(&keystone);
    let port = cluster.port();

    // Act
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|_| {
                let token = alice.token.clone();
                scope.spawn(move || {
                    http::send(port, with_token(Request::get("/v1/movies"), &token))
                        .map_or(0, |r| r.status)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a client thread"))
            .collect()
    });
    for _ in 0..16 {
        assert_eq!(get_as(&cluster, &alice, "/v1/movies").status, 200);
    }

    // Assert
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let asked = eventually("Keystone's access log shows the validation", || {
        let asked = validations(&keystone) - before;
        ensure(asked >= 1, || "no validation logged yet".to_owned()).map(|()| asked)
    });
    assert_eq!(asked, 1, "32 requests with one token: {asked} validations");
}

#[test]
fn keystone_over_https_is_trusted_through_cafile_or_insecure_and_never_unverified() {
    // Arrange: Keystone behind an HTTPS front whose certificate no system trusts.
    let keystone = Keystone::start();
    let project = keystone.create_project("movies");
    let alice = person(&keystone, "alice", &project, "member");
    let proxy = TlsProxy::start(keystone.port());
    let dir = TempDir::new();
    let ca = dir.join("keystone-ca.pem");
    proxy.write_certificate(&ca);
    let auth_url = format!("{}/v3", proxy.url());
    let ca = ca.display().to_string();

    // Act
    let with_ca = keystone_cluster(
        &keystone,
        &auth_url,
        &[("keystone_authtoken", "cafile", &ca)],
    );
    let through_ca = get_as(&with_ca, &alice, "/v1/movies");
    drop(with_ca);
    let unverified = keystone_cluster(&keystone, &auth_url, &[]);
    let refused = get_as(&unverified, &alice, "/v1/movies");
    let why = unverified.api().log_text();
    drop(unverified);
    let insecure = keystone_cluster(
        &keystone,
        &auth_url,
        &[("keystone_authtoken", "insecure", "true")],
    );
    let through_insecure = get_as(&insecure, &alice, "/v1/movies");

    // Assert
    assert_eq!(through_ca.status, 200, "{}", through_ca.text());
    assert_error("a Keystone certificate nobody trusts", &refused, 503);
    assert!(
        why.lines()
            .any(|l| l.contains("certificate") && l.contains("status: 503")),
        "no 503 access line blaming the certificate:\n{why}"
    );
    assert_eq!(through_insecure.status, 200, "{}", through_insecure.text());
}
