//! The engine keeps each caller to its project itself (CONTRACT §8), so a
//! stock Python oslo.messaging client on the bus gets the answers the API
//! would: its project's movies only, another project's movie not found, and
//! every project's movies only for an admin that asks for them.

use engine::test_util::Backend;
use serde_json::{Value, json};

use crate::harness::cluster::Cluster;
use crate::harness::files::FileServer;
use crate::harness::python::PythonClient;

/// The oslo.context keys of a caller, as `RequestContext.to_dict()` has them.
fn context(project: &str, user: &str, is_admin: bool) -> Value {
    let roles = if is_admin {
        json!(["admin", "member", "reader"])
    } else {
        json!(["member", "reader"])
    };
    json!({
        "project_id": project,
        "project": project,
        "user": user,
        "user_identity": format!("{user} {project} - - -"),
        "is_admin": is_admin,
        "roles": roles,
    })
}

fn names(movies: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = movies
        .as_array()
        .unwrap_or_else(|| panic!("a list of movies: {movies}"))
        .iter()
        .filter_map(|movie| movie["name"].as_str())
        .collect();
    names.sort_unstable();
    names
}

#[test]
fn a_python_caller_is_kept_to_its_project_and_an_admin_may_list_them_all() {
    // Arrange
    let files = FileServer::start();
    let file = files.add("owned.bin", 10_000);
    let cluster = Cluster::start(Backend::Sqlite);
    let python = PythonClient::new(&cluster.exchange(), &cluster.topic());
    let alice = python.with_context(context("project-a", "alice", false));
    let bob = python.with_context(context("project-b", "bob", false));
    let admin = python.with_context(context("project-admin", "root", true));

    // Act: a movie in each project, both under the same name.
    let in_a = alice.call_ok(
        "create_movie",
        &json!({"content_json": {"name": "Alien", "url": file.url}}),
    );
    let in_b = bob.call_ok(
        "create_movie",
        &json!({"content_json": {"name": "Alien", "url": file.url, "rank": 2}}),
    );
    let second_in_a = alice.call_ok(
        "create_movie",
        &json!({"content_json": {"name": "Brazil", "url": file.url}}),
    );

    // Assert: each movie records who made it.
    assert_eq!(
        (&in_a["project_id"], &in_a["user_id"]),
        (&json!("project-a"), &json!("alice")),
        "{in_a}"
    );
    assert_eq!(in_b["project_id"], "project-b", "{in_b}");

    // Assert: project A lists only its movies, even when it asks for all.
    let listed = alice.call_ok("get_all_movie", &json!({}));
    assert_eq!(names(&listed), ["Alien", "Brazil"], "{listed}");
    assert!(
        listed
            .as_array()
            .into_iter()
            .flatten()
            .all(|movie| movie["project_id"] == "project-a"),
        "{listed}"
    );
    let asked_all = alice.call_ok("get_all_movie", &json!({"all_projects": true}));
    assert_eq!(names(&asked_all), ["Alien", "Brazil"], "{asked_all}");

    // Assert: B's movie is not found for A, whatever A does with it.
    let b_id = &in_b["id"];
    for (method, kwargs) in [
        ("get_movie", json!({"uuid": b_id})),
        (
            "update_movie",
            json!({"uuid": b_id, "content_json": {"name": "taken over"}}),
        ),
        ("delete_movie", json!({"uuid": b_id})),
    ] {
        let outcome = alice.call(method, &kwargs);
        assert_eq!(
            (&outcome["ok"], &outcome["exc_type"]),
            (&json!(false), &json!("MovieNotFound")),
            "{method} of B's movie by A: {outcome}"
        );
    }
    assert_eq!(
        bob.call_ok("get_movie", &json!({"uuid": b_id}))["name"],
        "Alien"
    );

    // Assert: an admin lists its own project unless it asks for every one.
    let own = admin.call_ok("get_all_movie", &json!({}));
    assert_eq!(names(&own), Vec::<&str>::new(), "{own}");
    let every = admin.call_ok("get_all_movie", &json!({"all_projects": true}));
    assert_eq!(names(&every), ["Alien", "Alien", "Brazil"], "{every}");
    let by_id = admin.call_ok("get_movie", &json!({"uuid": second_in_a["id"]}));
    assert_eq!(by_id["project_id"], "project-a", "{by_id}");
}
