//! One file per page (and the `/ui/…` data endpoints it loads).

pub mod artifacts;
pub mod charts;
pub mod compare;
pub mod deployments;
pub mod experiments;
pub mod governance;
pub mod maturity;
pub mod models;
pub mod monitors;
pub mod pipelines;
pub mod run;
pub mod runs;
pub mod traffic;
pub mod training_loop;

use axum::response::Redirect;

/// After a form's POST: see the result with a GET (back/forward and reload stay harmless).
pub fn see(path: &str) -> Redirect {
    Redirect::to(path)
}

/// A path segment or query value, percent-encoded.
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
