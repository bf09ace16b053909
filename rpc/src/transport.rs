//! [`Transport`]: what a process's clients and servers share: its broker
//! connection, the publisher over it, and its reply queue. The reply queue
//! lives here, above the connection, as oslo.messaging keeps its reply
//! waiter in the driver rather than in the connection.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::connection::Connection;
use crate::publish::Publisher;
use crate::replies::Replies;
use crate::settings::Settings;

/// The broker connection of a process, shared by its clients and servers.
#[derive(Clone)]
pub struct Transport {
    connection: Connection,
    publisher: Publisher,
    replies: Arc<Replies>,
}

impl Transport {
    /// Starts connecting in the background; clients and servers wait for it.
    /// Must be called inside a tokio runtime.
    pub fn start(settings: Settings) -> Transport {
        let connection = Connection::start(settings);
        Transport {
            publisher: Publisher::new(connection.clone()),
            connection,
            replies: Arc::new(Replies::new()),
        }
    }

    /// The configuration this transport was started with.
    pub fn settings(&self) -> &Settings {
        self.connection.settings()
    }

    /// Whether a connection is up now.
    pub fn is_connected(&self) -> bool {
        self.connection.is_connected()
    }

    /// The current connection's generation: 1 for the first connection, one
    /// more for each new one; `None` while disconnected. A failure that costs
    /// only a channel leaves it unchanged.
    pub fn generation(&self) -> Option<u64> {
        self.connection.generation()
    }

    /// Waits until a connection is up, at most `timeout`.
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        self.connection
            .link_before(tokio::time::Instant::now() + timeout)
            .await
            .is_some()
    }

    /// Why messaging does not work now: the last failure to connect, or to
    /// declare or consume what a client or server needs; `None` once it works.
    /// A worker shows it to its master while it cannot get ready.
    pub fn problems(&self) -> watch::Receiver<Option<String>> {
        self.connection.problems()
    }

    /// The name of this process's reply queue (`reply_<hex>`); it exists on
    /// the broker from the first call until [`Transport::close`].
    pub fn reply_queue(&self) -> &str {
        self.replies.queue()
    }

    /// Deletes this process's reply queue (nobody will read it again), then
    /// closes the connection and stops reconnecting.
    pub async fn close(&self) {
        self.replies.delete().await;
        self.connection.close().await;
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.connection
    }

    pub(crate) fn publisher(&self) -> &Publisher {
        &self.publisher
    }

    /// The process's reply queue, shared by every client of this transport.
    pub(crate) fn replies(&self) -> Arc<Replies> {
        Arc::clone(&self.replies)
    }
}
