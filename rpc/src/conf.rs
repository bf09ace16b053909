//! The messaging options: `[DEFAULT]` transport and RPC settings and
//! `[oslo_messaging_rabbit]`, with oslo.messaging's names and defaults.

use launcher::conf::{Opt, OptDefault, OptKind};

use crate::transport_url::TransportUrl;

/// `[DEFAULT] transport_url`: the brokers, with their credentials.
pub static TRANSPORT_URL: Opt = Opt {
    section: "DEFAULT",
    name: "transport_url",
    kind: OptKind::Checked {
        type_name: "transport URL value",
        check: check_transport_url,
    },
    default: OptDefault::Value("rabbit://guest:guest@127.0.0.1:5672//"),
    help: "The network address and optional user credentials for connecting to the messaging \
           backend, in URL format: rabbit://user:pass@host1:port1[,user:pass@host2:port2]/vhost. \
           Several hosts are tried in turn (failover). A trailing // means the virtual host /. \
           Query parameters override [oslo_messaging_rabbit] options.",
    mutable: false,
    secret: true,
};

/// `[DEFAULT] control_exchange`: the topic exchange requests are published to.
pub static CONTROL_EXCHANGE: Opt = Opt::new(
    "DEFAULT",
    "control_exchange",
    OptKind::Str,
    "openstack",
    "The default exchange under which topics are scoped.",
);

/// `[DEFAULT] rpc_response_timeout`: how long a call waits for its reply.
pub static RPC_RESPONSE_TIMEOUT: Opt = Opt::new(
    "DEFAULT",
    "rpc_response_timeout",
    OptKind::at_least(1),
    "60",
    "Seconds to wait for a response from a call.",
);

/// `[DEFAULT] executor_thread_pool_size`: RPC requests one server runs at once.
pub static EXECUTOR_THREAD_POOL_SIZE: Opt = Opt::new(
    "DEFAULT",
    "executor_thread_pool_size",
    OptKind::at_least(1),
    "64",
    "Size of the executor pool: how many RPC requests one server process handles at once.",
);

/// `[oslo_messaging_rabbit] amqp_durable_queues`.
pub static AMQP_DURABLE_QUEUES: Opt = Opt::new(
    "oslo_messaging_rabbit",
    "amqp_durable_queues",
    OptKind::Bool,
    "false",
    "Use durable queues in AMQP: the control exchange and the topic queues survive a broker restart.",
);

/// `[oslo_messaging_rabbit] amqp_auto_delete`.
pub static AMQP_AUTO_DELETE: Opt = Opt::new(
    "oslo_messaging_rabbit",
    "amqp_auto_delete",
    OptKind::Bool,
    "false",
    "Auto-delete the control exchange and the topic queues when they are no longer used.",
);

/// `[oslo_messaging_rabbit] rabbit_transient_queues_ttl`.
pub static RABBIT_TRANSIENT_QUEUES_TTL: Opt = Opt::new(
    "oslo_messaging_rabbit",
    "rabbit_transient_queues_ttl",
    OptKind::at_least(0),
    "1800",
    "Seconds an unused reply or fanout queue lives before the broker deletes it (x-expires). \
     0 means no expiry.",
);

/// `[oslo_messaging_rabbit] rabbit_qos_prefetch_count`.
pub static RABBIT_QOS_PREFETCH_COUNT: Opt = Opt::new(
    "oslo_messaging_rabbit",
    "rabbit_qos_prefetch_count",
    OptKind::at_least(0),
    "0",
    "How many unacknowledged messages the broker may push to one consumer. 0 means unlimited.",
);

/// `[oslo_messaging_rabbit] heartbeat_timeout_threshold`.
pub static HEARTBEAT_TIMEOUT_THRESHOLD: Opt = Opt::new(
    "oslo_messaging_rabbit",
    "heartbeat_timeout_threshold",
    OptKind::at_least(0),
    "60",
    "Seconds without a heartbeat after which the broker connection is considered dead. \
     0 disables heartbeats.",
);

/// `[oslo_messaging_rabbit] heartbeat_rate`.
pub static HEARTBEAT_RATE: Opt = Opt::new(
    "oslo_messaging_rabbit",
    "heartbeat_rate",
    OptKind::at_least(1),
    "3",
    "How many times per heartbeat_timeout_threshold the heartbeat is checked.",
);

/// `[oslo_messaging_rabbit] rabbit_retry_interval`.
pub static RABBIT_RETRY_INTERVAL: Opt = Opt::new(
    "oslo_messaging_rabbit",
    "rabbit_retry_interval",
    OptKind::at_least(0),
    "1",
    "Seconds to wait before the first reconnection attempt to the broker.",
);

/// `[oslo_messaging_rabbit] rabbit_retry_backoff`.
pub static RABBIT_RETRY_BACKOFF: Opt = Opt::new(
    "oslo_messaging_rabbit",
    "rabbit_retry_backoff",
    OptKind::at_least(0),
    "2",
    "Seconds added to the wait after each failed reconnection round.",
);

/// `[oslo_messaging_rabbit] rabbit_interval_max`.
pub static RABBIT_INTERVAL_MAX: Opt = Opt::new(
    "oslo_messaging_rabbit",
    "rabbit_interval_max",
    OptKind::at_least(1),
    "30",
    "The longest wait, in seconds, between reconnection rounds.",
);

/// `[oslo_messaging_rabbit] kombu_missing_consumer_retry_timeout`.
pub static KOMBU_MISSING_CONSUMER_RETRY_TIMEOUT: Opt = Opt::new(
    "oslo_messaging_rabbit",
    "kombu_missing_consumer_retry_timeout",
    OptKind::at_least(0),
    "60",
    "Seconds a reply keeps being retried while the caller's reply queue is missing.",
);

/// The `[oslo_messaging_rabbit]` options, which a transport URL's query may override.
pub static RABBIT_OPTS: &[&Opt] = &[
    &AMQP_DURABLE_QUEUES,
    &AMQP_AUTO_DELETE,
    &RABBIT_TRANSIENT_QUEUES_TTL,
    &RABBIT_QOS_PREFETCH_COUNT,
    &HEARTBEAT_TIMEOUT_THRESHOLD,
    &HEARTBEAT_RATE,
    &RABBIT_RETRY_INTERVAL,
    &RABBIT_RETRY_BACKOFF,
    &RABBIT_INTERVAL_MAX,
    &KOMBU_MISSING_CONSUMER_RETRY_TIMEOUT,
];

/// The `[DEFAULT]` messaging options.
pub static DEFAULT_OPTS: &[&Opt] = &[
    &TRANSPORT_URL,
    &CONTROL_EXCHANGE,
    &RPC_RESPONSE_TIMEOUT,
    &EXECUTOR_THREAD_POOL_SIZE,
];

/// Every messaging option, as tables for the configuration loader.
pub static OPTS: &[&[&Opt]] = &[DEFAULT_OPTS, RABBIT_OPTS];

fn check_transport_url(raw: &str) -> Result<(), String> {
    TransportUrl::parse(raw)
        .map(drop)
        .map_err(|error| error.to_string())
}
