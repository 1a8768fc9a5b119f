//! How a step's outs come back from a Ray worker: the step runner PUTs them into the stage run's
//! artifacts through the tracking server's proxy (`cairn-outs/a<attempt>/<path>`, then
//! `cairn-outs/a<attempt>.json` naming them), and `fetch` puts them into the workspace before the
//! runner hashes them. An attempt has its own folder, so a lost attempt still running somewhere
//! cannot mix its files into the next one's.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(300);

/// The tracking server's auth, as the tracker sends it.
fn auth(req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    if let Ok(user) = std::env::var("MLFLOW_TRACKING_USERNAME") {
        req.basic_auth(user, std::env::var("MLFLOW_TRACKING_PASSWORD").ok())
    } else if let Ok(token) = std::env::var("MLFLOW_TRACKING_TOKEN") {
        req.bearer_auth(token)
    } else {
        req
    }
}

/// The URL of an attempt's outs folder: the stage run's artifact root through the proxy.
pub async fn channel(
    http: &reqwest::Client,
    env: &BTreeMap<String, String>,
    attempt: u32,
) -> Result<String, String> {
    let (Some(server), Some(run)) = (env.get("MLFLOW_TRACKING_URI"), env.get("MLFLOW_RUN_ID"))
    else {
        return Err(
            "the Ray executor brings outs back through the tracking server, and this run has none"
                .into(),
        );
    };
    let server = server.trim_end_matches('/');
    let resp = auth(http.get(format!("{server}/api/2.0/mlflow/runs/get")))
        .query(&[("run_id", run)])
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map_err(|e| format!("reading the stage run from {server}: {e}"))?;
    let status = resp.status();
    let v: Value = resp
        .json()
        .await
        .map_err(|e| format!("reading the stage run from {server}: {e}"))?;
    if !status.is_success() {
        return Err(format!(
            "reading the stage run from {server}: HTTP {status}: {v}"
        ));
    }
    let uri = v["run"]["info"]["artifact_uri"].as_str().unwrap_or("");
    let Some(path) = uri.strip_prefix("mlflow-artifacts:") else {
        return Err(format!(
            "the stage run's artifacts ({uri}) are not served by the tracking server: the Ray \
             executor needs its artifact proxy to bring outs back"
        ));
    };
    // `mlflow-artifacts://host:port/path` names the server it lives on: only the path counts here.
    let path = match path.strip_prefix("//") {
        Some(rest) => rest.split_once('/').map_or("", |(_, p)| p),
        None => path,
    };
    Ok(format!(
        "{server}/api/2.0/mlflow-artifacts/artifacts/{}/cairn-outs/a{attempt}",
        path.trim_matches('/')
    ))
}

/// A project-relative path from a manifest that stays inside the declared outs.
fn allowed(path: &str, outs: &[String]) -> bool {
    let clean = !path.is_empty()
        && !path.starts_with('/')
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..");
    clean
        && outs
            .iter()
            .any(|o| path == o || path.starts_with(&format!("{}/", o.trim_end_matches('/'))))
}

async fn get(http: &reqwest::Client, url: &str) -> Result<Vec<u8>, String> {
    let resp = auth(http.get(url))
        .timeout(TIMEOUT)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("GET {url}: HTTP {}", resp.status()));
    }
    resp.bytes()
        .await
        .map(|b| b.to_vec())
        .map_err(|e| format!("GET {url}: {e}"))
}

/// Puts the attempt's outs into the workspace at `root`.
pub async fn fetch(
    http: &reqwest::Client,
    url: &str,
    root: &Path,
    outs: &[String],
) -> Result<usize, String> {
    let manifest: Value = serde_json::from_slice(&get(http, &format!("{url}.json")).await?)
        .map_err(|e| format!("the outs manifest at {url}.json: {e}"))?;
    for dir in manifest["dirs"].as_array().into_iter().flatten() {
        let dir = dir.as_str().unwrap_or("");
        if !allowed(dir, outs) {
            return Err(format!(
                "the outs manifest names {dir:?}, not a declared out"
            ));
        }
        let full = root.join(dir);
        std::fs::create_dir_all(&full).map_err(|e| format!("{}: {e}", full.display()))?;
    }
    let files = manifest["files"].as_array().cloned().unwrap_or_default();
    for f in &files {
        let path = f["path"].as_str().unwrap_or("");
        if !allowed(path, outs) {
            return Err(format!(
                "the outs manifest names {path:?}, not a declared out"
            ));
        }
        let encoded: Vec<String> = path.split('/').map(encode).collect();
        let bytes = get(http, &format!("{url}/{}", encoded.join("/"))).await?;
        let full = root.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        cairn_pipelines::state::write_atomic(&full, &bytes)
            .map_err(|e| format!("{}: {e}", full.display()))?;
        let mode = if f["exec"].as_bool() == Some(true) {
            0o755
        } else {
            0o644
        };
        std::fs::set_permissions(&full, std::fs::Permissions::from_mode(mode))
            .map_err(|e| format!("{}: {e}", full.display()))?;
    }
    Ok(files.len())
}

/// Percent-encodes one path segment (what Python's `urllib.parse.quote` leaves alone stays).
fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_inside_declared_outs_come_back() {
        let outs = ["model".to_owned(), "eval.json".to_owned()];
        assert!(allowed("model/weights.txt", &outs));
        assert!(allowed("eval.json", &outs));
        assert!(!allowed("model/../.bashrc", &outs));
        assert!(!allowed("/etc/passwd", &outs));
        assert!(!allowed("models/x", &outs));
        assert!(!allowed("train.py", &outs));
    }

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(encode("a b%.csv"), "a%20b%25.csv");
    }
}
