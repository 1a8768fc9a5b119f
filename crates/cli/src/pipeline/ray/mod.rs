//! Steps on Ray, through the Ray Jobs REST API of a head's dashboard (no Ray client library: the
//! calls are few, and retries, logs and failure classes are Cairn's own). Here rather than in
//! `cairn-pipelines`, which must not depend on an HTTP client (scripts/check-deps.sh).
//!
//! - [`client`]: the REST calls.
//! - [`package`]: the step's files as a deterministic zip, uploaded only when the head lacks it.
//! - `cairn_step.py`: the step runner on the worker (Python, which every Ray worker has): runs the
//!   commands like the local executor and ships the declared outs back.
//! - [`outs`]: where the outs travel (the stage run's artifacts) and how they come back.
//! - [`executor`]: the `Executor` the runner drives.

mod client;
mod executor;
mod outs;
mod package;

pub use executor::RayExecutor;

/// Ray's default dashboard address.
pub const DEFAULT_ADDRESS: &str = "http://127.0.0.1:8265";

/// The dashboard URL from `--ray-address` / `RAY_ADDRESS` (an `http(s)://` URL, or `host:port`),
/// else Ray's default.
pub fn address(given: Option<&str>) -> String {
    match given.map(str::trim).filter(|a| !a.is_empty()) {
        None => DEFAULT_ADDRESS.to_owned(),
        Some(a) if a.starts_with("http://") || a.starts_with("https://") => {
            a.trim_end_matches('/').to_owned()
        }
        Some(a) => format!("http://{}", a.trim_end_matches('/')),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn addresses() {
        assert_eq!(super::address(None), "http://127.0.0.1:8265");
        assert_eq!(super::address(Some("")), "http://127.0.0.1:8265");
        assert_eq!(
            super::address(Some("10.0.0.5:8265")),
            "http://10.0.0.5:8265"
        );
        assert_eq!(
            super::address(Some("https://ray.example/")),
            "https://ray.example"
        );
    }
}
