//! Confidence for a comparison gate: a paired bootstrap over per-example scores of the candidate and the
//! baseline on one dataset. B = 2000 resamples of the examples (the same indices for both models, so
//! the pairing holds), seeded from the dataset's digest and the gate's name (the same inputs always give
//! the same verdict), give a `level` interval for Δ = mean(candidate) − mean(baseline). Pass iff its
//! lower bound ≥ the required Δ, fail iff its upper bound < it, otherwise inconclusive: a gain within
//! noise is not a pass.

/// Resamples drawn.
pub const RESAMPLES: usize = 2000;

/// A bootstrap's verdict on `Δ ≥ required`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub delta: f64,
    pub lower: f64,
    pub upper: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    Failed,
    Inconclusive,
}

impl Interval {
    pub fn verdict(&self, required: f64) -> Verdict {
        if self.lower >= required {
            Verdict::Passed
        } else if self.upper < required {
            Verdict::Failed
        } else {
            Verdict::Inconclusive
        }
    }
}

/// splitmix64: small, fast, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        // n is at most a few million: the modulo bias is far below the bootstrap's own noise.
        (self.next() % n as u64) as usize
    }
}

/// A dataset's content digest (BLAKE3, hex): what pairs two models' per-example scores.
pub fn dataset_digest(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// The seed of a gate's bootstrap: BLAKE3 of the dataset digest and the gate's name.
pub fn seed(dataset_digest: &str, gate: &str) -> u64 {
    let mut h = blake3::Hasher::new();
    h.update(dataset_digest.as_bytes());
    h.update(&[0]);
    h.update(gate.as_bytes());
    let bytes: [u8; 8] = h.finalize().as_bytes()[..8]
        .try_into()
        .expect("eight bytes");
    u64::from_le_bytes(bytes)
}

/// The `level` percentile interval of the mean paired difference; `Err` when the scores cannot be
/// paired (different lengths, none, or a value that is not a number).
pub fn paired_bootstrap(
    candidate: &[f64],
    baseline: &[f64],
    level: f64,
    seed: u64,
) -> Result<Interval, String> {
    if candidate.len() != baseline.len() {
        return Err(format!(
            "the candidate has {} per-example scores and the baseline {}: not the same examples",
            candidate.len(),
            baseline.len()
        ));
    }
    if candidate.is_empty() {
        return Err("no per-example scores".into());
    }
    let diffs: Vec<f64> = candidate.iter().zip(baseline).map(|(c, b)| c - b).collect();
    if diffs.iter().any(|d| !d.is_finite()) {
        return Err("a per-example score is not a number".into());
    }
    let n = diffs.len();
    let delta = diffs.iter().sum::<f64>() / n as f64;
    let mut rng = Rng(seed);
    let mut means: Vec<f64> = (0..RESAMPLES)
        .map(|_| (0..n).map(|_| diffs[rng.below(n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let tail = (1.0 - level.clamp(0.0, 1.0)) / 2.0;
    let at = |q: f64| means[((q * (RESAMPLES - 1) as f64).round() as usize).min(RESAMPLES - 1)];
    Ok(Interval {
        delta,
        lower: at(tail),
        upper: at(1.0 - tail),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clear_gain_passes_a_clear_loss_fails_noise_is_inconclusive() {
        let n = 400;
        let base: Vec<f64> = (0..n).map(|i| f64::from(i % 2 == 0)).collect(); // 50 %
        // 90 % correct where the baseline was 50 %: a clear gain.
        let better: Vec<f64> = (0..n).map(|i| f64::from(i % 10 != 0)).collect();
        let s = seed("digest", "gate");
        let i = paired_bootstrap(&better, &base, 0.95, s).unwrap();
        assert!((i.delta - 0.4).abs() < 1e-9 && i.lower > 0.3, "{i:?}");
        assert_eq!(i.verdict(0.0), Verdict::Passed);
        let i = paired_bootstrap(&base, &better, 0.95, s).unwrap();
        assert_eq!(i.verdict(0.0), Verdict::Failed);
        // Two examples out of 400 flipped the candidate's way: a gain within noise.
        let mut noisy = base.clone();
        noisy[1] = 1.0;
        noisy[3] = 1.0;
        let i = paired_bootstrap(&noisy, &base, 0.95, s).unwrap();
        assert!(i.delta > 0.0 && i.lower <= 0.0, "{i:?}");
        assert_eq!(i.verdict(0.001), Verdict::Inconclusive);
        // The same inputs give the same interval; another gate name another resampling.
        assert_eq!(paired_bootstrap(&noisy, &base, 0.95, s).unwrap(), i);
        assert_ne!(seed("digest", "gate"), seed("digest", "other"));
    }

    #[test]
    fn unpaired_scores_are_refused() {
        assert!(paired_bootstrap(&[1.0], &[1.0, 0.0], 0.95, 1).is_err());
        assert!(paired_bootstrap(&[], &[], 0.95, 1).is_err());
        assert!(paired_bootstrap(&[f64::NAN], &[1.0], 0.95, 1).is_err());
    }
}
