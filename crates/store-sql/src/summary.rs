//! Reading what `metrics::metric_statements` keeps on write besides the points: the summary pyramid
//! charts read, and each metric's extremes.

use cairn_domain::RunId;
use cairn_domain::metric_series::StepBucket;
use cairn_store::{MetricExtremes, StoreError, StoreResult, SummaryQuery};

use crate::registry::{Row, Tx, Val};

/// The buckets `q` names, with their run's id, by run then bucket.
pub(crate) async fn metric_summary(
    tx: &mut dyn Tx,
    q: &SummaryQuery,
) -> StoreResult<Vec<(String, StepBucket)>> {
    if q.run_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut args: Vec<Val> = vec![q.key.as_str().into(), i64::from(q.level).into()];
    let marks: Vec<String> = (0..q.run_ids.len())
        .map(|i| format!("${}", args.len() + 1 + i))
        .collect();
    args.extend(q.run_ids.iter().map(|r| r.as_str().into()));
    let mut sql = format!(
        "SELECT run_id, bucket, n, min_value, max_value, first_step, min_timestamp, \
         max_timestamp, last_step, last_timestamp, last_value, last_is_nan FROM metric_summary \
         WHERE key = $1 AND level = $2 AND run_id IN ({})",
        marks.join(", ")
    );
    if let Some((lo, hi)) = q.steps {
        sql.push_str(&format!(
            " AND bucket >= ${} AND bucket <= ${}",
            args.len() + 1,
            args.len() + 2
        ));
        args.push((lo >> q.level).into());
        args.push((hi >> q.level).into());
    }
    sql.push_str(" ORDER BY run_id, bucket");
    tx.query(&sql, args)
        .await?
        .iter()
        .map(|r| Ok((r.text(0)?, bucket(q.level, r)?)))
        .collect()
}

/// A bucket from a row whose first column is the run id.
fn bucket(level: u8, r: &Row) -> StoreResult<StepBucket> {
    let last_is_nan = r.int(11)? != 0;
    Ok(StepBucket {
        level,
        index: r.int(1)?,
        count: r.int(2)?,
        min: r.opt_real(3)?,
        max: r.opt_real(4)?,
        first_step: r.int(5)?,
        min_timestamp: r.int(6)?,
        max_timestamp: r.int(7)?,
        last_step: r.int(8)?,
        last_timestamp: r.int(9)?,
        last_value: if last_is_nan {
            f64::NAN
        } else {
            r.opt_real(10)?
                .ok_or_else(|| StoreError::Internal("metric_summary.last_value is NULL".into()))?
        },
    })
}

/// The smallest and largest value of each metric of these runs, as kept on write in `latest_metrics`.
pub(crate) async fn metric_extremes(
    tx: &mut dyn Tx,
    runs: &[RunId],
) -> StoreResult<Vec<MetricExtremes>> {
    if runs.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (1..=runs.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT run_id, key, min_value, max_value FROM latest_metrics WHERE run_id IN ({}) \
         ORDER BY run_id, key",
        marks.join(", ")
    );
    let args = runs.iter().map(|r| r.as_str().into()).collect();
    tx.query(&sql, args)
        .await?
        .iter()
        .map(|r| {
            Ok(MetricExtremes {
                run_id: r.text(0)?,
                key: r.text(1)?,
                min: r.opt_real(2)?,
                max: r.opt_real(3)?,
            })
        })
        .collect()
}
