//! The request context that travels with every message as `_context_*` keys,
//! as oslo.context's `RequestContext.to_dict()` lays it out.

use serde_json::{Map, Value};

/// The prefix oslo.messaging puts before every context key in a message.
pub(crate) const PREFIX: &str = "_context_";

/// A request context: `request_id` and the other oslo.context keys.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    values: Map<String, Value>,
}

impl Context {
    /// A context carrying `request_id` (`req-<uuid>`), with the other
    /// oslo.context keys at the defaults a Python peer expects.
    pub fn with_request_id(request_id: &str) -> Context {
        let mut context = Context::default();
        for (key, value) in [
            ("user", Value::Null),
            ("project_id", Value::Null),
            ("system_scope", Value::Null),
            ("project", Value::Null),
            ("domain", Value::Null),
            ("user_domain", Value::Null),
            ("project_domain", Value::Null),
            ("is_admin", Value::Bool(false)),
            ("read_only", Value::Bool(false)),
            ("show_deleted", Value::Bool(false)),
            ("auth_token", Value::Null),
            ("request_id", Value::String(request_id.to_string())),
            ("global_request_id", Value::Null),
            ("resource_uuid", Value::Null),
            ("roles", Value::Array(Vec::new())),
            ("user_identity", Value::String("- - - - -".to_string())),
            ("is_admin_project", Value::Bool(true)),
        ] {
            context.values.insert(key.to_string(), value);
        }
        context
    }

    /// The request id, when the caller sent one.
    pub fn request_id(&self) -> Option<&str> {
        self.values.get("request_id").and_then(Value::as_str)
    }

    /// oslo.context's `user_identity`, `<user> <project> <domain>
    /// <user_domain> <project_domain>`, when the caller sent one: what the
    /// log lines of the call show.
    pub fn user_identity(&self) -> Option<&str> {
        self.values.get("user_identity").and_then(Value::as_str)
    }

    /// Any context value.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(key)
    }

    /// Sets a context value.
    pub fn insert(&mut self, key: &str, value: Value) {
        self.values.insert(key.to_string(), value);
    }

    /// Adds `_context_<key>` to `message` for every entry.
    pub(crate) fn flatten_into(&self, message: &mut Map<String, Value>) {
        for (key, value) in &self.values {
            message.insert(format!("{PREFIX}{key}"), value.clone());
        }
    }

    /// Moves every `_context_<key>` out of `message` into a context.
    pub(crate) fn extract_from(message: &mut Map<String, Value>) -> Context {
        let keys: Vec<String> = message
            .keys()
            .filter(|key| key.starts_with(PREFIX))
            .cloned()
            .collect();
        let mut values = Map::new();
        for key in keys {
            if let Some(value) = message.remove(&key) {
                values.insert(key[PREFIX.len()..].to_string(), value);
            }
        }
        Context { values }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattening_and_extracting_round_trip() {
        let context = Context::with_request_id("req-1");
        let mut message = Map::new();
        message.insert("method".into(), Value::from("ping"));
        context.flatten_into(&mut message);
        assert_eq!(message["_context_request_id"], "req-1");
        assert_eq!(message.len(), 18);
        let back = Context::extract_from(&mut message);
        assert_eq!(back, context);
        assert_eq!(message.len(), 1);
    }

    #[test]
    fn a_minimal_context_is_enough() {
        let mut message = Map::new();
        message.insert("_context_request_id".into(), Value::from("req-2"));
        assert_eq!(
            Context::extract_from(&mut message).request_id(),
            Some("req-2")
        );
    }
}
