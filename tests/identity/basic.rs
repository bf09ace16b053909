//! `auth_strategy = http_basic`: the user file decides who gets in, with
//! which project and roles; it is read again on SIGHUP, and a broken one is
//! refused with the old users kept. Movies belong to their creator's project.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use engine::test_util::Backend;
use serde_json::{Value, json};

use crate::harness::cluster::{Cluster, json_request};
use crate::harness::dir::TempDir;
use crate::harness::eventually::{ensure, eventually};
use crate::harness::http::{Request, Response, assert_error};

/// A user of the test's user file.
#[derive(Clone, Copy)]
pub(crate) struct User {
    pub(crate) name: &'static str,
    pub(crate) password: &'static str,
    pub(crate) project: &'static str,
    pub(crate) roles: &'static str,
}

pub(crate) const ALICE: User = User {
    name: "alice",
    password: "alice-Secret-1",
    project: "project-a",
    roles: "member",
};
pub(crate) const READER: User = User {
    name: "rita",
    password: "rita-Secret-2",
    project: "project-a",
    roles: "reader",
};
pub(crate) const BOB: User = User {
    name: "bob",
    password: "bob-Secret-3",
    project: "project-b",
    roles: "member",
};
pub(crate) const ADMIN: User = User {
    name: "root",
    password: "root-Secret-4",
    project: "project-ops",
    roles: "admin",
};

/// An htpasswd line for `user` (bcrypt at the lowest cost: tests only).
fn entry(user: &User) -> String {
    let hash = bcrypt::hash(user.password, 4).expect("bcrypt");
    format!("{}:{hash}:{}:{}\n", user.name, user.project, user.roles)
}

/// Writes a user file of `users` at `path`.
pub(crate) fn write_users(path: &Path, users: &[User]) {
    let text: String = users.iter().map(entry).collect();
    std::fs::write(path, format!("# test users\n{text}")).expect("write the user file");
}

/// `Authorization: Basic` for `name:password`.
pub(crate) fn basic(name: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{name}:{password}"));
    format!("Basic {encoded}")
}

/// `request` as `user`.
pub(crate) fn as_user(request: Request, user: &User) -> Request {
    request.header("Authorization", &basic(user.name, user.password))
}

/// A cluster whose API checks the users of a file in `dir`, with extra options.
pub(crate) fn basic_cluster(
    dir: &TempDir,
    users: &[User],
    extra: &[(&str, &str, &str)],
) -> (Cluster, PathBuf) {
    let file = dir.join("htpasswd");
    write_users(&file, users);
    let path = file.display().to_string();
    let cluster = Cluster::start_with(Backend::Sqlite, |config| {
        let mut config = config.set("api", "auth_strategy", "http_basic").set(
            "api",
            "http_basic_auth_user_file",
            &path,
        );
        for (section, option, value) in extra {
            config = config.set(section, option, value);
        }
        config
    });
    (cluster, file)
}

pub(crate) fn movie_body(name: &str) -> Value {
    json!({"name": name, "url": "http://127.0.0.1:9/never-fetched.mp4"})
}

pub(crate) fn create_as(cluster: &Cluster, user: &User, name: &str) -> Response {
    cluster.request(as_user(
        json_request("POST", "/v1/movies", &movie_body(name)),
        user,
    ))
}

