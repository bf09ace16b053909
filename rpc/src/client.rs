//! [`RpcClient`]: `call` (wait for the reply) and `cast` (fire and forget),
//! addressed by a [`Target`].

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::connection::{Exchange, Transport};
use crate::context::Context;
use crate::envelope::{CallInfo, Request, new_id};
use crate::error::Error;
use crate::replies::Replies;
use crate::target::Target;

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
    /// # Errors
    /// [`Error::Unavailable`] at once when no broker is connected;
    /// [`Error::Timeout`] when no reply comes in time; [`Error::ConnectionLost`]
    /// when the connection drops meanwhile; [`Error::Remote`] when the method raised.
    pub async fn call(
        &self,
        context: &Context,
        method: &str,
        args: Map<String, Value>,
    ) -> Result<Value, Error> {
        if self.target.fanout {
            return Err(Error::FanoutCall);
        }
        let link = self.transport.current().ok_or(Error::Unavailable)?;
        let deadline = Instant::now() + self.timeout;
        let msg_id = new_id();
        let exchange = self.exchange_name();
        let routing_key = self.target.routing_key();
        let waited = tokio::time::timeout_at(deadline, async {
            self.replies.ensure_consuming(&link, self.transport.settings()).await?;
            let (sender, mut replies) = mpsc::unbounded_channel();
            let _registration = self.replies.register(&msg_id, sender);
            let call = CallInfo { msg_id: msg_id.clone(), reply_queue: self.replies.queue().to_string(), monitor_timeout: None };
            let body = self.request(context, method, args, Some(call)).encode();
            let mut links = self.transport.subscribe();
            let sent = self
                .transport
                .send(Exchange::Topic(&exchange), &routing_key, &body, false, Some(self.timeout))
                .await?;
            // The confirm and the reply are awaited together: the confirm is
            // not on the reply's path, and a refused request fails the call.
            let confirmed = sent.confirmed();
            tokio::pin!(confirmed);
            let mut confirm_pending = true;
            loop {
                tokio::select! {
                    reply = replies.recv() => match reply {
                        Some(reply) if reply.ending => {
                            return reply.failure.map_or(Ok(reply.result), |failure| Err(Error::Remote(Box::new(failure))));
                        }
                        Some(_heartbeat) => continue,
                        None => return Err(Error::ConnectionLost),
                    },
                    confirm = &mut confirmed, if confirm_pending => {
                        confirm?;
                        confirm_pending = false;
                    }
                    _ = links.wait_for(|now| now.as_ref().map(|l| l.generation) != Some(link.generation)) => {
                        return Err(Error::ConnectionLost);
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

    /// Sends `method` without waiting for it to run (to every server of the
    /// topic when the target is a fanout).
    ///
    /// # Errors
    /// [`Error::Unavailable`] when no broker is connected, or the broker did
    /// not accept the message.
    pub async fn cast(
        &self,
        context: &Context,
        method: &str,
        args: Map<String, Value>,
    ) -> Result<(), Error> {
        let body = self.request(context, method, args, None).encode();
        let sent = tokio::time::timeout(self.timeout, async {
            if self.target.fanout {
                let exchange = self.target.fanout_exchange();
                self.transport
                    .publish(Exchange::Fanout(&exchange), "", &body, false, None)
                    .await
            } else {
                let exchange = self.exchange_name();
                self.transport
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
