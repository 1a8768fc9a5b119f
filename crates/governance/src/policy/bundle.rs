//! A parsed policy bundle and its evaluation. The engine is built once per upload and cloned per
//! evaluation, so a promotion never re-parses Rego and evaluations never see each other's input.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use regorus::utils::limits::ExecutionTimerConfig;
use regorus::{Engine, LimitError, Value};
use sha2::{Digest, Sha256};

use super::decision::{self, Decision};
use super::{PolicyError, PolicyFile, tidy_error};

/// Work units between clock reads of regorus's cooperative timer: frequent enough that a runaway loop
/// stops within a fraction of a millisecond past its limit, rare enough to cost nothing.
const TIMER_CHECK_INTERVAL: u32 = 16;

/// What the three rules said: violations, warnings, required approvals.
type Decided = (Vec<decision::Violation>, Vec<String>, Option<u32>);

/// Uploaded policy files, parsed and analysed, ready to evaluate.
#[derive(Debug, Clone)]
pub struct Bundle {
    files: Vec<PolicyFile>,
    engine: Engine,
    /// `data.<package>` of every file.
    packages: Vec<String>,
}

impl Bundle {
    /// Parses and analyses every file, so a syntax error is reported at upload (with file, line and
    /// column) rather than at the first promotion.
    pub fn new(files: Vec<PolicyFile>) -> Result<Bundle, PolicyError> {
        if files.is_empty() {
            return Err(PolicyError::Empty);
        }
        let mut engine = Engine::new();
        for (i, file) in files.iter().enumerate() {
            if files[..i].iter().any(|f| f.path == file.path) {
                return Err(PolicyError::DuplicatePath {
                    path: file.path.clone(),
                });
            }
            engine
                .add_policy(file.path.clone(), file.source.clone())
                .map_err(|e| PolicyError::Parse {
                    path: file.path.clone(),
                    message: tidy_error(&e.to_string()),
                })?;
        }
        // Evaluating a trivial query runs the analysis (unsafe variables, recursion, bad imports) now,
        // and leaves the engine prepared for the clones.
        engine
            .eval_query("true".into(), false)
            .map_err(|e| PolicyError::Compile(tidy_error(&e.to_string())))?;
        let packages = engine
            .get_packages()
            .map_err(|e| PolicyError::Compile(e.to_string()))?;
        Ok(Bundle {
            files,
            engine,
            packages,
        })
    }

    /// `sha256:<hex>` over the files sorted by path, each as path, 0x00, source, 0x00: the same sources
    /// hash the same whatever order they were uploaded in.
    pub fn hash(&self) -> String {
        let mut files: Vec<&PolicyFile> = self.files.iter().collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let mut h = Sha256::new();
        for f in files {
            h.update(f.path.as_bytes());
            h.update([0u8]);
            h.update(f.source.as_bytes());
            h.update([0u8]);
        }
        format!("sha256:{}", hex::encode(h.finalize()))
    }

