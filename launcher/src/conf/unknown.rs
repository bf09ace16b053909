//! Options set in a file that nothing reads, judged: a likely typo of one of
//! the project's options is worth a warning; an option of the oslo libraries
//! the project does not implement is not, because a full oslo-config-generator
//! sample must load without a word (CONTRACT §2).

use std::fmt;

/// The sections whose every option is known: the project's own, and the
/// options the oslo libraries (oslo.log, oslo.service, oslo.messaging, oslo.db)
/// register in them. `true` marks a section no oslo library writes to, where
/// any unknown option is a mistake.
const CHECKED_SECTIONS: &[(&str, bool)] = &[
    ("DEFAULT", false),
    ("api", true),
    ("engine", true),
    ("database", false),
    ("oslo_messaging_rabbit", false),
];

/// Options the oslo libraries register in the checked sections, as
/// oslo-config-generator lists them (see `launcher/tests/fixtures/oslo-generated.conf`),
/// with oslo.config's `config_source` and oslo.service's periodic-task option.
const OSLO_OPTIONS: &[(&str, &[&str])] = &[
    (
        "DEFAULT",
        &[
            "api_paste_config",
            "backdoor_port",
            "backdoor_socket",
            "client_socket_timeout",
            "config_source",
            "control_exchange",
            "debug",
            "default_log_levels",
            "executor_thread_pool_size",
            "fatal_deprecations",
            "graceful_shutdown_timeout",
            "instance_format",
            "instance_uuid_format",
            "log_color",
            "log_config_append",
            "log_date_format",
            "log_dir",
            "log_file",
            "log_options",
            "log_rotate_interval",
            "log_rotate_interval_type",
            "log_rotation_type",
            "logging_context_format_string",
            "logging_debug_format_suffix",
            "logging_default_format_string",
            "logging_exception_prefix",
            "logging_user_identity_format",
            "max_header_line",
            "max_logfile_count",
            "max_logfile_size_mb",
            "publish_errors",
            "rate_limit_burst",
            "rate_limit_except_level",
            "rate_limit_interval",
            "rpc_ping_enabled",
            "rpc_response_timeout",
            "run_external_periodic_tasks",
            "syslog_log_facility",
            "tcp_keepidle",
            "transport_url",
            "use_journal",
            "use_json",
            "use_stderr",
            "use_syslog",
            "wsgi_default_pool_size",
            "wsgi_keep_alive",
            "wsgi_log_format",
            "wsgi_server_debug",
        ],
    ),
    (
        "database",
        &[
            "asyncio_connection",
            "asyncio_slave_connection",
            "backend",
            "connection",
            "connection_debug",
            "connection_parameters",
            "connection_recycle_time",
            "connection_trace",
            "db_inc_retry_interval",
            "db_max_retries",
            "db_max_retry_interval",
            "db_retry_interval",
            "max_overflow",
            "max_pool_size",
            "max_retries",
            "mysql_enable_ndb",
            "mysql_sql_mode",
            "mysql_wsrep_sync_wait",
            "pool_timeout",
            "retry_interval",
            "slave_connection",
            "sqlite_synchronous",
            "synchronous_reader",
            "use_db_reconnect",
        ],
    ),
    (
        "oslo_messaging_rabbit",
        &[
            "amqp_auto_delete",
            "amqp_durable_queues",
            "conn_pool_min_size",
            "conn_pool_ttl",
            "direct_mandatory_flag",
            "enable_cancel_on_failover",
            "heartbeat_in_pthread",
            "heartbeat_rate",
            "heartbeat_timeout_threshold",
            "hostname",
            "kombu_compression",
            "kombu_failover_strategy",
            "kombu_missing_consumer_retry_timeout",
            "kombu_reconnect_delay",
            "kombu_reconnect_splay",
            "processname",
            "rabbit_ha_queues",
            "rabbit_interval_max",
            "rabbit_login_method",
            "rabbit_qos_prefetch_count",
            "rabbit_quorum_delivery_limit",
            "rabbit_quorum_max_memory_bytes",
            "rabbit_quorum_max_memory_length",
            "rabbit_quorum_queue",
            "rabbit_retry_backoff",
            "rabbit_retry_interval",
            "rabbit_stream_fanout",
            "rabbit_transient_queues_ttl",
            "rabbit_transient_quorum_queue",
            "rpc_conn_pool_size",
            "ssl",
            "ssl_ca_file",
            "ssl_cert_file",
            "ssl_enforce_fips_mode",
            "ssl_enforce_hostname_verification",
            "ssl_key_file",
            "ssl_version",
            "use_queue_manager",
        ],
    ),
];

