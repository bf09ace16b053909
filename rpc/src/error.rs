//! [`Error`]: what an RPC operation can end with.

use std::time::Duration;

use crate::envelope::EnvelopeError;
use crate::failure::RemoteError;

/// Why an RPC operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No connection to any broker right now; nothing was sent.
    #[error("the message broker is unreachable")]
    Unavailable,
    /// No queue took the call: no server consumes its topic (none has
    /// started, or all are gone and their queues with them).
    #[error("no server is consuming topic {topic}")]
    NoServer {
        /// The call's routing key.
        topic: String,
    },
    /// The connection dropped while the call waited for its reply.
    #[error("the connection to the message broker was lost while waiting for a reply")]
    ConnectionLost,
    /// No reply within the call's timeout.
    #[error("timed out waiting for a reply to message ID {msg_id} after {}s", after.as_secs_f64())]
    Timeout {
        /// The call's `_msg_id`.
        msg_id: String,
        /// How long the call waited.
        after: Duration,
    },
    /// The remote method raised an exception (or the server refused the request).
    #[error("remote error: {0}")]
    Remote(Box<RemoteError>),
    /// The broker refused or failed an operation.
    #[error("AMQP error: {0}")]
    Amqp(#[from] lapin::Error),
    /// The broker did not accept a published message.
    #[error("the broker did not accept the message")]
    NotConfirmed,
    /// A message over the size bound ([`crate::MAX_MESSAGE_SIZE`] unless the
    /// settings say otherwise); nothing was sent.
    #[error("the message is too large ({size} bytes, the limit is {limit})")]
    MessageTooLarge {
        /// The encoded size of the message.
        size: usize,
        /// The bound it exceeds.
        limit: usize,
    },
    /// The broker refused a message (e.g. over its own `max_message_size`,
    /// or to an exchange that is gone) by closing the channel it came on;
    /// the connection stays up.
    #[error("the broker refused the message: {0}")]
    Refused(#[source] lapin::Error),
    /// A call to a fanout target, which cannot reply.
    #[error("a call cannot target a fanout")]
    FanoutCall,
    /// A message could not be read.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
}

impl Error {
    /// Whether the failure is the broker's or the network's (unreachable,
    /// lost, timed out) rather than the remote method's: the API answers 503.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Error::Unavailable
                | Error::NoServer { .. }
                | Error::ConnectionLost
                | Error::Timeout { .. }
                | Error::Amqp(_)
                | Error::Refused(_)
                | Error::NotConfirmed
        )
    }

    /// The remote exception, when that is what the call ended with.
    pub fn remote(&self) -> Option<&RemoteError> {
        match self {
            Error::Remote(error) => Some(error.as_ref()),
            _ => None,
        }
    }
}
