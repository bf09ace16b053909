//! [`RpcServer`]: consumes a topic (`<topic>`, `<topic>.<server>` and the
//! topic's fanout), dispatches each request and replies as oslo.messaging does.
//!
//! Acknowledgement policy: a request is acknowledged only after it ran and
//! its reply was published (at-least-once). A worker killed mid-request
//! leaves the message unacknowledged, so the broker gives it to another
//! server, whose reply still reaches the caller if it is waiting. This
//! differs from oslo.messaging, which acknowledges on receipt and so loses
//! such requests; the `_unique_id` check drops redeliveries this process has
//! already handled. A graceful stop cancels the consumers first, finishes
//! what it started, and leaves what it had not started to the other servers.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_lite::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicQosOptions, BasicRejectOptions,
    QueueBindOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Consumer};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::connection::Link;
use crate::dispatch::Dispatcher;
use crate::envelope::{Reply, Request, new_id};
use crate::error::Error;
use crate::failure::RemoteError;
use crate::target::Target;
use crate::topology::{Exchange, declare_topic_queue, declare_transient_queue};
use crate::transport::Transport;

/// How many `_unique_id`s a server remembers to drop duplicates, as oslo does.
const DUPLICATE_WINDOW: usize = 16;
/// The pause between two tries of a reply whose queue is missing.
const MISSING_REPLY_QUEUE_RETRY: Duration = Duration::from_millis(250);
/// The pause before attaching again after a failed attach on a live connection.
const ATTACH_RETRY: Duration = Duration::from_secs(1);

/// An RPC server for one topic (and optionally one server name).
pub struct RpcServer {
    transport: Transport,
    target: Target,
    dispatcher: Dispatcher,
    fanout_queue: String,
}

struct Attached {
    channel: Channel,
    consumers: Vec<Consumer>,
}

impl RpcServer {
    /// A server for `target`: its `topic` and, when set, its `server` name.
    pub fn new(transport: &Transport, target: Target, dispatcher: Dispatcher) -> RpcServer {
        let fanout_queue = format!("{}_fanout_{}", target.topic, new_id());
        RpcServer {
            transport: transport.clone(),
            target,
            dispatcher,
            fanout_queue,
        }
    }

