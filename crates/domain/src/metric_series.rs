//! A metric's history at chart resolution, without reading every point.
//!
//! Beside the points, each (run, key) keeps a summary pyramid maintained on write: at each level `s` of
//! [`SUMMARY_LEVELS`], bucket `b` holds the points whose step lies in `[b << s, (b + 1) << s)` as their
//! count, smallest and largest value (NaN left out), time span and newest point. A chart asks for a width
//! in pixels: a range holding few points is read raw; otherwise the finest level with few enough buckets
//! in range is read, and either is cut into one bucket per pixel keeping min, max and last — so a spike is
//! never sampled away and a million points cost a thousand rows.

use std::collections::BTreeMap;

use crate::Metric;

/// The pyramid's levels, as bucket widths in powers of two of steps (64, 1,024, 16,384, 262,144): each
/// level has at most 1/16 the rows of the one below it.
pub const SUMMARY_LEVELS: [u8; 4] = [6, 10, 14, 18];

/// The coarsest level: the one a chart reads first, to learn a run's extent.
pub const COARSEST: u8 = SUMMARY_LEVELS[SUMMARY_LEVELS.len() - 1];

/// Rows a chart reads per series at most, in pixels across: beyond 4 × width of raw points, a level.
const ROWS_PER_PIXEL: usize = 4;

/// The points of one metric whose steps fall in one bucket of one level.
#[derive(Debug, Clone, PartialEq)]
pub struct StepBucket {
    pub level: u8,
    pub index: i64,
    pub count: i64,
    /// Extremes of the non-NaN values; `None` while every value is NaN.
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub first_step: i64,
    pub min_timestamp: i64,
    pub max_timestamp: i64,
    /// The bucket's newest point in MLflow's "latest" order ([`Metric::is_newer_than`]).
    pub last_step: i64,
    pub last_timestamp: i64,
    pub last_value: f64,
}

impl StepBucket {
    fn of(level: u8, m: &Metric) -> Self {
        let v = (!m.value.is_nan()).then_some(m.value);
        StepBucket {
            level,
            index: m.step >> level,
            count: 1,
            min: v,
            max: v,
            first_step: m.step,
            min_timestamp: m.timestamp,
            max_timestamp: m.timestamp,
            last_step: m.step,
            last_timestamp: m.timestamp,
            last_value: m.value,
        }
    }

    /// Takes in another summary of the same bucket, as the stores' upsert does.
    pub fn merge(&mut self, o: &StepBucket) {
        self.count += o.count;
        self.min = extreme(self.min, o.min, f64::min);
        self.max = extreme(self.max, o.max, f64::max);
        self.first_step = self.first_step.min(o.first_step);
        self.min_timestamp = self.min_timestamp.min(o.min_timestamp);
        self.max_timestamp = self.max_timestamp.max(o.max_timestamp);
        if o.last().is_newer_than(&self.last()) {
            self.last_step = o.last_step;
            self.last_timestamp = o.last_timestamp;
            self.last_value = o.last_value;
        }
    }

    fn last(&self) -> Metric {
        Metric {
            value: self.last_value,
            step: self.last_step,
            timestamp: self.last_timestamp,
            ..Metric::default()
        }
    }
}

fn extreme(a: Option<f64>, b: Option<f64>, pick: fn(f64, f64) -> f64) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(pick(a, b)),
        (a, b) => a.or(b),
    }
}

/// What a batch of points adds to the pyramid: one summary per (key, level, bucket), in key order (so
/// that writers lock rows alike).
pub fn summarize<'a>(
    metrics: impl IntoIterator<Item = &'a Metric>,
) -> BTreeMap<(&'a str, u8, i64), StepBucket> {
    let mut out: BTreeMap<(&str, u8, i64), StepBucket> = BTreeMap::new();
    for m in metrics {
        for level in SUMMARY_LEVELS {
            let b = StepBucket::of(level, m);
            match out.get_mut(&(m.key.as_str(), level, b.index)) {
                Some(cur) => cur.merge(&b),
                None => {
                    out.insert((m.key.as_str(), level, b.index), b);
                }
            }
        }
    }
    out
}

/// The x axis of a chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XAxis {
    Step,
    /// Wall clock, ms since the epoch.
    Time,
    /// Ms since the run's first point.
    Relative,
}

