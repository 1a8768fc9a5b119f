//! Delivery of fired alerts: each is logged, and POSTed as JSON to its rule's webhook, if any — signed
//! with HMAC-SHA256 when the rule has a secret (`X-Cairn-Signature: sha256=<hex>`, over the exact body),
//! retried with exponential backoff on errors and 5xx/429 answers. Off the request path: a stored alert
//! is never held up or lost by a slow receiver (the change log keeps it either way).

use std::time::Duration;

use cairn_domain::monitor::{Alert, Monitor};
use cairn_service::AlertSink;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::Sha256;

/// Attempts per delivery, and the first pause between them (doubled each time).
const ATTEMPTS: u32 = 6;
const FIRST_PAUSE: Duration = Duration::from_millis(500);

pub(crate) struct Deliveries {
    http: reqwest::Client,
}

impl Deliveries {
    pub(crate) fn new() -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self { http }
    }
}

/// `sha256=<hex>` of the body under `secret`.
pub(crate) fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

impl AlertSink for Deliveries {
    fn deliver(&self, monitor: &Monitor, alerts: Vec<Alert>) {
        for alert in alerts {
            tracing::warn!(
                monitor = %alert.monitor,
                rule = %alert.rule,
                condition = %alert.condition,
                value = alert.value,
                alert_id = alert.id,
                "alert fired"
            );
            let Some(hook) = monitor
                .spec
                .rules
                .iter()
                .find(|r| r.name == alert.rule)
                .and_then(|r| r.webhook.clone())
            else {
                continue;
            };
            let body = json!({
                "alert_id": alert.id,
                "monitor": alert.monitor,
                "deployment": monitor.spec.deployment,
                "rule": alert.rule,
                "condition": alert.condition,
                "value": alert.value,
                "snapshot_id": alert.snapshot_id,
                "fired_ms": alert.fired_ms,
            })
            .to_string();
            let http = self.http.clone();
            tokio::spawn(async move {
                let mut pause = FIRST_PAUSE;
                for attempt in 1..=ATTEMPTS {
                    let mut req = http
                        .post(&hook.url)
                        .header("content-type", "application/json")
                        .header("x-cairn-alert-id", alert.id.to_string())
                        .body(body.clone());
                    if let Some(secret) = &hook.secret {
                        req = req.header("x-cairn-signature", signature(secret, body.as_bytes()));
                    }
                    let retry = match req.send().await {
                        Ok(r) if r.status().is_success() => return,
                        Ok(r) => {
                            let s = r.status();
                            tracing::warn!(url = %hook.url, status = %s, attempt, "alert webhook refused");
                            s.is_server_error() || s == reqwest::StatusCode::TOO_MANY_REQUESTS
                        }
                        Err(e) => {
                            tracing::warn!(url = %hook.url, error = %e, attempt, "alert webhook failed");
                            true
                        }
                    };
                    if !retry {
                        return;
                    }
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
                tracing::error!(url = %hook.url, alert_id = alert.id, "alert webhook gave up");
            });
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signatures_are_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            super::signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
