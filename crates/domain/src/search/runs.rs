//! `runs/search` filters (MLflow's `SearchUtils`), and the identifier grammar that run ordering shares.
//!
//! Semantics follow MLflow's SQL store, which the reference server runs:
//! - A clause about a metric, param, tag or dataset a run lacks does not match (an inner join finds no
//!   row), whatever the comparator; only `IS NULL` matches a missing param or tag.
//! - Metrics compare the run's latest value. A NaN satisfies only `!=`, as IEEE 754 says and as
//!   MLflow 3.17's server answers (checked against it: `metrics.m < 1` does not match a NaN).
//!   Infinities are already clamped to ±f64::MAX when logged.
//! - `run_name` compares `RunInfo::run_name` (MLflow reads the `mlflow.runName` tag, which it keeps equal).
//! - `IN` lists for `run_id` drop values that are not lowercase, as MLflow does (run ids are lowercase
//!   hex, and MySQL's `IN` would otherwise ignore case).

use super::lexer::Ident;
use super::parser::{Clause, list_repr, parse_filter, set_repr};
use super::predicate::{
    KEY_VALUE_OPS, KeyTest, Lists, NumTest, STRING_LIST_OPS, StrTest, StringRules, numeric_test,
    required_string_test, string_test,
};
use crate::{DomainError, Run};

/// Attribute names a run filter or order may use, including MLflow's aliases.
const ATTRIBUTE_KEYS: &[&str] = &[
    "artifact_uri",
    "end_time",
    "run_id",
    "run_name",
    "start_time",
    "status",
    "user_id",
    "created",
    "Created",
    "run name",
    "Run name",
    "Run Name",
];

const DATASET_KEYS: &[&str] = &["name", "digest", "context"];

/// A run attribute that can be filtered or ordered on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunAttr {
    RunId,
    RunName,
    Status,
    UserId,
    ArtifactUri,
    StartTime,
    EndTime,
}

impl RunAttr {
    fn from_key(key: &str) -> Option<RunAttr> {
        Some(match key {
            "run_id" => RunAttr::RunId,
            "run_name" | "run name" | "Run name" | "Run Name" => RunAttr::RunName,
            "status" => RunAttr::Status,
            "user_id" => RunAttr::UserId,
            "artifact_uri" => RunAttr::ArtifactUri,
            "start_time" | "created" | "Created" => RunAttr::StartTime,
            "end_time" => RunAttr::EndTime,
            _ => return None,
        })
    }

    /// The value of a string attribute; `None` for the numeric ones.
    pub(crate) fn string_of(self, run: &Run) -> Option<&str> {
        Some(match self {
            RunAttr::RunId => run.info.run_id.as_str(),
            RunAttr::RunName => &run.info.run_name,
            RunAttr::Status => run.info.status.as_str(),
            RunAttr::UserId => &run.info.user_id,
            RunAttr::ArtifactUri => &run.info.artifact_uri,
            RunAttr::StartTime | RunAttr::EndTime => return None,
        })
    }

    /// The value of a time attribute (absent when unset); `None` for the string ones too.
    pub(crate) fn time_of(self, run: &Run) -> Option<i64> {
        match self {
            RunAttr::StartTime => run.info.start_time,
            RunAttr::EndTime => run.info.end_time,
            _ => None,
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, RunAttr::StartTime | RunAttr::EndTime)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetField {
    Name,
    Digest,
    Context,
}

/// What a run identifier names, aliases resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunField {
    Metric(String),
    Param(String),
    Tag(String),
    Attr(RunAttr),
    Dataset(DatasetField),
}

/// Resolves `<prefix>.<key>` (or a bare attribute) to the field it names.
pub(crate) fn resolve_run_field(ident: &Ident) -> Result<RunField, DomainError> {
    let key = ident.key();
    let entity = ident.entity().unwrap_or("attribute");
    Ok(match entity {
        "metric" | "metrics" => RunField::Metric(key.to_owned()),
        "parameter" | "parameters" | "param" | "params" => RunField::Param(key.to_owned()),
        "tag" | "tags" => RunField::Tag(key.to_owned()),
        "attribute" | "attributes" | "attr" | "run" => {
            RunField::Attr(RunAttr::from_key(key).ok_or_else(|| {
                DomainError::invalid(format!(
                    "Invalid attribute key '{key}' specified. Valid keys are '{}'",
                    set_repr(ATTRIBUTE_KEYS)
                ))
            })?)
        }
        "dataset" | "datasets" => RunField::Dataset(match key {
            "name" => DatasetField::Name,
            "digest" => DatasetField::Digest,
            "context" => DatasetField::Context,
            _ => {
                return Err(DomainError::invalid(format!(
                    "Invalid dataset key '{key}' specified. Valid keys are '{}'",
                    set_repr(DATASET_KEYS)
                )));
            }
        }),
        other => {
            return Err(DomainError::invalid(format!(
                "Invalid entity type '{other}'. Valid values are {}",
                list_repr(&["metric", "parameter", "tag", "attribute", "dataset"])
            )));
        }
    })
}

/// A parsed `runs/search` filter: a conjunction of clauses, each compiled once at parse time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunFilter {
    clauses: Vec<RunClause>,
}