    /// Serves until `shutdown` completes, then drains: consumers are
    /// cancelled, running requests finish and are answered. `on_ready` runs
    /// once, when the consumers are first attached. Survives broker restarts:
    /// on every new connection the queues are declared and consumed again.
    ///
    /// # Errors
    /// None today; the result leaves room for fatal setup errors.
    pub async fn serve(
        self,
        on_ready: impl FnOnce(),
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), Error> {
        let settings = self.transport.settings().clone();
        let permits = Arc::new(Semaphore::new(settings.max_concurrency));
        let seen = Arc::new(Mutex::new(VecDeque::with_capacity(DUPLICATE_WINDOW)));
        let mut tasks = JoinSet::new();
        let mut links = self.transport.connection().subscribe();
        let mut on_ready = Some(on_ready);
        let mut attached: Option<Attached> = None;
        tokio::pin!(shutdown);
        'connections: loop {
            let link = tokio::select! {
                link = links.wait_for(Option::is_some) => match link {
                    Ok(link) => link.clone().expect("waited for Some"),
                    Err(_) => break 'connections,
                },
                () = &mut shutdown => break 'connections,
            };
            let current = match self.attach(&link).await {
                Ok(current) => {
                    self.transport.connection().report_problem(None);
                    current
                }
                Err(error) => {
                    tracing::warn!(topic = %self.target.topic, "cannot consume: {error}; retrying");
                    self.transport.connection().report_problem(Some(format!(
                        "cannot consume topic {}: {error}",
                        self.target.topic
                    )));
                    tokio::select! {
                        () = tokio::time::sleep(ATTACH_RETRY) => continue 'connections,
                        () = &mut shutdown => break 'connections,
                    }
                }
            };
            if let Some(ready) = on_ready.take() {
                ready();
            }
            tracing::info!(
                topic = %self.target.topic,
                server = %self.target.server.as_deref().unwrap_or("-"),
                "consuming RPC requests"
            );
            let mut deliveries = merge(current.consumers.clone());
            attached = Some(current);
            loop {
                tokio::select! {
                    delivery = deliveries.next() => match delivery {
                        Some(Ok(delivery)) => {
                            let permit = tokio::select! {
                                permit = Arc::clone(&permits).acquire_owned() => permit.expect("never closed"),
                                () = &mut shutdown => break 'connections,
                            };
                            let handler = Handler {
                                transport: self.transport.clone(),
                                dispatcher: self.dispatcher.clone(),
                                seen: Arc::clone(&seen),
                                generation: link.generation,
                            };
                            tasks.spawn(async move {
                                handler.handle(delivery).await;
                                drop(permit);
                            });
                        }
                        Some(Err(error)) => {
                            tracing::warn!(topic = %self.target.topic, "consumer failed: {error}");
                            continue 'connections;
                        }
                        None => continue 'connections,
                    },
                    Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                    () = &mut shutdown => break 'connections,
                }
            }
        }
        self.drain(attached, tasks).await;
        Ok(())
    }

    async fn drain(&self, attached: Option<Attached>, mut tasks: JoinSet<()>) {
        if let Some(attached) = &attached {
            for consumer in &attached.consumers {
                let _ = attached
                    .channel
                    .basic_cancel(consumer.tag(), BasicCancelOptions::default())
                    .await;
            }
        }
        tracing::info!(
            in_flight = tasks.len(),
            "stopped consuming; finishing the requests in flight"
        );
        while tasks.join_next().await.is_some() {}
        if let Some(attached) = attached {
            // oslo deletes its fanout queue on stop; the topic queues stay for the others.
            let options = QueueDeleteOptions::default();
            let _ = attached
                .channel
                .queue_delete(self.fanout_queue.as_str().into(), options)
                .await;
            // Deliveries received but never started go back to the queue now.
            let _ = attached.channel.close(200, "server stopping".into()).await;
        }
    }

    /// Declares the topology as oslo.messaging does and starts the three consumers.
    async fn attach(&self, link: &Link) -> Result<Attached, Error> {
        let settings = self.transport.settings();
        let channel = link.connection.create_channel().await?;
        if settings.prefetch > 0 {
            channel
                .basic_qos(settings.prefetch, BasicQosOptions { global: false })
                .await?;
        }
        let exchange = self
            .target
            .exchange
            .clone()
            .unwrap_or_else(|| settings.control_exchange.clone());
        Exchange::Topic(&exchange)
            .declare(&channel, settings)
            .await?;
        let mut queues = vec![self.target.topic.clone()];
        queues.extend(
            self.target
                .server
                .as_ref()
                .map(|server| format!("{}.{}", self.target.topic, server)),
        );
        for queue in &queues {
            declare_topic_queue(&channel, queue, settings).await?;
            channel
                .queue_bind(
                    queue.as_str().into(),
                    exchange.as_str().into(),
                    queue.as_str().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        let fanout_exchange = self.target.fanout_exchange();
        Exchange::Fanout(&fanout_exchange)
            .declare(&channel, settings)
            .await?;
        declare_transient_queue(&channel, self.fanout_queue.as_str(), settings).await?;
        channel
            .queue_bind(
                self.fanout_queue.as_str().into(),
                fanout_exchange.as_str().into(),
                self.target.topic.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        queues.push(self.fanout_queue.clone());
        let mut consumers = Vec::new();
        for (index, queue) in queues.iter().enumerate() {
            let tag = (index + 1).to_string();
            let consumer = channel
                .basic_consume(
                    queue.as_str().into(),
                    tag.as_str().into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            consumers.push(consumer);
        }
        Ok(Attached { channel, consumers })
    }
}

fn merge(consumers: Vec<Consumer>) -> futures_lite::stream::Boxed<lapin::Result<Delivery>> {
    let mut merged: futures_lite::stream::Boxed<lapin::Result<Delivery>> =
        futures_lite::stream::empty().boxed();
    for consumer in consumers {
        merged = merged.or(consumer).boxed();
    }
    merged
}

/// What one request needs, moved into its task.
struct Handler {
    transport: Transport,
    dispatcher: Dispatcher,
    seen: Arc<Mutex<VecDeque<String>>>,
    /// The connection the request came on.
    generation: u64,
}

/// What becomes of a request once handled.
enum Disposition {
    /// Done with: answered, or its answer dropped for good.
    Ack,
    /// Its answer cannot be sent although the connection is up: taking it
    /// back would only fail again.
    Reject,
    /// Unanswered because the connection went away: left unacknowledged, the
    /// broker gives it to another server.
    Leave,
}

impl Handler {
    async fn handle(self, delivery: Delivery) {
        let request = match Request::decode(&delivery.data) {
            Ok(request) => request,
            Err(error) => {
                tracing::warn!(%error, "rejecting an unreadable request");
                let _ = delivery.reject(BasicRejectOptions { requeue: false }).await;
                return;
            }
        };
        if self.is_duplicate(request.unique_id.as_deref()) {
            tracing::info!(unique_id = ?request.unique_id, "found duplicate message; skipping it");
            let _ = delivery.ack(BasicAckOptions::default()).await;
            return;
        }
        let span = tracing::info_span!(
            "rpc",
            request_id = request.context.request_id().unwrap_or("-"),
            user_identity = request.context.user_identity().unwrap_or("- - - - -"),
            method = %request.method
        );
        async {
            match self.run(request).await {
                Disposition::Ack => {
                    let _ = delivery.ack(BasicAckOptions::default()).await;
                }
                Disposition::Reject => {
                    let _ = delivery.reject(BasicRejectOptions { requeue: false }).await;
                }
                Disposition::Leave => {}
            }
        }
        .instrument(span)
        .await;
    }

    fn is_duplicate(&self, unique_id: Option<&str>) -> bool {
        let Some(unique_id) = unique_id else {
            return false;
        };
        let mut seen = self
            .seen
            .lock()
            .expect("never poisoned: no panic while held");
        if seen.iter().any(|id| id == unique_id) {
            return true;
        }
        if seen.len() == DUPLICATE_WINDOW {
            seen.pop_front();
        }
        seen.push_back(unique_id.to_string());
        false
    }

    /// Runs the request; for a call, sends the reply.
    async fn run(&self, request: Request) -> Disposition {
        let Request {
            method,
            args,
            namespace,
            version,
            call,
            context,
            ..
        } = request;
        let started = std::time::Instant::now();
        let work = self.dispatcher.dispatch(
            context,
            namespace.as_deref(),
            version.as_deref(),
            &method,
            args,
        );
        let Some(call) = call else {
            match work.await {
                Ok(_) => tracing::info!(
                    "cast {method} done in {:.1} ms",
                    started.elapsed().as_secs_f64() * 1e3
                ),
                Err(error) => tracing::warn!("cast {method} failed: {error}"),
            }
            return Disposition::Ack;
        };
        let outcome = match call.monitor_timeout.filter(|t| *t >= 2.0) {
            Some(interval) => {
                self.with_heartbeats(&call.msg_id, &call.reply_queue, interval / 2.0, work)
                    .await
            }
            None => work.await,
        };
        let elapsed = started.elapsed().as_secs_f64() * 1e3;
        match &outcome {
            Ok(_) => tracing::info!("call {method} done in {elapsed:.1} ms"),
            Err(error) => tracing::info!("call {method} failed in {elapsed:.1} ms: {error}"),
        }
        self.answer(&call.msg_id, &call.reply_queue, outcome).await
    }

    /// Sends the ending reply. One the broker would not take (over the size
    /// bound, or refused) is replaced by a failure, so the caller learns at
    /// once rather than at its timeout.
    async fn answer(
        &self,
        msg_id: &str,
        reply_queue: &str,
        outcome: Result<serde_json::Value, RemoteError>,
    ) -> Disposition {
        let mut body = Reply::ending(msg_id, outcome).encode();
        let limit = self.transport.settings().max_message_size;
        if body.len() > limit {
            tracing::warn!(
                reply_queue,
                "the reply is too large ({} bytes, the limit is {limit}); sending a failure instead",
                body.len()
            );
            body = Reply::ending(msg_id, Err(RemoteError::reply_too_large(body.len(), limit)))
                .encode();
        }
        let error = match self.send_reply(reply_queue, &body).await {
            Ok(()) => return Disposition::Ack,
            Err(error) => error,
        };
        if !self.transport.connection().is_up(self.generation) {
            tracing::warn!(reply_queue, "cannot send the reply: {error}");
            return Disposition::Leave;
        }
        tracing::warn!(
            reply_queue,
            "the broker refused the reply: {error}; sending a failure instead"
        );
        let failure = Reply::ending(msg_id, Err(RemoteError::reply_refused(&error.to_string())));
        match self.send_reply(reply_queue, &failure.encode()).await {
            Ok(()) => Disposition::Ack,
            Err(error) => {
                tracing::warn!(
                    reply_queue,
                    "cannot send the failure either: {error}; dropping the request"
                );
                Disposition::Reject
            }
        }
    }

    /// Runs `work`, telling the caller every `every` seconds that it still runs.
    async fn with_heartbeats<T>(
        &self,
        msg_id: &str,
        reply_queue: &str,
        every: f64,
        work: impl Future<Output = T>,
    ) -> T {
        tokio::pin!(work);
        let mut ticks = tokio::time::interval(Duration::from_secs_f64(every));
        ticks.tick().await;
        loop {
            tokio::select! {
                outcome = &mut work => return outcome,
                _ = ticks.tick() => {
                    let heartbeat = Reply::heartbeat(msg_id).encode();
                    if let Err(error) = self.send_reply(reply_queue, &heartbeat).await {
                        tracing::debug!(reply_queue, "cannot send a heartbeat: {error}");
                    }
                }
            }
        }
    }

    /// Publishes a reply, retrying while the caller's queue is missing; a
    /// reply whose queue stays missing is dropped (`Ok`).
    async fn send_reply(&self, reply_queue: &str, body: &[u8]) -> Result<(), Error> {
        let give_up =
            tokio::time::Instant::now() + self.transport.settings().missing_reply_queue_timeout;
        loop {
            let routed = self
                .transport
                .publisher()
                .publish(Exchange::Default, reply_queue, body, true, None)
                .await?;
            if routed {
                return Ok(());
            }
            if tokio::time::Instant::now() >= give_up {
                tracing::warn!(
                    reply_queue,
                    "the caller's reply queue is gone; dropping the reply"
                );
                return Ok(());
            }
            tokio::time::sleep(MISSING_REPLY_QUEUE_RETRY).await;
        }
    }
}
