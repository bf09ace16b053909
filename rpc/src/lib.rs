//! oslo.messaging's RabbitMQ RPC over lapin, wire-compatible with Python peers.
//!
//! # Layout
//! - [`conf`]: `[DEFAULT]` messaging options and `[oslo_messaging_rabbit]`.
//! - [`transport_url`]: `rabbit://u:p@h1,u:p@h2/vhost` parsing, failover list, redaction.

pub use transport_url::{BrokerHost, TransportUrl, TransportUrlError};

pub mod conf;
pub mod transport_url;
