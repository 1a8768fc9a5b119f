//! Drift tests, named and thresholded as Evidently 0.7.23 names them (`legacy/calculations/stattests`),
//! plus `chisquare_2sample`. Each test returns a score; [`Method::drifted`] applies its direction
//! (p-values drift when small, distances when large) exactly as Evidently compares.

pub mod binning;
pub mod categorical;
pub mod distance;
pub mod kolmogorov;
pub mod ks;
pub mod smirnov;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Ks,
    Wasserstein,
    Psi,
    Jensenshannon,
    Chisquare,
    Z,
    #[serde(rename = "chisquare_2sample")]
    Chisquare2Sample,
}

/// Whether the test reads a score as a p-value or a distance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    PValue,
    Distance,
}

impl Method {
    pub const ALL: [Method; 7] = [
        Method::Ks,
        Method::Wasserstein,
        Method::Psi,
        Method::Jensenshannon,
        Method::Chisquare,
        Method::Z,
        Method::Chisquare2Sample,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Method::Ks => "ks",
            Method::Wasserstein => "wasserstein",
            Method::Psi => "psi",
            Method::Jensenshannon => "jensenshannon",
            Method::Chisquare => "chisquare",
            Method::Z => "z",
            Method::Chisquare2Sample => "chisquare_2sample",
        }
    }

    pub fn parse(name: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Evidently's `display_name`.
    pub fn display_name(self) -> &'static str {
        match self {
            Method::Ks => "K-S p_value",
            Method::Wasserstein => "Wasserstein distance (normed)",
            Method::Psi => "PSI",
            Method::Jensenshannon => "Jensen-Shannon distance",
            Method::Chisquare => "chi-square p_value",
            Method::Z => "Z-test p_value",
            Method::Chisquare2Sample => "two-sample chi-square p_value",
        }
    }

    pub fn default_threshold(self) -> f64 {
        match self {
            Method::Wasserstein | Method::Psi | Method::Jensenshannon => 0.1,
            Method::Ks | Method::Chisquare | Method::Z | Method::Chisquare2Sample => 0.05,
        }
    }

    pub fn direction(self) -> Direction {
        match self {
            Method::Wasserstein | Method::Psi | Method::Jensenshannon => Direction::Distance,
            _ => Direction::PValue,
        }
    }

    /// Evidently's verdicts: `ks` drifts at p <= threshold, `chisquare` and `z` at p < threshold,
    /// distances at score >= threshold. `chisquare_2sample` rejects at p <= threshold.
    pub fn drifted(self, score: f64, threshold: f64) -> bool {
        match self {
            Method::Ks | Method::Chisquare2Sample => score <= threshold,
            Method::Chisquare | Method::Z => score < threshold,
            Method::Wasserstein | Method::Psi | Method::Jensenshannon => score >= threshold,
        }
    }

    /// Evidently's `allowed_feature_types` (its automatic choice may still pick `chisquare` or `z` for a
    /// numeric column with few values).
    pub fn applies_to_numerical(self) -> bool {
        !matches!(self, Method::Chisquare | Method::Z)
    }

    pub fn applies_to_categorical(self) -> bool {
        !matches!(self, Method::Ks | Method::Wasserstein)
    }
}
