//! RPC benchmark: call rate and latency Rust↔Rust over the real RabbitMQ,
//! next to a minimal raw lapin request/reply loop on the same broker (the
//! physical limit of one AMQP round trip each way), with and without the
//! publisher confirms oslo.messaging (and so this crate) waits for.
//!
//! Run with `make bench` (or `cargo bench --bench rpc`). Set
//! `PYMSBOOT_BENCH_URL` for another broker (default the local one).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_lite::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use rpc::{
    Context, Dispatcher, Endpoint, MethodFuture, RpcClient, RpcServer, Settings, Target, Transport,
};
use serde_json::{Map, Value};

const SEQUENTIAL: usize = 2000;
const CONCURRENT: usize = 32;
const CONCURRENT_CALLS: usize = 8000;

struct Echo;

impl Endpoint for Echo {
    fn namespace(&self) -> Option<&str> {
        Some("engine")
    }
    fn version(&self) -> &str {
        "1.0"
    }
    fn has_method(&self, method: &str) -> bool {
        method == "echo"
    }
    fn call<'a>(&'a self, _: Context, _: &'a str, args: Map<String, Value>) -> MethodFuture<'a> {
        Box::pin(async move { Ok(Value::Object(args)) })
    }
}

struct Report {
    name: &'static str,
    calls: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Report {
    fn rate(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64()
    }

    fn print(&mut self, baseline: Option<f64>) {
        self.latencies.sort();
        let pick = |q: f64| self.latencies[((self.latencies.len() - 1) as f64 * q) as usize];
        let share = baseline
            .map(|b| format!("  ({:.0}% of raw lapin)", 100.0 * self.rate() / b))
            .unwrap_or_default();
        println!(
            "{:36} {:9.0} calls/s  p50 {:7.3} ms  p99 {:7.3} ms{share}",
            self.name,
            self.rate(),
            pick(0.50).as_secs_f64() * 1000.0,
            pick(0.99).as_secs_f64() * 1000.0,
        );
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let url = std::env::var("PYMSBOOT_BENCH_URL")
        .unwrap_or_else(|_| "rabbit://guest:guest@127.0.0.1:5672//".into());
    let amqp = Settings::for_url(&url).expect("URL").url.hosts[0]
        .amqp_uri("/")
        .expose_secret()
        .clone();

    let mut raw_seq = raw_loop(&amqp, 1, SEQUENTIAL, false).await;
    let mut confirmed_seq = raw_loop(&amqp, 1, SEQUENTIAL, true).await;
    let mut raw_conc = raw_loop(&amqp, CONCURRENT, CONCURRENT_CALLS, false).await;
    let mut confirmed_conc = raw_loop(&amqp, CONCURRENT, CONCURRENT_CALLS, true).await;
    let (mut rpc_seq, mut rpc_conc) = rpc_loop(&url).await;

    raw_seq.print(None);
    confirmed_seq.print(Some(raw_seq.rate()));
    rpc_seq.print(Some(raw_seq.rate()));
    raw_conc.print(None);
    confirmed_conc.print(Some(raw_conc.rate()));
    rpc_conc.print(Some(raw_conc.rate()));
}

/// Our client and server, each on its own connection as in production.
async fn rpc_loop(url: &str) -> (Report, Report) {
    let id = rpc::new_id();
    let mut settings = Settings::for_url(url).expect("URL");
    settings.control_exchange = format!("bench_{}", &id[..8]);
    let topic = format!("bench_{}", &id[..8]);
    let server_transport = Transport::start(settings.clone());
    let client_transport = Transport::start(settings);
    assert!(
        server_transport
            .wait_connected(Duration::from_secs(10))
            .await
    );
    assert!(
        client_transport
            .wait_connected(Duration::from_secs(10))
            .await
    );
    let server = RpcServer::new(
        &server_transport,
        Target::new(&topic),
        Dispatcher::new(vec![Arc::new(Echo)]),
    );
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(
        move || {
            let _ = ready_tx.send(());
        },
        async move {
            let _ = stop_rx.await;
        },
    ));
    ready_rx.await.expect("server ready");
    let client = RpcClient::new(
        &client_transport,
        Target::new(&topic).namespace("engine").version("1.0"),
    );
    let mut payload = Map::new();
    payload.insert("n".into(), Value::from(1));

    let echo = move |_| {
        let (client, payload) = (client.clone(), payload.clone());
        async move {
            client
                .call(&Context::default(), "echo", payload)
                .await
                .expect("call")
        }
    };
    let sequential = timed("rpc call, sequential", 1, SEQUENTIAL, echo.clone()).await;
    let concurrent = timed(
        "rpc call, 32 concurrent",
        CONCURRENT,
        CONCURRENT_CALLS,
        echo,
    )
    .await;
    let _ = stop_tx.send(());
    let _ = serving.await;
    (sequential, concurrent)
}

/// `calls` operations over `lanes` concurrent loops, each timed.
async fn timed<F, Fut, T>(name: &'static str, lanes: usize, calls: usize, op: F) -> Report
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = T> + Send,
{
    let started = Instant::now();
    let per_lane = calls / lanes;
    let tasks: Vec<_> = (0..lanes)
        .map(|lane| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per_lane);
                for n in 0..per_lane {
                    let t0 = Instant::now();
                    op(lane * per_lane + n).await;
                    latencies.push(t0.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(calls);
    for task in tasks {
        latencies.extend(task.await.expect("lane"));
    }
    Report {
        name,
        calls: per_lane * lanes,
        elapsed: started.elapsed(),
        latencies,
    }
}

/// The physical limit: publish to a queue, a consumer answers on a reply
/// queue, the caller waits for it. No envelope, no confirms, no dispatch.
async fn raw_loop(amqp: &str, lanes: usize, calls: usize, confirms: bool) -> Report {
    let server_conn = Connection::connect(amqp, ConnectionProperties::default())
        .await
        .expect("connect");
    let client_conn = Connection::connect(amqp, ConnectionProperties::default())
        .await
        .expect("connect");
    let server = server_conn.create_channel().await.expect("channel");
    if confirms {
        server
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .expect("confirm mode");
    }
    let request_queue = format!("bench_raw_{}", rpc::new_id());
    let declare = QueueDeclareOptions {
        auto_delete: true,
        ..QueueDeclareOptions::default()
    };
    server
        .queue_declare(
            request_queue.as_str().into(),
            declare,
            FieldTable::default(),
        )
        .await
        .expect("declare");
    let mut requests = server
        .basic_consume(
            request_queue.as_str().into(),
            "raw".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("consume");
    let responder = server.clone();
    tokio::spawn(async move {
        while let Some(Ok(delivery)) = requests.next().await {
            let reply_to = delivery.properties.reply_to().clone().expect("reply_to");
            if let Ok(confirm) = responder
                .basic_publish(
                    "".into(),
                    reply_to.as_str().into(),
                    BasicPublishOptions::default(),
                    &delivery.data,
                    BasicProperties::default(),
                )
                .await
                && confirms
            {
                let _ = confirm.await;
            }
            let _ = delivery.ack(BasicAckOptions::default()).await;
        }
    });
    let mut lanes_state = Vec::new();
    for _ in 0..lanes {
        let channel = client_conn.create_channel().await.expect("channel");
        if confirms {
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await
                .expect("confirm mode");
        }
        let reply_queue = format!("bench_raw_reply_{}", rpc::new_id());
        channel
            .queue_declare(reply_queue.as_str().into(), declare, FieldTable::default())
            .await
            .expect("declare");
        let options = BasicConsumeOptions {
            no_ack: true,
            ..BasicConsumeOptions::default()
        };
        let replies = channel
            .basic_consume(
                reply_queue.as_str().into(),
                "raw".into(),
                options,
                FieldTable::default(),
            )
            .await
            .expect("consume");
        lanes_state.push(Arc::new(tokio::sync::Mutex::new((
            channel,
            reply_queue,
            replies,
        ))));
    }
    let request_queue = Arc::new(request_queue);
    let name = match (lanes, confirms) {
        (1, false) => "raw lapin loop, sequential",
        (1, true) => "raw lapin loop + confirms, sequential",
        (_, false) => "raw lapin loop, 32 concurrent",
        (_, true) => "raw lapin loop + confirms, 32 concurrent",
    };
    let lanes_state = Arc::new(lanes_state);
    timed(name, lanes, calls, move |n| {
        let (lanes_state, request_queue) = (Arc::clone(&lanes_state), Arc::clone(&request_queue));
        async move {
            let lane = &lanes_state[n * lanes_state.len() / calls.max(1) % lanes_state.len()];
            let mut lane = lane.lock().await;
            let (channel, reply_queue, replies) = &mut *lane;
            let properties = BasicProperties::default().with_reply_to(reply_queue.as_str().into());
            let confirm = channel
                .basic_publish(
                    "".into(),
                    request_queue.as_str().into(),
                    BasicPublishOptions::default(),
                    br#"{"n": 1}"#,
                    properties,
                )
                .await
                .expect("publish");
            if confirms {
                confirm.await.expect("confirm");
            }
            replies.next().await.expect("reply").expect("delivery");
        }
    })
    .await
}
