//! Who is calling, and which movies that lets them reach (CONTRACT §8).
//!
//! A [`Caller`] is read from the oslo.context keys every RPC message carries:
//! `user` (or `user_id`), `project_id` (or `project`, or `tenant`, the
//! spellings older oslo.context releases send), `is_admin` and `roles`. The
//! engine enforces the project scope itself, so a Python caller on the bus
//! gets the same answers as the API:
//!
//! - A context with no project at all (absent, null or `""`) comes from
//!   trusted infrastructure on the bus and is unscoped, as oslo's admin
//!   context is: it reaches every movie, and its creates have no owner.
//! - An admin (`is_admin: true`) gets, updates and deletes any movie by id,
//!   ownerless ones included. Its listings show its own project's movies,
//!   or every movie when `get_all_movie` is given `all_projects: true`.
//! - Anyone else reaches only their project's movies: another project's
//!   movie, or an ownerless one, is `MovieNotFound`, never revealed; a
//!   listing holds only the project's movies, and `all_projects` is ignored.
//! - A create records the caller's project and user. Names are unique within
//!   a project.
//!
//! The store applies a [`Scope`] in the SQL of each query, so that pages and
//! markers stay right.

use rpc::Context;
use serde_json::Value;

/// The identity a request carries, as far as movies are concerned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    user_id: Option<String>,
    project_id: Option<String>,
    is_admin: bool,
    roles: Vec<String>,
}

/// Which movies a query may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every movie, ownerless ones included.
    Everything,
    /// Only the movies of this project (never empty).
    Project(String),
}

impl Caller {
    /// Trusted infrastructure: no project, so no scope (see the module doc).
    pub fn unscoped() -> Caller {
        Caller::default()
    }

    /// A member of `project_id`, acting as `user_id`.
    pub fn member(project_id: &str, user_id: &str) -> Caller {
        Caller {
            user_id: non_empty(user_id),
            project_id: non_empty(project_id),
            ..Caller::default()
        }
    }

    /// An admin whose token is scoped to `project_id`, acting as `user_id`.
    pub fn admin(project_id: &str, user_id: &str) -> Caller {
        Caller {
            is_admin: true,
            ..Caller::member(project_id, user_id)
        }
    }

    /// The caller an RPC context names.
    pub fn from_context(context: &Context) -> Caller {
        let first = |keys: &[&str]| keys.iter().find_map(|key| identifier(context.get(key)));
        let roles = match context.get("roles") {
            Some(Value::Array(roles)) => roles
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        Caller {
            user_id: first(&["user", "user_id"]),
            project_id: first(&["project_id", "project", "tenant"]),
            // Only a JSON true: an ambiguous value must never widen access.
            is_admin: context.get("is_admin") == Some(&Value::Bool(true)),
            roles,
        }
    }

    /// The caller's user, if the context named one.
    pub fn user_id(&self) -> Option<&str> {
        self.user_id.as_deref()
    }

    /// The caller's project; `None` for trusted infrastructure.
    pub fn project_id(&self) -> Option<&str> {
        self.project_id.as_deref()
    }

    /// Whether the context says the caller is an admin.
    pub fn is_admin(&self) -> bool {
        self.is_admin
    }

    /// The caller's roles, as the context lists them.
    pub fn roles(&self) -> &[String] {
        &self.roles
    }

    /// What a get, update or delete by id may reach.
    pub fn item_scope(&self) -> Scope {
        match &self.project_id {
            Some(project) if !self.is_admin => Scope::Project(project.clone()),
            _ => Scope::Everything,
        }
    }

    /// What a listing may show; `all_projects` widens it for admins only.
    pub fn list_scope(&self, all_projects: bool) -> Scope {
        match &self.project_id {
            None => Scope::Everything,
            Some(_) if all_projects && self.is_admin => Scope::Everything,
            Some(project) => {
                if all_projects {
                    tracing::debug!(
                        project_id = %project,
                        "all_projects ignored: the caller is not an admin"
                    );
                }
                Scope::Project(project.clone())
            }
        }
    }

    /// The project and user a movie created by this caller belongs to:
    /// none for trusted infrastructure.
    pub fn owner(&self) -> (Option<&str>, Option<&str>) {
        match &self.project_id {
            Some(project) => (Some(project), self.user_id.as_deref()),
            None => (None, None),
        }
    }
}

/// An id from the context. A value that is present but not a string still
/// names somebody (its JSON text), so that it narrows rather than widens.
fn identifier(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(text) => non_empty(text),
        other => Some(other.to_string()),
    }
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn context(pairs: Value) -> Context {
        let mut context = Context::default();
        for (key, value) in pairs.as_object().expect("an object") {
            context.insert(key, value.clone());
        }
        context
    }

