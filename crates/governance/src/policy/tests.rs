//! Bundles of real Rego, evaluated as a promotion would.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::*;

const PROMOTION: &str = r#"package cairn.promotion

deny contains {"code": "metric_below_threshold", "msg": msg} if {
	auc := object.get(input.candidate.run.metrics, "auc", 0)
	auc < data.thresholds.auc
	msg := sprintf("auc %v is below %v", [auc, data.thresholds.auc])
}

deny contains "card is not approved" if { input.candidate.card.status != "approved" }

warn contains "old data" if { input.candidate.run.metrics.data_age_days > 90 }

required_approvals := 3 if input.candidate.card.risk_rating == "high"
"#;

const PROMOTION_TESTS: &str = r#"package cairn.promotion_test

import data.cairn.promotion

good := {"candidate": {"run": {"metrics": {"auc": 0.95}}, "card": {"status": "approved"}}}

thresholds := {"auc": 0.9}

# test_commented_out if { false }

test_good_candidate_passes if {
	count(promotion.deny) == 0 with input as good with data.thresholds as thresholds
}

test_low_auc_is_denied if {
	low := {"candidate": {"run": {"metrics": {"auc": 0.5}}, "card": {"status": "approved"}}}
	denials := promotion.deny with input as low with data.thresholds as thresholds
	denials == {{"code": "metric_below_threshold", "msg": "auc 0.5 is below 0.9"}}
}

test_wrong_on_purpose if {
	promotion.required_approvals == 3 with input as good
}

test_breaks if {
	1 / input.zero > 0 with input as {"zero": 0}
}
"#;

fn file(path: &str, source: &str) -> PolicyFile {
    PolicyFile {
        path: path.into(),
        source: source.into(),
    }
}

fn bundle() -> Bundle {
    Bundle::new(vec![
        file("promotion.rego", PROMOTION),
        file("promotion_test.rego", PROMOTION_TESTS),
    ])
    .unwrap()
}

fn data() -> Value {
    json!({"thresholds": {"auc": 0.9}})
}

const ENTRY: &str = "data.cairn.promotion";
const SECOND: Duration = Duration::from_secs(1);

fn candidate(auc: f64, status: &str, age_days: u32, risk: &str) -> Value {
    json!({"candidate": {
        "run": {"metrics": {"auc": auc, "data_age_days": age_days}},
        "card": {"status": status, "risk_rating": risk},
    }})
}

#[track_caller]
fn assert_policy_error(d: &Decision, words: &str) {
    assert!(!d.allow, "{d:?}");
    let error = d.error.as_deref().unwrap_or_default();
    assert!(error.contains(words), "{error:?} lacks {words:?}");
    assert_eq!(
        d.deny,
        [Violation {
            code: "policy_error".into(),
            msg: error.into()
        }]
    );
}

#[test]
fn a_good_candidate_is_allowed() {
    let d = bundle().evaluate(
        ENTRY,
        &candidate(0.95, "approved", 10, "low"),
        &data(),
        SECOND,
    );
    assert_eq!(
        (
            d.allow,
            d.deny.len(),
            d.warn.len(),
            d.required_approvals,
            d.error
        ),
        (true, 0, 0, None, None)
    );
}

#[test]
fn a_bad_candidate_is_denied_with_reasons() {
    let d = bundle().evaluate(
        ENTRY,
        &candidate(0.5, "draft", 120, "high"),
        &data(),
        SECOND,
    );
    assert!(!d.allow);
    assert_eq!(d.error, None);
    let mut deny: Vec<(String, String)> = d.deny.into_iter().map(|v| (v.code, v.msg)).collect();
    deny.sort();
    assert_eq!(
        deny,
        [
            ("deny".into(), "card is not approved".into()),
            (
                "metric_below_threshold".into(),
                "auc 0.5 is below 0.9".into()
            ),
        ]
    );
    assert_eq!(d.warn, ["old data"]);
    assert_eq!(d.required_approvals, Some(3));

    // A missing metric counts as 0, through object.get's default.
    let no_auc = json!({"candidate": {"run": {"metrics": {}}, "card": {"status": "approved"}}});
    let d = bundle().evaluate(ENTRY, &no_auc, &data(), SECOND);
    assert_eq!(d.deny[0].msg, "auc 0 is below 0.9");
}

#[test]
fn evaluations_do_not_leak_into_each_other() {
    let b = bundle();
    let bad = b.evaluate(ENTRY, &candidate(0.5, "draft", 1, "low"), &data(), SECOND);
    let good = b.evaluate(
        ENTRY,
        &candidate(0.95, "approved", 1, "low"),
        &data(),
        SECOND,
    );
    assert!(!bad.allow && good.allow);
    // Without the thresholds document the comparison is undefined, so nothing is denied for auc.
    let no_data = b.evaluate(
        ENTRY,
        &candidate(0.5, "approved", 1, "low"),
        &Value::Null,
        SECOND,
    );
    assert!(no_data.allow, "{no_data:?}");
}

