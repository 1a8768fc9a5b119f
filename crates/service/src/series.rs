//! Metric series at chart resolution: runs' metric read from the summary pyramid the store keeps on
//! write, a level at a time down from the coarsest, until each run's raw points or a level fit the
//! chart's width ([`cairn_domain::metric_series::plan`]), then cut into one bucket per pixel.

use std::collections::{BTreeMap, HashMap};

use cairn_domain::RunId;
use cairn_domain::metric_series::{
    COARSEST, Pixels, Read, Sample, StepBucket, XAxis, XRange, bucket_end, in_range, origin,
    pixels, plan,
};
use cairn_store::{HistoryOrder, MetricHistoryQuery, SummaryQuery};

use crate::runs::parse_run_id;
use crate::{ServiceResult, Tracking};

/// An inclusive step range.
type Steps = (i64, i64);

/// One run's series at a width: how many points it has in all, and what to draw.
#[derive(Debug)]
pub struct Series {
    pub points: i64,
    pub pixels: Pixels,
}

impl Tracking {
    /// Metric `key` of each of `run_ids` over `range` of `axis`, `width` pixels across, in the order
    /// given; an unknown run or key has no points. The runs are read together: one query per level
    /// (or for raw points) that any of them needs, each level over the union of their step ranges.
    pub async fn metric_series(
        &self,
        run_ids: &[&str],
        key: &str,
        axis: XAxis,
        range: XRange,
        width: usize,
    ) -> ServiceResult<Vec<Series>> {
        let runs = run_ids
            .iter()
            .map(|r| parse_run_id(r))
            .collect::<ServiceResult<Vec<RunId>>>()?;
        let mut buckets = self.summary(&runs, key, COARSEST, None).await?;
        let points: Vec<i64> = buckets
            .iter()
            .map(|b| b.iter().map(|b| b.count).sum())
            .collect();
        let t0: Vec<i64> = buckets.iter().map(|b| origin(b)).collect();
        let mut drawn: Vec<Option<Pixels>> = runs.iter().map(|_| None).collect();
        while drawn.iter().any(Option::is_none) {
            // What each run still to draw reads next, grouped by level (None: its raw points).
            let mut reads: BTreeMap<Option<u8>, Vec<(usize, Steps)>> = BTreeMap::new();
            for (i, b) in buckets.iter().enumerate() {
                if drawn[i].is_some() {
                    continue;
                }
                match plan(b, axis, range, width, t0[i]) {
                    Read::Nothing => drawn[i] = Some(Pixels::default()),
                    Read::Draw => {
                        let samples = in_range(b, axis, range, t0[i])
                            .into_iter()
                            .map(|b| Sample::bucket(b, axis, t0[i]))
                            .collect();
                        drawn[i] = Some(pixels(samples, false, width, range));
                    }
                    Read::Level { level, steps } => {
                        reads.entry(Some(level)).or_default().push((i, steps))
                    }
                    Read::Raw { steps } => reads.entry(None).or_default().push((i, steps)),
                }
            }
            for (level, wanted) in reads {
                let ids: Vec<RunId> = wanted.iter().map(|(i, _)| runs[*i].clone()).collect();
                let union = (
                    wanted.iter().map(|(_, s)| s.0).min().unwrap_or(0),
                    wanted.iter().map(|(_, s)| s.1).max().unwrap_or(0),
                );
                match level {
                    Some(level) => {
                        let mut got = self.summary(&ids, key, level, Some(union)).await?;
                        for ((i, (lo, hi)), b) in wanted.iter().zip(got.iter_mut()) {
                            // Only this run's own range (the query read the union).
                            b.retain(|b| bucket_end(b) >= *lo && (b.index << b.level) <= *hi);
                            buckets[*i] = std::mem::take(b);
                        }
                    }
                    None => {
                        let history = self
                            .store
                            .metric_history(MetricHistoryQuery {
                                run_ids: ids,
                                key: key.to_owned(),
                                min_step: Some(union.0),
                                max_step: Some(union.1),
                                order: HistoryOrder::Step,
                            })
                            .await?;
                        for (i, (lo, hi)) in wanted {
                            let run = runs[i].as_str();
                            let samples = history
                                .iter()
                                .filter(|m| m.run_id.as_deref() == Some(run))
                                .filter(|m| m.step >= lo && m.step <= hi)
                                .map(|m| Sample::point(m, axis, t0[i]))
                                .collect();
                            drawn[i] = Some(pixels(samples, true, width, range));
                        }
                    }
                }
            }
        }
        Ok(points
            .into_iter()
            .zip(drawn)
            .map(|(points, pixels)| Series {
                points,
                pixels: pixels.unwrap_or_default(),
            })
            .collect())
    }

    /// One level's buckets for each run, in the order of `runs`.
    async fn summary(
        &self,
        runs: &[RunId],
        key: &str,
        level: u8,
        steps: Option<Steps>,
    ) -> ServiceResult<Vec<Vec<StepBucket>>> {
        let mut by_run: HashMap<String, Vec<StepBucket>> = HashMap::new();
        let query = SummaryQuery {
            run_ids: runs.to_vec(),
            key: key.to_owned(),
            level,
            steps,
        };
        for (run, b) in self.store.metric_summary(query).await? {
            by_run.entry(run).or_default().push(b);
        }
        Ok(runs
            .iter()
            .map(|r| by_run.remove(r.as_str()).unwrap_or_default())
            .collect())
    }
}
