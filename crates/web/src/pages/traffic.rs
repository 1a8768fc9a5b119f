//! A deployment's traffic as this server's own Prometheus metrics count it: requests, errors and
//! latency (mean and an upper bound on the median from the histogram's buckets), by deployment.

/// What one deployment has served since this process started.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Traffic {
    pub requests: f64,
    pub errors: f64,
    pub latency_sum_s: f64,
    pub latency_count: f64,
    /// (upper bound in seconds, cumulative count), in order.
    pub buckets: Vec<(f64, f64)>,
}

impl Traffic {
    pub fn mean_ms(&self) -> Option<f64> {
        (self.latency_count > 0.0).then(|| self.latency_sum_s / self.latency_count * 1000.0)
    }

    /// The smallest bucket bound holding half the requests: the median is at most this.
    pub fn median_bound_ms(&self) -> Option<f64> {
        let half = self.latency_count / 2.0;
        self.buckets
            .iter()
            .find(|(_, n)| *n >= half && self.latency_count > 0.0)
            .map(|(le, _)| le * 1000.0)
    }
}

/// Sums the series of `deployment` in the exposition `text` (every protocol, model and version).
pub fn of(text: &str, deployment: &str) -> Traffic {
    let wanted = format!(
        "deployment=\"{}\"",
        deployment.replace('\\', "\\\\").replace('"', "\\\"")
    );
    let mut t = Traffic::default();
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || !line.contains(&wanted) {
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(v) = value.parse::<f64>() else {
            continue;
        };
        let name = series.split('{').next().unwrap_or("");
        match name {
            "cairn_inference_requests_total" => t.requests += v,
            "cairn_inference_errors_total" => t.errors += v,
            "cairn_inference_duration_seconds_sum" => t.latency_sum_s += v,
            "cairn_inference_duration_seconds_count" => t.latency_count += v,
            "cairn_inference_duration_seconds_bucket" => {
                let le = series
                    .split("le=\"")
                    .nth(1)
                    .and_then(|r| r.split('"').next())
                    .and_then(|s| {
                        if s == "+Inf" {
                            Some(f64::INFINITY)
                        } else {
                            s.parse().ok()
                        }
                    });
                if let Some(le) = le {
                    match buckets.iter_mut().find(|(b, _)| *b == le) {
                        Some(b) => b.1 += v,
                        None => buckets.push((le, v)),
                    }
                }
            }
            _ => {}
        }
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    t.buckets = buckets;
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_a_deployments_series_across_versions() {
        let text = r#"# TYPE cairn_inference_requests_total counter
cairn_inference_requests_total{protocol="oip",deployment="iris",model="iris",version="1",status="2xx"} 6
cairn_inference_requests_total{protocol="mlflow",deployment="iris",model="iris",version="2",status="4xx"} 2
cairn_inference_requests_total{protocol="oip",deployment="other",model="x",version="1",status="2xx"} 100
cairn_inference_errors_total{protocol="mlflow",deployment="iris",model="iris",version="2",status="4xx"} 2
cairn_inference_duration_seconds_bucket{protocol="oip",deployment="iris",model="iris",version="1",le="0.001"} 3
cairn_inference_duration_seconds_bucket{protocol="oip",deployment="iris",model="iris",version="1",le="0.01"} 8
cairn_inference_duration_seconds_bucket{protocol="oip",deployment="iris",model="iris",version="1",le="+Inf"} 8
cairn_inference_duration_seconds_sum{protocol="oip",deployment="iris",model="iris",version="1"} 0.016
cairn_inference_duration_seconds_count{protocol="oip",deployment="iris",model="iris",version="1"} 8
"#;
        let t = of(text, "iris");
        assert_eq!((t.requests, t.errors), (8.0, 2.0));
        assert_eq!(t.mean_ms(), Some(2.0));
        assert_eq!(t.median_bound_ms(), Some(10.0));
        assert_eq!(of(text, "nope"), Traffic::default());
    }
}
