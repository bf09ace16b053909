//! A failure the broker confines to a channel (a refused publish, an
//! inequivalent declaration) costs that channel, never the connection: the
//! caller gets an answer at once, calls on the same connection go on, and
//! nothing is left unacknowledged or open.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{BROKER, PATIENCE, args, settings, unique};
use rpc::test_util::PrivateBroker;
use rpc::{
    Context, Dispatcher, Endpoint, Error, MAX_MESSAGE_SIZE, MethodFuture, RemoteError, RpcClient,
    RpcServer, Settings, Target, Transport,
};
use serde_json::{Map, Value, json};
use tokio::sync::{Notify, mpsc, oneshot};

/// Long enough that an answer to a call cannot be its timeout.
const CALLER_TIMEOUT: Duration = Duration::from_secs(300);

/// `sized` returns a string of `bytes` bytes; `hold` runs until released;
/// `ping` answers at once.
struct SizedEndpoint {
    started: mpsc::UnboundedSender<()>,
    release: Arc<Notify>,
}

impl Endpoint for SizedEndpoint {
    fn namespace(&self) -> Option<&str> {
        None
    }

    fn version(&self) -> &str {
        "1.0"
    }

    fn has_method(&self, method: &str) -> bool {
        matches!(method, "sized" | "hold" | "ping")
    }

    fn call<'a>(
        &'a self,
        _context: Context,
        method: &'a str,
        args: Map<String, Value>,
    ) -> MethodFuture<'a> {
        Box::pin(async move {
            match method {
                "sized" => {
                    let bytes = args.get("bytes").and_then(Value::as_u64).unwrap_or(0);
                    let bytes = usize::try_from(bytes).unwrap_or(usize::MAX);
                    Ok(Value::String("x".repeat(bytes)))
                }
                "hold" => {
                    let _ = self.started.send(());
                    self.release.notified().await;
                    Ok(Value::from("released"))
                }
                "ping" => Ok(Value::from("pong")),
                _ => Err(RemoteError::no_such_method(method)),
            }
        })
    }
}

/// A server of [`SizedEndpoint`] running until dropped.
struct Served {
    started: mpsc::UnboundedReceiver<()>,
    release: Arc<Notify>,
    _stop: oneshot::Sender<()>,
}

impl Served {
    async fn start(transport: &Transport, topic: &str) -> Served {
        let (started_tx, started) = mpsc::unbounded_channel();
        let release = Arc::new(Notify::new());
        let endpoint = SizedEndpoint {
            started: started_tx,
            release: Arc::clone(&release),
        };
        let server = RpcServer::new(
            transport,
            Target::new(topic),
            Dispatcher::new(vec![Arc::new(endpoint)]),
        );
        let (ready_tx, ready_rx) = oneshot::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(server.serve(
            move || {
                let _ = ready_tx.send(());
            },
            async move {
                let _ = stopped.await;
            },
        ));
        tokio::time::timeout(PATIENCE, ready_rx)
            .await
            .expect("server ready in time")
            .expect("server ready");
        Served {
            started,
            release,
            _stop: stop,
        }
    }
}

async fn start_transport(settings: Settings) -> Transport {
    let transport = Transport::start(settings);
    assert!(transport.wait_connected(PATIENCE).await, "no connection");
    transport
}

/// Settings whose calls wait [`CALLER_TIMEOUT`] and whose messages may be
/// `max_message_size` bytes.
fn settings_with(url: &str, exchange: &str, max_message_size: usize) -> Settings {
    let mut settings = settings(url, exchange);
    settings.response_timeout = CALLER_TIMEOUT;
    settings.max_message_size = max_message_size;
    settings
}

async fn private_broker(config: &'static str) -> PrivateBroker {
    tokio::task::spawn_blocking(move || PrivateBroker::start_with_config(config))
        .await
        .expect("the broker start does not panic")
        .expect("a private broker starts")
}

/// The messages delivered from `queue` and not yet acknowledged.
fn unacknowledged(broker: &PrivateBroker, queue: &str) -> u64 {
    let rows =
        tokio::task::block_in_place(|| broker.list("queues", &["name", "messages_unacknowledged"]))
            .expect("rabbitmqctl list_queues");
    rows.iter()
        .find(|row| row.first().map(String::as_str) == Some(queue))
        .and_then(|row| row.get(1)?.parse().ok())
        .unwrap_or_else(|| panic!("queue {queue} is not in {rows:?}"))
}

fn connections(broker: &PrivateBroker) -> usize {
    tokio::task::block_in_place(|| broker.connections())
        .expect("rabbitmqctl list_connections")
        .len()
}

fn channels(broker: &PrivateBroker) -> usize {
    tokio::task::block_in_place(|| broker.list("channels", &["name"]))
        .expect("rabbitmqctl list_channels")
        .len()
}

/// Waits, at most [`PATIENCE`], until `probe` holds; each probe is a
/// `rabbitmqctl` run, which paces the loop.
fn eventually(what: &str, mut probe: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + PATIENCE;
    while !probe() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} not within {PATIENCE:?}"
        );
    }
}