/// An inclusive x range on a chart's axis; unbounded sides are the whole history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct XRange {
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl XRange {
    pub fn contains(&self, x: f64) -> bool {
        self.min.is_none_or(|lo| x >= lo) && self.max.is_none_or(|hi| x <= hi)
    }
}

/// The next read for one series drawn `width` pixels across: its raw points over a step range, a finer
/// level's buckets over a step range (then plan again with them), or the buckets in hand as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// Nothing logged in range.
    Nothing,
    Raw {
        steps: (i64, i64),
    },
    Level {
        level: u8,
        steps: (i64, i64),
    },
    Draw,
}

/// Where a run's points start in time (the relative axis's zero), from any complete level.
pub fn origin(buckets: &[StepBucket]) -> i64 {
    buckets.iter().map(|b| b.min_timestamp).min().unwrap_or(0)
}

/// The buckets of `level` (all of them that can hold points in range) that may hold points in `range`:
/// by steps on the step axis, by time span on the others (`t0`: the relative axis's zero).
pub fn in_range(buckets: &[StepBucket], axis: XAxis, range: XRange, t0: i64) -> Vec<&StepBucket> {
    let t0 = t0 as f64;
    buckets
        .iter()
        .filter(|b| {
            let (lo, hi) = match axis {
                XAxis::Step => (b.first_step as f64, bucket_end(b) as f64),
                XAxis::Time => (b.min_timestamp as f64, b.max_timestamp as f64),
                XAxis::Relative => (b.min_timestamp as f64 - t0, b.max_timestamp as f64 - t0),
            };
            range.min.is_none_or(|m| hi >= m) && range.max.is_none_or(|m| lo <= m)
        })
        .collect()
}

/// Chooses the next read from the buckets of one level in hand, starting from the coarsest: raw points
/// when the range holds at most 4 × width of them, else the finest lower level whose buckets in range
/// fit that budget, else these buckets. On the step axis the range itself narrows the steps; on the
/// time axes the buckets' time spans do, a level at a time.
pub fn plan(buckets: &[StepBucket], axis: XAxis, range: XRange, width: usize, t0: i64) -> Read {
    let inside = in_range(buckets, axis, range, t0);
    let (Some(first), Some(last)) = (
        inside.iter().map(|b| b.first_step).min(),
        inside.iter().map(|b| bucket_end(b)).max(),
    ) else {
        return Read::Nothing;
    };
    let (first, last) = match axis {
        XAxis::Step => (
            range.min.map_or(first, |m| first.max(m.ceil() as i64)),
            range.max.map_or(last, |m| last.min(m.floor() as i64)),
        ),
        XAxis::Time | XAxis::Relative => (first, last),
    };
    if first > last {
        return Read::Nothing;
    }
    let budget = (width.max(1) * ROWS_PER_PIXEL) as i64;
    // Rows a read at level `s` (0: the points) returns at most, over [first, last].
    let rows = |s: u8| -> i64 {
        inside
            .iter()
            .map(|b| {
                let (lo, hi) = (b.first_step.max(first), bucket_end(b).min(last));
                if lo > hi {
                    0
                } else {
                    b.count.min((hi >> s) - (lo >> s) + 1)
                }
            })
            .sum()
    };
    if rows(0) <= budget {
        return Read::Raw {
            steps: (first, last),
        };
    }
    let current = inside[0].level;
    match SUMMARY_LEVELS
        .iter()
        .copied()
        .filter(|&s| s < current)
        .find(|&s| rows(s) <= budget)
    {
        Some(level) => Read::Level {
            level,
            steps: (first, last),
        },
        None => Read::Draw,
    }
}

/// The largest step a coarse bucket can hold points at (its newest point need not be the largest step
/// when timestamps decide; the bucket's end bounds both).
pub fn bucket_end(b: &StepBucket) -> i64 {
    ((b.index + 1) << b.level) - 1
}

/// One thing to draw: a raw point (min = max = last) or a bucket's summary, at x.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub x: f64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub last: Option<f64>,
}

/// JSON has no NaN: a non-finite value is a gap.
fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

impl Sample {
    pub fn point(m: &Metric, axis: XAxis, t0: i64) -> Self {
        let v = finite(m.value);
        Sample {
            x: x_of(m.step, m.timestamp, axis, t0),
            min: v,
            max: v,
            last: v,
        }
    }

