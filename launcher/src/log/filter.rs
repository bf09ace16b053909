//! Which targets log at which level: oslo.log's `debug` switch plus its
//! `default_log_levels`, which keep chatty libraries at WARNING.

use tracing_subscriber::filter::{LevelFilter, Targets};

/// Targets of our own crates and binaries. Matching is by prefix, so `api` also
/// covers `api::controllers::movies`; the binaries' crate names
/// (`pymsboot_api`, …) are listed although `pymsboot` already covers them, so
/// that removing the umbrella name cannot silently silence a binary.
pub(crate) const OWN_TARGETS: &[&str] = &[
    "pymsboot",
    "pymsboot_api",
    "pymsboot_engine",
    "pymsboot_manage",
    "launcher",
    "rpc",
    "engine",
    "api",
    "manage",
    "cmd",
];

/// Level for everything that is not ours (lapin, sqlx, hyper, h2, reqwest,
/// rustls, mio, tokio, …), whatever `debug` says: their debug output would
/// drown ours, as oslo's `default_log_levels` judges for amqp, sqlalchemy and
/// urllib3.
pub(crate) const THIRD_PARTY_LEVEL: LevelFilter = LevelFilter::WARN;

/// The filter for a given `[DEFAULT] debug`.
pub(crate) fn targets(debug: bool) -> Targets {
    let own = if debug {
        LevelFilter::DEBUG
    } else {
        LevelFilter::INFO
    };
    Targets::new()
        .with_default(THIRD_PARTY_LEVEL)
        .with_targets(OWN_TARGETS.iter().map(|target| (*target, own)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn without_debug_our_targets_log_info_and_above() {
        let filter = targets(false);
        for target in ["api", "engine::manager", "launcher::master", "pymsboot_api"] {
            assert!(filter.would_enable(target, &Level::INFO), "{target}");
            assert!(filter.would_enable(target, &Level::ERROR), "{target}");
            assert!(!filter.would_enable(target, &Level::DEBUG), "{target}");
        }
    }

    #[test]
    fn with_debug_our_targets_log_debug_but_not_trace() {
        let filter = targets(true);
        for target in ["rpc::client", "pymsboot_manage", "manage", "launcher"] {
            assert!(filter.would_enable(target, &Level::DEBUG), "{target}");
            assert!(!filter.would_enable(target, &Level::TRACE), "{target}");
        }
    }

    #[test]
    fn third_party_targets_stay_at_warning_even_with_debug() {
        for debug in [false, true] {
            let filter = targets(debug);
            for target in [
                "lapin::channel",
                "sqlx::query",
                "hyper",
                "h2::codec",
                "tokio",
            ] {
                assert!(filter.would_enable(target, &Level::WARN), "{target}");
                assert!(!filter.would_enable(target, &Level::INFO), "{target}");
            }
        }
    }
}
