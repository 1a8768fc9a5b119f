//! `cairn protect …` and `cairn promote …`: protected aliases, and the promotion requests that are
//! the only way to move them (N distinct approvers, none of them the requester or the version's
//! creator; applied at the N-th approval).

use anyhow::Result;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::{api, call, print_json, s};

#[derive(Debug, Args)]
pub struct ProtectCommand {
    /// The Cairn server [default: MLFLOW_TRACKING_URI when http(s), else http://127.0.0.1:5000].
    #[arg(long, env = "CAIRN_SERVER", global = true)]
    server: Option<String>,
    #[command(subcommand)]
    command: ProtectSub,
}

#[derive(Debug, Subcommand)]
enum ProtectSub {
    /// Protect an alias (or a stage, e.g. Production) of the models matching MODEL_GLOB (admin): it then
    /// moves only by an approved promotion request.
    Set {
        model_glob: String,
        #[arg(long)]
        alias: String,
        /// Distinct approvers needed.
        #[arg(long, default_value_t = 1)]
        approvals: i64,
    },
    /// Every protection.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a protection (admin).
    Remove {
        model_glob: String,
        #[arg(long)]
        alias: String,
    },
}

pub async fn protect(cmd: ProtectCommand) -> Result<()> {
    let c = api(cmd.server.as_deref());
    match cmd.command {
        ProtectSub::Set {
            model_glob,
            alias,
            approvals,
        } => {
            call(
                &c,
                Method::POST,
                "/protections",
                &[],
                Some(&json!({"models": model_glob, "alias": alias, "approvals": approvals})),
            )
            .await?;
            println!("@{alias} of {model_glob} is protected: {approvals} approval(s) to move it");
        }
        ProtectSub::List { json } => {
            let v = call(&c, Method::GET, "/protections", &[], None).await?;
            if json {
                return print_json(&v);
            }
            for p in v["protections"].as_array().into_iter().flatten() {
                println!(
                    "{}  @{}  {} approval(s)  by {}",
                    s(&p["models"]),
                    s(&p["alias"]),
                    s(&p["approvals"]),
                    s(&p["created_by"])
                );
            }
        }
        ProtectSub::Remove { model_glob, alias } => {
            let v = call(
                &c,
                Method::DELETE,
                "/protections",
                &[],
                Some(&json!({"models": model_glob, "alias": alias})),
            )
            .await?;
            println!(
                "{}",
                if v["removed"] == true {
                    "removed"
                } else {
                    "no such protection"
                }
            );
        }
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct PromoteCommand {
    /// The Cairn server [default: MLFLOW_TRACKING_URI when http(s), else http://127.0.0.1:5000].
    #[arg(long, env = "CAIRN_SERVER", global = true)]
    server: Option<String>,
    #[command(subcommand)]
    command: PromoteSub,
}

#[derive(Debug, Subcommand)]
enum PromoteSub {
    /// Ask for VERSION of MODEL to take the protected ALIAS. Prints `{"id", "state"}` with --json.
    Request {
        model: String,
        version: i64,
        #[arg(long)]
        alias: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Approve a request (the approver role on the model; not its requester nor the version's
    /// creator). The N-th approval applies it.
    Approve {
        id: String,
        #[arg(long)]
        comment: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Reject a request (a veto).
    Reject {
        id: String,
        #[arg(long)]
        comment: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Apply an approved request (when it was not applied at once).
    Apply {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Withdraw your pending request.
    Withdraw { id: String },
    /// Requests, newest first.
    List {
        /// open, approved, applied, rejected, withdrawn, failed or expired.
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        model: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One request with its approvals and policy decisions.
    Show { id: String },
    /// Move a protected alias back to a version that held it before, without approvals (operator),
    /// recorded with the reason.
    Rollback {
        model: String,
        version: i64,
        #[arg(long)]
        alias: String,
        #[arg(long)]
        reason: String,
    },
}

fn line(p: &Value) -> String {
    let approvers: Vec<String> = p["approvals"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["verdict"] == "approve")
        .map(|a| s(&a["by"]))
        .collect();
    format!(
        "{}  {} v{} -> @{}  {}  by {}  approvals {}/{} [{}]{}",
        s(&p["id"]),
        s(&p["model"]),
        s(&p["version"]),
        s(&p["alias"]),
        s(&p["state"]),
        s(&p["requested_by"]),
        approvers.len(),
        s(&p["required_approvals"]),
        approvers.join(", "),
        p["note"]
            .as_str()
            .map_or(String::new(), |n| format!("  ({n})"))
    )
}

fn report(v: &Value, json: bool) -> Result<()> {
    let p = &v["promotion"];
    if json {
        return print_json(&json!({"id": p["id"], "state": p["state"], "promotion": p}));
    }
    println!("{}", line(p));
    Ok(())
}

pub async fn promote(cmd: PromoteCommand) -> Result<()> {
    let c = api(cmd.server.as_deref());
    let enc = cairn_client::encode_segment;
    match cmd.command {
        PromoteSub::Request {
            model,
            version,
            alias,
            reason,
            json,
        } => {
            let v = call(
                &c,
                Method::POST,
                "/promotions",
                &[],
                Some(
                    &json!({"model": model, "version": version, "alias": alias, "reason": reason}),
                ),
            )
            .await?;
            report(&v, json)
        }
        PromoteSub::Approve { id, comment, json } => {
            let v = call(
                &c,
                Method::POST,
                &format!("/promotions/{}/approve", enc(&id)),
                &[],
                Some(&json!({"comment": comment})),
            )
            .await?;
            report(&v, json)
        }
        PromoteSub::Reject { id, comment, json } => {
            let v = call(
                &c,
                Method::POST,
                &format!("/promotions/{}/reject", enc(&id)),
                &[],
                Some(&json!({"comment": comment})),
            )
            .await?;
            report(&v, json)
        }
        PromoteSub::Apply { id, json } => {
            let v = call(
                &c,
                Method::POST,
                &format!("/promotions/{}/apply", enc(&id)),
                &[],
                None,
            )
            .await?;
            report(&v, json)
        }
        PromoteSub::Withdraw { id } => {
            let v = call(
                &c,
                Method::POST,
                &format!("/promotions/{}/withdraw", enc(&id)),
                &[],
                None,
            )
            .await?;
            report(&v, false)
        }
        PromoteSub::List { state, model, json } => {
            let mut q = Vec::new();
            if let Some(st) = state {
                q.push(("state", st));
            }
            if let Some(m) = model {
                q.push(("model", m));
            }
            let v = call(&c, Method::GET, "/promotions", &q, None).await?;
            if json {
                return print_json(&v);
            }
            for p in v["promotions"].as_array().into_iter().flatten() {
                println!("{}", line(p));
            }
            Ok(())
        }
        PromoteSub::Show { id } => {
            let v = call(
                &c,
                Method::GET,
                &format!("/promotions/{}", enc(&id)),
                &[],
                None,
            )
            .await?;
            print_json(&v)
        }
        PromoteSub::Rollback {
            model,
            version,
            alias,
            reason,
        } => {
            call(
                &c,
                Method::POST,
                "/promotions/rollback",
                &[],
                Some(
                    &json!({"model": model, "version": version, "alias": alias, "reason": reason}),
                ),
            )
            .await?;
            println!("@{alias} of {model} rolled back to v{version}");
            Ok(())
        }
    }
}
