//! What `cairn ci` writes for people and CI tools: a Markdown report for a pull-request comment (found
//! again by its hidden marker, under GitHub's 65,536-character limit, linking only to Cairn's own pages)
//! and JUnit XML with one test case per gate rule (and one per stage).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::gates::{Evaluated, Outcome};
use crate::report::{RunReport, StageStatus, exit};

/// GitHub refuses longer comments; the report stays below with room to spare.
pub const MAX_MARKDOWN: usize = 60_000;
/// Rows of a table before the rest is left to the linked run page.
const MAX_ROWS: usize = 200;
/// Longest text in one table cell.
const MAX_CELL: usize = 300;

/// Everything the reports show.
#[derive(Debug, Clone, Default)]
pub struct CiView<'a> {
    /// `--comment-key`: the hidden marker's key, so a bot edits one sticky comment.
    pub key: &'a str,
    pub pipeline: &'a str,
    /// The Cairn server (its web UI is served at `/`).
    pub server: &'a str,
    pub report: Option<&'a RunReport>,
    /// The gates as evaluated, in `gates:` order.
    pub gates: &'a [Evaluated],
    /// The alias compared against (`promote.alias`), and its version pinned when the gates started.
    pub baseline: Option<(&'a str, Option<i64>)>,
    /// Metrics of the run behind the pinned baseline, to show beside the candidate's.
    pub baseline_metrics: BTreeMap<String, f64>,
    /// What happened to the candidate, in words (`promoted churn v3 to @champion`).
    pub promotion_note: Option<String>,
    pub gate_evaluation_id: Option<i64>,
    /// The registered candidate: (model, version).
    pub candidate: Option<(&'a str, String)>,
    /// `--on-inconclusive neutral`.
    pub neutral: bool,
    /// Gates not evaluated (a stage failed, or infrastructure): their names, shown as skipped.
    pub not_evaluated: Vec<String>,
}

fn cell(s: &str) -> String {
    let mut t: String = s.replace(['\n', '\r'], " ").replace('|', "\\|");
    if t.len() > MAX_CELL {
        let mut end = MAX_CELL;
        while !t.is_char_boundary(end) {
            end -= 1;
        }
        t.truncate(end);
        t.push('…');
    }
    t
}

fn num(v: Option<f64>) -> String {
    match v {
        None => "—".to_owned(),
        Some(v) if v.is_nan() => "NaN".to_owned(),
        Some(v) => format!("{}", (v * 1e6).round() / 1e6),
    }
}

fn delta(candidate: Option<f64>, baseline: Option<f64>) -> String {
    match (candidate, baseline) {
        (Some(c), Some(b)) if c.is_finite() && b.is_finite() => {
            let d = (c - b) * 1e6;
            let d = d.round() / 1e6;
            if d >= 0.0 {
                format!("+{d}")
            } else {
                format!("−{}", -d)
            }
        }
        _ => "—".to_owned(),
    }
}

fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{} m {:02} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

/// A path segment of a link into Cairn's UI.
fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl CiView<'_> {
    fn run_link(&self, run_id: &str) -> String {
        format!("{}/runs/{}", self.server, seg(run_id))
    }

    /// ✅ passed, ❌ failed (gate, stage, infrastructure), ⚠️ inconclusive.
    fn title(&self) -> (char, String) {
        let code = self
            .report
            .map_or(exit::CONFIGURATION, RunReport::exit_code);
        match code {
            exit::OK => {
                let what = if self.gates.is_empty() {
                    "all stages succeeded".to_owned()
                } else {
                    "gates passed".to_owned()
                };
                ('✅', what)
            }
            exit::GATE_FAILED => match self.report.and_then(|r| r.promotion_refused.as_deref()) {
                Some(_) if self.gates.iter().all(|g| g.result.passed) => {
                    ('❌', "gates passed, promotion refused".to_owned())
                }
                _ if self
                    .gates
                    .iter()
                    .any(|g| g.outcome == Outcome::Inconclusive)
                    && !self.gates.iter().any(|g| g.outcome == Outcome::Failed) =>
                {
                    ('❌', "gate inconclusive".to_owned())
                }
                _ => ('❌', "gate failed".to_owned()),
            },
            exit::STAGE_FAILED => ('❌', "a stage failed".to_owned()),
            exit::INFRASTRUCTURE => ('❌', "infrastructure error".to_owned()),
            exit::INCONCLUSIVE => ('⚠', "gate inconclusive (neutral)".to_owned()),
            _ => ('❌', "configuration error".to_owned()),
        }
    }

    /// The Markdown report.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "<!-- cairn:ci key={} -->",
            self.key.replace("--", "- -")
        );
        let (mark, what) = self.title();
        let _ = writeln!(out, "### {mark} Cairn · {} · {what}", cell(self.pipeline));
        let _ = writeln!(out);
        if let Some((name, version)) = &self.candidate {
            let _ = write!(
                out,
                "candidate [**{} v{version}**]({}/models/{}/versions/{version})",
                cell(name),
                self.server,
                seg(name)
            );
        } else {
            let _ = write!(out, "candidate: not registered");
        }
        match self.baseline {
            Some((alias, Some(v))) => {
                let _ = write!(out, " vs `@{}` **v{v}**", cell(alias));
            }
            Some((alias, None)) => {
                let _ = write!(out, " vs `@{}` (no baseline yet)", cell(alias));
            }
            None => {}
        }
        let _ = writeln!(out);
        if let Some(note) = &self.promotion_note {
            let _ = writeln!(out);
            let _ = writeln!(out, "{}", cell(note));
        }
        if let Some(why) = self.report.and_then(|r| {
            r.infra_error
                .as_deref()
                .or(r.configuration_error.as_deref())
        }) {
            let _ = writeln!(out);
            let _ = writeln!(out, "**error:** {}", cell(why));
        }
        if !self.not_evaluated.is_empty() {
            let _ = writeln!(
                out,
                "\nGates not evaluated (the stages did not all succeed): {}",
                self.not_evaluated
                    .iter()
                    .take(MAX_ROWS)
                    .map(|g| format!("`{}`", cell(g).replace('`', "'")))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if !self.gates.is_empty() {
            let baseline_head = self
                .baseline
                .map_or("baseline".to_owned(), |(a, _)| format!("@{}", cell(a)));
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "| metric | candidate | {baseline_head} | Δ | rule | |\n|---|---|---|---|---|---|"
            );
            for g in self.gates.iter().take(MAX_ROWS) {
                let base = g
                    .result
                    .baseline
                    .or_else(|| self.baseline_metrics.get(&g.metric).copied());
                let mark = match g.outcome {
                    Outcome::Passed => "✓",
                    Outcome::Failed => "✗",
                    Outcome::Skipped => "✓ (skipped)",
                    Outcome::Inconclusive => "?",
                };
                // A comparison shows the threshold it came to; the note only where numbers cannot
                // say why (skipped for want of a baseline, a missing or NaN metric).
                let mut rule = cell(&g.rule);
                if g.result.baseline.is_some() {
                    rule = format!("{rule} = {}", num(g.result.threshold));
                }
                if let Some((lower, upper)) = g.interval {
                    rule = format!("{rule}; Δ interval [{:+.4}, {:+.4}]", lower, upper);
                }
                let unexplained = !g.result.observed.is_some_and(f64::is_finite);
                if g.outcome == Outcome::Skipped || (g.outcome == Outcome::Failed && unexplained) {
                    rule = format!("{rule} — {}", cell(&g.note));
                }
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {rule} | {mark} |",
                    cell(&g.metric),
                    num(g.result.observed),
                    num(base),
                    delta(g.result.observed, base),
                );
            }
            if self.gates.len() > MAX_ROWS {
                let _ = writeln!(
                    out,
                    "\n… {} more gates: see the gate record.",
                    self.gates.len() - MAX_ROWS
                );
            }
        }
        if let Some(report) = self.report
            && !report.stages.is_empty()
        {
            let count = |s: StageStatus| report.stages.iter().filter(|x| x.status == s).count();
            let total: u64 = report.stages.iter().map(|s| s.duration_ms).sum();
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "<details><summary>Stages: {} ran, {} cached, {} failed, {} skipped · {}</summary>\n",
                count(StageStatus::Ran),
                count(StageStatus::Cached),
                count(StageStatus::Failed),
                count(StageStatus::Skipped),
                duration(total)
            );
            let _ = writeln!(
                out,
                "| stage | result | why | time | run |\n|---|---|---|---|---|"
            );
            for s in report.stages.iter().take(MAX_ROWS) {
                let mark = match s.status {
                    StageStatus::Ran | StageStatus::Cached => "✅",
                    StageStatus::Failed => "❌",
                    StageStatus::Skipped => "⏭",
                };
                let run = s.run_id.as_deref().map_or("—".to_owned(), |r| {
                    format!("[{}]({})", &r[..r.len().min(8)], self.run_link(r))
                });
                let _ = writeln!(
                    out,
                    "| {} | {mark} {} | {} | {} | {run} |",
                    cell(&s.name),
                    s.status.as_str(),
                    cell(&s.reason),
                    duration(s.duration_ms)
                );
            }
            if report.stages.len() > MAX_ROWS {
                let _ = writeln!(
                    out,
                    "\n… {} more stages: see the pipeline run.",
                    report.stages.len() - MAX_ROWS
                );
            }
            let _ = writeln!(out, "\n</details>");
        }
        let mut links = Vec::new();
        if let Some(run) = self.report.and_then(|r| r.pipeline_run_id.as_deref()) {
            links.push(format!(
                "[pipeline run]({}/pipelines/runs/{})",
                self.server,
                seg(run)
            ));
        }
        if let Some((name, version)) = &self.candidate {
            links.push(format!(
                "[model version]({}/models/{}/versions/{version})",
                self.server,
                seg(name)
            ));
        }
        if let Some(id) = self.gate_evaluation_id {
            links.push(format!(
                "[gate record]({}/api/cairn/v1/gate-evaluations/{id})",
                self.server
            ));
        }
        if !links.is_empty() {
            let _ = writeln!(out, "\n{}", links.join(" · "));
        }
        if out.len() > MAX_MARKDOWN {
            let mut end = MAX_MARKDOWN - 200;
            while !out.is_char_boundary(end) {
                end -= 1;
            }
            out.truncate(end);
            out.push_str("\n\n… report truncated: see the pipeline run in Cairn.\n");
        }
        out
    }

    /// JUnit XML: suite `cairn.gates` with one test case per gate rule (a failed gate is a
    /// `<failure>`, a comparison skipped for want of a baseline is `<skipped>`), suite `cairn.stages`
    /// with one per stage.
    pub fn junit(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let gate_failures = self
            .gates
            .iter()
            .filter(|g| matches!(g.outcome, Outcome::Failed | Outcome::Inconclusive))
            .count();
        let stages = self.report.map_or(&[][..], |r| &r.stages[..]);
        let stage_failures = stages
            .iter()
            .filter(|s| s.status == StageStatus::Failed)
            .count();
        let _ = writeln!(
            out,
            "<testsuites name=\"cairn {}\" tests=\"{}\" failures=\"{}\">",
            xml(self.pipeline),
            self.gates.len() + self.not_evaluated.len() + stages.len(),
            gate_failures + stage_failures
        );
        let _ = writeln!(
            out,
            "  <testsuite name=\"cairn.gates\" tests=\"{}\" failures=\"{gate_failures}\" skipped=\"{}\">",
            self.gates.len() + self.not_evaluated.len(),
            self.gates
                .iter()
                .filter(|g| g.outcome == Outcome::Skipped)
                .count()
                + self.not_evaluated.len()
        );
        for name in &self.not_evaluated {
            let _ = writeln!(
                out,
                "    <testcase classname=\"cairn.gates\" name=\"{}\"><skipped message=\"not evaluated: the stages did not all succeed\"/></testcase>",
                xml(name)
            );
        }
        for g in self.gates {
            let name = xml(&g.result.name);
            let detail = format!(
                "{} {}: observed {}, baseline {}, threshold {} — {}",
                g.metric,
                g.rule,
                num(g.result.observed),
                num(g.result.baseline),
                num(g.result.threshold),
                g.note
            );
            match g.outcome {
                Outcome::Passed => {
                    let _ = writeln!(
                        out,
                        "    <testcase classname=\"cairn.gates\" name=\"{name}\"><system-out>{}</system-out></testcase>",
                        xml(&detail)
                    );
                }
                Outcome::Skipped => {
                    let _ = writeln!(
                        out,
                        "    <testcase classname=\"cairn.gates\" name=\"{name}\"><skipped message=\"{}\"/></testcase>",
                        xml(&g.note)
                    );
                }
                Outcome::Failed | Outcome::Inconclusive => {
                    let _ = writeln!(
                        out,
                        "    <testcase classname=\"cairn.gates\" name=\"{name}\"><failure message=\"{}\" type=\"{}\">{}</failure></testcase>",
                        xml(&g.note),
                        g.outcome.as_str(),
                        xml(&detail)
                    );
                }
            }
        }
        let _ = writeln!(out, "  </testsuite>");
        let _ = writeln!(
            out,
            "  <testsuite name=\"cairn.stages\" tests=\"{}\" failures=\"{stage_failures}\" skipped=\"{}\">",
            stages.len(),
            stages
                .iter()
                .filter(|s| s.status == StageStatus::Skipped)
                .count()
        );
        for s in stages {
            let head = format!(
                "    <testcase classname=\"cairn.stages\" name=\"{}\" time=\"{:.3}\">",
                xml(&s.name),
                s.duration_ms as f64 / 1000.0
            );
            let body = match s.status {
                StageStatus::Ran | StageStatus::Cached => format!(
                    "<system-out>{}: {}</system-out>",
                    s.status.as_str(),
                    xml(&s.reason)
                ),
                StageStatus::Failed => format!("<failure message=\"{}\"/>", xml(&s.reason)),
                StageStatus::Skipped => format!("<skipped message=\"{}\"/>", xml(&s.reason)),
            };
            let _ = writeln!(out, "{head}{body}</testcase>");
        }
        let _ = writeln!(out, "  </testsuite>");
        out.push_str("</testsuites>\n");
        out
    }
}

