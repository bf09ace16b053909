//! The exchanges and queues oslo.messaging declares, with the flags each
//! kind gets, so that Python and Rust peers can share them: a declaration
//! with other flags than the broker already has closes the channel.

use lapin::options::{ExchangeDeclareOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};

use crate::error::Error;
use crate::settings::Settings;

/// The exchange kinds oslo.messaging declares.
#[derive(Clone, Copy)]
pub(crate) enum Exchange<'a> {
    /// The control exchange (`topic`).
    Topic(&'a str),
    /// A topic's fanout exchange (`fanout`, auto-delete).
    Fanout(&'a str),
    /// The default exchange, never declared (replies).
    Default,
}

impl<'a> Exchange<'a> {
    /// The name messages are published to (`""` for the default exchange).
    pub(crate) fn name(&self) -> &'a str {
        match self {
            Exchange::Topic(name) | Exchange::Fanout(name) => name,
            Exchange::Default => "",
        }
    }

    /// Declares the exchange on `channel`; the default exchange needs none.
    pub(crate) async fn declare(
        &self,
        channel: &Channel,
        settings: &Settings,
    ) -> Result<(), Error> {
        match self {
            Exchange::Topic(name) => {
                declare_exchange(
                    channel,
                    name,
                    ExchangeKind::Topic,
                    settings.durable,
                    settings.auto_delete,
                )
                .await
            }
            // Never durable, whatever `amqp_durable_queues` says: oslo.messaging
            // declares it so on both sides.
            Exchange::Fanout(name) => {
                declare_exchange(channel, name, ExchangeKind::Fanout, false, true).await
            }
            Exchange::Default => Ok(()),
        }
    }
}

/// Declares an exchange as oslo.messaging does (same flags, no arguments).
async fn declare_exchange(
    channel: &Channel,
    name: &str,
    kind: ExchangeKind,
    durable: bool,
    auto_delete: bool,
) -> Result<(), Error> {
    let options = ExchangeDeclareOptions {
        durable,
        auto_delete,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(name.into(), kind, options, FieldTable::default())
        .await?;
    Ok(())
}

/// Declares a transient queue (a reply or fanout queue) as oslo.messaging
/// does: not durable, expiring after `rabbit_transient_queues_ttl` unused.
pub(crate) async fn declare_transient_queue(
    channel: &Channel,
    name: &str,
    settings: &Settings,
) -> Result<(), Error> {
    let mut arguments = FieldTable::default();
    if let Some(ttl) = settings.transient_queues_ttl {
        let millis = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        arguments.insert("x-expires".into(), AMQPValue::LongLongInt(millis));
    }
    channel
        .queue_declare(name.into(), QueueDeclareOptions::default(), arguments)
        .await?;
    Ok(())
}

/// Declares a topic queue (`<topic>`, `<topic>.<server>`) with the
/// durability and auto-delete flags of the control exchange.
pub(crate) async fn declare_topic_queue(
    channel: &Channel,
    name: &str,
    settings: &Settings,
) -> Result<(), Error> {
    let options = QueueDeclareOptions {
        durable: settings.durable,
        auto_delete: settings.auto_delete,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(name.into(), options, FieldTable::default())
        .await?;
    Ok(())
}
