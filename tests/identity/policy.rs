//! `[oslo_policy] policy_file`: an override is enforced after SIGHUP, and a
//! broken file is refused at reload with the rules in force kept.

use crate::harness::dir::TempDir;
use crate::harness::eventually::{ensure, eventually};
use crate::harness::http::{Request, assert_error};

use super::basic::{ADMIN, ALICE, as_user, basic_cluster, create_as};

#[test]
fn an_overridden_rule_counts_after_sighup_and_a_broken_file_keeps_the_old_rules() {
    // Arrange: the defaults let a member delete.
    let dir = TempDir::new();
    let policy = dir.join("policy.yaml");
    std::fs::write(&policy, "# the defaults\n").expect("write the policy file");
    let policy_path = policy.display().to_string();
    let (mut cluster, _users) = basic_cluster(
        &dir,
        &[ALICE, ADMIN],
        &[("oslo_policy", "policy_file", &policy_path)],
    );
    let delete = |cluster: &crate::harness::cluster::Cluster, user, id: &str| {
        cluster.request(as_user(
            Request::new("DELETE", &format!("/v1/movies/{id}")),
            user,
        ))
    };
    let first = create_as(&cluster, &ALICE, "First").json();
    let deleted = delete(&cluster, &ALICE, first["id"].as_str().expect("id"));
    assert_eq!(deleted.status, 204, "{}", deleted.text());

    // Act: only admins delete.
    std::fs::write(&policy, "\"movie:delete\": \"role:admin\"\n").expect("write");
    let before = cluster.api().worker_pids();
    let mark = cluster.api_mut().reload();
    cluster.api_mut().wait_workers(mark, 2, &before);
    let second = create_as(&cluster, &ALICE, "Second").json();
    let second_id = second["id"].as_str().expect("id").to_owned();
    let refused = delete(&cluster, &ALICE, &second_id);

    // Assert
    assert_error("a member deleting under the override", &refused, 403);
    assert!(
        refused.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("movie:delete")),
        "{}",
        refused.text()
    );

    // Act: a broken file.
    std::fs::write(&policy, "\"movie:delete\": \"role:admin and (\"\n").expect("write");
    let serving = cluster.api().worker_pids();
    let mark = cluster.api_mut().reload();

    // Assert: refused, the override still in force.
    cluster
        .api_mut()
        .wait_notify(mark, "STATUS=reload failed: ...", |d| {
            d.get("STATUS")
                .is_some_and(|s| s.starts_with("reload failed"))
        });
    eventually("an ERROR line naming the policy file", || {
        let lines = cluster.api().log_lines();
        ensure(
            lines
                .iter()
                .any(|l| l.level == "ERROR" && l.raw.contains(&policy_path)),
            || "no ERROR line naming the policy file".to_owned(),
        )
    });
    assert_eq!(cluster.api().worker_pids(), serving, "the workers changed");
    assert_error(
        "a member deleting after the broken reload",
        &delete(&cluster, &ALICE, &second_id),
        403,
    );
    let by_admin = delete(&cluster, &ADMIN, &second_id);
    assert_eq!(by_admin.status, 204, "{}", by_admin.text());
}