/// Names oslo still reads for a renamed option: `(section, old, new)`. The
/// project reads only the new name, so the old one is worth a warning when
/// the project implements the new one.
const OSLO_DEPRECATED: &[(&str, &str, &str)] = &[
    ("DEFAULT", "logfile", "log_file"),
    ("DEFAULT", "logdir", "log_dir"),
    ("DEFAULT", "log_config", "log_config_append"),
    (
        "DEFAULT",
        "rpc_thread_pool_size",
        "executor_thread_pool_size",
    ),
    (
        "oslo_messaging_rabbit",
        "kombu_reconnect_timeout",
        "kombu_missing_consumer_retry_timeout",
    ),
];

/// An option set in a configuration file that nothing reads and that looks
/// like a mistake. Loading still succeeds; its `Display` is one line:
/// `/etc/x.conf: [api] api_worker is not a known option; did you mean api_workers?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The file that sets the option.
    pub source: String,
    /// The section, as it is looked up (`DEFAULT`, or lowercase).
    pub section: String,
    /// The option name as written, with `-` read as `_`.
    pub option: String,
    /// The project's option it most likely means, if one is close.
    pub suggestion: Option<String>,
    /// What is wrong, after `[section] option`.
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: [{}] {} {}",
            self.source, self.section, self.option, self.message
        )
    }
}

/// Judges `name`, set in `section` of `source` but declared by no table;
/// `declared` are the names the tables declare in that section. `None` when
/// the option is fine to ignore: outside the checked sections, an oslo
/// option, or too far from any declared name to be a typo of it.
pub(crate) fn judge<'a>(
    source: &str,
    section: &str,
    name: &str,
    declared: impl Iterator<Item = &'a str> + Clone,
) -> Option<ConfigWarning> {
    let &(_, wholly_ours) = CHECKED_SECTIONS.iter().find(|(s, _)| *s == section)?;
    let warning = |suggestion: Option<&str>, message: String| ConfigWarning {
        source: source.to_owned(),
        section: section.to_owned(),
        option: name.to_owned(),
        suggestion: suggestion.map(str::to_owned),
        message,
    };
    if let Some(&(_, _, new)) = OSLO_DEPRECATED
        .iter()
        .find(|(s, old, _)| *s == section && *old == name)
    {
        return declared.clone().any(|d| d == new).then(|| {
            warning(
                Some(new),
                format!("is a deprecated oslo name that is not read; did you mean {new}?"),
            )
        });
    }
    if is_oslo_option(section, name) {
        return None;
    }
    match closest(name, declared) {
        Some(near) => Some(warning(
            Some(near),
            format!("is not a known option; did you mean {near}?"),
        )),
        None if wholly_ours => Some(warning(None, "is not a known option".to_owned())),
        None => None,
    }
}

fn is_oslo_option(section: &str, name: &str) -> bool {
    OSLO_OPTIONS
        .iter()
        .any(|(s, names)| *s == section && names.contains(&name))
}

/// The declared name nearest to `name`, if it is near enough to be what was
/// meant: at most two edits apart (one for names of four letters or fewer,
/// where two edits turn `host` into `port`), a swap of neighbours counting as
/// one, case ignored.
fn closest<'a>(name: &str, declared: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let wanted = name.to_lowercase();
    let limit = if wanted.chars().count() <= 4 { 1 } else { 2 };
    declared
        .map(|candidate| (edit_distance(&wanted, candidate), candidate))
        .filter(|&(distance, _)| distance <= limit)
        .min_by_key(|&(distance, candidate)| (distance, candidate))
        .map(|(_, candidate)| candidate)
}

