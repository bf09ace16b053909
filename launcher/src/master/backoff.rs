//! Per-slot crash-loop backoff: a worker that dies young is replaced later
//! and later, so a broken worker cannot make the master fork in a tight loop.

use std::time::Duration;

/// A worker up for less than this when it died counts as a crash at boot.
pub(super) const MIN_UPTIME: Duration = Duration::from_secs(1);
/// The first delay after a crash at boot.
pub(super) const FIRST_DELAY: Duration = Duration::from_millis(100);
/// The longest delay between two respawns of one slot.
pub(super) const MAX_DELAY: Duration = Duration::from_secs(30);
/// A worker that served this long resets its slot's backoff.
pub(super) const STABLE_UPTIME: Duration = Duration::from_secs(60);

/// The backoff state of one worker slot.
#[derive(Debug, Default, Clone)]
pub(super) struct Backoff {
    failures: u32,
}

impl Backoff {
    /// How long to wait before replacing a worker that ran for `uptime` and
    /// reported ready (or not). Zero means at once.
    pub(super) fn on_exit(&mut self, was_ready: bool, uptime: Duration) -> Duration {
        if uptime >= STABLE_UPTIME {
            self.failures = 0;
        }
        if was_ready && uptime >= MIN_UPTIME {
            return Duration::ZERO;
        }
        let delay = FIRST_DELAY
            .saturating_mul(1u32 << self.failures.min(16))
            .min(MAX_DELAY);
        self.failures = self.failures.saturating_add(1);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_healthy_worker_is_replaced_at_once() {
        let mut backoff = Backoff::default();
        assert_eq!(
            backoff.on_exit(true, Duration::from_secs(5)),
            Duration::ZERO
        );
    }

    #[test]
    fn crashes_at_boot_double_the_delay_up_to_the_cap() {
        let mut backoff = Backoff::default();
        let delays: Vec<_> = (0..12)
            .map(|_| backoff.on_exit(false, Duration::ZERO))
            .collect();
        assert_eq!(delays[0], Duration::from_millis(100));
        assert_eq!(delays[1], Duration::from_millis(200));
        assert_eq!(delays[4], Duration::from_millis(1600));
        assert_eq!(delays[11], MAX_DELAY);
    }

    #[test]
    fn a_worker_ready_but_dying_within_a_second_still_backs_off() {
        let mut backoff = Backoff::default();
        assert_eq!(
            backoff.on_exit(true, Duration::from_millis(300)),
            FIRST_DELAY
        );
    }

    #[test]
    fn a_stable_minute_resets_the_backoff() {
        let mut backoff = Backoff::default();
        for _ in 0..5 {
            backoff.on_exit(false, Duration::ZERO);
        }
        assert_eq!(backoff.on_exit(false, STABLE_UPTIME), FIRST_DELAY);
    }
}