/// One compiled clause of a run filter, for a store that evaluates filters itself (in SQL): it must
/// answer exactly as [`RunFilter::matches`] does.
#[derive(Debug, Clone, PartialEq)]
pub enum RunClause {
    Metric(String, NumTest),
    Param(String, KeyTest),
    Tag(String, KeyTest),
    Str(RunAttr, StrTest),
    Time(RunAttr, NumTest),
    Dataset(DatasetField, StrTest),
}

impl RunFilter {
    /// Parses a filter string. An empty or blank filter matches every run.
    pub fn parse(filter: &str) -> Result<RunFilter, DomainError> {
        let clauses = parse_filter(filter)?
            .iter()
            .map(compile)
            .collect::<Result<_, _>>()?;
        Ok(RunFilter { clauses })
    }

    /// The clauses, all of which a run must satisfy.
    pub fn clauses(&self) -> &[RunClause] {
        &self.clauses
    }

    /// Whether `run` satisfies every clause.
    pub fn matches(&self, run: &Run) -> bool {
        self.clauses.iter().all(|c| c.matches(run))
    }
    /// Adds the fields the clauses read.
    pub(crate) fn add_fields(&self, fields: &mut super::RunFields) {
        for clause in &self.clauses {
            match clause {
                RunClause::Metric(k, _) => fields.add(&RunField::Metric(k.clone())),
                RunClause::Param(k, _) => fields.add(&RunField::Param(k.clone())),
                RunClause::Tag(k, _) => fields.add(&RunField::Tag(k.clone())),
                RunClause::Dataset(f, _) => fields.add(&RunField::Dataset(*f)),
                RunClause::Str(..) | RunClause::Time(..) => {}
            }
        }
    }
}

fn compile(clause: &Clause) -> Result<RunClause, DomainError> {
    Ok(match resolve_run_field(&clause.ident)? {
        RunField::Metric(key) => {
            let test = numeric_test(clause, |v| {
                format!("Expected numeric value type for metric. Found {v}")
            })?;
            RunClause::Metric(key, test)
        }
        RunField::Param(key) => RunClause::Param(key, key_value_test(clause, "parameter")?),
        RunField::Tag(key) => RunClause::Tag(key, key_value_test(clause, "tag")?),
        RunField::Attr(attr) if attr.is_numeric() => {
            let test = numeric_test(clause, |v| {
                format!(
                    "Expected numeric value type for numeric attribute: {}. Found {v}",
                    clause.ident.key()
                )
            })?;
            RunClause::Time(attr, test)
        }
        RunField::Attr(attr) => {
            let lists = if attr == RunAttr::RunId {
                Lists::Allowed
            } else {
                Lists::Refused(
                    "Only the 'run_id' attribute supports comparison with a list of quoted string \
                     values.",
                )
            };
            let rules = StringRules {
                ops: STRING_LIST_OPS,
                lists,
                not_string: "Expected a quoted string value for attributes. Got value",
            };
            let mut test = required_string_test(clause, &rules)?;
            if attr == RunAttr::RunId {
                test.retain_listed(is_python_lower);
            }
            RunClause::Str(attr, test)
        }
        RunField::Dataset(field) => {
            let rules = StringRules {
                ops: STRING_LIST_OPS,
                lists: Lists::Allowed,
                not_string: "Expected a quoted string value for dataset attributes. Got value",
            };
            RunClause::Dataset(field, required_string_test(clause, &rules)?)
        }
    })
}

