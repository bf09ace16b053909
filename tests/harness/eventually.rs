//! Waiting without sleeping as synchronisation: poll a condition until it
//! holds or the patience runs out, then fail with the last reason seen.

use std::fmt::Debug;
use std::time::{Duration, Instant};

/// How often a condition is polled.
const POLL: Duration = Duration::from_millis(20);

/// The longest any single wait may take: `PYMSBOOT_TEST_PATIENCE` seconds,
/// 30 by default.
pub(crate) fn patience() -> Duration {
    std::env::var("PYMSBOOT_TEST_PATIENCE")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(30))
}

/// Polls `check` until it returns `Ok`, within [`patience`].
///
/// # Panics
/// When the patience runs out; the message names `what` and the last error.
pub(crate) fn eventually<T, E: Debug>(what: &str, check: impl FnMut() -> Result<T, E>) -> T {
    eventually_within(patience(), what, check)
}

/// Polls `check` until it returns `Ok`, within `bound`.
///
/// # Panics
/// When `bound` passes; the message names `what` and the last error.
pub(crate) fn eventually_within<T, E: Debug>(
    bound: Duration,
    what: &str,
    mut check: impl FnMut() -> Result<T, E>,
) -> T {
    let deadline = Instant::now() + bound;
    loop {
        match check() {
            Ok(value) => return value,
            Err(last) if Instant::now() >= deadline => {
                panic!("gave up after {bound:?} waiting for {what}; last seen: {last:?}")
            }
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// Checks that `check` keeps returning `Ok` for the whole of `window`.
///
/// # Panics
/// On the first `Err`, naming `what` and the error.
pub(crate) fn consistently<E: Debug>(
    window: Duration,
    what: &str,
    mut check: impl FnMut() -> Result<(), E>,
) {
    let end = Instant::now() + window;
    loop {
        if let Err(e) = check() {
            panic!("{what} stopped holding: {e:?}");
        }
        if Instant::now() >= end {
            return;
        }
        std::thread::sleep(POLL);
    }
}

/// `Ok(())` when `cond` holds, else `Err(why())`: glue for boolean checks.
pub(crate) fn ensure(cond: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(why()) }
}
