//! Helpers for tests against RabbitMQ, compiled with the `test-util` feature.
//!
//! - [`PrivateBroker`]: a RabbitMQ node of its own, for tests that stop or
//!   restart the broker without disturbing the tests next to them.
//! - [`free_port`]: a loopback port nothing listens on, e.g. a dead first host
//!   in a failover list.

mod private_broker;

pub use private_broker::{PrivateBroker, free_port};
