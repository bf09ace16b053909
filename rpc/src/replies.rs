//! The process's reply queue: one `reply_<hex>` queue consumed once per
//! connection generation, replies routed to waiting calls by `_msg_id`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_lite::StreamExt;
use lapin::options::BasicConsumeOptions;
use lapin::types::FieldTable;
use tokio::sync::mpsc;

use crate::connection::{Link, declare_transient_queue};
use crate::envelope::{Reply, new_id};
use crate::error::Error;
use crate::settings::Settings;

type Waiters = Mutex<HashMap<String, mpsc::UnboundedSender<Reply>>>;

/// The reply queue of a process.
pub(crate) struct Replies {
    queue: String,
    waiters: Arc<Waiters>,
    consuming_generation: tokio::sync::Mutex<u64>,
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
        if *generation == link.generation {
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
                "reply".into(),
                options,
                FieldTable::default(),
            )
            .await?;
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
