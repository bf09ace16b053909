//! [`Target`]: where a message goes, as oslo.messaging's `Target`.

/// The destination of a request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Target {
    /// The exchange; `None` uses `[DEFAULT] control_exchange`.
    pub exchange: Option<String>,
    /// The topic, e.g. `pymsboot_engine`.
    pub topic: String,
    /// The namespace of the endpoint, e.g. `engine`.
    pub namespace: Option<String>,
    /// The version requested (client) or implemented (server).
    pub version: Option<String>,
    /// One server of the topic (`<topic>.<server>`); `None` means any.
    pub server: Option<String>,
    /// Every server of the topic (casts only).
    pub fanout: bool,
}

impl Target {
    /// A target for `topic`.
    pub fn new(topic: &str) -> Target {
        Target {
            topic: topic.to_string(),
            ..Target::default()
        }
    }

    /// The same target in `namespace`.
    pub fn namespace(mut self, namespace: &str) -> Target {
        self.namespace = Some(namespace.to_string());
        self
    }

    /// The same target at `version`.
    pub fn version(mut self, version: &str) -> Target {
        self.version = Some(version.to_string());
        self
    }

    /// The same target, addressed to one server.
    pub fn server(mut self, server: &str) -> Target {
        self.server = Some(server.to_string());
        self
    }

    /// The same target on another exchange.
    pub fn exchange(mut self, exchange: &str) -> Target {
        self.exchange = Some(exchange.to_string());
        self
    }

    /// The same target, to every server of the topic.
    pub fn fanout(mut self) -> Target {
        self.fanout = true;
        self
    }

    /// The routing key of a request: `<topic>` or `<topic>.<server>`.
    pub(crate) fn routing_key(&self) -> String {
        match &self.server {
            Some(server) => format!("{}.{}", self.topic, server),
            None => self.topic.clone(),
        }
    }

    /// The fanout exchange of the topic.
    pub(crate) fn fanout_exchange(&self) -> String {
        format!("{}_fanout", self.topic)
    }
}