/// Params and tags: string comparators plus `IS [NOT] NULL`; `noun` names the entity in messages.
fn key_value_test(clause: &Clause, noun: &str) -> Result<KeyTest, DomainError> {
    let not_string =
        format!("Expected a quoted string value for {noun} (e.g. 'my-value'). Got value");
    string_test(
        clause,
        &StringRules {
            ops: KEY_VALUE_OPS,
            lists: Lists::NotAString,
            not_string: &not_string,
        },
    )
}

/// Python's `str.islower()`: at least one cased character, and no uppercase one.
fn is_python_lower(s: &str) -> bool {
    s.chars().any(char::is_lowercase) && !s.chars().any(char::is_uppercase)
}

impl RunClause {
    fn matches(&self, run: &Run) -> bool {
        match self {
            RunClause::Metric(key, test) => {
                run.data.metric(key).is_some_and(|m| test.test_f64(m.value))
            }
            RunClause::Param(key, test) => test.test(run.data.param(key)),
            RunClause::Tag(key, test) => test.test(run.data.tag(key)),
            RunClause::Str(attr, test) => attr.string_of(run).is_some_and(|v| test.test(v)),
            RunClause::Time(attr, test) => attr.time_of(run).is_some_and(|t| test.test_i64(t)),
            RunClause::Dataset(field, test) => run.inputs.dataset_inputs.iter().any(|d| {
                let value = match field {
                    DatasetField::Name => Some(d.dataset.name.as_str()),
                    DatasetField::Digest => Some(d.dataset.digest.as_str()),
                    DatasetField::Context => d.context(),
                };
                value.is_some_and(|v| test.test(v))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RunStatus;
    use crate::search::test_support::*;

    fn parse(filter: &str) -> RunFilter {
        RunFilter::parse(filter).unwrap_or_else(|e| panic!("{filter}: {e}"))
    }

    fn err(filter: &str) -> String {
        RunFilter::parse(filter).unwrap_err().to_string()
    }

    fn sample() -> Run {
        let r = run('a', Some(1_000));
        let r = with_metric(r, "acc", 0.9);
        let r = with_metric(r, "loss", -0.25);
        let r = with_metric(r, "my metric", 3.0);
        let r = with_param(r, "lr", "0.01");
        let r = with_param(r, "model type", "Logistic");
        let r = with_tag(r, "mlflow.runName", "run-a");
        let r = with_tag(r, "team", "Vision");
        with_dataset(r, "train-set", "abc123", Some("training"))
    }

    fn matches(filter: &str, run: &Run) -> bool {
        parse(filter).matches(run)
    }

    #[test]
    fn empty_filter_matches_everything() {
        assert!(matches("", &sample()));
        assert!(matches("  ", &Run::default()));
    }

    #[test]
    fn metric_comparators() {
        let r = sample();
        for (f, want) in [
            ("metrics.acc > 0.5", true),
            ("metrics.acc > 0.9", false),
            ("metrics.acc >= 0.9", true),
            ("metrics.acc < 1", true),
            ("metrics.acc <= 0.89", false),
            ("metrics.acc = 0.9", true),
            ("metrics.acc != 0.9", false),
            ("metrics.loss < -0.2", true),
            ("metrics.loss = -2.5e-1", true),
            ("metrics.acc > 9E-1", false),
        ] {
            assert_eq!(matches(f, &r), want, "{f}");
        }
    }

    #[test]
    fn missing_metric_never_matches() {
        let r = sample();
        assert!(!matches("metrics.f1 > 0", &r));
        assert!(!matches("metrics.f1 != 0", &r));
        assert!(!matches("metrics.f1 < 0", &r));
    }

    #[test]
    fn nan_metric_satisfies_only_not_equal() {
        let r = with_metric(run('b', Some(1)), "m", f64::NAN);
        assert!(!matches("metrics.m = 0", &r));
        assert!(!matches("metrics.m < 1", &r));
        assert!(!matches("metrics.m >= 0", &r));
        assert!(!matches("metrics.m > -1", &r));
        assert!(matches("metrics.m != 0", &r));
    }

    #[test]
    fn prefix_synonyms() {
        let r = sample();
        for f in [
            "metric.acc > 0.5",
            "metrics.acc > 0.5",
            "param.lr = '0.01'",
            "params.lr = '0.01'",
            "parameter.lr = '0.01'",
            "parameters.lr = '0.01'",
            "tag.team = 'Vision'",
            "tags.team = 'Vision'",
            "attribute.status = 'FINISHED'",
            "attributes.status = 'FINISHED'",
            "attr.status = 'FINISHED'",
            "run.status = 'FINISHED'",
            "status = 'FINISHED'",
            "dataset.name = 'train-set'",
            "datasets.name = 'train-set'",
            "`metrics`.acc > 0.5",
        ] {
            assert!(matches(f, &r), "{f}");
        }
    }

    #[test]
    fn quoted_keys() {
        let r = sample();
        assert!(matches("metrics.`my metric` = 3", &r));
        assert!(matches(r#"metrics."my metric" = 3"#, &r));
        assert!(matches(r#"params."model type" = 'Logistic'"#, &r));
        assert!(matches("params.`model type` LIKE 'Log%'", &r));
        assert!(matches("tags.mlflow.runName = 'run-a'", &r));
        assert!(matches("tags.`mlflow.runName` = 'run-a'", &r));
    }

    #[test]
    fn quoted_values_are_kept_verbatim_like_mlflow() {
        // MLflow strips the outer quotes and nothing else, so a doubled quote stays doubled.
        let r = with_param(run('b', None), "p", "it''s");
        assert!(matches("params.p = 'it''s'", &r));
        let r = with_param(run('c', None), "p", "it's");
        assert!(!matches("params.p = 'it''s'", &r));
        assert!(matches(r#"params.p = "it's""#, &r));
        assert!(matches("params.p LIKE 'it%'", &r));
    }

    #[test]
    fn string_values_may_be_double_quoted() {
        let r = sample();
        assert!(matches(r#"params.lr = "0.01""#, &r));
        assert!(matches(r#"attributes.status = "FINISHED""#, &r));
    }

    #[test]
    fn param_and_tag_comparators() {
        let r = sample();
        for (f, want) in [
            ("params.lr = '0.01'", true),
            ("params.lr = '0.010'", false),
            ("params.lr != '0.02'", true),
            ("params.lr != '0.01'", false),
            ("params.`model type` LIKE 'log%'", false),
            ("params.`model type` ILIKE 'log%'", true),
            ("tags.team LIKE 'V_sion'", true),
            ("tags.team LIKE 'v_sion'", false),
            ("tags.team ILIKE 'v_sion'", true),
            ("tags.team ILIKE '%ISION'", true),
        ] {
            assert_eq!(matches(f, &r), want, "{f}");
        }
    }

    #[test]
    fn missing_params_and_tags_follow_sql_null_semantics() {
        let r = sample();
        assert!(!matches("params.absent = 'x'", &r));
        assert!(!matches("params.absent != 'x'", &r));
        assert!(!matches("tags.absent LIKE '%'", &r));
        assert!(matches("params.absent IS NULL", &r));
        assert!(!matches("params.lr IS NULL", &r));
        assert!(matches("tags.team IS NOT NULL", &r));
        assert!(!matches("tags.absent is not null", &r));
    }

    #[test]
    fn string_attributes() {
        let r = sample();
        let id = r.info.run_id.as_str().to_owned();
        for (f, want) in [
            (format!("attributes.run_id = '{id}'"), true),
            ("run_id = 'x'".into(), false),
            ("attributes.run_name = 'run-a'".into(), true),
            ("attributes.`run name` = 'run-a'".into(), true),
            (r#""Run Name" ILIKE 'RUN-%'"#.into(), true),
            ("attributes.`Run name` LIKE 'run%'".into(), true),
            ("status != 'RUNNING'".into(), true),
            ("status = 'finished'".into(), false),
            ("user_id = 'alice'".into(), true),
            ("artifact_uri LIKE 'file:///mlruns/1/%'".into(), true),
        ] {
            assert_eq!(matches(&f, &r), want, "{f}");
        }
    }

    #[test]
    fn run_id_in_lists() {
        let a = run('a', Some(1));
        let b = run('b', Some(2));
        let (ia, ib) = (a.info.run_id.to_string(), b.info.run_id.to_string());
        let f = parse(&format!("run_id IN ('{ia}', '{}')", "c".repeat(32)));
        assert!(f.matches(&a));
        assert!(!f.matches(&b));
        let f = parse(&format!("attributes.run_id NOT IN ('{ia}')"));
        assert!(!f.matches(&a));
        assert!(f.matches(&b));
        // Upper-case ids are dropped from the list, as MLflow does.
        let f = parse(&format!("run_id IN ('{}')", ib.to_uppercase()));
        assert!(!f.matches(&b));
        let f = parse(&format!("run_id NOT IN ('{}', '{ia}')", ib.to_uppercase()));
        assert!(f.matches(&b));
    }

    #[test]
    fn lists_only_for_run_id() {
        assert_eq!(
            err("status IN ('FINISHED')"),
            "Only the 'run_id' attribute supports comparison with a list of quoted string values."
        );
    }

    #[test]
    fn numeric_attributes() {
        let mut r = sample();
        for (f, want) in [
            ("start_time = 1000", true),
            ("attributes.start_time > 999", true),
            ("start_time < 1000", false),
            ("created >= 1000", true),
            ("Created != 1000", false),
            ("attributes.created <= 1000.5", true),
            ("end_time > 0", false),
            ("end_time != 5", false),
        ] {
            assert_eq!(matches(f, &r), want, "{f}");
        }
        r.info.end_time = Some(2_000);
        assert!(matches("end_time > 1500", &r));
        r.info.start_time = None;
        assert!(!matches("start_time != 5", &r));
    }

    #[test]
    fn dataset_clauses_match_any_input() {
        let r = with_dataset(sample(), "eval-set", "ffff", Some("evaluation"));
        let r = with_dataset(r, "raw", "0000", None);
        for (f, want) in [
            ("dataset.name = 'eval-set'", true),
            ("dataset.name = 'nope'", false),
            ("dataset.name != 'train-set'", true),
            ("dataset.digest LIKE 'abc%'", true),
            ("dataset.context = 'evaluation'", true),
            ("dataset.context ILIKE 'TRAIN%'", true),
            ("dataset.context = 'testing'", false),
            ("dataset.name IN ('raw', 'x')", true),
            ("dataset.digest NOT IN ('abc123', 'ffff', '0000')", false),
            ("dataset.context IN ('Training')", false),
        ] {
            assert_eq!(matches(f, &r), want, "{f}");
        }
        // Unlike run ids, dataset list values keep their case.
        let upper = with_dataset(run('e', None), "Raw", "0000", None);
        assert!(matches("dataset.name IN ('Raw')", &upper));
        assert!(!matches("dataset.name IN ('raw')", &upper));
        // A run without datasets matches no dataset clause, not even a negative one.
        assert!(!matches("dataset.name != 'x'", &run('c', None)));
        // Inputs without a context tag never satisfy a context clause.
        let only_raw = with_dataset(run('d', None), "raw", "0000", None);
        assert!(!matches("dataset.context != 'x'", &only_raw));
    }

    #[test]
    fn and_is_case_insensitive_conjunction() {
        let r = sample();
        assert!(matches("metrics.acc > 0.5 AND params.lr = '0.01'", &r));
        assert!(matches(
            "metrics.acc > 0.5 and params.lr = '0.01' aNd tags.team = 'Vision'",
            &r
        ));
        assert!(!matches("metrics.acc > 0.5 AND params.lr = '0.02'", &r));
        assert!(!matches("metrics.acc > 0.95 and params.lr = '0.01'", &r));
    }

    #[test]
    fn status_compares_mlflow_names() {
        let mut r = sample();
        r.info.status = RunStatus::Killed;
        assert!(matches("status = 'KILLED'", &r));
        assert!(!matches("status = 'FINISHED'", &r));
    }

    #[test]
    fn value_type_errors() {
        assert_eq!(
            err("metrics.acc > 'high'"),
            "Expected numeric value type for metric. Found 'high'"
        );
        assert_eq!(
            err("params.lr = 0.01"),
            "Expected a quoted string value for parameter (e.g. 'my-value'). Got value 0.01"
        );
        assert_eq!(
            err("tags.t = 5"),
            "Expected a quoted string value for tag (e.g. 'my-value'). Got value 5"
        );
        assert_eq!(
            err("status = 3"),
            "Expected a quoted string value for attributes. Got value 3"
        );
        assert_eq!(
            err("start_time > 'yesterday'"),
            "Expected numeric value type for numeric attribute: start_time. Found 'yesterday'"
        );
        assert_eq!(
            err("created > 'x'"),
            "Expected numeric value type for numeric attribute: created. Found 'x'"
        );
        assert_eq!(
            err("dataset.name = 1"),
            "Expected a quoted string value for dataset attributes. Got value 1"
        );
        assert_eq!(
            err("params.lr = abc"),
            "Parameter value is either not quoted or unidentified quote types used for string value \
             abc. Use either single or double quotes."
        );
        assert!(err("params.lr = `abc`").starts_with("Parameter value is either not quoted"));
        assert!(
            err("params.lr IN ('a')").starts_with("Expected a quoted string value for parameter")
        );
    }

    #[test]
    fn comparator_errors() {
        assert_eq!(
            err("metrics.acc >>> 1"),
            "Invalid comparator '>>>' not one of '{'=', '!=', '>', '>=', '<', '<='}'"
        );
        assert_eq!(
            err("params.lr > '1'"),
            "Invalid comparator '>' not one of '{'=', '!=', 'LIKE', 'ILIKE', 'IS NULL', 'IS NOT NULL'}'"
        );
        assert_eq!(
            err("status < 'x'"),
            "Invalid comparator '<' not one of '{'=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN'}'"
        );
        assert!(err("start_time LIKE 1").starts_with("Invalid comparator 'LIKE'"));
        assert!(err("metrics.acc IS NULL").starts_with("Invalid comparator 'IS NULL'"));
        assert!(err("status IS NULL").starts_with("Invalid comparator 'IS NULL'"));
        assert!(err("params.a NOT LIKE 'x'").starts_with("Invalid comparator 'NOT LIKE'"));
        assert!(err("metrics.a == 1").starts_with("Invalid comparator '=='"));
    }

    #[test]
    fn identifier_errors() {
        assert_eq!(
            err("foo.bar = 'x'"),
            "Invalid entity type 'foo'. Valid values are ['metric', 'parameter', 'tag', \
             'attribute', 'dataset']"
        );
        assert_eq!(
            err("Metrics.acc > 1"),
            "Invalid entity type 'Metrics'. Valid values are ['metric', 'parameter', 'tag', \
             'attribute', 'dataset']"
        );
        assert_eq!(
            err("lifecycle_stage = 'active'"),
            "Invalid attribute key 'lifecycle_stage' specified. Valid keys are '{'artifact_uri', \
             'end_time', 'run_id', 'run_name', 'start_time', 'status', 'user_id', 'created', \
             'Created', 'run name', 'Run name', 'Run Name'}'"
        );
        assert!(
            err("attributes.nope = 'x'").starts_with("Invalid attribute key 'nope' specified.")
        );
        assert_eq!(
            err("dataset.source = 'x'"),
            "Invalid dataset key 'source' specified. Valid keys are '{'name', 'digest', 'context'}'"
        );
    }

    #[test]
    fn structural_errors() {
        assert_eq!(
            err("metrics.a > 1 OR metrics.b > 1"),
            "Invalid clause(s) in filter string: 'OR'"
        );
        assert_eq!(
            err("(metrics.a > 1)"),
            "Invalid clause(s) in filter string: '('"
        );
        assert!(err("metrics.a >").starts_with("Invalid clause(s) in filter string"));
    }
}