#[test]
fn syntax_errors_are_reported_at_upload_with_their_position() {
    let source = "package cairn.promotion\n\ndeny contains \"x\" if {\n\tinput.a ==\n}\n";
    let err = Bundle::new(vec![
        file("ok.rego", PROMOTION),
        file("broken.rego", source),
    ])
    .unwrap_err();
    let PolicyError::Parse { path, message } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(path, "broken.rego");
    assert!(
        message.starts_with("broken.rego:5:1: expecting expression\n"),
        "{message}"
    );

    let unsafe_var = "package p\n\ndeny contains x if { y > 1 }\n";
    assert!(matches!(
        Bundle::new(vec![file("unsafe.rego", unsafe_var)]),
        Err(PolicyError::Compile(_))
    ));
    assert!(matches!(Bundle::new(vec![]), Err(PolicyError::Empty)));
    assert!(matches!(
        Bundle::new(vec![file("a.rego", PROMOTION), file("a.rego", PROMOTION)]),
        Err(PolicyError::DuplicatePath { .. })
    ));
}

#[test]
fn runtime_errors_deny() {
    let source = "package cairn.promotion\n\ndeny contains \"ratio\" if { 1 / input.zero > 2 }\n";
    let b = Bundle::new(vec![file("div.rego", source)]).unwrap();
    let d = b.evaluate(ENTRY, &json!({"zero": 0}), &Value::Null, SECOND);
    assert_policy_error(
        &d,
        "evaluating data.cairn.promotion.deny: div.rego:3:30: divide by zero",
    );

    let shape = "package cairn.promotion\n\ndeny contains 42 if { true }\n";
    let b = Bundle::new(vec![file("shape.rego", shape)]).unwrap();
    assert_policy_error(&b.evaluate(ENTRY, &json!({}), &Value::Null, SECOND), "42");
}

#[test]
fn a_runaway_policy_times_out_and_denies() {
    let source = r#"package cairn.promotion

deny contains "never" if {
	count([p | some i in numbers.range(1, 5000); some j in numbers.range(1, 5000); p := i * j; p < 0]) > 0
}
"#;
    let b = Bundle::new(vec![file("slow.rego", source)]).unwrap();
    let start = Instant::now();
    let d = b.evaluate(ENTRY, &json!({}), &Value::Null, Duration::from_millis(50));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_policy_error(&d, "time limit");
    assert!(d.eval_us >= 50_000, "{}", d.eval_us);
}

#[test]
fn a_wrong_entrypoint_or_input_denies_rather_than_allows() {
    let b = bundle();
    let good = candidate(0.95, "approved", 1, "low");
    assert_policy_error(
        &b.evaluate("data.cairn.promotoin", &good, &data(), SECOND),
        "no package",
    );
    assert_policy_error(
        &b.evaluate("data.x; true", &good, &data(), SECOND),
        "not a rule path",
    );
    assert_policy_error(
        &b.evaluate(ENTRY, &good, &json!([1]), SECOND),
        "data must be",
    );
    // A package with only some of the rules: the rest are simply undefined.
    let only_deny = "package cairn.promotion\n\ndeny contains \"x\" if { input.bad }\n";
    let b = Bundle::new(vec![file("d.rego", only_deny)]).unwrap();
    let d = b.evaluate(ENTRY, &json!({"bad": false}), &Value::Null, SECOND);
    assert!(
        d.allow && d.warn.is_empty() && d.required_approvals.is_none(),
        "{d:?}"
    );
}

#[test]
fn hash_depends_on_content_not_upload_order() {
    let a = file("a.rego", "package a\n");
    let b = file("b.rego", "package b\n");
    let h1 = Bundle::new(vec![a.clone(), b.clone()]).unwrap().hash();
    let h2 = Bundle::new(vec![b.clone(), a.clone()]).unwrap().hash();
    assert_eq!(h1, h2);
    assert!(h1.starts_with("sha256:") && h1.len() == 7 + 64, "{h1}");
    let h3 = Bundle::new(vec![a, file("b.rego", "package b\n\nx := 1\n")])
        .unwrap()
        .hash();
    assert_ne!(h1, h3);
    // The separators keep path and source apart.
    let h4 = Bundle::new(vec![file("x", "package ab\n")]).unwrap().hash();
    let h5 = Bundle::new(vec![file("xp", "ackage ab\n")]);
    assert!(h5.is_err() || h5.unwrap().hash() != h4);
    assert_eq!(bundle().files().len(), 2);
}

#[test]
fn runs_the_bundles_own_tests() {
    let results = bundle().run_tests();
    let summary: Vec<(&str, bool, bool)> = results
        .iter()
        .map(|r| (r.name.as_str(), r.passed, r.error.is_some()))
        .collect();
    assert_eq!(
        summary,
        [
            (
                "data.cairn.promotion_test.test_good_candidate_passes",
                true,
                false
            ),
            (
                "data.cairn.promotion_test.test_low_auc_is_denied",
                true,
                false
            ),
            (
                "data.cairn.promotion_test.test_wrong_on_purpose",
                false,
                false
            ),
            ("data.cairn.promotion_test.test_breaks", false, true),
        ],
        "{results:?}"
    );
}

#[test]
fn bundles_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Bundle>();
}
