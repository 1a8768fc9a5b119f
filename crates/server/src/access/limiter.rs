//! Failed sign-ins, counted per user name (or token prefix): after 10 failures within a minute that
//! name is refused for a minute, so passwords cannot be guessed at request speed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);
const MAX_FAILURES: u32 = 10;

#[derive(Default)]
pub struct Failures(Mutex<HashMap<String, (u32, Instant)>>);

impl Failures {
    pub fn failed(&self, who: &str) {
        let mut m = self.0.lock().expect("failures");
        if m.len() > 10_000 {
            m.retain(|_, (_, at)| at.elapsed() < WINDOW);
        }
        let e = m.entry(who.to_owned()).or_insert((0, Instant::now()));
        if e.1.elapsed() >= WINDOW {
            *e = (0, Instant::now());
        }
        e.0 += 1;
    }

    pub fn blocked(&self, who: &str) -> bool {
        self.0
            .lock()
            .expect("failures")
            .get(who)
            .is_some_and(|(n, at)| *n >= MAX_FAILURES && at.elapsed() < WINDOW)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ten_failures_block_a_name() {
        let f = super::Failures::default();
        for _ in 0..9 {
            f.failed("mallory");
        }
        assert!(!f.blocked("mallory"));
        f.failed("mallory");
        assert!(f.blocked("mallory"));
        assert!(!f.blocked("alice"));
    }
}
