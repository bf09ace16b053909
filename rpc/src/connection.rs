//! [`Connection`]: the process's one broker connection, kept up by a task
//! that reconnects across the host list with oslo.messaging's backoff.
//!
//! Clients and servers watch the connection's *generation*: each new
//! connection is a new generation, on which they declare their queues and
//! consumers again, so a broker restart needs no process restart.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_lite::StreamExt;
use lapin::{ConnectionProperties, Event};
use tokio::sync::watch;

use crate::settings::Settings;
use crate::transport_url::BrokerHost;

/// How long one TCP/AMQP connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// One live connection.
#[derive(Clone)]
pub(crate) struct Link {
    pub(crate) connection: Arc<lapin::Connection>,
    pub(crate) generation: u64,
}

struct Inner {
    settings: Settings,
    link: watch::Sender<Option<Link>>,
    /// Why this process cannot do its messaging now (`None`: nothing wrong).
    problem: watch::Sender<Option<String>>,
    closed: watch::Sender<bool>,
    supervisor: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// The broker connection of a process, shared by its clients and servers.
#[derive(Clone)]
pub(crate) struct Connection {
    inner: Arc<Inner>,
}

impl Connection {
    /// Starts connecting in the background. Must be called inside a tokio
    /// runtime.
    pub(crate) fn start(settings: Settings) -> Connection {
        let (link, _) = watch::channel(None);
        let (closed, _) = watch::channel(false);
        let (problem, _) = watch::channel(None);
        let connection = Connection {
            inner: Arc::new(Inner {
                settings,
                link,
                problem,
                closed,
                supervisor: Mutex::new(None),
            }),
        };
        let task = tokio::spawn(supervise(Arc::downgrade(&connection.inner)));
        *connection
            .inner
            .supervisor
            .lock()
            .expect("never poisoned: no panic while held") = Some(task);
        connection
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.inner.link.borrow().is_some()
    }

    /// The current connection's generation: 1 for the first connection, one
    /// more for each new one; `None` while disconnected. A failure that costs
    /// only a channel leaves it unchanged.
    pub(crate) fn generation(&self) -> Option<u64> {
        self.inner
            .link
            .borrow()
            .as_ref()
            .map(|link| link.generation)
    }

    /// The connection, once up, if that happens before `until`.
    pub(crate) async fn link_before(&self, until: tokio::time::Instant) -> Option<Link> {
        let mut receiver = self.inner.link.subscribe();
        match tokio::time::timeout_at(until, receiver.wait_for(Option::is_some)).await {
            Ok(Ok(link)) => link.clone(),
            _ => None,
        }
    }

    /// Why messaging does not work now; `None` once it works.
    pub(crate) fn problems(&self) -> watch::Receiver<Option<String>> {
        self.inner.problem.subscribe()
    }

    /// Records why messaging does not work now, or that it does (`None`).
    pub(crate) fn report_problem(&self, problem: Option<String>) {
        report(&self.inner.problem, problem);
    }

