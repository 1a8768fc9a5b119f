//! `cairn maturity [MODEL]`: where each model stands on the six MLOps maturity levels, from evidence.

use anyhow::Context;
use cairn_contract::{MaturityDto, MaturityListResponse};
use clap::Args;

use crate::client::client;

#[derive(Debug, Args)]
pub struct MaturityCommand {
    /// One registered model: its six rungs, the evidence found, what is missing and the next step.
    /// Without it, every model and the organisation roll-up.
    model: Option<String>,
    /// The Cairn server [default: MLFLOW_TRACKING_URI when it is an http(s) URL, else
    /// http://127.0.0.1:5000].
    #[arg(long, env = "CAIRN_SERVER")]
    server: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn run(cmd: MaturityCommand) -> anyhow::Result<()> {
    let client = client(cmd.server.as_deref());
    match &cmd.model {
        Some(model) => {
            let m = client
                .model_maturity(model)
                .await
                .with_context(|| format!("model '{model}'"))?;
            if cmd.json {
                println!("{}", serde_json::to_string_pretty(&m)?);
            } else {
                print!("{}", ladder(&m));
            }
        }
        None => {
            let all = client.maturity().await?;
            if cmd.json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                print!("{}", overview(&all));
            }
        }
    }
    Ok(())
}

/// One model's ladder, top rung last.
fn ladder(m: &MaturityDto) -> String {
    let mut out = match m.levels.iter().find(|l| l.level == m.level) {
        Some(l) => format!(
            "{}: level {} — {} (automation: {}; outcome: {})\n",
            m.model, m.level, l.name, m.automation, m.outcome
        ),
        None => format!("{}: level 0 — no rung reached yet\n", m.model),
    };
    for l in &m.levels {
        let mark = if l.reached { '✓' } else { '✗' };
        out.push_str(&format!("  {mark} {} {}\n", l.level, l.name));
        for e in &l.evidence {
            out.push_str(&format!("      evidence: {e}\n"));
        }
        for missing in &l.missing {
            out.push_str(&format!("      missing:  {missing}\n"));
        }
    }
    for r in &m.history {
        out.push_str(&format!(
            "  reached level {} at {} (change log seq {})\n",
            r.level,
            crate::client::time(Some(r.timestamp_ms)),
            r.seq
        ));
    }
    if !m.next_step.is_empty() {
        out.push_str(&format!("next step: {}\n", m.next_step));
    }
    out
}

/// Every model, then the roll-up.
fn overview(all: &MaturityListResponse) -> String {
    if all.models.is_empty() {
        return "No registered models yet: log and register one (level 1 needs a version from a \
                tracked run).\n"
            .to_owned();
    }
    let width = all
        .models
        .iter()
        .map(|m| m.model.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut out = format!(
        "{:width$}  LEVEL  AUTOMATION  OUTCOME  /  NEXT STEP\n",
        "MODEL"
    );
    for m in &all.models {
        let automation = if m.automation.is_empty() {
            "-"
        } else {
            &m.automation
        };
        let outcome = if m.outcome.is_empty() {
            "-"
        } else {
            &m.outcome
        };
        out.push_str(&format!(
            "{:width$}  {:>5}  {automation:10}  {outcome}  /  {}\n",
            m.model, m.level, m.next_step
        ));
    }
    let counts: Vec<String> = all
        .per_level
        .iter()
        .enumerate()
        .map(|(level, n)| format!("{level}: {n}"))
        .collect();
    out.push_str(&format!("models per level — {}\n", counts.join(", ")));
    out
}
