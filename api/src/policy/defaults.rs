//! The default rules, declared once: the enforcer starts from them, and
//! `pymsboot-manage policy generate` prints them as the commented sample.

use std::fmt::Write as _;

/// A rule and its default, as oslo.policy's `DocumentedRuleDefault`.
#[derive(Debug, Clone, Copy)]
pub struct RuleDefault {
    /// The rule's name, e.g. `movie:get`.
    pub name: &'static str,
    /// The default rule string.
    pub check: &'static str,
    /// What the rule protects, one line.
    pub description: &'static str,
    /// The API calls it guards, as `(method, path)`; none for a base rule.
    pub operations: &'static [(&'static str, &'static str)],
}

/// Readers, members and admins: the token shows the roles keystone's implied
/// roles add (admin ⇒ member ⇒ reader) when they are configured, and these
/// rules name each role so that they hold when they are not.
const READER: &str = "rule:admin_required or rule:project_member or rule:project_reader";
const MEMBER: &str = "rule:admin_required or rule:project_member";

/// Every rule the code knows, in the sample's order.
pub const DEFAULTS: &[RuleDefault] = &[
    RuleDefault {
        name: "context_is_admin",
        check: "role:admin",
        description: "Who is an admin: the engine lets an admin reach any project's movies \
                      by id, and list them all with ?all_projects=true when \
                      movie:get_all:all_projects allows it.",
        operations: &[],
    },
    RuleDefault {
        name: "admin_required",
        check: "role:admin",
        description: "Anyone with the admin role: any project's movies.",
        operations: &[],
    },
    RuleDefault {
        name: "project_member",
        check: "role:member and project_id:%(project_id)s",
        description: "A member of the project the movie belongs to.",
        operations: &[],
    },
    RuleDefault {
        name: "project_reader",
        check: "role:reader and project_id:%(project_id)s",
        description: "A reader of the project the movie belongs to.",
        operations: &[],
    },
    RuleDefault {
        name: "movie:get",
        check: READER,
        description: "Show a movie.",
        operations: &[("GET", "/v1/movies/{movie_id}")],
    },
    RuleDefault {
        name: "movie:get_all",
        check: READER,
        description: "List the movies of the caller's project.",
        operations: &[("GET", "/v1/movies")],
    },
    RuleDefault {
        name: "movie:get_all:all_projects",
        check: "rule:admin_required",
        description: "List the movies of every project (?all_projects=true).",
        operations: &[("GET", "/v1/movies?all_projects=true")],
    },
    RuleDefault {
        name: "movie:create",
        check: MEMBER,
        description: "Create a movie in the caller's project.",
        operations: &[("POST", "/v1/movies")],
    },
    RuleDefault {
        name: "movie:update",
        check: MEMBER,
        description: "Update a movie.",
        operations: &[("PUT", "/v1/movies/{movie_id}")],
    },
    RuleDefault {
        name: "movie:delete",
        check: MEMBER,
        description: "Delete a movie.",
        operations: &[("DELETE", "/v1/movies/{movie_id}")],
    },
];

/// The defaults as a commented YAML policy file, as
/// `oslopolicy-sample-generator` writes one: uncomment a rule to change it.
pub fn render_sample() -> String {
    let mut out = String::new();
    for rule in DEFAULTS {
        let _ = writeln!(out, "# {}", rule.description);
        for (method, path) in rule.operations {
            let _ = writeln!(out, "# {method}  {path}");
        }
        let _ = writeln!(out, "#\"{}\": \"{}\"\n", rule.name, rule.check);
    }
    out
}
