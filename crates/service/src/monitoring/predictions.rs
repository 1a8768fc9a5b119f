//! Batches of logged predictions arriving from the serving (in-process, or a replica's upload): checked to
//! be a Parquet file under a well-formed name, then stored where monitors read windows from.

use super::Monitors;
use super::window::predictions_dir;
use crate::{ServiceError, ServiceResult};

/// The largest batch one upload may carry.
pub const MAX_PREDICTION_BATCH_BYTES: u64 = 256 << 20;

/// `date=YYYY-MM-DD/<name>.parquet`, the name of letters, digits, `-` and `_`.
fn valid_file(file: &str) -> bool {
    let Some((day, name)) = file
        .strip_prefix("date=")
        .and_then(|rest| rest.split_once('/'))
    else {
        return false;
    };
    let day_ok = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").is_ok() && day.len() == 10;
    let stem = name.strip_suffix(".parquet").unwrap_or_default();
    day_ok
        && !stem.is_empty()
        && stem.len() <= 128
        && stem
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}

impl Monitors {
    /// Stores one batch of `deployment`'s logged predictions at `file` under its log.
    pub async fn store_predictions(
        &self,
        deployment: &str,
        file: &str,
        parquet: bytes::Bytes,
    ) -> ServiceResult<()> {
        self.deployments.get(deployment).await?;
        if !valid_file(file) {
            return Err(ServiceError::InvalidArgument(format!(
                "'{file}' is not a prediction log file name: expected date=YYYY-MM-DD/<name>.parquet"
            )));
        }
        if parquet.len() as u64 > MAX_PREDICTION_BATCH_BYTES {
            return Err(ServiceError::InvalidArgument(format!(
                "a batch of logged predictions is at most {MAX_PREDICTION_BATCH_BYTES} bytes"
            )));
        }
        let readable = parquet.starts_with(b"PAR1")
            && parquet.ends_with(b"PAR1")
            && super::evaluate::parquet_rows(&parquet) > 0;
        if !readable {
            return Err(ServiceError::InvalidArgument(
                "the body is not a Parquet file with rows".into(),
            ));
        }
        let path = format!("{}/{file}", predictions_dir(deployment));
        let body = futures::stream::iter([Ok::<_, std::io::Error>(parquet)]);
        self.artifacts.upload(&path, body).await
    }
}

#[cfg(test)]
mod tests {
    use super::valid_file;

    #[test]
    fn file_names() {
        assert!(valid_file("date=2026-12-07/0001765000000000-abc_1.parquet"));
        for bad in [
            "2026-12-07/x.parquet",
            "date=2026-13-07/x.parquet",
            "date=2026-12-07/../x.parquet",
            "date=2026-12-07/x.csv",
            "date=2026-12-07/.parquet",
            "date=2026-12-07/a/b.parquet",
        ] {
            assert!(!valid_file(bad), "{bad}");
        }
    }
}
