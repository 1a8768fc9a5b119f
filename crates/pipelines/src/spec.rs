//! The pipeline as parsed: stages (after `${}` interpolation and `foreach` expansion, with every path
//! resolved to a project-relative one), gates, promotion and triggers. Positions are kept so later
//! checks (the DAG, params that do not exist) can still name `file:line:col`.

use crate::error::Pos;

/// A parsed `cairn.yaml` / `dvc.yaml`.
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    /// `name:`, else the project directory's name.
    pub name: String,
    /// The default params file (`params.yaml`), project-relative.
    pub params_file: String,
    /// Stages in file order (a `foreach` stage expands in place to `name@key`, one per item).
    pub stages: Vec<Stage>,
    pub gates: Vec<Gate>,
    pub promote: Option<Promote>,
    pub triggers: Vec<Trigger>,
}

impl Pipeline {
    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.name == name)
    }
}

/// A path written in the file, resolved, and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRef {
    /// Project-relative, normalised (see [`crate::paths::resolve`]).
    pub path: String,
    pub pos: Pos,
}

/// A declared param: a key path in a params file, or a whole file (`key` empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamRef {
    /// Project-relative params file.
    pub file: String,
    pub key: String,
    pub pos: Pos,
}

impl ParamRef {
    /// How the param is named in the cache manifest, explanations and MLflow params: the key path for
    /// the stage's default file (`train.C`), `file:key` for others.
    pub fn display_key(&self, default_file: &str, key: &str) -> String {
        if self.file == default_file {
            key.to_owned()
        } else {
            format!("{}:{key}", self.file)
        }
    }
}

/// The code scope: which project files, besides the deps, a stage's result depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeScope {
    /// The default: every file of the project that git would not ignore, except the declared deps of
    /// any stage, the outs and metrics of every stage, params files and the pipeline file (each of
    /// those is already covered by the key through the DAG or the declared params).
    Project,
    /// `code:` globs, project-relative (a directory stands for everything below it).
    Globs(Vec<String>),
}

/// One stage.
#[derive(Debug, Clone)]
pub struct Stage {
    /// `prepare`, or `train@us` for an item of a `foreach`.
    pub name: String,
    /// Where the stage's key is in the file.
    pub pos: Pos,
    /// Commands after interpolation, run in order in `wdir` (a list runs each; the first failure stops).
    pub cmd: Vec<String>,
    /// Project-relative working directory (`.` is the root).
    pub wdir: String,
    pub deps: Vec<PathRef>,
    pub params: Vec<ParamRef>,
    /// Declared outputs, including `metrics` and `plots`: all are cached and restored.
    pub outs: Vec<PathRef>,
    /// Metrics files (also in `outs`): flat JSON (or YAML) of name → number.
    pub metrics: Vec<PathRef>,
    pub code: CodeScope,
    /// Names of environment variables whose values are part of the cache key.
    pub env: Vec<String>,
    /// An environment lock file (`uv.lock`, `requirements.txt`) hashed into the key.
    pub lock: Option<PathRef>,
    /// dvc's `frozen: true`: never run, outputs taken as they are.
    pub frozen: bool,
    /// dvc's `always_changed: true`: run every time (downstream may still hit through identical outs).
    pub always_changed: bool,
    /// `timeout`, `retry`, `executor` (not in the key).
    pub policy: crate::run_policy::RunPolicy,
}

/// A comparison operator of an absolute gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
    Ne,
}

impl Op {
    pub fn parse(s: &str) -> Option<Op> {
        Some(match s {
            ">=" => Op::Ge,
            ">" => Op::Gt,
            "<=" => Op::Le,
            "<" => Op::Lt,
            "==" => Op::Eq,
            "!=" => Op::Ne,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Ge => ">=",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Lt => "<",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }

    /// Does `observed op threshold` hold? NaN never does.
    pub fn holds(self, observed: f64, threshold: f64) -> bool {
        match self {
            Op::Ge => observed >= threshold,
            Op::Gt => observed > threshold,
            Op::Le => observed <= threshold,
            Op::Lt => observed < threshold,
            Op::Eq => observed == threshold,
            Op::Ne => !observed.is_nan() && observed != threshold,
        }
    }
}

/// What a gate checks.
#[derive(Debug, Clone, PartialEq)]
pub enum GateRule {
    /// `metric op value`.
    Absolute { op: Op, value: f64 },
    /// The candidate against the model behind an alias of `promote.name`: `cand ≥ base + min_delta`.
    CompareTo { alias: String, min_delta: f64 },
}

/// One item of `gates:`.
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    /// `name:`, else a description of the rule (`accuracy >= 0.8`).
    pub name: String,
    pub metric: String,
    pub rule: GateRule,
    /// `confidence:` on a comparison: decided by a paired bootstrap, not by the two numbers.
    pub confidence: Option<Confidence>,
    pub pos: Pos,
}

/// A comparison decided with confidence, on per-example scores of `dataset` paired between the
/// candidate and the baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Confidence {
    /// The interval's level, in (0, 1): `0.95`.
    pub level: f64,
    pub dataset: PathRef,
    pub scoring: Scoring,
}

/// Where the per-example scores come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Scoring {
    /// `per_example:` an out holding a JSON list of one score per example of the dataset, in its order
    /// (1/0 for correct); the baseline's are those kept with its version, paired when both scored data
    /// of one content digest.
    PerExample(PathRef),
    /// `label:` the dataset's label column: Cairn scores both models (ONNX, on its runtime) on the
    /// dataset's other columns, 1 per correctly predicted row.
    Onnx { label: String },
}

/// `promote:`: which out to register, under which name, and the alias moved when every gate passes.
#[derive(Debug, Clone, PartialEq)]
pub struct Promote {
    /// Project-relative path of an out holding an MLflow model directory or an `.onnx` file.
    pub model: PathRef,
    pub name: String,
    pub alias: Option<String>,
    pub candidate_alias: Option<String>,
    pub pos: Pos,
}

/// One entry of `triggers:` (scheduled by the server; the format is the domain's).
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    pub name: String,
    pub spec: cairn_domain::trigger::TriggerSpec,
    pub pos: Pos,
}
