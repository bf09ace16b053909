//! [`Publisher`]: every message goes out on a confirm-mode channel, and
//! [`Sent`] waits for the broker's confirm, telling a refused message from
//! a lost connection.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Confirmation};

use crate::connection::{Connection, Link};
use crate::error::Error;
use crate::topology::Exchange;

/// The largest message body published: a reply over it is replaced by a
/// failure the caller can read, a request over it fails before it is sent.
/// It stays well under RabbitMQ's default `max_message_size` (128 MiB in
/// 3.x, 16 MiB since 4.0), whose refusal would cost a channel and leave the
/// caller waiting for its timeout.
pub const MAX_MESSAGE_SIZE: usize = 8 * 1024 * 1024;

/// How often a publish waiting for its confirm looks whether its channel
/// has closed.
const CLOSED_POLL: Duration = Duration::from_millis(100);

/// Messages from this size up are published on a channel of their own. One
/// that needs several frames (the broker's `frame_max`, 128 KiB by default)
/// can be overtaken on a shared channel by a small one published after it,
/// and the broker's acks, which follow the order it received them in, are
/// then matched to the wrong messages: a refused one would be taken for
/// confirmed. Alone on its channel a message cannot be confused; and a
/// broker set below [`MAX_MESSAGE_SIZE`] that refuses it closes only that
/// channel, not the one every other message shares.
const OWN_CHANNEL_SIZE: usize = 64 * 1024;

/// The shared publishing channel of one generation, and the exchanges
/// declared for it.
struct SharedChannel {
    generation: u64,
    channel: Channel,
    declared: HashSet<String>,
}

/// Publishes over a [`Connection`], shared by the clients and servers of a
/// transport.
#[derive(Clone)]
pub(crate) struct Publisher {
    connection: Connection,
    shared: Arc<tokio::sync::Mutex<Option<SharedChannel>>>,
}

/// A published message whose confirm may still be on its way.
pub(crate) struct Sent {
    confirm: lapin::PublisherConfirm,
    /// The channel the message went on.
    channel: Channel,
    /// Whether that channel is the message's own, closed once dropped.
    own: bool,
    connection: Connection,
    generation: u64,
}

impl Sent {
    /// Whether the message went on the channel other messages share (then a
    /// refusal may have been meant for one of them).
    pub(crate) fn shared(&self) -> bool {
        !self.own
    }

    /// Waits for the broker's confirm: `Ok(false)` when a mandatory message
    /// came back unroutable (no such queue).
    ///
    /// A failure while the connection is still up is [`Error::Refused`]:
    /// the broker closed the channel, for this message or for another one
    /// sharing the channel.
    pub(crate) async fn confirmed(self) -> Result<bool, Error> {
        let confirmed = tokio::select! {
            biased;
            confirmed = self.confirm => confirmed,
            () = closed(&self.channel) => {
                // lapin fails the confirms pending when the channel closes,
                // but not one registered while it was closing: that one
                // would be awaited forever.
                let error = lapin::ErrorKind::InvalidChannelState(
                    lapin::ChannelState::Closed,
                    "the channel closed before the confirm",
                );
                Err(error.into())
            }
        };
        match confirmed {
            Ok(Confirmation::Ack(None) | Confirmation::NotRequested) => Ok(true),
            Ok(Confirmation::Ack(Some(_returned))) => Ok(false),
            Ok(Confirmation::Nack(_)) => Err(Error::NotConfirmed),
            Err(error) if self.connection.is_up(self.generation) => Err(Error::Refused(error)),
            Err(error) => Err(Error::Amqp(error)),
        }
    }
}

impl Publisher {
    pub(crate) fn new(connection: Connection) -> Publisher {
        Publisher {
            connection,
            shared: Arc::new(tokio::sync::Mutex::new(None)),
        }
    }

    /// Publishes `body` with oslo's properties and waits for the broker's
    /// confirm. Returns `Ok(false)` when a mandatory message came back
    /// unroutable (no such queue).
    pub(crate) async fn publish(
        &self,
        exchange: Exchange<'_>,
        routing_key: &str,
        body: &[u8],
        mandatory: bool,
        expiration: Option<Duration>,
    ) -> Result<bool, Error> {
        let mut retried = false;
        loop {
            let sent = self
                .send(exchange, routing_key, body, mandatory, expiration, retried)
                .await?;
            let shared = sent.shared();
            match sent.confirmed().await {
                // Maybe refused for another message on the shared channel:
                // once more, alone, so that a message refused for itself
                // closes no shared channel again. A duplicate is dropped by
                // its `_unique_id`.
                Err(Error::Refused(_)) if shared && !retried => retried = true,
                confirmed => return confirmed,
            }
        }
    }

