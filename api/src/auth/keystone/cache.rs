//! What Keystone said about recent tokens, keyed by the token's SHA-256 (the
//! token itself is never kept), each until its own deadline, bounded in
//! number: when full, the oldest entry goes.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

use super::Verdict;

/// The SHA-256 of a token.
pub(crate) type TokenKey = [u8; 32];

/// How many tokens a worker remembers: far more than the users active
/// within `token_cache_time`, and a few MiB at most.
pub(crate) const CAPACITY: usize = 10_000;

/// A bounded map of verdicts with deadlines.
#[derive(Debug)]
pub(crate) struct TokenCache {
    inner: Mutex<Inner>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<TokenKey, Entry>,
    /// Insertion order, for eviction; a key may appear again after it was
    /// replaced, and only the record whose stamp matches the entry's counts.
    order: VecDeque<(TokenKey, u64)>,
    next_stamp: u64,
}

#[derive(Debug)]
struct Entry {
    verdict: Verdict,
    until: Instant,
    stamp: u64,
}

impl TokenCache {
    /// An empty cache of at most `capacity` tokens.
    pub(crate) fn new(capacity: usize) -> TokenCache {
        TokenCache {
            inner: Mutex::new(Inner::default()),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .expect("the token cache lock is never held across a panic")
    }

    /// The verdict on `key`, if one is remembered and still current at `now`.
    pub(crate) fn get(&self, key: &TokenKey, now: Instant) -> Option<Verdict> {
        let inner = self.lock();
        let entry = inner.entries.get(key)?;
        (entry.until > now).then(|| entry.verdict.clone())
    }

    /// Remembers `verdict` on `key` until `until`.
    pub(crate) fn insert(&self, key: TokenKey, verdict: Verdict, until: Instant) {
        let mut inner = self.lock();
        let stamp = inner.next_stamp;
        inner.next_stamp += 1;
        inner.entries.insert(
            key,
            Entry {
                verdict,
                until,
                stamp,
            },
        );
        inner.order.push_back((key, stamp));
        while inner.entries.len() > self.capacity {
            let Some((oldest, stamp)) = inner.order.pop_front() else {
                break;
            };
            if inner.entries.get(&oldest).is_some_and(|e| e.stamp == stamp) {
                inner.entries.remove(&oldest);
            }
        }
        // Replaced keys leave records behind; drop them before they outgrow the map.
        if inner.order.len() > 2 * self.capacity {
            let Inner { entries, order, .. } = &mut *inner;
            order.retain(|(key, stamp)| entries.get(key).is_some_and(|e| e.stamp == *stamp));
        }
    }

    /// How many tokens are remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().entries.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn key(n: u8) -> TokenKey {
        [n; 32]
    }

    #[test]
    fn a_verdict_lasts_until_its_deadline() {
        let cache = TokenCache::new(4);
        let now = Instant::now();
        cache.insert(key(1), Verdict::Refused, now + Duration::from_secs(5));
        assert_eq!(cache.get(&key(1), now), Some(Verdict::Refused));
        assert_eq!(cache.get(&key(1), now + Duration::from_secs(5)), None);
        assert_eq!(cache.get(&key(2), now), None);
    }

    #[test]
    fn the_oldest_goes_when_full_and_replacing_does_not_count_twice() {
        let cache = TokenCache::new(3);
        let until = Instant::now() + Duration::from_secs(60);
        for n in 1..=3 {
            cache.insert(key(n), Verdict::Refused, until);
        }
        // Replacing 1 makes it the newest: 2 is now the oldest.
        cache.insert(key(1), Verdict::Refused, until);
        cache.insert(key(4), Verdict::Refused, until);
        assert_eq!(cache.len(), 3);
        let now = Instant::now();
        assert!(cache.get(&key(2), now).is_none());
        for n in [1, 3, 4] {
            assert!(cache.get(&key(n), now).is_some(), "{n}");
        }
        for round in 0..100 {
            cache.insert(key(5), Verdict::Refused, until);
            assert!(cache.lock().order.len() <= 6, "round {round}");
        }
    }
}
