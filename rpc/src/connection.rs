//! [`Transport`]: the process's one broker connection, kept up by a task that
//! reconnects across the host list with oslo.messaging's backoff, and the
//! confirm-mode channel every publish goes through.
//!
//! Clients and servers watch the connection's *generation*: each new
//! connection is a new generation, on which they declare their queues and
//! consumers again, so a broker restart needs no process restart.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_lite::StreamExt;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::FieldTable;
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, Event, ExchangeKind,
};
use tokio::sync::watch;

use crate::error::Error;
use crate::replies::Replies;
use crate::settings::Settings;
use crate::transport_url::BrokerHost;

/// How long one TCP/AMQP connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

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

/// One live connection.
#[derive(Clone)]
pub(crate) struct Link {
    pub(crate) connection: Arc<Connection>,
    pub(crate) generation: u64,
}

/// The publishing channel of one generation, and the exchanges declared on it.
struct Publisher {
    generation: u64,
    channel: Channel,
    declared: HashSet<String>,
}

struct Inner {
    settings: Settings,
    replies: Arc<Replies>,
    link: watch::Sender<Option<Link>>,
    /// Why this process cannot do its messaging now (`None`: nothing wrong).
    problem: watch::Sender<Option<String>>,
    publisher: tokio::sync::Mutex<Option<Publisher>>,
    closed: watch::Sender<bool>,
    supervisor: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// The broker connection of a process, shared by its clients and servers.
#[derive(Clone)]
pub struct Transport {
    inner: Arc<Inner>,
}

/// A published message whose confirm may still be on its way.
pub(crate) struct Sent {
    confirm: lapin::PublisherConfirm,
    /// The channel the message went on.
    channel: Channel,
    /// Whether that channel is the message's own, closed once dropped.
    own: bool,
    transport: Transport,
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
            Err(error) if self.transport.is_up(self.generation) => Err(Error::Refused(error)),
            Err(error) => Err(Error::Amqp(error)),
        }
    }
}

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

impl Transport {
    /// Starts connecting in the background; clients and servers wait for it.
    /// Must be called inside a tokio runtime.
    pub fn start(settings: Settings) -> Transport {
        let (link, _) = watch::channel(None);
        let (closed, _) = watch::channel(false);
        let (problem, _) = watch::channel(None);
        let transport = Transport {
            inner: Arc::new(Inner {
                settings,
                replies: Arc::new(Replies::new()),
                link,
                problem,
                publisher: tokio::sync::Mutex::new(None),
                closed,
                supervisor: Mutex::new(None),
            }),
        };
        let task = tokio::spawn(supervise(Arc::downgrade(&transport.inner)));
        *transport
            .inner
            .supervisor
            .lock()
            .expect("never poisoned: no panic while held") = Some(task);
        transport
    }

    /// The configuration this transport was started with.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Whether a connection is up now.
    pub fn is_connected(&self) -> bool {
        self.inner.link.borrow().is_some()
    }

    /// The current connection's generation: 1 for the first connection, one
    /// more for each new one; `None` while disconnected. A failure that costs
    /// only a channel leaves it unchanged.
    pub fn generation(&self) -> Option<u64> {
        self.inner
            .link
            .borrow()
            .as_ref()
            .map(|link| link.generation)
    }

