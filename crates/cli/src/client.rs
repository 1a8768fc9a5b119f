//! What the CLI's commands share: which server, who we are, and times as text.

use cairn_client::Client;

/// The typed client of the server to talk to, authenticated as the MLflow client is:
/// `MLFLOW_TRACKING_USERNAME` + `MLFLOW_TRACKING_PASSWORD` (HTTP basic auth; an API token works as the
/// password), else `MLFLOW_TRACKING_TOKEN` (bearer).
pub fn client(server: Option<&str>) -> Client {
    let client = Client::new(&server_url(server));
    match (
        std::env::var("MLFLOW_TRACKING_USERNAME"),
        std::env::var("MLFLOW_TRACKING_TOKEN"),
    ) {
        (Ok(user), _) => {
            client.with_basic_auth(user, std::env::var("MLFLOW_TRACKING_PASSWORD").ok())
        }
        (Err(_), Ok(token)) => client.with_token(token),
        _ => client,
    }
}

/// The server to talk to: `--server` / `CAIRN_SERVER`, else `MLFLOW_TRACKING_URI` (what MLflow users
/// already have set), else the default.
pub fn server_url(server: Option<&str>) -> String {
    server
        .map(str::to_owned)
        .or_else(|| {
            std::env::var("MLFLOW_TRACKING_URI")
                .ok()
                .filter(|u| u.starts_with("http"))
        })
        .unwrap_or_else(|| "http://127.0.0.1:5000".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// Epoch milliseconds as an RFC 3339 time.
pub fn time(ms: Option<i64>) -> String {
    ms.and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map_or_else(|| "?".to_owned(), |t| format!("{t:.3}"))
}
