//! Reading what `metrics::metric_statements` keeps on write besides the points: the summary pyramid
//! charts read, and each metric's extremes.

use cairn_domain::RunId;
use cairn_domain::metric_series::StepBucket;
use cairn_store::{MetricExtremes, SummaryQuery};

use crate::literals::quoted;
use crate::{Columns, Fetch};

/// The buckets `q` names, with their run's id, by run then bucket. A chart reads thousands of these
/// per request, so they come through the engine's typed rows ([`Fetch`]); the run ids (validated hex)
/// and numbers are written inline, the key is the bound parameter.
pub(crate) async fn metric_summary<F: Fetch>(
    f: &mut F,
    q: &SummaryQuery,
) -> Result<Vec<(String, StepBucket)>, F::Error> {
    if q.run_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = format!(
        "SELECT run_id, bucket, n, min_value, max_value, first_step, min_timestamp, \
         max_timestamp, last_step, last_timestamp, last_value, last_is_nan FROM metric_summary \
         WHERE key = {} AND level = {} AND run_id IN ({})",
        F::PARAM,
        q.level,
        quoted(q.run_ids.iter().map(RunId::as_str))
    );
    if let Some((lo, hi)) = q.steps {
        sql.push_str(&format!(
            " AND bucket >= {} AND bucket <= {}",
            lo >> q.level,
            hi >> q.level
        ));
    }
    sql.push_str(" ORDER BY run_id, bucket");
    let rows = f.fetch(sql, Some(&q.key)).await?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.text(0),
                StepBucket {
                    level: q.level,
                    index: r.int(1),
                    count: r.int(2),
                    min: r.opt_real(3),
                    max: r.opt_real(4),
                    first_step: r.int(5),
                    min_timestamp: r.int(6),
                    max_timestamp: r.int(7),
                    last_step: r.int(8),
                    last_timestamp: r.int(9),
                    last_value: r.metric_value(10, 11),
                },
            )
        })
        .collect())
}

/// The smallest and largest value of each metric of these runs, as kept on write in `latest_metrics`.
pub(crate) async fn metric_extremes<F: Fetch>(
    f: &mut F,
    runs: &[RunId],
) -> Result<Vec<MetricExtremes>, F::Error> {
    if runs.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT run_id, key, min_value, max_value FROM latest_metrics WHERE run_id IN ({}) \
         ORDER BY run_id, key",
        quoted(runs.iter().map(RunId::as_str))
    );
    Ok(f.fetch(sql, None)
        .await?
        .iter()
        .map(|r| MetricExtremes {
            run_id: r.text(0),
            key: r.text(1),
            min: r.opt_real(2),
            max: r.opt_real(3),
        })
        .collect())
}
