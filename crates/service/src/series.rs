//! Metric series at chart resolution: one run's metric read from the summary pyramid the store keeps on
//! write, a level at a time down from the coarsest, until its raw points or a level fit the chart's
//! width ([`cairn_domain::metric_series::plan`]), then cut into one bucket per pixel.

use cairn_domain::metric_series::{
    COARSEST, Pixels, Read, Sample, StepBucket, XAxis, XRange, in_range, origin, pixels, plan,
};
use cairn_store::{HistoryOrder, MetricHistoryQuery, SummaryQuery};

use crate::runs::parse_run_id;
use crate::{ServiceResult, Tracking};

/// One run's series at a width: how many points it has in all, and what to draw.
#[derive(Debug)]
pub struct Series {
    pub points: i64,
    pub pixels: Pixels,
}

impl Tracking {
    /// Metric `key` of `run_id` over `range` of `axis`, `width` pixels across; an unknown run or key
    /// has no points.
    pub async fn metric_series(
        &self,
        run_id: &str,
        key: &str,
        axis: XAxis,
        range: XRange,
        width: usize,
    ) -> ServiceResult<Series> {
        let run = parse_run_id(run_id)?;
        let summary = |level: u8, steps: Option<(i64, i64)>| SummaryQuery {
            run_id: run.clone(),
            key: key.to_owned(),
            level,
            steps,
        };
        let coarse = self.store.metric_summary(summary(COARSEST, None)).await?;
        let points = coarse.iter().map(|b| b.count).sum();
        let t0 = origin(&coarse);
        let mut buckets: Vec<StepBucket> = coarse;
        let pixels = loop {
            match plan(&buckets, axis, range, width, t0) {
                Read::Nothing => break Pixels::default(),
                Read::Draw => {
                    let samples = in_range(&buckets, axis, range, t0)
                        .into_iter()
                        .map(|b| Sample::bucket(b, axis, t0))
                        .collect();
                    break pixels(samples, false, width, range);
                }
                Read::Level { level, steps } => {
                    buckets = self
                        .store
                        .metric_summary(summary(level, Some(steps)))
                        .await?;
                }
                Read::Raw { steps } => {
                    let history = self
                        .store
                        .metric_history(MetricHistoryQuery {
                            run_ids: vec![run.clone()],
                            key: key.to_owned(),
                            min_step: Some(steps.0),
                            max_step: Some(steps.1),
                            order: HistoryOrder::Step,
                        })
                        .await?;
                    let samples = history.iter().map(|m| Sample::point(m, axis, t0)).collect();
                    break pixels(samples, true, width, range);
                }
            }
        };
        Ok(Series { points, pixels })
    }
}