/// Edits (insert, delete, substitute, swap two neighbours) from `a` to `b`:
/// the optimal-string-alignment distance, over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // rows[i][j]: the distance between the first i chars of a and the first j of b.
    let mut rows = vec![vec![0; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let substitute = rows[i - 1][j - 1] + usize::from(a[i - 1] != b[j - 1]);
            let mut best = substitute.min(rows[i - 1][j] + 1).min(rows[i][j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const API: &[&str] = &["host", "port", "api_workers", "public_endpoint"];

    fn judged(section: &str, name: &str, declared: &[&str]) -> Option<String> {
        judge("a.conf", section, name, declared.iter().copied()).map(|w| w.to_string())
    }

    #[test]
    fn edit_distance_counts_insertions_deletions_and_substitutions() {
        for (a, b, distance) in [
            ("", "", 0),
            ("api_worker", "api_workers", 1),
            ("api_wokrers", "api_workers", 1),
            ("flga", "flag", 1),
            ("host", "port", 2),
            ("kitten", "sitting", 3),
            ("", "abc", 3),
        ] {
            assert_eq!(edit_distance(a, b), distance, "{a} → {b}");
        }
    }

    #[test]
    fn a_near_miss_names_the_option_meant() {
        assert_eq!(
            judged("api", "api_worker", API).as_deref(),
            Some("a.conf: [api] api_worker is not a known option; did you mean api_workers?")
        );
        assert_eq!(
            judged("api", "API_Workers", API).as_deref(),
            Some("a.conf: [api] API_Workers is not a known option; did you mean api_workers?")
        );
        assert!(
            judged("DEFAULT", "debgu", &["debug"])
                .is_some_and(|w| w.ends_with("did you mean debug?"))
        );
    }

    #[test]
    fn short_names_need_a_closer_match() {
        assert!(
            judged("api", "pot", API).is_some_and(|w| w.ends_with("did you mean port?")),
            "one edit"
        );
        assert_eq!(
            judged("api", "hpst", &["post"]).as_deref(),
            Some("a.conf: [api] hpst is not a known option"),
            "two edits on a short name suggest nothing"
        );
    }

    #[test]
    fn any_unknown_option_of_a_wholly_owned_section_is_reported() {
        assert_eq!(
            judged("engine", "frobnicate", &["topic"]).as_deref(),
            Some("a.conf: [engine] frobnicate is not a known option")
        );
    }

    #[test]
    fn oslo_options_and_far_names_in_shared_sections_are_not_reported() {
        // `use_syslog` is an oslo.log option; `max_overflow` is oslo.db's and
        // one edit from nothing declared; `my_ip` is some other service's.
        for (section, name, declared) in [
            ("DEFAULT", "use_syslog", &["use_json", "use_stderr"][..]),
            ("database", "max_overflow", &["max_pool_size"][..]),
            ("database", "db_max_retries", &["max_retries"][..]),
            ("DEFAULT", "my_ip", &["debug"][..]),
            (
                "oslo_messaging_rabbit",
                "heartbeat_rate",
                &["heartbeat_timeout_threshold"][..],
            ),
        ] {
            assert_eq!(judged(section, name, declared), None, "[{section}] {name}");
        }
    }

    #[test]
    fn sections_the_project_does_not_own_are_not_checked() {
        assert_eq!(
            judged("oslo_messaging_kafka", "kafka_max_fetch_byte", &[]),
            None
        );
        assert_eq!(judged("keystone_authtoken", "auth_ur", &["auth_url"]), None);
    }

    #[test]
    fn a_deprecated_oslo_name_of_an_implemented_option_is_reported() {
        assert_eq!(
            judged("DEFAULT", "logfile", &["log_file", "debug"]).as_deref(),
            Some(
                "a.conf: [DEFAULT] logfile is a deprecated oslo name that is not read; \
                 did you mean log_file?"
            )
        );
        assert_eq!(
            judged("DEFAULT", "rpc_thread_pool_size", &["debug"]),
            None,
            "its new name is not implemented either"
        );
    }
}
