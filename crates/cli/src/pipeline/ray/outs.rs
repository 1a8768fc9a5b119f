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

/// The tracking server's client for outs: no limit on a whole (large) download, only on silence.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(120))
        .build()
        .unwrap_or_default()
}

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

async fn get(http: &reqwest::Client, url: &str) -> Result<reqwest::Response, String> {
    let resp = auth(http.get(url))
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("GET {url}: HTTP {}", resp.status()));
    }
    Ok(resp)
}

/// Streams an out's file to a temporary file beside `full`, then renames it into place (a model can
/// be larger than memory should hold).
async fn download(
    http: &reqwest::Client,
    url: &str,
    full: &Path,
    exec: bool,
) -> Result<(), String> {
    use tokio::io::AsyncWriteExt as _;
    let at = |e: std::io::Error| format!("{}: {e}", full.display());
    let mut resp = get(http, url).await?;
    if let Some(parent) = full.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(at)?;
    }
    let tmp = cairn_pipelines::state::temp_beside(full);
    let mut file = tokio::fs::File::create(&tmp).await.map_err(at)?;
    let written = async {
        while let Some(chunk) = resp.chunk().await.map_err(|e| format!("GET {url}: {e}"))? {
            file.write_all(&chunk).await.map_err(at)?;
        }
        file.flush().await.map_err(at)?;
        let mode = if exec { 0o755 } else { 0o644 };
        tokio::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))
            .await
            .map_err(at)?;
        tokio::fs::rename(&tmp, full).await.map_err(at)
    }
    .await;
    if written.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    written
}

/// Puts the attempt's outs into the workspace at `root`.
pub async fn fetch(
    http: &reqwest::Client,
    url: &str,
    root: &Path,
    outs: &[String],
) -> Result<usize, String> {
    let manifest: Value = get(http, &format!("{url}.json"))
        .await?
        .json()
        .await
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
        let exec = f["exec"].as_bool() == Some(true);
        download(
            http,
            &format!("{url}/{}", encoded.join("/")),
            &root.join(path),
            exec,
        )
        .await?;
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
