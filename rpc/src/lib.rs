//! oslo.messaging's RabbitMQ RPC over lapin, wire-compatible with Python peers:
//! a stock Python `RPCClient` can call an [`RpcServer`], and an [`RpcClient`]
//! can call a stock Python server.
//!
//! # Layout
//! - [`conf`]: `[DEFAULT]` messaging options and `[oslo_messaging_rabbit]`.
//! - [`transport_url`]: `rabbit://u:p@h1,u:p@h2/vhost` parsing, failover list, redaction.
//! - `settings`: [`Settings`], the options read once, URL overrides applied.
//! - `transport`: [`Transport`], what a process's clients and servers share: the
//!   connection, the publisher and the reply queue.
//! - `connection`: the one broker connection per process, reconnected with backoff;
//!   its generations.
//! - `publish`: confirm-mode publishing, the shared and own channels, [`MAX_MESSAGE_SIZE`].
//! - `topology`: the exchanges and queues oslo.messaging declares, and their flags.
//! - `envelope`: the `oslo.version` 2.0 envelope; pure, tested against captured messages.
//! - `context`: [`Context`] ↔ `_context_*` keys.
//! - `target`: [`Target`]: exchange, topic, namespace, version, server, fanout.
//! - `client`: [`RpcClient`]: call (reply queue, `_msg_id`, timeout) and cast.
//! - `replies`: the per-process reply queue and the routing of replies to calls.
//! - `server`: [`RpcServer`]: consume, dispatch, reply, drain.
//! - `dispatch`: [`Endpoint`], [`Dispatcher`]: namespace and version rules.
//! - `failure`: [`RemoteError`] ↔ oslo failure payloads.
//! - `error`: [`Error`].

pub use client::{ROUTE_WAIT, RpcClient};
pub use context::Context;
pub use dispatch::{Dispatcher, Endpoint, MethodFuture, version_is_compatible};
pub use envelope::{CallInfo, EnvelopeError, Reply, Request, new_id};
pub use error::Error;
pub use failure::RemoteError;
pub use publish::MAX_MESSAGE_SIZE;
pub use server::RpcServer;
pub use settings::Settings;
pub use target::Target;
pub use transport::Transport;
pub use transport_url::{BrokerHost, TransportUrl, TransportUrlError};

mod client;
pub mod conf;
mod connection;
mod context;
mod dispatch;
mod envelope;
mod error;
mod failure;
mod publish;
mod replies;
mod server;
mod settings;
mod target;
#[cfg(feature = "test-util")]
pub mod test_util;
mod topology;
mod transport;
pub mod transport_url;