/// The failure a call ended with, which must be the server's, not a timeout.
fn remote_failure(outcome: Result<Value, Error>) -> RemoteError {
    match outcome {
        Err(Error::Remote(remote)) => *remote,
        other => panic!("expected a failure reply, got {other:?}"),
    }
}

async fn ping(client: &RpcClient) -> Value {
    client
        .call(&Context::default(), "ping", args(json!({})))
        .await
        .expect("ping")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_over_the_bound_is_a_failure_at_once_and_costs_nothing() {
    let broker = private_broker("max_message_size = 1048576").await;
    let url = broker.transport_url();
    let (exchange, topic) = unique("oversized");
    let server_transport = start_transport(settings_with(&url, &exchange, 256 * 1024)).await;
    let client_transport = start_transport(settings_with(&url, &exchange, MAX_MESSAGE_SIZE)).await;
    let _served = Served::start(&server_transport, &topic).await;
    let client = RpcClient::new(&client_transport, Target::new(&topic));
    assert_eq!(ping(&client).await, "pong");
    let generation = server_transport.generation();
    let connections_before = connections(&broker);

    for _ in 0..10 {
        let outcome = client
            .call(
                &Context::default(),
                "sized",
                args(json!({"bytes": 300 * 1024})),
            )
            .await;

        let failure = remote_failure(outcome);
        assert_eq!(failure.class, "MessagingException");
        assert!(
            failure.message.starts_with("the reply is too large (")
                && failure.message.ends_with("the limit is 262144)"),
            "{}",
            failure.message
        );
    }

    assert_eq!(ping(&client).await, "pong");
    assert_eq!(server_transport.generation(), generation);
    eventually("every request acknowledged", || {
        unacknowledged(&broker, &topic) == 0
    });
    assert_eq!(connections(&broker), connections_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_over_max_message_size_is_a_failure() {
    let (exchange, topic) = unique("max_size");
    let transport = start_transport(settings_with(BROKER, &exchange, MAX_MESSAGE_SIZE)).await;
    let _served = Served::start(&transport, &topic).await;
    let client = RpcClient::new(&transport, Target::new(&topic));

    let outcome = client
        .call(
            &Context::default(),
            "sized",
            args(json!({"bytes": MAX_MESSAGE_SIZE})),
        )
        .await;

    let failure = remote_failure(outcome);
    assert!(
        failure.message.starts_with("the reply is too large (")
            && failure
                .message
                .ends_with(&format!("the limit is {MAX_MESSAGE_SIZE})")),
        "{}",
        failure.message
    );
    assert_eq!(ping(&client).await, "pong");
}

#[tokio::test]
async fn a_request_over_the_bound_fails_before_it_is_sent() {
    let (exchange, topic) = unique("big_request");
    let transport = start_transport(settings_with(BROKER, &exchange, MAX_MESSAGE_SIZE)).await;
    let client = RpcClient::new(&transport, Target::new(&topic));
    let value = "x".repeat(MAX_MESSAGE_SIZE);

    // No server consumes the topic: any answer but this one would come
    // after `ROUTE_WAIT` at the earliest.
    let called = client
        .call(
            &Context::default(),
            "echo",
            args(json!({"value": value.clone()})),
        )
        .await;
    let cast = client
        .cast(&Context::default(), "echo", args(json!({"value": value})))
        .await;

    for outcome in [called.map(drop), cast] {
        match outcome {
            Err(Error::MessageTooLarge { size, limit }) => {
                assert!(size > MAX_MESSAGE_SIZE);
                assert_eq!(limit, MAX_MESSAGE_SIZE);
            }
            other => panic!("expected MessageTooLarge, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_the_broker_refuses_costs_a_channel_not_the_connection() {
    // The bound is above the broker's limit, so the broker refuses: once on
    // the shared channel (a reply of one frame), once on a channel of its own.
    let broker = private_broker("max_message_size = 32768").await;
    let url = broker.transport_url();
    let (exchange, topic) = unique("refused");
    let transport = start_transport(settings_with(&url, &exchange, 64 * 1024 * 1024)).await;
    let mut served = Served::start(&transport, &topic).await;
    let client = RpcClient::new(&transport, Target::new(&topic));
    assert_eq!(ping(&client).await, "pong");
    let generation = transport.generation();
    let channels_before = channels(&broker);
    let neighbour = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .call(&Context::default(), "hold", args(json!({})))
                .await
        })
    };
    served.started.recv().await.expect("the neighbour runs");

    for bytes in [48 * 1024, 512 * 1024] {
        // Calls keep going over the shared channel while it is closed
        // under them; each must still be answered.
        let done = Arc::new(AtomicBool::new(false));
        let pingers: Vec<_> = (0..8)
            .map(|_| {
                let client = client.clone();
                let done = Arc::clone(&done);
                tokio::spawn(async move {
                    let mut answered = 0u32;
                    while !done.load(Ordering::Relaxed) {
                        let pong = client
                            .call(&Context::default(), "ping", args(json!({})))
                            .await?;
                        assert_eq!(pong, "pong");
                        answered += 1;
                    }
                    Ok::<u32, Error>(answered)
                })
            })
            .collect();
        let outcome = client
            .call(&Context::default(), "sized", args(json!({"bytes": bytes})))
            .await;
        done.store(true, Ordering::Relaxed);

        let failure = remote_failure(outcome);
        assert_eq!(failure.class, "MessagingException");
        assert!(
            failure.message.starts_with("the broker refused the reply"),
            "{}",
            failure.message
        );
        for pinger in pingers {
            let answered = pinger
                .await
                .expect("no panic")
                .expect("every ping answered");
            assert!(answered > 0);
        }
    }
    served.release.notify_one();

    let held = neighbour
        .await
        .expect("no panic")
        .expect("the neighbour call");
    assert_eq!(held, "released");
    assert_eq!(ping(&client).await, "pong");
    assert_eq!(transport.generation(), generation);
    assert_eq!(connections(&broker), 1);
    eventually("every request acknowledged", || {
        unacknowledged(&broker, &topic) == 0
    });
    eventually("no channel left over", || {
        channels(&broker) == channels_before
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inequivalent_declaration_costs_a_channel_not_the_connection() {
    let (exchange, topic) = unique("inequivalent");
    let transport = start_transport(settings_with(BROKER, &exchange, MAX_MESSAGE_SIZE)).await;
    let mut served = Served::start(&transport, &topic).await;
    let client = RpcClient::new(&transport, Target::new(&topic));
    assert_eq!(ping(&client).await, "pong");
    let generation = transport.generation();
    let neighbour = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .call(&Context::default(), "hold", args(json!({})))
                .await
        })
    };
    served.started.recv().await.expect("the neighbour runs");
    // A queue and an exchange that exist with other arguments than ours.
    let (other_exchange, other_topic) = unique("inequivalent_other");
    declare_foreign(&other_topic, &other_exchange).await;

    // On a consumer's channel: the server cannot attach, and says why.
    let mut problems = transport.problems();
    let other_server = RpcServer::new(
        &transport,
        Target::new(&other_topic),
        Dispatcher::new(Vec::new()),
    );
    let (_stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(other_server.serve(|| {}, async move {
        let _ = stopped.await;
    }));
    let problem = tokio::time::timeout(
        PATIENCE,
        problems.wait_for(|p| p.as_ref().is_some_and(|p| p.contains(&other_topic))),
    )
    .await
    .expect("the refusal is reported in time")
    .expect("the transport is alive")
    .clone();
    // On the publisher's side: a call to an exchange declared as another kind.
    let refused = RpcClient::new(&transport, Target::new(&topic).exchange(&other_exchange))
        .call(&Context::default(), "ping", args(json!({})))
        .await;
    served.release.notify_one();

    assert!(
        problem.is_some_and(|p| p.contains("PRECONDITION_FAILED")),
        "the queue's refusal is reported"
    );
    match refused {
        Err(Error::Amqp(error)) => assert!(error.to_string().contains("PRECONDITION_FAILED")),
        other => panic!("expected the declaration refused, got {other:?}"),
    }
    let held = neighbour
        .await
        .expect("no panic")
        .expect("the neighbour call");
    assert_eq!(held, "released");
    assert_eq!(ping(&client).await, "pong");
    assert_eq!(transport.generation(), generation);
    delete_foreign(&other_topic, &other_exchange).await;
}

/// Declares `queue` with a length limit and `exchange` as a direct
/// exchange, on a connection of their own: not what our servers and
/// clients declare.
async fn declare_foreign(queue: &str, exchange: &str) {
    let (connection, channel) = rpc::test_util::broker_channel().await;
    let mut arguments = lapin::types::FieldTable::default();
    arguments.insert("x-max-length".into(), lapin::types::AMQPValue::LongInt(10));
    channel
        .queue_declare(
            queue.into(),
            lapin::options::QueueDeclareOptions::default(),
            arguments,
        )
        .await
        .expect("declare the foreign queue");
    channel
        .exchange_declare(
            exchange.into(),
            lapin::ExchangeKind::Direct,
            lapin::options::ExchangeDeclareOptions::default(),
            lapin::types::FieldTable::default(),
        )
        .await
        .expect("declare the foreign exchange");
    let _ = connection.close(200, "done".into()).await;
}

async fn delete_foreign(queue: &str, exchange: &str) {
    let (connection, channel) = rpc::test_util::broker_channel().await;
    let _ = channel
        .queue_delete(queue.into(), lapin::options::QueueDeleteOptions::default())
        .await;
    let _ = channel
        .exchange_delete(
            exchange.into(),
            lapin::options::ExchangeDeleteOptions::default(),
        )
        .await;
    let _ = connection.close(200, "done".into()).await;
}