    #[test]
    fn oslo_context_keys_and_their_older_spellings_are_read() {
        for (keys, user, project) in [
            (
                json!({"user": "u", "project_id": "p"}),
                Some("u"),
                Some("p"),
            ),
            (
                json!({"user_id": "u", "project": "p"}),
                Some("u"),
                Some("p"),
            ),
            (
                json!({"user": null, "user_id": "u", "tenant": "p"}),
                Some("u"),
                Some("p"),
            ),
            (
                json!({"user": "u", "project_id": "", "project": null, "tenant": "t"}),
                Some("u"),
                Some("t"),
            ),
            (json!({"project_id": 42}), None, Some("42")),
        ] {
            let caller = Caller::from_context(&context(keys.clone()));
            assert_eq!(
                (caller.user_id(), caller.project_id()),
                (user, project),
                "{keys}"
            );
        }
    }

    #[test]
    fn a_context_without_a_project_is_unscoped_and_owns_nothing() {
        for keys in [
            json!({}),
            json!({"project_id": null, "user": "u"}),
            json!({"project_id": "", "project": "", "tenant": null}),
        ] {
            let caller = Caller::from_context(&context(keys.clone()));
            assert_eq!(caller.item_scope(), Scope::Everything, "{keys}");
            assert_eq!(caller.list_scope(false), Scope::Everything, "{keys}");
            assert_eq!(caller.owner(), (None, None), "{keys}");
        }
        let defaults = Context::with_request_id("req-1");
        assert_eq!(Caller::from_context(&defaults), Caller::unscoped());
    }

    #[test]
    fn only_a_json_true_makes_an_admin() {
        for (is_admin, admin) in [
            (json!(true), true),
            (json!(false), false),
            (json!("True"), false),
            (json!(1), false),
            (Value::Null, false),
        ] {
            let keys = json!({"project_id": "p", "is_admin": is_admin});
            assert_eq!(
                Caller::from_context(&context(keys.clone())).is_admin(),
                admin,
                "{keys}"
            );
        }
    }

    #[test]
    fn roles_are_the_strings_listed() {
        let caller = Caller::from_context(&context(
            json!({"project_id": "p", "roles": ["reader", 3, "member"]}),
        ));
        assert_eq!(caller.roles(), ["reader", "member"]);
        let none = Caller::from_context(&context(json!({"roles": "admin"})));
        assert!(none.roles().is_empty());
    }

    #[test]
    fn a_member_is_held_to_its_project_whatever_it_asks() {
        let member = Caller::member("p", "u");
        let scoped = Scope::Project("p".into());
        assert_eq!(member.item_scope(), scoped);
        assert_eq!(member.list_scope(false), scoped);
        assert_eq!(member.list_scope(true), scoped);
        assert_eq!(member.owner(), (Some("p"), Some("u")));
    }

    #[test]
    fn an_admin_reaches_any_movie_and_lists_every_project_only_when_asked() {
        let admin = Caller::admin("p", "u");
        assert_eq!(admin.item_scope(), Scope::Everything);
        assert_eq!(admin.list_scope(false), Scope::Project("p".into()));
        assert_eq!(admin.list_scope(true), Scope::Everything);
        assert_eq!(admin.owner(), (Some("p"), Some("u")));
    }
}
