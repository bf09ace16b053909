//! [`Settings`]: the messaging configuration, read once from the options
//! (with the transport URL's query overrides applied).

use std::time::Duration;

use launcher::Config;

use crate::conf;
use crate::transport_url::{TransportUrl, TransportUrlError};

/// Everything the transport, clients and servers need from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The brokers.
    pub url: TransportUrl,
    /// `[DEFAULT] control_exchange`.
    pub control_exchange: String,
    /// `[DEFAULT] rpc_response_timeout`.
    pub response_timeout: Duration,
    /// `[DEFAULT] executor_thread_pool_size`: requests one server runs at once.
    pub max_concurrency: usize,
    /// `amqp_durable_queues`.
    pub durable: bool,
    /// `amqp_auto_delete`.
    pub auto_delete: bool,
    /// `rabbit_transient_queues_ttl`; `None` means no expiry.
    pub transient_queues_ttl: Option<Duration>,
    /// `rabbit_qos_prefetch_count`; 0 means no `basic.qos`.
    pub prefetch: u16,
    /// `heartbeat_timeout_threshold` in seconds; 0 disables heartbeats.
    pub heartbeat: u16,
    /// `rabbit_retry_interval`.
    pub retry_interval: Duration,
    /// `rabbit_retry_backoff`.
    pub retry_backoff: Duration,
    /// `rabbit_interval_max`.
    pub interval_max: Duration,
    /// `kombu_missing_consumer_retry_timeout`.
    pub missing_reply_queue_timeout: Duration,
    /// The largest message body this process publishes; see
    /// [`crate::MAX_MESSAGE_SIZE`].
    pub max_message_size: usize,
}

impl Settings {
    /// Reads the messaging options of a validated configuration.
    ///
    /// # Errors
    /// The transport URL does not parse (a validated configuration already
    /// guarantees it does).
    pub fn from_config(config: &Config) -> Result<Settings, TransportUrlError> {
        let url = TransportUrl::parse(config.text(&conf::TRANSPORT_URL))?;
        Ok(Settings::with_url(config, url))
    }

    fn with_url(config: &Config, url: TransportUrl) -> Settings {
        // The URL's query wins over [oslo_messaging_rabbit], as in oslo.messaging.
        let int = |opt: &launcher::Opt| -> i64 {
            url.override_for(opt.name)
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| config.int(opt))
        };
        let flag = |opt: &launcher::Opt| -> bool {
            url.override_for(opt.name)
                .map(|v| {
                    matches!(
                        v.trim().to_ascii_lowercase().as_str(),
                        "true" | "yes" | "on" | "1"
                    )
                })
                .unwrap_or_else(|| config.bool(opt))
        };
        let seconds = |opt: &launcher::Opt| Duration::from_secs(int(opt).unsigned_abs());
        let ttl = int(&conf::RABBIT_TRANSIENT_QUEUES_TTL);
        Settings {
            control_exchange: config.text(&conf::CONTROL_EXCHANGE).to_string(),
            response_timeout: Duration::from_secs(
                config.int(&conf::RPC_RESPONSE_TIMEOUT).unsigned_abs(),
            ),
            max_concurrency: usize::try_from(config.int(&conf::EXECUTOR_THREAD_POOL_SIZE))
                .unwrap_or(64)
                .max(1),
            durable: flag(&conf::AMQP_DURABLE_QUEUES),
            auto_delete: flag(&conf::AMQP_AUTO_DELETE),
            transient_queues_ttl: (ttl > 0).then(|| Duration::from_secs(ttl.unsigned_abs())),
            prefetch: u16::try_from(int(&conf::RABBIT_QOS_PREFETCH_COUNT)).unwrap_or(u16::MAX),
            heartbeat: u16::try_from(int(&conf::HEARTBEAT_TIMEOUT_THRESHOLD)).unwrap_or(u16::MAX),
            retry_interval: seconds(&conf::RABBIT_RETRY_INTERVAL),
            retry_backoff: seconds(&conf::RABBIT_RETRY_BACKOFF),
            interval_max: seconds(&conf::RABBIT_INTERVAL_MAX),
            missing_reply_queue_timeout: seconds(&conf::KOMBU_MISSING_CONSUMER_RETRY_TIMEOUT),
            max_message_size: crate::MAX_MESSAGE_SIZE,
            url,
        }
    }

    /// The defaults, against `url`; for tests and tools.
    ///
    /// # Errors
    /// `url` does not parse.
    pub fn for_url(url: &str) -> Result<Settings, TransportUrlError> {
        let config = launcher::conf::load(&launcher::conf::Sources::default(), crate::conf::OPTS)
            .expect("the built-in defaults are valid");
        Ok(Settings::with_url(&config, TransportUrl::parse(url)?))
    }

    /// The wait before reconnection round `round` (0-based): oslo's
    /// `retry_interval + round * retry_backoff`, capped at `interval_max`.
    pub fn reconnect_delay(&self, round: u32) -> Duration {
        (self.retry_interval + self.retry_backoff.saturating_mul(round)).min(self.interval_max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_query_overrides_the_rabbit_section() {
        let settings = Settings::for_url(
            "rabbit://h//?heartbeat_timeout_threshold=10&rabbit_qos_prefetch_count=5",
        )
        .expect("settings");
        assert_eq!(settings.heartbeat, 10);
        assert_eq!(settings.prefetch, 5);
    }

    #[test]
    fn reconnect_rounds_grow_like_oslo_and_are_capped() {
        let settings = Settings::for_url("rabbit://h//").expect("settings");
        let delays: Vec<u64> = (0..20)
            .map(|round| settings.reconnect_delay(round).as_secs())
            .collect();
        assert_eq!(&delays[..4], &[1, 3, 5, 7]);
        assert_eq!(delays[19], 30);
    }
}
