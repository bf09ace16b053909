//! [`Caller`]: an authenticated request's identity as the policy sees it
//! and as the engine receives it, in oslo.context's keys.

use rpc::Context;
use serde_json::Value;

use crate::auth::Identity;
use crate::error::ApiError;
use crate::policy::{Credentials, Enforcer, Target};

/// The rule that says who is an admin (`is_admin` in the context).
const CONTEXT_IS_ADMIN: &str = "context_is_admin";

/// Who made a request, and the context that carries them to the engine.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    credentials: Credentials,
    context: Context,
}

impl Caller {
    /// The caller `identity` is, for the request `request_id`; whether they
    /// are an admin is the policy's `context_is_admin`.
    pub(crate) fn new(identity: Identity, request_id: &str, policy: &Enforcer) -> Caller {
        let mut credentials = Credentials {
            user_id: Some(identity.user_id),
            project_id: Some(identity.project_id),
            roles: identity.roles,
            is_admin: false,
        };
        credentials.is_admin = policy.authorize(CONTEXT_IS_ADMIN, &Target::new(), &credentials);
        let mut context = Context::with_request_id(request_id);
        let user = credentials.user_id.clone().unwrap_or_default();
        let project = credentials.project_id.clone().unwrap_or_default();
        context.insert("user_identity", Value::from(user_identity(&user, &project)));
        context.insert("user", Value::from(user));
        context.insert("project_id", Value::from(project.clone()));
        context.insert("project", Value::from(project));
        context.insert(
            "roles",
            Value::Array(credentials.roles.iter().cloned().map(Value::from).collect()),
        );
        context.insert("is_admin", Value::Bool(credentials.is_admin));
        Caller {
            credentials,
            context,
        }
    }

    /// The context to send the engine.
    pub(crate) fn context(&self) -> &Context {
        &self.context
    }

    /// The project the caller acts in.
    pub(crate) fn project_id(&self) -> &str {
        self.credentials.project_id.as_deref().unwrap_or_default()
    }

    /// oslo.context's `user_identity`, as the log lines show it.
    pub(crate) fn user_identity(&self) -> &str {
        self.context
            .get("user_identity")
            .and_then(Value::as_str)
            .unwrap_or("- - - - -")
    }

    /// Whether the policy lets the caller do what `rule` guards to a movie of
    /// their own project (the engine keeps them inside it).
    ///
    /// # Errors
    /// [`ApiError::Forbidden`] naming the rule.
    pub(crate) fn authorize(&self, policy: &Enforcer, rule: &str) -> Result<(), ApiError> {
        let mut target = Target::new();
        if let Some(project) = &self.credentials.project_id {
            target.insert("project_id".to_owned(), project.clone());
        }
        if let Some(user) = &self.credentials.user_id {
            target.insert("user_id".to_owned(), user.clone());
        }
        if policy.authorize(rule, &target, &self.credentials) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "Policy does not allow {rule} to be performed."
            )))
        }
    }
}

/// `<user> <project> - - -`: oslo.log's `user_identity` with no domains.
fn user_identity(user: &str, project: &str) -> String {
    format!("{} {} - - -", or_dash(user), or_dash(project))
}

fn or_dash(text: &str) -> &str {
    if text.is_empty() { "-" } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(roles: &[&str]) -> Identity {
        Identity {
            user_id: "u1".into(),
            project_id: "p1".into(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        }
    }

    #[test]
    fn the_context_carries_oslo_context_keys() {
        let caller = Caller::new(identity(&["member"]), "req-1", &Enforcer::default());
        let context = caller.context();
        assert_eq!(context.get("user"), Some(&Value::from("u1")));
        assert_eq!(context.get("project_id"), Some(&Value::from("p1")));
        assert_eq!(context.get("roles"), Some(&serde_json::json!(["member"])));
        assert_eq!(context.get("is_admin"), Some(&Value::Bool(false)));
        assert_eq!(caller.user_identity(), "u1 p1 - - -");
        assert_eq!(context.request_id(), Some("req-1"));
        // The credentials stay in the API: no token travels to the engine.
        assert_eq!(context.get("auth_token"), Some(&Value::Null));
    }

    #[test]
    fn admins_are_who_context_is_admin_says() {
        let admin = Caller::new(identity(&["admin"]), "req-1", &Enforcer::default());
        assert_eq!(admin.context().get("is_admin"), Some(&Value::Bool(true)));
    }

    #[test]
    fn readers_read_members_write_and_only_admins_list_everything() {
        let policy = Enforcer::default();
        let reader = Caller::new(identity(&["reader"]), "req-1", &policy);
        let member = Caller::new(identity(&["member"]), "req-1", &policy);
        let admin = Caller::new(identity(&["admin"]), "req-1", &policy);
        let nobody = Caller::new(identity(&[]), "req-1", &policy);
        for rule in ["movie:get", "movie:get_all"] {
            for caller in [&reader, &member, &admin] {
                assert!(caller.authorize(&policy, rule).is_ok(), "{rule}");
            }
            assert!(nobody.authorize(&policy, rule).is_err(), "{rule}");
        }
        for rule in ["movie:create", "movie:update", "movie:delete"] {
            assert!(reader.authorize(&policy, rule).is_err(), "{rule}");
            assert!(member.authorize(&policy, rule).is_ok(), "{rule}");
            assert!(admin.authorize(&policy, rule).is_ok(), "{rule}");
        }
        let everything = "movie:get_all:all_projects";
        assert!(member.authorize(&policy, everything).is_err());
        assert!(admin.authorize(&policy, everything).is_ok());
    }
}