/// Text for an XML attribute or element; characters XML 1.0 forbids are dropped.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{GateResult, StageResult};

    fn gate(
        name: &str,
        metric: &str,
        observed: f64,
        baseline: Option<f64>,
        outcome: Outcome,
    ) -> Evaluated {
        Evaluated {
            result: GateResult {
                name: name.into(),
                passed: !matches!(outcome, Outcome::Failed | Outcome::Inconclusive),
                observed: Some(observed),
                threshold: baseline.or(Some(0.8)),
                baseline,
                inconclusive: outcome == Outcome::Inconclusive,
            },
            metric: metric.into(),
            rule: if baseline.is_some() {
                ">= @champion + 0".into()
            } else {
                ">= 0.8".into()
            },
            outcome,
            note: "why <it> | matters".into(),
            interval: None,
        }
    }

    fn report(gates: &[Evaluated]) -> RunReport {
        RunReport {
            pipeline_run_id: Some("abc123def456".into()),
            stages: vec![
                StageResult {
                    name: "prepare".into(),
                    status: StageStatus::Cached,
                    run_id: Some("r1".into()),
                    duration_ms: 12,
                    reason: "up to date".into(),
                },
                StageResult {
                    name: "train".into(),
                    status: StageStatus::Ran,
                    run_id: Some("r2".into()),
                    duration_ms: 75_500,
                    reason: "params.train.C 1.0 → 0.5".into(),
                },
            ],
            gates: gates.iter().map(|g| g.result.clone()).collect(),
            ..RunReport::default()
        }
    }

    #[test]
    fn markdown_has_the_marker_the_metrics_table_stages_and_own_links() {
        let gates = [
            gate("acc >= 0.8", "acc", 0.9, None, Outcome::Passed),
            gate("acc vs @champion", "acc", 0.9, Some(0.95), Outcome::Failed),
            gate("acc vs @first", "acc", 0.9, None, Outcome::Skipped),
        ];
        let r = report(&gates);
        let view = CiView {
            key: "churn",
            pipeline: "churn",
            server: "http://cairn:5000",
            report: Some(&r),
            gates: &gates,
            baseline: Some(("champion", Some(3))),
            candidate: Some(("churn", "4".into())),
            gate_evaluation_id: Some(7),
            ..CiView::default()
        };
        let md = view.markdown();
        assert!(
            md.starts_with("<!-- cairn:ci key=churn -->\n### ❌ Cairn · churn · gate failed\n"),
            "{md}"
        );
        assert!(
            md.contains("| metric | candidate | @champion | Δ | rule | |"),
            "{md}"
        );
        assert!(
            md.contains("| acc | 0.9 | 0.95 | −0.05 | >= @champion + 0 = 0.95 | ✗ |"),
            "{md}"
        );
        assert!(md.contains("| acc | 0.9 | — | — | >= 0.8 | ✓ |"), "{md}");
        assert!(md.contains("vs `@champion` **v3**"), "{md}");
        // A skipped comparison says why, with table-breaking characters escaped.
        assert!(
            md.contains("| acc | 0.9 | — | — | >= 0.8 — why <it> \\| matters | ✓ (skipped) |"),
            "{md}"
        );
        assert!(md.contains("| train | ✅ ran | params.train.C 1.0 → 0.5 | 1 m 15 s | [r2](http://cairn:5000/runs/r2) |"), "{md}");
        assert!(md.contains("1 ran, 1 cached"), "{md}");
        assert!(
            md.contains("[gate record](http://cairn:5000/api/cairn/v1/gate-evaluations/7)"),
            "{md}"
        );
        assert!(
            md.contains("[model version](http://cairn:5000/models/churn/versions/4)"),
            "{md}"
        );
        // Only Cairn's own pages are linked.
        for link in md.split("](").skip(1) {
            assert!(link.starts_with("http://cairn:5000/"), "{link}");
        }

        let passed = [gate("acc >= 0.8", "acc", 0.9, None, Outcome::Passed)];
        let r = report(&passed);
        let md = CiView {
            key: "k",
            pipeline: "p",
            report: Some(&r),
            gates: &passed,
            ..CiView::default()
        }
        .markdown();
        assert!(md.contains("### ✅ Cairn · p · gates passed"), "{md}");
    }

    #[test]
    fn markdown_stays_under_the_comment_limit() {
        let gates: Vec<Evaluated> = (0..5000)
            .map(|i| {
                gate(
                    &format!("g{i}"),
                    &"m".repeat(100),
                    0.5,
                    None,
                    Outcome::Failed,
                )
            })
            .collect();
        let mut r = report(&gates);
        for i in 0..5000 {
            let mut s = r.stages[0].clone();
            s.name = format!("stage{i}{}", "x".repeat(300));
            r.stages.push(s);
        }
        let md = CiView {
            key: "k",
            pipeline: "p",
            report: Some(&r),
            gates: &gates,
            ..CiView::default()
        }
        .markdown();
        assert!(md.len() <= 65_536, "{}", md.len());
        assert!(md.contains("more gates"));
    }

    #[test]
    fn junit_has_a_case_per_gate_and_stage() {
        let gates = [
            gate("a & b", "acc", 0.9, None, Outcome::Passed),
            gate("vs champion", "acc", 0.9, Some(0.95), Outcome::Failed),
            gate("first", "acc", 0.9, None, Outcome::Skipped),
        ];
        let r = report(&gates);
        let x = CiView {
            key: "k",
            pipeline: "p",
            report: Some(&r),
            gates: &gates,
            ..CiView::default()
        }
        .junit();
        assert!(
            x.contains("<testsuite name=\"cairn.gates\" tests=\"3\" failures=\"1\" skipped=\"1\">"),
            "{x}"
        );
        assert!(
            x.contains("<testcase classname=\"cairn.gates\" name=\"a &amp; b\"><system-out>"),
            "{x}"
        );
        assert!(x.contains("name=\"vs champion\"><failure message=\"why &lt;it&gt; | matters\" type=\"failed\">"), "{x}");
        assert!(x.contains("name=\"first\"><skipped"), "{x}");
        assert!(
            x.contains("<testcase classname=\"cairn.stages\" name=\"train\" time=\"75.500\">"),
            "{x}"
        );
        assert_eq!(x.matches("<testcase ").count(), 5);

        // Gates the run never reached are listed as skipped, so the check still shows them.
        let x = CiView {
            key: "k",
            pipeline: "p",
            report: Some(&r),
            not_evaluated: vec!["acc >= 0.8".into()],
            ..CiView::default()
        }
        .junit();
        assert!(
            x.contains("<testsuite name=\"cairn.gates\" tests=\"1\" failures=\"0\" skipped=\"1\">"),
            "{x}"
        );
        assert!(
            x.contains("name=\"acc &gt;= 0.8\"><skipped message=\"not evaluated"),
            "{x}"
        );
        assert_eq!(xml("a\u{1}b"), "ab");
    }
}
