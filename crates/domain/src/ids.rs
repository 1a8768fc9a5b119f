//! Identifiers in the formats MLflow clients expect: runs are 32 lowercase hex characters, experiments
//! decimal integers, logged models `m-` followed by 32 hex characters.

use std::fmt;

use crate::DomainError;

/// A run id: 32 lowercase hex characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(String);

impl RunId {
    pub fn generate() -> Self {
        Self(random_hex32())
    }
    /// Parses a run id as a client sent it. Anything but 32 hex characters cannot name a run.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        if is_hex32(s) {
            Ok(Self(s.to_ascii_lowercase()))
        } else {
            Err(DomainError::invalid(format!("Invalid run ID: '{s}'")))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An experiment id: a non-negative integer, written in decimal on the wire. `0` is the Default experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExperimentId(pub i64);

impl ExperimentId {
    pub const DEFAULT: ExperimentId = ExperimentId(0);

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        s.trim()
            .parse::<i64>()
            .ok()
            .filter(|v| *v >= 0)
            .map(Self)
            .ok_or_else(|| DomainError::invalid(format!("Invalid experiment ID: '{s}'")))
    }
}

/// A logged model id: `m-` followed by 32 lowercase hex characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LoggedModelId(String);

impl LoggedModelId {
    pub fn generate() -> Self {
        Self(format!("m-{}", random_hex32()))
    }
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s.strip_prefix("m-") {
            Some(rest) if is_hex32(rest) => Ok(Self(s.to_ascii_lowercase())),
            _ => Err(DomainError::invalid(format!("Invalid model ID: '{s}'"))),
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! display_as_str {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}
display_as_str!(RunId, LoggedModelId);

impl fmt::Display for ExperimentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

fn is_hex32(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn random_hex32() -> String {
    format!("{:032x}", rand::random::<u128>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_have_wire_formats() {
        let r = RunId::generate();
        assert_eq!(r.as_str().len(), 32);
        assert!(RunId::parse(r.as_str()).is_ok());
        let m = LoggedModelId::generate();
        assert!(m.as_str().starts_with("m-"));
        assert!(LoggedModelId::parse(m.as_str()).is_ok());
    }

    #[test]
    fn malformed_ids_are_rejected() {
        assert!(RunId::parse("abc").is_err());
        assert!(RunId::parse(&"g".repeat(32)).is_err());
        assert!(ExperimentId::parse("-1").is_err());
        assert!(ExperimentId::parse("x").is_err());
        assert_eq!(ExperimentId::parse("12").unwrap(), ExperimentId(12));
        assert!(LoggedModelId::parse("m-1").is_err());
    }
}