    /// A bucket drawn at its newest point: lines join where the data is.
    pub fn bucket(b: &StepBucket, axis: XAxis, t0: i64) -> Self {
        Sample {
            x: x_of(b.last_step, b.last_timestamp, axis, t0),
            min: b.min.and_then(finite),
            max: b.max.and_then(finite),
            last: finite(b.last_value),
        }
    }
}

fn x_of(step: i64, timestamp: i64, axis: XAxis, t0: i64) -> f64 {
    match axis {
        XAxis::Step => step as f64,
        XAxis::Time => timestamp as f64,
        XAxis::Relative => (timestamp - t0) as f64,
    }
}

/// A series cut into at most one bucket per pixel; `raw` when every sample in range is sent as it is.
#[derive(Debug, Default, PartialEq)]
pub struct Pixels {
    pub raw: bool,
    pub x: Vec<f64>,
    pub min: Vec<Option<f64>>,
    pub max: Vec<Option<f64>>,
    pub last: Vec<Option<f64>>,
}

/// Cuts samples (of raw points or buckets) over `range` into `width` pixel buckets, each with its min,
/// max and last value, drawn at its last sample's x. Raw points that fit twice the width go as they are.
pub fn pixels(mut samples: Vec<Sample>, raw: bool, width: usize, range: XRange) -> Pixels {
    samples.retain(|s| range.contains(s.x));
    samples.sort_by(|a, b| a.x.total_cmp(&b.x));
    let width = width.max(1);
    let mut p = Pixels::default();
    if raw && samples.len() <= width * 2 {
        p.raw = true;
        for s in samples {
            p.x.push(s.x);
            p.min.push(s.min);
            p.max.push(s.max);
            p.last.push(s.last);
        }
        return p;
    }
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return p;
    };
    let x0 = range.min.unwrap_or(first.x);
    let span = (range.max.unwrap_or(last.x) - x0).max(f64::MIN_POSITIVE);
    let mut current: Option<usize> = None;
    for s in samples {
        let i = (((s.x - x0) / span) * width as f64)
            .floor()
            .clamp(0.0, width as f64 - 1.0) as usize;
        if current != Some(i) {
            current = Some(i);
            p.x.push(s.x);
            p.min.push(None);
            p.max.push(None);
            p.last.push(None);
        }
        let k = p.x.len() - 1;
        p.x[k] = s.x;
        p.min[k] = extreme(p.min[k], s.min, f64::min);
        p.max[k] = extreme(p.max[k], s.max, f64::max);
        p.last[k] = s.last;
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(step: i64, timestamp: i64, value: f64) -> Metric {
        Metric {
            key: "loss".into(),
            value,
            step,
            timestamp,
            ..Metric::default()
        }
    }

    fn coarse_of(points: &[Metric]) -> Vec<StepBucket> {
        summarize(points)
            .into_values()
            .filter(|b| b.level == COARSEST)
            .collect()
    }

    #[test]
    fn a_batch_is_summarized_per_level_with_extremes_and_newest_point() {
        let pts = [
            point(0, 10, 1.0),
            point(63, 5, f64::NAN),
            point(64, 7, 3.0),
            point(-1, 1, 9.0),
        ];
        let s = summarize(&pts);
        let b0 = &s[&("loss", 6, 0)];
        assert_eq!((b0.count, b0.min, b0.max), (2, Some(1.0), Some(1.0)));
        assert_eq!(
            (b0.last_step, b0.min_timestamp, b0.max_timestamp),
            (63, 5, 10)
        );
        assert!(b0.last_value.is_nan());
        // Negative steps floor into bucket -1; each level holds every point once.
        assert_eq!(s[&("loss", 6, -1)].count, 1);
        assert_eq!(s[&("loss", 10, 0)].count, 3);
        assert_eq!(s[&("loss", 10, -1)].count, 1);
        for level in SUMMARY_LEVELS {
            let n: i64 = s
                .values()
                .filter(|b| b.level == level)
                .map(|b| b.count)
                .sum();
            assert_eq!(n, 4);
        }
    }

    #[test]
    fn merging_two_batches_equals_summarizing_them_together() {
        let a = [point(1, 1, 2.0), point(70, 3, 5.0)];
        let b = [point(2, 9, -1.0), point(70, 3, 6.0)];
        let mut merged = summarize(&a);
        for (k, v) in summarize(&b) {
            merged.entry(k).and_modify(|m| m.merge(&v)).or_insert(v);
        }
        let all: Vec<Metric> = a.iter().chain(&b).cloned().collect();
        assert_eq!(merged, summarize(&all));
    }

    #[test]
    fn few_points_are_read_raw_and_many_from_the_finest_level_that_fits() {
        let all = XRange {
            min: None,
            max: None,
        };
        let few: Vec<Metric> = (0..500).map(|i| point(i, i, 1.0)).collect();
        assert_eq!(
            plan(&coarse_of(&few), XAxis::Step, all, 800, 0),
            Read::Raw {
                steps: (0, (1 << COARSEST) - 1)
            }
        );
        // 1M steps over 800 px: level 6 has 15,625 buckets, level 10 977 (≤ 3,200).
        let mut coarse = coarse_of(&[point(0, 0, 1.0), point(999_999, 1, 1.0)]);
        coarse.iter_mut().for_each(|b| b.count = 1 << b.level);
        let read = plan(&coarse, XAxis::Step, all, 800, 0);
        assert_eq!(
            read,
            Read::Level {
                level: 10,
                steps: (0, (4 << COARSEST) - 1)
            }
        );
        // Zoomed in to 1,000 steps of a full coarse bucket: raw again, over just those steps.
        let zoom = XRange {
            min: Some(5000.0),
            max: Some(5999.0),
        };
        assert_eq!(
            plan(&coarse, XAxis::Step, zoom, 800, 0),
            Read::Raw {
                steps: (5000, 5999)
            }
        );
        // A level that fits nowhere lower is drawn as it is.
        let mut fine = summarize(&[point(0, 0, 1.0)])
            .into_values()
            .filter(|b| b.level == SUMMARY_LEVELS[0])
            .collect::<Vec<_>>();
        fine[0].count = 1_000_000;
        assert_eq!(plan(&fine, XAxis::Step, all, 1, 0), Read::Draw);
        assert_eq!(plan(&[], XAxis::Step, all, 800, 0), Read::Nothing);
    }

    #[test]
    fn on_the_time_axes_a_range_keeps_the_buckets_whose_time_span_meets_it() {
        let pts = [point(0, 1_000, 1.0), point(300_000, 9_000, 2.0)];
        let coarse = coarse_of(&pts);
        let t0 = origin(&coarse);
        let late = XRange {
            min: Some(7_000.0),
            max: None,
        };
        let kept = in_range(&coarse, XAxis::Relative, late, t0);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].last_step, 300_000);
        assert_eq!(in_range(&coarse, XAxis::Time, late, t0).len(), 1);
    }

    #[test]
    fn pixels_keep_each_buckets_extremes_and_last_value() {
        // 1,000,000 points, a spike at one step: 100 pixels, and the spike survives as a pixel's max.
        let samples: Vec<Sample> = (0..1_000_000)
            .map(|i| {
                let v = if i == 123_457 { 1e6 } else { (i % 10) as f64 };
                Sample::point(&point(i, 0, v), XAxis::Step, 0)
            })
            .collect();
        let all = XRange {
            min: None,
            max: None,
        };
        let p = pixels(samples, true, 100, all);
        assert!(!p.raw);
        assert_eq!(p.x.len(), 100);
        assert!(p.max.contains(&Some(1e6)));
        assert_eq!(
            p.min.iter().flatten().fold(f64::INFINITY, |a, v| a.min(*v)),
            0.0
        );
        assert_eq!(*p.last.last().unwrap(), Some(9.0));
        assert_eq!(*p.x.last().unwrap(), 999_999.0);
    }

    #[test]
    fn a_short_series_is_sent_raw_with_nan_as_gaps() {
        let samples = [(0, 1.0), (1, f64::NAN), (2, 3.0)]
            .map(|(s, v)| Sample::point(&point(s, 100 + s, v), XAxis::Relative, 100))
            .to_vec();
        let all = XRange {
            min: None,
            max: None,
        };
        let p = pixels(samples, true, 800, all);
        assert!(p.raw);
        assert_eq!(p.x, vec![0.0, 1.0, 2.0]);
        assert_eq!(p.last, vec![Some(1.0), None, Some(3.0)]);
    }
}
