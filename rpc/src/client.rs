//! [`RpcClient`]: `call` (wait for the reply) and `cast` (fire and forget),
//! addressed by a [`Target`].

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::connection::Link;
use crate::context::Context;
use crate::envelope::{CallInfo, Reply, Request, new_id};
use crate::error::Error;
use crate::publish::Sent;
use crate::replies::Replies;
use crate::target::Target;
use crate::topology::Exchange;
use crate::transport::Transport;

/// How long a call waits for the path to its server to exist (a broker
/// connection, a queue bound to its topic) before it fails: long enough to
/// ride over a broker failover or a server that is still starting, short
/// enough that a caller learns in seconds that nothing will answer.
pub const ROUTE_WAIT: Duration = Duration::from_secs(5);
/// The first pause before publishing again a call no queue took; it doubles.
const UNROUTED_FIRST_PAUSE: Duration = Duration::from_millis(25);
/// The longest pause between two publishes of a call no queue took.
const UNROUTED_MAX_PAUSE: Duration = Duration::from_millis(400);
/// The pause between two tries of [`RpcClient::warm_up`] the broker refused.
const WARM_UP_RETRY: Duration = Duration::from_secs(1);

/// What became of one publish of a call.
enum Answer {
    /// The server's ending reply: its result or its failure.
    Reply(Result<Value, Error>),
    /// The broker returned the message: no queue is bound to its routing key.
    Unrouted,
}

/// Waits for the broker's confirm and the reply together: the confirm is not
/// on the reply's path, but a refused or returned message ends the wait.
async fn await_reply(
    sent: Sent,
    replies: &mut mpsc::UnboundedReceiver<Reply>,
    links: &mut tokio::sync::watch::Receiver<Option<Link>>,
    generation: u64,
) -> Result<Answer, Error> {
    let confirmed = sent.confirmed();
    tokio::pin!(confirmed);
    let mut confirm_pending = true;
    loop {
        tokio::select! {
            reply = replies.recv() => match reply {
                Some(reply) if reply.ending => {
                    let outcome = reply.failure.map_or(Ok(reply.result), |failure| Err(Error::Remote(Box::new(failure))));
                    return Ok(Answer::Reply(outcome));
                }
                Some(_heartbeat) => continue,
                None => return Err(Error::ConnectionLost),
            },
            confirm = &mut confirmed, if confirm_pending => {
                if !confirm? {
                    return Ok(Answer::Unrouted);
                }
                confirm_pending = false;
            }
            _ = links.wait_for(|now| now.as_ref().map(|l| l.generation) != Some(generation)) => {
                return Err(Error::ConnectionLost);
            }
        }
    }
}

/// Calls and casts to one target over a transport.
#[derive(Clone)]
pub struct RpcClient {
    transport: Transport,
    replies: Arc<Replies>,
    target: Target,
    timeout: Duration,
}

impl RpcClient {
    /// A client for `target`, waiting `rpc_response_timeout` for replies.
    pub fn new(transport: &Transport, target: Target) -> RpcClient {
        RpcClient {
            replies: transport.replies(),
            timeout: transport.settings().response_timeout,
            transport: transport.clone(),
            target,
        }
    }

    /// The same client for another target (oslo's `prepare(server=…, version=…)`).
    pub fn prepare(&self, target: Target) -> RpcClient {
        RpcClient {
            target,
            ..self.clone()
        }
    }

    /// The same client with another reply timeout.
    pub fn with_timeout(&self, timeout: Duration) -> RpcClient {
        RpcClient {
            timeout,
            ..self.clone()
        }
    }

    /// The target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Calls `method` and waits for its result.
    ///
    /// A call made while the broker connection is down waits for it, and a
    /// call no queue takes (no server has declared its topic yet: the broker
    /// returns the mandatory message) is published again, both for at most
    /// a few seconds ([`ROUTE_WAIT`]) within the call's timeout.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when no broker is connected within that wait;
    /// [`Error::NoServer`] when no queue takes the call within it;
    /// [`Error::Timeout`] when no reply comes in time; [`Error::ConnectionLost`]
    /// when the connection drops meanwhile; [`Error::Remote`] when the method raised
    /// (or its result was too large to send back); [`Error::MessageTooLarge`],
    /// at once, when the request is over `max_message_size`; [`Error::Refused`]
    /// when the broker refused the request.
    pub async fn call(
        &self,
        context: &Context,
        method: &str,
        args: Map<String, Value>,
    ) -> Result<Value, Error> {
        if self.target.fanout {
            return Err(Error::FanoutCall);
        }
        let deadline = Instant::now() + self.timeout;
        let route_deadline = deadline.min(Instant::now() + ROUTE_WAIT);
        let msg_id = new_id();
        let call = CallInfo {
            msg_id: msg_id.clone(),
            reply_queue: self.replies.queue().to_string(),
            monitor_timeout: None,
        };
        let body = self.request(context, method, args, Some(call)).encode();
        self.transport.publisher().check_size(&body)?;
        let link = self
            .transport
            .connection()
            .link_before(route_deadline)
            .await
            .ok_or(Error::Unavailable)?;
        let exchange = self.exchange_name();
        let routing_key = self.target.routing_key();
        let waited = tokio::time::timeout_at(deadline, async {
            self.replies
                .ensure_consuming(&link, self.transport.settings())
                .await?;
            let (sender, mut replies) = mpsc::unbounded_channel();
            let _registration = self.replies.register(&msg_id, sender);
            let mut links = self.transport.connection().subscribe();
            let mut pause = UNROUTED_FIRST_PAUSE;
            let mut republished = false;
            loop {
                let sent = self
                    .transport
                    .publisher()
                    .send(
                        Exchange::Topic(&exchange),
                        &routing_key,
                        &body,
                        true,
                        Some(self.timeout),
                        republished,
                    )
                    .await?;
                let shared = sent.shared();
                let answer =
                    match await_reply(sent, &mut replies, &mut links, link.generation).await {
                        // Maybe refused for another message on the shared
                        // channel: once more, alone (see `Publisher::publish`).
                        Err(Error::Refused(_)) if shared && !republished => {
                            republished = true;
                            continue;
                        }
                        answer => answer?,
                    };
                match answer {
                    Answer::Reply(outcome) => return outcome,
                    Answer::Unrouted if Instant::now() + pause < route_deadline => {
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(UNROUTED_MAX_PAUSE);
                    }
                    Answer::Unrouted => {
                        return Err(Error::NoServer {
                            topic: routing_key.clone(),
                        });
                    }
                }
            }
        })
        .await;
        waited.unwrap_or(Err(Error::Timeout {
            msg_id,
            after: self.timeout,
        }))
    }

