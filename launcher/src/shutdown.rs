//! The shutdown token a worker passes down to every accept or consume loop.

use tokio::sync::watch;

/// Fires once when the worker must stop taking new work and drain.
///
/// Cloning is cheap; every clone observes the same trigger.
#[derive(Clone, Debug)]
pub struct Shutdown {
    receiver: watch::Receiver<bool>,
}

/// The side that fires a [`Shutdown`].
#[derive(Debug, Clone)]
pub(crate) struct Trigger {
    sender: watch::Sender<bool>,
}

/// A new token and its trigger.
pub(crate) fn channel() -> (Trigger, Shutdown) {
    let (sender, receiver) = watch::channel(false);
    (Trigger { sender }, Shutdown { receiver })
}

impl Trigger {
    /// Fires the token; later calls do nothing.
    pub(crate) fn fire(&self) {
        self.sender.send_replace(true);
    }

    /// Whether the token has fired.
    pub(crate) fn fired(&self) -> bool {
        *self.sender.borrow()
    }
}

impl Shutdown {
    /// A token that never fires, for tests and tools that serve until dropped.
    pub fn never() -> Self {
        let (sender, receiver) = watch::channel(false);
        // The sender is leaked on purpose: dropping it would read as "closed".
        std::mem::forget(sender);
        Shutdown { receiver }
    }

    /// Whether the shutdown has fired.
    pub fn is_requested(&self) -> bool {
        *self.receiver.borrow()
    }

    /// Completes once the shutdown fires (at once if it already has).
    pub async fn requested(&self) {
        let mut receiver = self.receiver.clone();
        // An error means the trigger is gone, which only happens as the
        // worker exits: treat it as a shutdown too.
        let _ = receiver.wait_for(|fired| *fired).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_clone_sees_the_trigger() {
        let (trigger, shutdown) = channel();
        let clone = shutdown.clone();
        assert!(!clone.is_requested());
        trigger.fire();
        clone.requested().await;
        assert!(shutdown.is_requested());
    }
}