    pub(crate) fn current(&self) -> Option<Link> {
        self.inner.link.borrow().clone()
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Option<Link>> {
        self.inner.link.subscribe()
    }

    /// Whether connection `generation` is still the current one and up: a
    /// failure seen on it was then a channel's, not the connection's.
    pub(crate) fn is_up(&self, generation: u64) -> bool {
        self.current().is_some_and(|link| {
            link.generation == generation && link.connection.status().connected()
        })
    }

    /// Closes the connection and stops reconnecting.
    pub(crate) async fn close(&self) {
        self.inner.closed.send_replace(true);
        let task = self.inner.supervisor.lock().expect("never poisoned").take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// Keeps a connection up until it is closed or dropped.
async fn supervise(inner: std::sync::Weak<Inner>) {
    let mut generation = 0;
    let mut next_host = 0;
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let settings = strong.settings.clone();
        let mut closed = strong.closed.subscribe();
        let problem = strong.problem.clone();
        drop(strong);
        let connected = tokio::select! {
            connected = connect_with_backoff(&settings, &mut next_host, &problem) => connected,
            _ = closed.wait_for(|c| *c) => return,
        };
        report(&problem, None);
        let (connection, host) = connected;
        generation += 1;
        let mut events = connection.events_listener();
        let connection = Arc::new(connection);
        let Some(strong) = inner.upgrade() else {
            return;
        };
        tracing::info!(broker = %host, generation, "connected to the message broker");
        strong.link.send_replace(Some(Link {
            connection: Arc::clone(&connection),
            generation,
        }));
        drop(strong);
        let lost = tokio::select! {
            reason = async {
                while let Some(event) = events.next().await {
                    if let Event::Error(error) = event {
                        // lapin reports a channel the broker closed (a refused
                        // publish or declaration) here too; only the owner of
                        // that channel has to act.
                        if connection.status().connected() {
                            tracing::debug!(broker = %host, "a channel closed: {error}");
                            continue;
                        }
                        return error.to_string();
                    }
                }
                "the connection closed".to_string()
            } => Some(reason),
            _ = closed.wait_for(|c| *c) => None,
        };
        if let Some(strong) = inner.upgrade() {
            strong.link.send_replace(None);
        }
        match lost {
            Some(reason) => {
                tracing::warn!(broker = %host, "lost the message broker connection: {reason}; reconnecting");
                // Channels of this connection may still be held (deliveries
                // in flight); closing it here keeps it from outliving its
                // generation whatever state lapin left it in.
                let _ = tokio::time::timeout(
                    CONNECT_TIMEOUT,
                    connection.close(320, "reconnecting".into()),
                )
                .await;
            }
            None => {
                let _ = connection.close(200, "closing".into()).await;
                return;
            }
        }
    }
}

/// Tries every host in turn (the next one after the last that worked first),
/// waiting between full rounds as oslo.messaging does: 1, 3, 5 … s, capped.
async fn connect_with_backoff(
    settings: &Settings,
    next_host: &mut usize,
    problem: &watch::Sender<Option<String>>,
) -> (lapin::Connection, BrokerHost) {
    let hosts = &settings.url.hosts;
    let mut round = 0u32;
    loop {
        for _ in 0..hosts.len() {
            let host = &hosts[*next_host % hosts.len()];
            match connect(settings, host).await {
                Ok(connection) => return (connection, host.clone()),
                Err(error) => {
                    tracing::warn!(broker = %host, "cannot connect to the message broker: {error}");
                    report(
                        problem,
                        Some(format!(
                            "cannot connect to the message broker {host}: {error}"
                        )),
                    );
                    *next_host = (*next_host + 1) % hosts.len();
                }
            }
        }
        let delay = settings.reconnect_delay(round);
        tracing::info!("retrying the message broker in {}s", delay.as_secs());
        tokio::time::sleep(delay).await;
        round = round.saturating_add(1);
    }
}

async fn connect(settings: &Settings, host: &BrokerHost) -> Result<lapin::Connection, String> {
    let uri = host.amqp_uri(&settings.url.virtual_host);
    let uri = format!(
        "{}?heartbeat={}&connection_timeout={}",
        uri.expose_secret(),
        settings.heartbeat,
        CONNECT_TIMEOUT.as_millis()
    );
    let name = format!(
        "{}:{}:{}",
        program_name(),
        std::process::id(),
        uuid::Uuid::new_v4()
    );
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    match tokio::time::timeout(
        CONNECT_TIMEOUT,
        lapin::Connection::connect(&uri, properties),
    )
    .await
    {
        Ok(Ok(connection)) => Ok(connection),
        // lapin's errors can quote the URI; say only what went wrong.
        Ok(Err(error)) => Err(launcher::conf::redact_url(&error.to_string())),
        Err(_) => Err(format!("no answer within {}s", CONNECT_TIMEOUT.as_secs())),
    }
}

fn report(problem: &watch::Sender<Option<String>>, now: Option<String>) {
    problem.send_if_modified(|was| {
        let changed = *was != now;
        *was = now;
        changed
    });
}

fn program_name() -> String {
    std::env::args()
        .next()
        .and_then(|arg0| {
            std::path::Path::new(&arg0)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "pymsboot".to_string())
}