    /// Waits until a connection is up, at most `timeout`.
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        self.link_before(tokio::time::Instant::now() + timeout)
            .await
            .is_some()
    }

    /// The connection, once up, if that happens before `until`.
    pub(crate) async fn link_before(&self, until: tokio::time::Instant) -> Option<Link> {
        let mut receiver = self.inner.link.subscribe();
        match tokio::time::timeout_at(until, receiver.wait_for(Option::is_some)).await {
            Ok(Ok(link)) => link.clone(),
            _ => None,
        }
    }

    /// Why messaging does not work now: the last failure to connect, or to
    /// declare or consume what a client or server needs; `None` once it works.
    /// A worker shows it to its master while it cannot get ready.
    pub fn problems(&self) -> watch::Receiver<Option<String>> {
        self.inner.problem.subscribe()
    }

    /// Records why messaging does not work now, or that it does (`None`).
    pub(crate) fn report_problem(&self, problem: Option<String>) {
        report(&self.inner.problem, problem);
    }

    /// The name of this process's reply queue (`reply_<hex>`); it exists on
    /// the broker from the first call until [`Transport::close`].
    pub fn reply_queue(&self) -> &str {
        self.inner.replies.queue()
    }

    /// The process's reply queue, shared by every client of this transport.
    pub(crate) fn replies(&self) -> Arc<Replies> {
        Arc::clone(&self.inner.replies)
    }

    pub(crate) fn current(&self) -> Option<Link> {
        self.inner.link.borrow().clone()
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Option<Link>> {
        self.inner.link.subscribe()
    }

    /// Deletes this process's reply queue (nobody will read it again), then
    /// closes the connection and stops reconnecting.
    pub async fn close(&self) {
        self.inner.replies.delete().await;
        self.inner.closed.send_replace(true);
        let task = self.inner.supervisor.lock().expect("never poisoned").take();
        if let Some(task) = task {
            let _ = task.await;
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
        let link = self.current().ok_or(Error::Unavailable)?;
        let name = match exchange {
            Exchange::Topic(name) | Exchange::Fanout(name) => name,
            Exchange::Default => "",
        };
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
                self.publisher_channel(&link, &exchange).await?
            };
            let published = channel
                .basic_publish(
                    name.into(),
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
                        transport: self.clone(),
                        generation: link.generation,
                    });
                }
                Err(_)
                    if !retried && !channel.status().connected() && self.is_up(link.generation) =>
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
        let limit = self.inner.settings.max_message_size;
        if body.len() > limit {
            return Err(Error::MessageTooLarge {
                size: body.len(),
                limit,
            });
        }
        Ok(())
    }

    /// Whether connection `generation` is still the current one and up: a
    /// failure seen on it was then a channel's, not the connection's.
    pub(crate) fn is_up(&self, generation: u64) -> bool {
        self.current().is_some_and(|link| {
            link.generation == generation && link.connection.status().connected()
        })
    }

    /// A confirm-mode channel for one message, `exchange` declared on it.
    async fn own_channel(&self, link: &Link, exchange: &Exchange<'_>) -> Result<Channel, Error> {
        let channel = link.connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        if let Some((name, kind, auto_delete)) = self.exchange_flags(exchange) {
            declare_exchange(
                &channel,
                name,
                kind,
                self.inner.settings.durable,
                auto_delete,
            )
            .await?;
        }
        Ok(channel)
    }

    /// The name, kind and auto-delete flag `exchange` is declared with;
    /// `None` for the default exchange, which is never declared.
    fn exchange_flags<'a>(&self, exchange: &Exchange<'a>) -> Option<(&'a str, ExchangeKind, bool)> {
        match exchange {
            Exchange::Topic(name) => {
                Some((*name, ExchangeKind::Topic, self.inner.settings.auto_delete))
            }
            Exchange::Fanout(name) => Some((*name, ExchangeKind::Fanout, true)),
            Exchange::Default => None,
        }
    }

    /// Declares `exchange` on `link`'s publishing channel (once per
    /// connection), as the first publish to it would.
    pub(crate) async fn declare(&self, link: &Link, exchange: Exchange<'_>) -> Result<(), Error> {
        self.publisher_channel(link, &exchange).await.map(drop)
    }

    async fn publisher_channel(
        &self,
        link: &Link,
        exchange: &Exchange<'_>,
    ) -> Result<Channel, Error> {
        let mut publisher = self.inner.publisher.lock().await;
        let stale = publisher
            .as_ref()
            .is_none_or(|p| p.generation != link.generation || !p.channel.status().connected());
        if stale {
            let channel = link.connection.create_channel().await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            *publisher = Some(Publisher {
                generation: link.generation,
                channel,
                declared: HashSet::new(),
            });
        }
        let publisher = publisher.as_mut().expect("set just above");
        let Some((name, kind, auto_delete)) = self.exchange_flags(exchange) else {
            return Ok(publisher.channel.clone());
        };
        if !publisher.declared.contains(name) {
            // On a channel of its own: a declaration the broker refuses (the
            // exchange exists with other flags) closes that channel, not the
            // one carrying other messages' confirms.
            let channel = link.connection.create_channel().await?;
            declare_exchange(
                &channel,
                name,
                kind,
                self.inner.settings.durable,
                auto_delete,
            )
            .await?;
            let _ = channel.close(200, "declared".into()).await;
            publisher.declared.insert(name.to_string());
        }
        Ok(publisher.channel.clone())
    }
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
        arguments.insert(
            "x-expires".into(),
            lapin::types::AMQPValue::LongLongInt(millis),
        );
    }
    channel
        .queue_declare(
            name.into(),
            lapin::options::QueueDeclareOptions::default(),
            arguments,
        )
        .await?;
    Ok(())
}

