//! The engine as a launcher service: each worker connects to the broker and
//! the database, applies pending migrations when asked to, waits until its
//! storage directory passes the storage check, resumes interrupted
//! downloads, serves the RPC methods, and drains on stop.

use std::sync::Arc;
use std::time::Duration;

use launcher::{BoxError, Config, ConfigProblem, ListenAddr, Service, Shutdown, WorkerCtx};
use rpc::{Dispatcher, RpcServer, Settings, Target, Transport};

use crate::conf;
use crate::db::{DatabaseUrl, Store};
use crate::downloader::{DownloadSettings, Downloader, FetchSettings};
use crate::manager::EngineManager;
use crate::periodic;
use crate::storage::StorageHealth;
use crate::store_marker;

/// The pause before the first retry of a failed download (it doubles).
const RETRY_BACKOFF: Duration = Duration::from_secs(1);
/// How often an idle downloader looks for work it was not told about.
const POLL_INTERVAL: Duration = Duration::from_secs(5);
/// How often a worker whose storage directory fails the check at start
/// checks again.
const STORAGE_RETRY: Duration = Duration::from_secs(3);

/// The engine as a launcher service.
#[derive(Debug, Default)]
pub struct EngineService;

impl Service for EngineService {
    fn name(&self) -> &'static str {
        "pymsboot-engine"
    }

    fn workers(&self, config: &Config) -> usize {
        usize::try_from(config.int(&conf::ENGINE_WORKERS)).unwrap_or(1)
    }

    fn listen_addrs(&self, _config: &Config) -> Vec<ListenAddr> {
        Vec::new()
    }

    fn check(&self, config: &Config) -> Vec<ConfigProblem> {
        match DatabaseUrl::from_config(config) {
            Ok(_) => Vec::new(),
            Err(error) => vec![config.problem(&conf::CONNECTION, error.to_string())],
        }
    }

    async fn run(&self, ctx: WorkerCtx, shutdown: Shutdown) -> Result<(), BoxError> {
        let config = &ctx.config;
        let settings = Settings::from_config(config)?;
        let transport = Transport::start(settings);
        let readiness = ctx.readiness();
        let reporting = tokio::spawn(readiness.clone().follow(transport.problems()));
        let store = Store::from_config(config).await?;
        if config.bool(&conf::AUTO_MIGRATE) {
            store.migrate().await?;
        }
        let downloads = download_settings(config);
        // A worker that cannot store movies must not take requests: at a
        // reload, this keeps the old generation serving.
        let storage = StorageHealth::new(downloads.storage_dir.clone());
        if !storage
            .wait_usable(&readiness, STORAGE_RETRY, &shutdown)
            .await
        {
            reporting.abort();
            transport.close().await;
            return Ok(());
        }
        let checking = tokio::spawn(storage.clone().watch(
            seconds(config, &conf::STORAGE_CHECK_INTERVAL),
            shutdown.clone(),
        ));
        // Before anything may touch the files: a database that is not these
        // files' own would make every one of them look orphaned.
        let database = DatabaseUrl::from_config(config)?;
        store_marker::bind(&store, &downloads.storage_dir, &database.to_string()).await?;
        let owner = format!("{}:{}:{}", host(config), std::process::id(), rpc::new_id());
        let downloader = Downloader::new(store.clone(), downloads.clone(), owner, storage)?;
        let manager = EngineManager::new(store.clone(), Arc::clone(&downloader));
        let target = Target::new(config.text(&conf::TOPIC)).server(&host(config));
        let server = RpcServer::new(&transport, target, Dispatcher::new(vec![Arc::new(manager)]));
        let downloading = tokio::spawn(Arc::clone(&downloader).run(shutdown.clone()));
        let housekeeping = tokio::spawn(periodic::run(
            store,
            downloader,
            downloads.storage_dir.clone(),
            seconds(config, &conf::PERIODIC_INTERVAL),
            downloads.claim_timeout,
            shutdown.clone(),
        ));
        let on_ready = move || {
            reporting.abort();
            readiness.ready();
        };
        server.serve(on_ready, shutdown.requested()).await?;
        let _ = downloading.await;
        let _ = housekeeping.await;
        let _ = checking.await;
        transport.close().await;
        Ok(())
    }
}

fn seconds(config: &Config, opt: &launcher::Opt) -> Duration {
    Duration::from_secs(config.int(opt).unsigned_abs())
}

fn host(config: &Config) -> String {
    config.text(&conf::HOST).to_string()
}

fn download_settings(config: &Config) -> DownloadSettings {
    let max_size = config.int(&conf::MAX_DOWNLOAD_SIZE).unsigned_abs();
    DownloadSettings {
        storage_dir: config.text(&conf::STORAGE_DIR).into(),
        max_concurrent: usize::try_from(config.int(&conf::MAX_CONCURRENT_DOWNLOADS)).unwrap_or(4),
        max_size: (max_size > 0).then_some(max_size),
        fetch: FetchSettings {
            connect_timeout: seconds(config, &conf::DOWNLOAD_CONNECT_TIMEOUT),
            idle_timeout: seconds(config, &conf::DOWNLOAD_IDLE_TIMEOUT),
            allow_private_networks: config.bool(&conf::ALLOW_PRIVATE_NETWORKS),
            ..FetchSettings::default()
        },
        retries: u32::try_from(config.int(&conf::DOWNLOAD_RETRIES)).unwrap_or(3),
        retry_backoff: RETRY_BACKOFF,
        claim_timeout: seconds(config, &conf::DOWNLOAD_CLAIM_TIMEOUT),
        poll_interval: POLL_INTERVAL,
    }
}