    pub fn files(&self) -> &[PolicyFile] {
        &self.files
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Evaluates `<entrypoint>.deny`, `.warn` and `.required_approvals` (each may be undefined).
    /// Never fails: an evaluation error, a malformed result or running past `timeout` yields a decision
    /// that denies with a `policy_error` violation.
    pub fn evaluate(
        &self,
        entrypoint: &str,
        input: &serde_json::Value,
        data: &serde_json::Value,
        timeout: Duration,
    ) -> Decision {
        let start = Instant::now();
        let result = self.decide(entrypoint, input, data, start, timeout);
        let eval_us = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
        // The timer is cooperative; a single long builtin call can overrun it unnoticed.
        let result = result.and_then(|d| {
            if start.elapsed() > timeout {
                Err(timed_out(timeout))
            } else {
                Ok(d)
            }
        });
        match result {
            Ok((deny, warn, approvals)) => Decision::decided(deny, warn, approvals, eval_us),
            Err(error) => Decision::failed(error, eval_us),
        }
    }

    fn decide(
        &self,
        entrypoint: &str,
        input: &serde_json::Value,
        data: &serde_json::Value,
        start: Instant,
        timeout: Duration,
    ) -> Result<Decided, String> {
        check_entrypoint(entrypoint)?;
        if !self.packages.iter().any(|p| related(p, entrypoint)) {
            return Err(format!(
                "no package of the bundle is at {entrypoint} (packages: {})",
                self.packages.join(", ")
            ));
        }
        let mut engine = self.engine.clone();
        engine.set_input(Value::from(input.clone()));
        match data {
            serde_json::Value::Null => {}
            serde_json::Value::Object(o) if o.is_empty() => {}
            serde_json::Value::Object(_) => engine
                .add_data(Value::from(data.clone()))
                .map_err(|e| format!("loading data: {e}"))?,
            other => return Err(format!("data must be a JSON object, not {other}")),
        }
        let mut eval = |rule: &str| {
            let remaining = timeout.saturating_sub(start.elapsed());
            if remaining.is_zero() {
                return Err(timed_out(timeout));
            }
            eval_path(
                &mut engine,
                &format!("{entrypoint}.{rule}"),
                remaining,
                timeout,
            )
        };
        let deny = decision::violations(eval("deny")?)?;
        let warn = decision::warnings(eval("warn")?)?;
        let approvals = decision::approvals(eval("required_approvals")?)?;
        Ok((deny, warn, approvals))
    }
}

/// The value at a `data.…` path, or `None` when undefined, with evaluation stopped after `limit`.
/// `budget` is the whole evaluation's limit, for the message when it runs out.
pub(crate) fn eval_path(
    engine: &mut Engine,
    path: &str,
    limit: Duration,
    budget: Duration,
) -> Result<Option<serde_json::Value>, String> {
    engine.set_execution_timer_config(ExecutionTimerConfig {
        limit,
        check_interval: NonZeroU32::new(TIMER_CHECK_INTERVAL).unwrap_or(NonZeroU32::MIN),
    });
    // A query rather than `eval_rule`: a rule the policy doesn't define is undefined, not an error.
    let results = engine.eval_query(path.to_owned(), false).map_err(|e| {
        let timed_out_here = e.chain().any(|cause| {
            matches!(
                cause.downcast_ref::<LimitError>(),
                Some(LimitError::TimeLimitExceeded { .. })
            )
        }) || e.to_string().contains("exceeded time limit");
        if timed_out_here {
            timed_out(budget)
        } else {
            format!("evaluating {path}: {}", tidy_error(&e.to_string()))
        }
    })?;
    let value = results
        .result
        .into_iter()
        .next()
        .and_then(|r| r.expressions.into_iter().next())
        .map(|e| e.value);
    match value {
        None | Some(Value::Undefined) => Ok(None),
        Some(v) => serde_json::to_value(&v)
            .map(Some)
            .map_err(|e| format!("reading {path}: {e}")),
    }
}

fn timed_out(budget: Duration) -> String {
    format!("policy evaluation exceeded its {budget:?} time limit")
}

/// `data` followed by one or more identifiers, so it can be spliced into a query safely.
fn check_entrypoint(entrypoint: &str) -> Result<(), String> {
    let mut parts = entrypoint.split('.');
    let is_ident = |s: &str| {
        s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if parts.next() == Some("data") && parts.clone().next().is_some() && parts.all(is_ident) {
        Ok(())
    } else {
        Err(format!(
            "entrypoint {entrypoint:?} is not a rule path like data.cairn.promotion"
        ))
    }
}

/// Whether package `data.a.b` can hold rules under `entrypoint`: equal, or one inside the other. A
/// mistyped entrypoint then fails instead of finding no `deny` rules and allowing everything.
fn related(package: &str, entrypoint: &str) -> bool {
    let inside = |outer: &str, inner: &str| {
        inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
    };
    inside(package, entrypoint) || inside(entrypoint, package)
}