    /// Makes ready what a call needs on the current connection: the
    /// exchange declared and this process's reply queue consumed. A worker
    /// that has done this can take requests without its first calls failing.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when no broker is connected; [`Error::Amqp`]
    /// when the broker refuses a declaration (e.g. an exchange that exists
    /// with other arguments).
    pub async fn warm_up(&self) -> Result<(), Error> {
        let link = self
            .transport
            .connection()
            .current()
            .ok_or(Error::Unavailable)?;
        self.replies
            .ensure_consuming(&link, self.transport.settings())
            .await?;
        self.transport
            .publisher()
            .declare(&link, Exchange::Topic(&self.exchange_name()))
            .await
    }

    /// Waits, however long it takes, until [`RpcClient::warm_up`] succeeds:
    /// for a connection, then tries again every second while the broker
    /// refuses. Meanwhile [`Transport::problems`] says why it is not done.
    pub async fn wait_ready(&self) {
        loop {
            let mut links = self.transport.connection().subscribe();
            if links.wait_for(Option::is_some).await.is_err() {
                return;
            }
            match self.warm_up().await {
                Ok(()) => {
                    self.transport.connection().report_problem(None);
                    return;
                }
                Err(error) => {
                    let problem = format!(
                        "cannot prepare calls to topic {}: {error}",
                        self.target.topic
                    );
                    tracing::warn!("{problem}; retrying");
                    self.transport.connection().report_problem(Some(problem));
                    tokio::time::sleep(WARM_UP_RETRY).await;
                }
            }
        }
    }

    /// Sends `method` without waiting for it to run (to every server of the
    /// topic when the target is a fanout).
    ///
    /// # Errors
    /// [`Error::Unavailable`] when no broker is connected, or the broker did
    /// not accept the message; [`Error::MessageTooLarge`], at once, when the
    /// request is over `max_message_size`.
    pub async fn cast(
        &self,
        context: &Context,
        method: &str,
        args: Map<String, Value>,
    ) -> Result<(), Error> {
        let body = self.request(context, method, args, None).encode();
        self.transport.publisher().check_size(&body)?;
        let route_deadline = Instant::now() + self.timeout.min(ROUTE_WAIT);
        if self
            .transport
            .connection()
            .link_before(route_deadline)
            .await
            .is_none()
        {
            return Err(Error::Unavailable);
        }
        let sent = tokio::time::timeout(self.timeout, async {
            if self.target.fanout {
                let exchange = self.target.fanout_exchange();
                self.transport
                    .publisher()
                    .publish(Exchange::Fanout(&exchange), "", &body, false, None)
                    .await
            } else {
                let exchange = self.exchange_name();
                self.transport
                    .publisher()
                    .publish(
                        Exchange::Topic(&exchange),
                        &self.target.routing_key(),
                        &body,
                        false,
                        None,
                    )
                    .await
            }
        })
        .await;
        match sent {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(Error::Unavailable),
        }
    }

    fn exchange_name(&self) -> String {
        self.target
            .exchange
            .clone()
            .unwrap_or_else(|| self.transport.settings().control_exchange.clone())
    }

    fn request(
        &self,
        context: &Context,
        method: &str,
        args: Map<String, Value>,
        call: Option<CallInfo>,
    ) -> Request {
        Request {
            method: method.to_string(),
            args,
            namespace: self.target.namespace.clone(),
            version: self.target.version.clone(),
            call,
            unique_id: Some(new_id()),
            context: context.clone(),
        }
    }
}

impl std::fmt::Debug for RpcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcClient")
            .field("target", &self.target)
            .field("timeout", &self.timeout)
            .finish()
    }
}
