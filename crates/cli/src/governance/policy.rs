//! `cairn policy …`: the Rego policy evaluated at every promotion request and apply. `test` and `eval`
//! run offline with the same engine the server uses; `set`, `show`, `clear`, `decisions` talk to it.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use cairn_governance::policy::{Bundle, PolicyFile};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::{api, call, print_json, s};

#[derive(Debug, Args)]
pub struct PolicyCommand {
    /// The Cairn server [default: MLFLOW_TRACKING_URI when http(s), else http://127.0.0.1:5000].
    #[arg(long, env = "CAIRN_SERVER", global = true)]
    server: Option<String>,
    #[command(subcommand)]
    command: PolicySub,
}

#[derive(Debug, Subcommand)]
enum PolicySub {
    /// Run every `test_*` rule of the files (offline). Exit 1 when one fails.
    Test {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Evaluate the policy on an input document (offline): prints the decision. Exit 1 when it denies.
    Eval {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The input document (JSON), e.g. a stored decision's input.
        #[arg(long)]
        input: PathBuf,
        /// Data the policy reads as `data` (JSON).
        #[arg(long)]
        data: Option<PathBuf>,
        #[arg(long, default_value = "data.cairn.promotion")]
        entrypoint: String,
    },
    /// Make these files the server's active policy (admin).
    Set {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long, default_value = "data.cairn.promotion")]
        entrypoint: String,
    },
    /// The active policy.
    Show,
    /// Deactivate the policy (admin): promotions are then decided by approvals alone.
    Clear,
    /// Stored decisions with the inputs they saw (auditor).
    Decisions {
        #[arg(long)]
        promotion: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

fn read_files(paths: &[PathBuf]) -> Result<Vec<PolicyFile>> {
    paths
        .iter()
        .map(|p| {
            Ok(PolicyFile {
                path: p.file_name().map_or_else(
                    || p.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                ),
                source: std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?,
            })
        })
        .collect()
}

fn read_json(p: &PathBuf) -> Result<Value> {
    let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", p.display()))
}

/// Runs the command; `Ok(false)` when a test failed or the evaluation denied (exit 1).
pub async fn policy(cmd: PolicyCommand) -> Result<bool> {
    match cmd.command {
        PolicySub::Test { files } => {
            let bundle = Bundle::new(read_files(&files)?).map_err(|e| anyhow::anyhow!("{e}"))?;
            let results = bundle.run_tests();
            if results.is_empty() {
                bail!(
                    "no test_* rules in {}",
                    files
                        .iter()
                        .map(|f| f.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            let failed = results.iter().filter(|r| !r.passed).count();
            for r in &results {
                let mark = if r.passed { "PASS" } else { "FAIL" };
                println!(
                    "{mark}  {}{}",
                    r.name,
                    r.error
                        .as_deref()
                        .map_or(String::new(), |e| format!(": {e}"))
                );
            }
            println!("{} passed, {failed} failed", results.len() - failed);
            Ok(failed == 0)
        }
        PolicySub::Eval {
            files,
            input,
            data,
            entrypoint,
        } => {
            let bundle = Bundle::new(read_files(&files)?).map_err(|e| anyhow::anyhow!("{e}"))?;
            let data = data
                .as_ref()
                .map(read_json)
                .transpose()?
                .unwrap_or_else(|| json!({}));
            let d = bundle.evaluate(
                &entrypoint,
                &read_json(&input)?,
                &data,
                std::time::Duration::from_millis(250),
            );
            print_json(&serde_json::to_value(&d)?)?;
            Ok(d.allow)
        }
        PolicySub::Set { files, entrypoint } => {
            let files = read_files(&files)?;
            let body = json!({"files": files.iter().map(|f| json!({"path": f.path, "source": f.source})).collect::<Vec<_>>(), "entrypoint": entrypoint});
            let v = call(
                &api(cmd.server.as_deref()),
                Method::PUT,
                "/policy",
                &[],
                Some(&body),
            )
            .await?;
            println!(
                "policy {} active ({})",
                s(&v["policy"]["hash"]),
                s(&v["policy"]["entrypoint"])
            );
            Ok(true)
        }
        PolicySub::Show => {
            let v = call(
                &api(cmd.server.as_deref()),
                Method::GET,
                "/policy",
                &[],
                None,
            )
            .await?;
            print_json(&v)?;
            Ok(true)
        }
        PolicySub::Clear => {
            call(
                &api(cmd.server.as_deref()),
                Method::DELETE,
                "/policy",
                &[],
                None,
            )
            .await?;
            println!("no policy is active");
            Ok(true)
        }
        PolicySub::Decisions { promotion, json } => {
            let q: Vec<(&str, String)> = promotion.map(|p| ("promotion", p)).into_iter().collect();
            let v = call(
                &api(cmd.server.as_deref()),
                Method::GET,
                "/policy/decisions",
                &q,
                None,
            )
            .await?;
            if json {
                print_json(&v)?;
                return Ok(true);
            }
            for d in v["decisions"].as_array().into_iter().flatten() {
                let deny: Vec<String> = d["result"]["deny"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|x| s(&x["msg"]))
                    .collect();
                println!(
                    "{}  {}  {}  {}  {}{}",
                    s(&d["id"]),
                    crate::client::time(d["at_ms"].as_i64()),
                    s(&d["action"]),
                    s(&d["promotion_id"]),
                    if d["allow"] == true { "allow" } else { "deny" },
                    if deny.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", deny.join("; "))
                    }
                );
            }
            Ok(true)
        }
    }
}
