//! A short-lived memory of username/password pairs that recently verified, so HTTP basic auth (which
//! resends the password on every request) does not pay an argon2 hash per request.
//!
//! Entries are keyed by HMAC-SHA256 under a random key that exists only in this process, so the cache
//! never holds a password or an offline-crackable hash of one. Only *successful* verifications are
//! inserted, which bounds what an attacker can put in it.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rand::Rng;

use crate::hmac::hmac_sha256;

/// Default bound on entries; a server with more concurrent basic-auth users just re-hashes more often.
pub const DEFAULT_MAX_ENTRIES: usize = 10_000;

struct Entry {
    /// Kept in clear so [`CredentialCache::forget_user`] can find the user's entries; a username is not
    /// a secret.
    user: String,
    inserted: Instant,
}

/// Remembers recently verified credentials for `ttl`. Thread-safe; share it behind an `Arc`.
pub struct CredentialCache {
    key: [u8; 32],
    ttl: Duration,
    max_entries: usize,
    entries: Mutex<HashMap<[u8; 32], Entry>>,
}

impl CredentialCache {
    /// A cache whose entries expire `ttl` after insertion, holding at most 10 000 entries.
    pub fn new(ttl: Duration) -> Self {
        Self::with_max_entries(ttl, DEFAULT_MAX_ENTRIES)
    }

    /// Like [`CredentialCache::new`] with another size bound (at least 1).
    pub fn with_max_entries(ttl: Duration, max_entries: usize) -> Self {
        Self {
            key: rand::rng().random(),
            ttl,
            max_entries: max_entries.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `password` was verified for `user` less than `ttl` ago (and not forgotten since).
    pub fn contains(&self, user: &str, password: &str) -> bool {
        let Some(k) = self.entry_key(user, password) else {
            return false;
        };
        let mut entries = self.lock();
        match entries.get(&k) {
            Some(e) if e.inserted.elapsed() < self.ttl => true,
            Some(_) => {
                entries.remove(&k);
                false
            }
            None => false,
        }
    }

    /// Records that `password` just verified for `user`. Call only after a successful verification.
    pub fn insert(&self, user: &str, password: &str) {
        if self.ttl.is_zero() {
            return;
        }
        let Some(k) = self.entry_key(user, password) else {
            return;
        };
        let mut entries = self.lock();
        if entries.len() >= self.max_entries && !entries.contains_key(&k) {
            entries.retain(|_, e| e.inserted.elapsed() < self.ttl);
            if entries.len() >= self.max_entries {
                let oldest = entries
                    .iter()
                    .min_by_key(|(_, e)| e.inserted)
                    .map(|(k, _)| *k);
                if let Some(oldest) = oldest {
                    entries.remove(&oldest);
                }
            }
        }
        entries.insert(
            k,
            Entry {
                user: user.to_owned(),
                inserted: Instant::now(),
            },
        );
    }

    /// Drops every cached credential of `user`; call it when their password changes or they are disabled,
    /// so the old password stops working at once instead of after `ttl`.
    pub fn forget_user(&self, user: &str) {
        self.lock().retain(|_, e| e.user != user);
    }

    /// Drops everything, e.g. after a bulk change of users.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Number of entries held, including expired ones not yet swept.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no entries are held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// HMAC(key, user ‖ 0x00 ‖ password). A user name containing NUL would make that encoding ambiguous
    /// (`"a\0b"+"c"` vs `"a"+"b\0c"`), so such names are never cached.
    fn entry_key(&self, user: &str, password: &str) -> Option<[u8; 32]> {
        if user.contains('\0') {
            return None;
        }
        Some(hmac_sha256(
            &self.key,
            &[user.as_bytes(), &[0], password.as_bytes()],
        ))
    }

    /// A panic elsewhere while holding the lock leaves the map consistent (every mutation is a single
    /// call), so a poisoned lock is safe to keep using.
    fn lock(&self) -> MutexGuard<'_, HashMap<[u8; 32], Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl std::fmt::Debug for CredentialCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialCache")
            .field("ttl", &self.ttl)
            .field("max_entries", &self.max_entries)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_exact_pairs_only() {
        let c = CredentialCache::new(Duration::from_secs(60));
        assert!(!c.contains("alice", "pw1"));
        c.insert("alice", "pw1");
        assert!(c.contains("alice", "pw1"));
        assert!(!c.contains("alice", "pw2"));
        assert!(!c.contains("bob", "pw1"));
        assert!(!c.contains("alic", "epw1"));
    }

    #[test]
    fn entries_expire_after_ttl() {
        let c = CredentialCache::new(Duration::from_millis(30));
        c.insert("alice", "pw");
        assert!(c.contains("alice", "pw"));
        std::thread::sleep(Duration::from_millis(50));
        assert!(!c.contains("alice", "pw"));
        assert!(c.is_empty(), "expired entry is removed on lookup");
    }

    #[test]
    fn zero_ttl_caches_nothing() {
        let c = CredentialCache::new(Duration::ZERO);
        c.insert("alice", "pw");
        assert!(!c.contains("alice", "pw"));
        assert!(c.is_empty());
    }

    #[test]
    fn forget_user_drops_only_that_user() {
        let c = CredentialCache::new(Duration::from_secs(60));
        c.insert("alice", "old");
        c.insert("alice", "new");
        c.insert("bob", "pw");
        c.forget_user("alice");
        assert!(!c.contains("alice", "old"));
        assert!(!c.contains("alice", "new"));
        assert!(c.contains("bob", "pw"));
    }

    #[test]
    fn size_is_bounded_by_evicting_the_oldest() {
        let c = CredentialCache::with_max_entries(Duration::from_secs(60), 3);
        for (i, user) in ["a", "b", "c"].iter().enumerate() {
            c.insert(user, "pw");
            // Distinct insertion instants so "oldest" is well defined.
            std::thread::sleep(Duration::from_millis(2 + i as u64));
        }
        c.insert("d", "pw");
        assert_eq!(c.len(), 3);
        assert!(!c.contains("a", "pw"));
        assert!(c.contains("b", "pw") && c.contains("c", "pw") && c.contains("d", "pw"));
        // Re-inserting an existing pair does not evict anyone.
        c.insert("d", "pw");
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn expired_entries_are_evicted_before_live_ones() {
        let c = CredentialCache::with_max_entries(Duration::from_millis(40), 2);
        c.insert("a", "pw");
        std::thread::sleep(Duration::from_millis(60));
        c.insert("b", "pw");
        c.insert("c", "pw");
        assert!(c.contains("b", "pw") && c.contains("c", "pw"));
    }

    #[test]
    fn nul_in_user_name_is_never_cached() {
        let c = CredentialCache::new(Duration::from_secs(60));
        c.insert("a\0b", "c");
        assert!(!c.contains("a\0b", "c"));
        assert!(!c.contains("a", "b\0c"));
    }

    #[test]
    fn keys_differ_between_instances() {
        let a = CredentialCache::new(Duration::from_secs(60));
        let b = CredentialCache::new(Duration::from_secs(60));
        assert_ne!(a.entry_key("u", "p"), b.entry_key("u", "p"));
    }

    #[test]
    fn is_shareable_across_threads() {
        let c = std::sync::Arc::new(CredentialCache::new(Duration::from_secs(60)));
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for i in 0..50 {
                        c.insert(&format!("u{t}"), &format!("p{i}"));
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("thread finished");
        }
        assert_eq!(c.len(), 200);
        assert!(c.contains("u3", "p49"));
    }
}