/// Declares an exchange as oslo.messaging does (same flags, no arguments),
/// so Python and Rust peers can share it.
pub(crate) async fn declare_exchange(
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

/// Keeps a connection up until the transport is closed or dropped.
async fn supervise(inner: std::sync::Weak<Inner>) {
    let mut generation = 0;
    let mut next_host = 0;
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let settings = strong.settings.clone();
        let mut closed = strong.closed.subscribe();
        let problem = strong.problem.clone();
        drop(strong);
        let connected = tokio::select! {
            connected = connect_with_backoff(&settings, &mut next_host, &problem) => connected,
            _ = closed.wait_for(|c| *c) => return,
        };
        report(&problem, None);
        let (connection, host) = connected;
        generation += 1;
        let mut events = connection.events_listener();
        let connection = Arc::new(connection);
        let Some(strong) = inner.upgrade() else {
            return;
        };
        tracing::info!(broker = %host, generation, "connected to the message broker");
        strong.link.send_replace(Some(Link {
            connection: Arc::clone(&connection),
            generation,
        }));
        drop(strong);
        let lost = tokio::select! {
            reason = async {
                while let Some(event) = events.next().await {
                    if let Event::Error(error) = event {
                        // lapin reports a channel the broker closed (a refused
                        // publish or declaration) here too; only the owner of
                        // that channel has to act.
                        if connection.status().connected() {
                            tracing::debug!(broker = %host, "a channel closed: {error}");
                            continue;
                        }
                        return error.to_string();
                    }
                }
                "the connection closed".to_string()
            } => Some(reason),
            _ = closed.wait_for(|c| *c) => None,
        };
        if let Some(strong) = inner.upgrade() {
            strong.link.send_replace(None);
        }
        match lost {
            Some(reason) => {
                tracing::warn!(broker = %host, "lost the message broker connection: {reason}; reconnecting");
                // Channels of this connection may still be held (deliveries
                // in flight); closing it here keeps it from outliving its
                // generation whatever state lapin left it in.
                let _ = tokio::time::timeout(
                    CONNECT_TIMEOUT,
                    connection.close(320, "reconnecting".into()),
                )
                .await;
            }
            None => {
                let _ = connection.close(200, "closing".into()).await;
                return;
            }
        }
    }
}

/// Tries every host in turn (the next one after the last that worked first),
/// waiting between full rounds as oslo.messaging does: 1, 3, 5 … s, capped.
async fn connect_with_backoff(
    settings: &Settings,
    next_host: &mut usize,
    problem: &watch::Sender<Option<String>>,
) -> (Connection, BrokerHost) {
    let hosts = &settings.url.hosts;
    let mut round = 0u32;
    loop {
        for _ in 0..hosts.len() {
            let host = &hosts[*next_host % hosts.len()];
            match connect(settings, host).await {
                Ok(connection) => return (connection, host.clone()),
                Err(error) => {
                    tracing::warn!(broker = %host, "cannot connect to the message broker: {error}");
                    report(
                        problem,
                        Some(format!(
                            "cannot connect to the message broker {host}: {error}"
                        )),
                    );
                    *next_host = (*next_host + 1) % hosts.len();
                }
            }
        }
        let delay = settings.reconnect_delay(round);
        tracing::info!("retrying the message broker in {}s", delay.as_secs());
        tokio::time::sleep(delay).await;
        round = round.saturating_add(1);
    }
}

async fn connect(settings: &Settings, host: &BrokerHost) -> Result<Connection, String> {
    let uri = host.amqp_uri(&settings.url.virtual_host);
    let uri = format!(
        "{}?heartbeat={}&connection_timeout={}",
        uri.expose_secret(),
        settings.heartbeat,
        CONNECT_TIMEOUT.as_millis()
    );
    let name = format!(
        "{}:{}:{}",
        program_name(),
        std::process::id(),
        uuid::Uuid::new_v4()
    );
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    match tokio::time::timeout(CONNECT_TIMEOUT, Connection::connect(&uri, properties)).await {
        Ok(Ok(connection)) => Ok(connection),
        // lapin's errors can quote the URI; say only what went wrong.
        Ok(Err(error)) => Err(launcher::conf::redact_url(&error.to_string())),
        Err(_) => Err(format!("no answer within {}s", CONNECT_TIMEOUT.as_secs())),
    }
}

fn report(problem: &watch::Sender<Option<String>>, now: Option<String>) {
    problem.send_if_modified(|was| {
        let changed = *was != now;
        *was = now;
        changed
    });
}

fn program_name() -> String {
    std::env::args()
        .next()
        .and_then(|arg0| {
            std::path::Path::new(&arg0)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "pymsboot".to_string())
}