/// The names of a listing, which must be a 200.
pub(crate) fn names(response: &Response) -> Vec<String> {
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()["movies"]
        .as_array()
        .expect("a movies array")
        .iter()
        .map(|m| m["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn only_the_right_password_gets_in_and_unknown_users_read_the_same() {
    // Arrange
    let dir = TempDir::new();
    let (cluster, _file) = basic_cluster(&dir, &[ALICE], &[]);

    // Act
    let none = cluster.get("/v1/movies");
    let wrong = cluster
        .request(Request::get("/v1/movies").header("Authorization", &basic("alice", "not-it")));
    let unknown = cluster.request(
        Request::get("/v1/movies").header("Authorization", &basic("mallory", "alice-Secret-1")),
    );
    let garbage = cluster.request(Request::get("/v1/movies").header("Authorization", "Basic %%%"));
    let right = cluster.request(as_user(Request::get("/v1/movies"), &ALICE));

    // Assert
    for (what, response) in [
        ("no credentials", &none),
        ("a wrong password", &wrong),
        ("an unknown user", &unknown),
        ("a malformed header", &garbage),
    ] {
        assert_error(what, response, 401);
        assert_eq!(
            response.header("www-authenticate"),
            Some("Basic realm=\"pymsboot\""),
            "{what}"
        );
    }
    assert_eq!(
        wrong.json()["error"]["message"],
        unknown.json()["error"]["message"]
    );
    assert_eq!(right.status, 200, "{}", right.text());
    for open in ["/", "/v1", "/healthcheck"] {
        assert_eq!(cluster.get(open).status, 200, "{open} needs no credentials");
    }
    let log = cluster.api().log_text();
    assert!(!log.contains(ALICE.password), "a password reached the log");
}

#[test]
fn movies_belong_to_their_project_and_roles_decide_what_a_caller_may_do() {
    // Arrange
    let dir = TempDir::new();
    let (cluster, _file) = basic_cluster(&dir, &[ALICE, READER, BOB, ADMIN], &[]);
    let created = create_as(&cluster, &ALICE, "Alien");
    assert_eq!(created.status, 202, "{}", created.text());
    let alien = created.json();
    let id = alien["id"].as_str().expect("an id").to_owned();
    let theirs = create_as(&cluster, &BOB, "Brazil");
    assert_eq!(theirs.status, 202, "{}", theirs.text());

    // Act
    let reader_list = cluster.request(as_user(Request::get("/v1/movies"), &READER));
    let reader_write = create_as(&cluster, &READER, "Casablanca");
    let reader_delete = cluster.request(as_user(
        Request::new("DELETE", &format!("/v1/movies/{id}")),
        &READER,
    ));
    let bob_get = cluster.request(as_user(Request::get(&format!("/v1/movies/{id}")), &BOB));
    let bob_update = cluster.request(as_user(
        json_request("PUT", &format!("/v1/movies/{id}"), &json!({"rank": 1})),
        &BOB,
    ));
    let bob_delete = cluster.request(as_user(
        Request::new("DELETE", &format!("/v1/movies/{id}")),
        &BOB,
    ));
    let bob_list = cluster.request(as_user(Request::get("/v1/movies"), &BOB));
    let same_name_elsewhere = create_as(&cluster, &BOB, "Alien");
    let same_name_again = create_as(&cluster, &ALICE, "Alien");
    let member_everything = cluster.request(as_user(
        Request::get("/v1/movies?all_projects=true"),
        &ALICE,
    ));
    let admin_own = cluster.request(as_user(Request::get("/v1/movies"), &ADMIN));
    let admin_everything = cluster.request(as_user(
        Request::get("/v1/movies?all_projects=true&sort_key=name"),
        &ADMIN,
    ));
    let admin_get = cluster.request(as_user(Request::get(&format!("/v1/movies/{id}")), &ADMIN));

    // Assert
    assert_eq!(alien["project_id"], "project-a", "{alien}");
    assert_eq!(alien["user_id"], "alice", "{alien}");
    assert_eq!(reader_list.status, 200, "{}", reader_list.text());
    assert_eq!(names(&reader_list), ["Alien"]);
    assert_error("a reader creating", &reader_write, 403);
    assert_error("a reader deleting", &reader_delete, 403);
    assert_error("another project's movie", &bob_get, 404);
    assert_error("updating another project's movie", &bob_update, 404);
    assert_error("deleting another project's movie", &bob_delete, 404);
    assert_eq!(names(&bob_list), ["Brazil"]);
    assert_eq!(
        same_name_elsewhere.status,
        202,
        "{}",
        same_name_elsewhere.text()
    );
    assert_error("a name taken in the project", &same_name_again, 409);
    assert_error("a member listing every project", &member_everything, 403);
    assert_eq!(admin_own.status, 200, "{}", admin_own.text());
    assert!(names(&admin_own).is_empty(), "{}", admin_own.text());
    assert_eq!(names(&admin_everything), ["Alien", "Alien", "Brazil"]);
    assert_eq!(admin_get.status, 200, "{}", admin_get.text());
    assert_eq!(
        cluster
            .request(as_user(Request::get(&format!("/v1/movies/{id}")), &ALICE))
            .status,
        200,
        "the failed attempts of others left the movie alone"
    );
}

#[test]
fn both_services_log_the_caller_and_never_the_password() {
    // Arrange
    let dir = TempDir::new();
    let (cluster, _file) = basic_cluster(&dir, &[ALICE], &[("DEFAULT", "debug", "true")]);

    // Act
    let created = create_as(&cluster, &ALICE, "Metropolis");
    assert_eq!(created.status, 202, "{}", created.text());
    let request_id = created.request_id().expect("a request id").to_owned();

    // Assert
    let prefix = format!("{request_id} alice project-a - - -");
    for service in [cluster.api(), cluster.engine()] {
        let line = eventually("a line of the request with its caller", || {
            let lines = service.log_lines();
            let line = lines
                .iter()
                .find(|l| l.ctx.as_deref() == Some(prefix.as_str()))
                .cloned();
            ensure(line.is_some(), || format!("no line with [{prefix}]"))?;
            Ok::<_, String>(line)
        });
        assert!(line.is_some());
        let log = service.log_text();
        assert!(!log.contains(ALICE.password), "a password reached the log");
        assert!(
            !log.contains(&basic(ALICE.name, ALICE.password)["Basic ".len()..]),
            "the Authorization header reached the log"
        );
    }
}

#[test]
fn a_changed_user_file_counts_after_sighup_and_a_broken_one_is_refused() {
    // Arrange
    let dir = TempDir::new();
    let (mut cluster, file) = basic_cluster(&dir, &[ALICE], &[]);
    let renewed = User {
        password: "alice-New-Secret-5",
        ..ALICE
    };
    write_users(&file, &[renewed, BOB]);
    let before = cluster.api().worker_pids();

    // Act
    let mark = cluster.api_mut().reload();
    cluster.api_mut().wait_workers(mark, 2, &before);
    let old_password = cluster.request(as_user(Request::get("/v1/movies"), &ALICE));
    let new_password = cluster.request(as_user(Request::get("/v1/movies"), &renewed));
    let added = cluster.request(as_user(Request::get("/v1/movies"), &BOB));
    std::fs::write(&file, "alice:$apr1$abcdefgh$0123456789abcdefghijkl\n").expect("write");
    let serving = cluster.api().worker_pids();
    let mark = cluster.api_mut().reload();

    // Assert
    assert_error("the old password after the reload", &old_password, 401);
    assert_eq!(new_password.status, 200, "{}", new_password.text());
    assert_eq!(added.status, 200, "{}", added.text());
    cluster
        .api_mut()
        .wait_notify(mark, "STATUS=reload failed: ...", |d| {
            d.get("STATUS")
                .is_some_and(|s| s.starts_with("reload failed"))
        });
    eventually("an ERROR line naming the user file", || {
        let lines = cluster.api().log_lines();
        ensure(
            lines.iter().any(|l| {
                l.level == "ERROR"
                    && l.raw.contains("http_basic_auth_user_file")
                    && l.raw.contains("bcrypt")
            }),
            || "no ERROR line about the user file".to_owned(),
        )
    });
    assert_eq!(cluster.api().worker_pids(), serving, "the workers changed");
    let still = cluster.request(as_user(Request::get("/v1/movies"), &renewed));
    assert_eq!(still.status, 200, "{}", still.text());
}
