//! The process's reply queue: one `reply_<hex>` queue consumed once per
//! connection generation, replies routed to waiting calls by `_msg_id`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_lite::StreamExt;
use lapin::options::{BasicCancelOptions, BasicConsumeOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use tokio::sync::mpsc;

use crate::connection::Link;
use crate::envelope::{Reply, new_id};
use crate::error::Error;
use crate::settings::Settings;
use crate::topology::declare_transient_queue;

/// How long a stopping process waits for its reply queue to be deleted.
const DELETE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

const REPLY_CONSUMER_TAG: &str = "reply";

type Waiters = Mutex<HashMap<String, mpsc::UnboundedSender<Reply>>>;

/// The reply queue of a process.
pub(crate) struct Replies {
    queue: String,
    waiters: Arc<Waiters>,
    consuming_generation: tokio::sync::Mutex<u64>,
    /// The channel the queue is consumed on, for deleting it at the end.
    channel: Mutex<Option<lapin::Channel>>,
}

/// Unregisters a waiting call when it ends, however it ends.
pub(crate) struct Registration {
    msg_id: String,
    waiters: Arc<Waiters>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.waiters
            .lock()
            .expect("never poisoned: no panic while held")
            .remove(&self.msg_id);
    }
}

impl Replies {
    pub(crate) fn new() -> Replies {
        Replies {
            queue: format!("reply_{}", new_id()),
            waiters: Arc::new(Mutex::new(HashMap::new())),
            consuming_generation: tokio::sync::Mutex::new(0),
            channel: Mutex::new(None),
        }
    }

    pub(crate) fn queue(&self) -> &str {
        &self.queue
    }

    /// Routes replies to `msg_id` to `sender` until the registration drops.
    pub(crate) fn register(
        &self,
        msg_id: &str,
        sender: mpsc::UnboundedSender<Reply>,
    ) -> Registration {
        self.waiters
            .lock()
            .expect("never poisoned")
            .insert(msg_id.to_string(), sender);
        Registration {
            msg_id: msg_id.to_string(),
            waiters: Arc::clone(&self.waiters),
        }
    }

    /// Declares and consumes the reply queue on `link`, once per generation.
    pub(crate) async fn ensure_consuming(
        &self,
        link: &Link,
        settings: &Settings,
    ) -> Result<(), Error> {
        let mut generation = self.consuming_generation.lock().await;
        // The channel can close under a live connection (the broker refused
        // something on it); the queue is then consumed again on a new one.
        let alive = self
            .channel
            .lock()
            .expect("never poisoned")
            .as_ref()
            .is_some_and(|channel| channel.status().connected());
        if *generation == link.generation && alive {
            return Ok(());
        }
        let channel = link.connection.create_channel().await?;
        declare_transient_queue(&channel, self.queue.as_str(), settings).await?;
        // Replies are acknowledged on receipt, as oslo.messaging does: a reply
        // nobody waits for any more is worth nothing.
        let options = BasicConsumeOptions {
            no_ack: true,
            ..BasicConsumeOptions::default()
        };
        let mut consumer = channel
            .basic_consume(
                self.queue.as_str().into(),
                REPLY_CONSUMER_TAG.into(),
                options,
                FieldTable::default(),
            )
            .await?;
        *self.channel.lock().expect("never poisoned") = Some(channel.clone());
        tracing::info!(queue = %self.queue, "consuming replies");
        let waiters = Arc::clone(&self.waiters);
        tokio::spawn(async move {
            // Keeps the channel open as long as the consumer runs.
            let _channel = channel;
            while let Some(Ok(delivery)) = consumer.next().await {
                route(&waiters, &delivery.data);
            }
        });
        *generation = link.generation;
        Ok(())
    }

    /// Deletes the reply queue if this process ever declared it, so a worker
    /// that exits leaves nothing on the broker (the queue's expiry would
    /// only reap it after `rabbit_transient_queues_ttl`).
    ///
    /// On the consuming channel, consumer first: deleting a queue consumed
    /// elsewhere would make the broker cancel that consumer on a channel
    /// that may be closing.
    pub(crate) async fn delete(&self) {
        let Some(channel) = self.channel.lock().expect("never poisoned").take() else {
            return;
        };
        if !channel.status().connected() {
            return;
        }
        let deleted = tokio::time::timeout(DELETE_TIMEOUT, async {
            channel
                .basic_cancel(REPLY_CONSUMER_TAG.into(), BasicCancelOptions::default())
                .await?;
            channel
                .queue_delete(self.queue.as_str().into(), QueueDeleteOptions::default())
                .await?;
            channel.close(200, "reply queue deleted".into()).await
        })
        .await;
        match deleted {
            Ok(Ok(())) => tracing::debug!(queue = %self.queue, "reply queue deleted"),
            Ok(Err(error)) => {
                tracing::warn!(queue = %self.queue, "could not delete the reply queue: {error}")
            }
            Err(_) => {
                tracing::warn!(queue = %self.queue, "the broker did not delete the reply queue in time")
            }
        }
    }
}

fn route(waiters: &Waiters, body: &[u8]) {
    let reply = match Reply::decode(body) {
        Ok(reply) => reply,
        Err(error) => {
            tracing::warn!(%error, "dropping an unreadable reply");
            return;
        }
    };
    let sender = waiters
        .lock()
        .expect("never poisoned")
        .get(&reply.msg_id)
        .cloned();
    match sender {
        Some(sender) => {
            let _ = sender.send(reply);
        }
        None => {
            tracing::debug!(msg_id = %reply.msg_id, "dropping a reply nobody waits for (timed out?)")
        }
    }
}
