//! What the broker tests share: unique names, a test endpoint, a running server.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rpc::{
    Context, Dispatcher, Endpoint, MethodFuture, RemoteError, RpcClient, RpcServer, Settings,
    Target, Transport,
};
use serde_json::{Map, Value, json};
use tokio::sync::oneshot;

/// The shared broker every test uses, each with its own exchange and topic.
pub(crate) const BROKER: &str = "rabbit://guest:guest@127.0.0.1:5672//";

/// How long a test waits for something that should take moments.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

/// An exchange and a topic no other test uses.
pub(crate) fn unique(prefix: &str) -> (String, String) {
    let id = rpc::new_id();
    (
        format!("test_{prefix}_{}_x", &id[..12]),
        format!("test_{prefix}_{}", &id[..12]),
    )
}

/// Settings against `url`, with `exchange` as the control exchange.
pub(crate) fn settings(url: &str, exchange: &str) -> Settings {
    let mut settings = Settings::for_url(url).expect("test URL parses");
    settings.control_exchange = exchange.to_string();
    settings.response_timeout = Duration::from_secs(10);
    settings
}

/// A transport that is connected.
pub(crate) async fn connected(url: &str, exchange: &str) -> Transport {
    let transport = Transport::start(settings(url, exchange));
    assert!(
        transport.wait_connected(PATIENCE).await,
        "no connection to {url}"
    );
    transport
}

/// The methods tests call: ping, echo, fail, slow, record, recorded, whoami.
pub(crate) struct TestEndpoint {
    pub name: String,
    pub recorded: Arc<Mutex<Vec<Value>>>,
}

impl Endpoint for TestEndpoint {
    fn namespace(&self) -> Option<&str> {
        Some("engine")
    }

    fn version(&self) -> &str {
        "1.0"
    }

    fn has_method(&self, method: &str) -> bool {
        matches!(
            method,
            "ping" | "echo" | "fail" | "slow" | "record" | "recorded" | "whoami"
        )
    }

    fn call<'a>(
        &'a self,
        context: Context,
        method: &'a str,
        args: Map<String, Value>,
    ) -> MethodFuture<'a> {
        Box::pin(async move {
            match method {
                "ping" => Ok(json!({"pong": args, "request_id": context.request_id()})),
                "echo" => Ok(args.get("value").cloned().unwrap_or(Value::Null)),
                "fail" => Err(RemoteError::new(
                    "Invalid",
                    "pymsboot.tests",
                    args.get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("boom"),
                )),
                "slow" => {
                    // Tells a waiting test that the call is running here.
                    self.recorded
                        .lock()
                        .expect("lock")
                        .push(Value::from("slow started"));
                    let seconds = args.get("seconds").and_then(Value::as_f64).unwrap_or(1.0);
                    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
                    Ok(Value::from("done"))
                }
                "record" => {
                    self.recorded
                        .lock()
                        .expect("lock")
                        .push(args.get("value").cloned().unwrap_or(Value::Null));
                    Ok(Value::Null)
                }
                "recorded" => Ok(Value::Array(self.recorded.lock().expect("lock").clone())),
                "whoami" => Ok(Value::from(self.name.as_str())),
                _ => Err(RemoteError::no_such_method(method)),
            }
        })
    }
}

/// A server running in the background until dropped.
pub(crate) struct RunningServer {
    pub recorded: Arc<Mutex<Vec<Value>>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningServer {
    /// Starts a server for `target` named `name`, and waits until it consumes.
    pub(crate) async fn start(transport: &Transport, target: Target, name: &str) -> RunningServer {
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let endpoint = TestEndpoint {
            name: name.to_string(),
            recorded: Arc::clone(&recorded),
        };
        let server = RpcServer::new(transport, target, Dispatcher::new(vec![Arc::new(endpoint)]));
        let (ready_tx, ready_rx) = oneshot::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = server
                .serve(
                    move || {
                        let _ = ready_tx.send(());
                    },
                    async move {
                        let _ = stopped.await;
                    },
                )
                .await;
        });
        tokio::time::timeout(PATIENCE, ready_rx)
            .await
            .expect("server ready in time")
            .expect("server ready");
        RunningServer {
            recorded,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server gracefully and waits for it.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// A client of the test endpoint on `topic`.
pub(crate) fn client(transport: &Transport, topic: &str) -> RpcClient {
    RpcClient::new(
        transport,
        Target::new(topic).namespace("engine").version("1.0"),
    )
}

/// Keyword arguments from a JSON object literal.
pub(crate) fn args(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => panic!("arguments must be an object"),
    }
}
