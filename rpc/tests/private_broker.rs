//! `PrivateBroker`: a RabbitMQ node per test that can be stopped and started
//! again without touching the shared broker or the tests next to it.

use std::io::{self, ErrorKind};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use futures_lite::StreamExt;
use lapin::{Connection, ConnectionProperties, Event};
use rpc::test_util::{PrivateBroker, free_port};

/// How long a test waits for something that should take moments.
const PATIENCE: Duration = Duration::from_secs(30);

fn connect(port: u16) -> io::Result<TcpStream> {
    TcpStream::connect_timeout(
        &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        Duration::from_secs(5),
    )
}

fn refused(port: u16) -> bool {
    matches!(connect(port), Err(error) if error.kind() == ErrorKind::ConnectionRefused)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

#[test]
fn a_private_broker_listens_on_its_own_port() {
    let broker = PrivateBroker::start().expect("a private broker starts");

    connect(broker.port()).expect("the port accepts connections");

    assert_ne!(broker.port(), 5672);
    assert_eq!(
        broker.transport_url(),
        format!("rabbit://guest:guest@127.0.0.1:{}//", broker.port())
    );
}

#[test]
fn guest_logs_in_and_stop_app_drops_the_connection() {
    let broker = PrivateBroker::start().expect("a private broker starts");
    let runtime = runtime();
    let url = format!("amqp://guest:guest@127.0.0.1:{}/%2f", broker.port());
    let connection = runtime
        .block_on(Connection::connect(&url, ConnectionProperties::default()))
        .expect("guest logs in");
    runtime
        .block_on(connection.create_channel())
        .expect("a channel opens");
    let mut events = connection.events_listener();

    broker.stop_app().expect("stop_app");

    let dropped = runtime.block_on(async {
        tokio::time::timeout(PATIENCE, async {
            while let Some(event) = events.next().await {
                if matches!(event, Event::Error(_)) {
                    break;
                }
            }
        })
        .await
    });
    assert!(dropped.is_ok(), "no error event within {PATIENCE:?}");
    assert!(!connection.status().connected());
}

#[test]
fn stop_app_refuses_connections_and_start_app_accepts_them_again() {
    let broker = PrivateBroker::start().expect("a private broker starts");

    broker.stop_app().expect("stop_app");
    assert!(refused(broker.port()), "stopped broker still accepts");

    broker.start_app().expect("start_app");
    connect(broker.port()).expect("the restarted broker accepts connections");
}

#[test]
fn dropping_a_private_broker_closes_its_port() {
    let broker = PrivateBroker::start().expect("a private broker starts");
    let port = broker.port();

    drop(broker);

    assert!(refused(port), "port {port} still accepts after drop");
}

#[test]
fn two_private_brokers_run_side_by_side_and_stop_independently() {
    let first = PrivateBroker::start().expect("the first broker starts");
    let second = PrivateBroker::start().expect("the second broker starts");
    assert_ne!(first.port(), second.port());

    first.stop_app().expect("stop_app on the first");

    assert!(refused(first.port()));
    connect(second.port()).expect("the second still accepts");
}

#[test]
fn a_free_port_refuses_connections() {
    let port = free_port();

    assert!(refused(port));
}
