//! Helpers for tests against RabbitMQ, compiled with the `test-util` feature.
//!
//! - [`PrivateBroker`]: a RabbitMQ node of its own, for tests that stop or
//!   restart the broker without disturbing the tests next to them.
//! - [`free_port`]: a loopback port nothing listens on, e.g. a dead first host
//!   in a failover list.
//! - [`queue_exists`]: whether a queue is on the local broker.

mod private_broker;

pub use private_broker::{PrivateBroker, free_port};

/// A connection of its own to the broker at 127.0.0.1:5672 (virtual host
/// `/`) and a channel on it, to look at or change the broker beside the
/// transport under test.
///
/// # Panics
/// When the broker cannot be reached.
pub async fn broker_channel() -> (lapin::Connection, lapin::Channel) {
    let connection = lapin::Connection::connect(
        "amqp://guest:guest@127.0.0.1:5672/%2f",
        lapin::ConnectionProperties::default(),
    )
    .await
    .expect("connect to the broker");
    let channel = connection.create_channel().await.expect("a channel");
    (connection, channel)
}

/// Whether `queue` exists on the broker at 127.0.0.1:5672 (virtual host `/`),
/// by a passive declare on a connection of its own.
///
/// # Panics
/// When the broker cannot be reached.
pub async fn queue_exists(queue: &str) -> bool {
    let (connection, channel) = broker_channel().await;
    let options = lapin::options::QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    let exists = channel
        .queue_declare(queue.into(), options, lapin::types::FieldTable::default())
        .await
        .is_ok();
    let _ = connection.close(200, "done".into()).await;
    exists
}