    /// Publishes `body` and returns once it is handed to the connection; the
    /// broker's confirm is awaited separately, so a caller can wait for it
    /// and for a reply at the same time.
    ///
    /// A body over `max_message_size` is not sent ([`Error::MessageTooLarge`]).
    /// A large body, or any when `alone`, goes on a channel of its own.
    /// When the shared channel turns out closed (another message was refused
    /// on it), the message goes out again once on a fresh channel: it had
    /// not left.
    pub(crate) async fn send(
        &self,
        exchange: Exchange<'_>,
        routing_key: &str,
        body: &[u8],
        mandatory: bool,
        expiration: Option<Duration>,
        alone: bool,
    ) -> Result<Sent, Error> {
        self.check_size(body)?;
        let link = self.connection.current().ok_or(Error::Unavailable)?;
        let mut properties = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_content_encoding("utf-8".into())
            .with_delivery_mode(2)
            .with_priority(0)
            .with_headers(FieldTable::default());
        if let Some(ttl) = expiration {
            properties = properties.with_expiration(ttl.as_millis().max(1).to_string().into());
        }
        let options = BasicPublishOptions {
            mandatory,
            immediate: false,
        };
        let own = alone || body.len() >= OWN_CHANNEL_SIZE;
        let mut retried = false;
        loop {
            let channel = if own {
                self.own_channel(&link, &exchange).await?
            } else {
                self.shared_channel(&link, &exchange).await?
            };
            let published = channel
                .basic_publish(
                    exchange.name().into(),
                    routing_key.into(),
                    options,
                    body,
                    properties.clone(),
                )
                .await;
            match published {
                Ok(confirm) => {
                    return Ok(Sent {
                        confirm,
                        channel,
                        own,
                        connection: self.connection.clone(),
                        generation: link.generation,
                    });
                }
                Err(_)
                    if !retried
                        && !channel.status().connected()
                        && self.connection.is_up(link.generation) =>
                {
                    retried = true;
                }
                Err(error) => return Err(Error::Amqp(error)),
            }
        }
    }

    /// Fails with [`Error::MessageTooLarge`] when `body` is over
    /// `max_message_size`.
    pub(crate) fn check_size(&self, body: &[u8]) -> Result<(), Error> {
        let limit = self.connection.settings().max_message_size;
        if body.len() > limit {
            return Err(Error::MessageTooLarge {
                size: body.len(),
                limit,
            });
        }
        Ok(())
    }

    /// Declares `exchange` for `link`'s shared channel (once per
    /// connection), as the first publish to it would.
    pub(crate) async fn declare(&self, link: &Link, exchange: Exchange<'_>) -> Result<(), Error> {
        self.shared_channel(link, &exchange).await.map(drop)
    }

    /// A confirm-mode channel for one message, `exchange` declared on it.
    async fn own_channel(&self, link: &Link, exchange: &Exchange<'_>) -> Result<Channel, Error> {
        let channel = link.connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        exchange
            .declare(&channel, self.connection.settings())
            .await?;
        Ok(channel)
    }

    async fn shared_channel(&self, link: &Link, exchange: &Exchange<'_>) -> Result<Channel, Error> {
        let mut shared = self.shared.lock().await;
        let stale = shared
            .as_ref()
            .is_none_or(|s| s.generation != link.generation || !s.channel.status().connected());
        if stale {
            let channel = link.connection.create_channel().await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            *shared = Some(SharedChannel {
                generation: link.generation,
                channel,
                declared: HashSet::new(),
            });
        }
        let shared = shared.as_mut().expect("set just above");
        let name = exchange.name();
        if !matches!(exchange, Exchange::Default) && !shared.declared.contains(name) {
            // On a channel of its own: a declaration the broker refuses (the
            // exchange exists with other flags) closes that channel, not the
            // one carrying other messages' confirms.
            let channel = link.connection.create_channel().await?;
            exchange
                .declare(&channel, self.connection.settings())
                .await?;
            let _ = channel.close(200, "declared".into()).await;
            shared.declared.insert(name.to_string());
        }
        Ok(shared.channel.clone())
    }
}

/// Returns once `channel` is no longer open; lapin has no event for it, so
/// it is looked at every [`CLOSED_POLL`] (a confirm normally comes long
/// before the first look).
async fn closed(channel: &Channel) {
    loop {
        tokio::time::sleep(CLOSED_POLL).await;
        if !channel.status().connected() {
            return;
        }
    }
}
