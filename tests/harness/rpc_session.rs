//! A blocking RPC session on the shared broker, on a cluster's exchange: a
//! runtime and a connected transport, for the tests that call the engine from
//! Rust the way a Python peer would. The transport is closed on drop.

use std::future::Future;
use std::time::Duration;

use rpc::{Settings, Transport};

use super::cluster::Cluster;
use super::eventually::patience;
use super::python::BROKER;

/// A runtime and a transport connected to the cluster's exchange.
pub(crate) struct RpcSession {
    runtime: tokio::runtime::Runtime,
    transport: Transport,
}

impl RpcSession {
    /// Connects to the shared broker, on `cluster`'s exchange.
    ///
    /// # Panics
    /// When the broker cannot be reached within the tests' patience.
    pub(crate) fn connect(cluster: &Cluster) -> RpcSession {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let mut settings = Settings::for_url(BROKER).expect("the broker URL parses");
        settings.control_exchange = cluster.exchange();
        settings.response_timeout = Duration::from_secs(20);
        let transport = runtime.block_on(async {
            let transport = Transport::start(settings);
            assert!(
                transport.wait_connected(patience()).await,
                "no connection to {BROKER}"
            );
            transport
        });
        RpcSession { runtime, transport }
    }

    /// The connected transport, to make clients on.
    pub(crate) fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Runs `future` to its end on the session's runtime.
    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

impl Drop for RpcSession {
    fn drop(&mut self) {
        self.runtime.block_on(self.transport.close());
    }
}
