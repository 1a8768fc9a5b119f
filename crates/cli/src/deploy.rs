//! `cairn deploy …`: deployments from the command line, through the native API's typed client.

use anyhow::bail;
use cairn_contract::{
    CanaryDto, DeploymentBody, DeploymentDto, DeploymentEventDto, DeploymentResponse,
    DeploymentsResponse, ServingDto, ServingModelDto,
};
use clap::{Args, Subcommand};
use serde_json::json;

use crate::client::{client, time};

#[derive(Debug, Args)]
pub struct DeployCommand {
    /// The Cairn server [default: MLFLOW_TRACKING_URI when it is an http(s) URL, else
    /// http://127.0.0.1:5000].
    #[arg(long, env = "CAIRN_SERVER", global = true)]
    server: Option<String>,
    /// Print the server's JSON answer instead of a summary.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: DeploySub,
}

#[derive(Debug, Subcommand)]
enum DeploySub {
    /// Create a deployment: a named endpoint serving a registered model's alias (followed as it moves)
    /// or a pinned version, optionally with a canary taking a share of requests.
    Create(SpecArgs),
    /// Change a deployment's model or canary (omitted flags keep their current value).
    Update(UpdateArgs),
    /// Return a deployment to what it served before, pinned to those versions.
    Rollback(NameArg),
    /// Show a deployment and what it serves now.
    Get(NameArg),
    /// List deployments.
    List,
    /// Print a deployment's history, oldest first: what, who, when, from -> to.
    History(NameArg),
    /// Delete a deployment (its history stays).
    Delete(NameArg),
}

#[derive(Debug, Args)]
struct NameArg {
    /// The deployment's name.
    name: String,
}

#[derive(Debug, Args)]
struct SpecArgs {
    /// The deployment's name: letters, digits, '_', '-', '.'; it is the OIP model name it serves under.
    name: String,
    /// `models:/name@alias` (follows the alias) or `models:/name/3`.
    #[arg(long)]
    model: String,
    /// A second model taking --weight percent of requests.
    #[arg(long)]
    canary: Option<String>,
    /// The canary's percent of requests (1–99).
    #[arg(long)]
    weight: Option<i64>,
    /// The share of requests whose inputs and outputs are logged for monitoring, 0–1 (default 1).
    #[arg(long, value_name = "RATE")]
    log_sample: Option<f64>,
    /// Automatic canary promotion: when the candidate alias moves, the new version serves as a canary
    /// at WEIGHT percent for DURATION (s, m, h, d; or Nreq requests), then is promoted (the alias
    /// --model follows moves to it) or rolled back on its error rate and p99 latency against the
    /// primary's. E.g. canary:10%/15m. Needs --model models:/NAME@ALIAS.
    #[arg(long, value_name = "canary:WEIGHT%/DURATION")]
    rollout: Option<String>,
    /// The alias whose moves --rollout rolls out (default: candidate).
    #[arg(long, value_name = "NAME", requires = "rollout")]
    candidate_alias: Option<String>,
}

#[derive(Debug, Args)]
struct UpdateArgs {
    name: String,
    /// `models:/name@alias` (follows the alias) or `models:/name/3`.
    #[arg(long)]
    model: Option<String>,
    /// A second model taking --weight percent of requests.
    #[arg(long)]
    canary: Option<String>,
    /// The canary's percent of requests (1–99).
    #[arg(long)]
    weight: Option<i64>,
    /// Remove the canary: all requests to the model.
    #[arg(long, conflicts_with_all = ["canary", "weight"])]
    no_canary: bool,
    /// The share of requests logged for monitoring, 0–1.
    #[arg(long, value_name = "RATE")]
    log_sample: Option<f64>,
    /// Automatic canary promotion (see `cairn deploy create --help`), e.g. canary:10%/15m.
    #[arg(long, value_name = "canary:WEIGHT%/DURATION")]
    rollout: Option<String>,
    /// The alias whose moves the roll-out policy rolls out (default: candidate).
    #[arg(long, value_name = "NAME")]
    candidate_alias: Option<String>,
    /// Remove the roll-out policy (a canary in progress stops).
    #[arg(long, conflicts_with_all = ["rollout", "candidate_alias"])]
    no_rollout: bool,
}

pub async fn run(cmd: DeployCommand) -> anyhow::Result<()> {
    let api = client(cmd.server.as_deref());
    let one = match cmd.command {
        DeploySub::Create(a) => {
            let body = DeploymentBody {
                name: Some(a.name),
                model: Some(a.model),
                canary: updated_canary(a.canary.as_deref(), a.weight, None)?,
                log_sample: a.log_sample,
                rollout: a.rollout,
                candidate_alias: a.candidate_alias,
            };
            api.create_deployment(&body).await?
        }
        DeploySub::Update(a) => {
            let current = api
                .deployment(&a.name)
                .await?
                .ok_or_else(|| anyhow::anyhow!("Deployment '{}' not found.", a.name))?;
            let current_rollout = current.state.rollout.as_ref();
            // A roll-out policy runs its own canary: the one shown while it runs is not the client's.
            let current_canary = current
                .state
                .canary
                .as_ref()
                .filter(|_| current_rollout.is_none());
            let canary = if a.no_canary {
                None
            } else {
                updated_canary(a.canary.as_deref(), a.weight, current_canary)?
            };
            let (rollout, candidate_alias) = if a.no_rollout {
                (None, None)
            } else {
                (
                    a.rollout.or(current_rollout.map(|r| r.policy.clone())),
                    a.candidate_alias
                        .or(current_rollout.map(|r| r.candidate_alias.clone())),
                )
            };
            let body = DeploymentBody {
                name: None,
                model: Some(a.model.unwrap_or(current.state.model)),
                canary,
                log_sample: Some(a.log_sample.unwrap_or(current.state.log_sample)),
                rollout,
                candidate_alias,
            };
            api.update_deployment(&a.name, &body).await?
        }
        DeploySub::Rollback(a) => api.rollback_deployment(&a.name).await?,
        DeploySub::Get(a) => api
            .deployment(&a.name)
            .await?
            .ok_or_else(|| anyhow::anyhow!("Deployment '{}' not found.", a.name))?,
        DeploySub::List => {
            let deployments = api.deployments().await?;
            if cmd.json {
                println!(
                    "{}",
                    serde_json::to_string(&DeploymentsResponse { deployments })?
                );
            } else if deployments.is_empty() {
                println!("No deployments.");
            } else {
                for d in &deployments {
                    println!("{}", describe(d));
                }
            }
            return Ok(());
        }
        DeploySub::History(a) => {
            let events = api.deployment_history(&a.name).await?;
            if cmd.json {
                println!("{}", json!({ "events": events }));
            } else {
                for e in &events {
                    println!("{}", describe_event(e));
                }
            }
            return Ok(());
        }
        DeploySub::Delete(a) => {
            api.delete_deployment(&a.name).await?;
            if cmd.json {
                println!("{{}}");
            } else {
                println!("deleted {}", a.name);
            }
            return Ok(());
        }
    };
    if cmd.json {
        println!(
            "{}",
            serde_json::to_string(&DeploymentResponse { deployment: one })?
        );
    } else {
        println!("{}", describe(&one));
    }
    Ok(())
}

/// The canary asked for: `--canary` and `--weight` together, or (on update) either one changing the
/// deployment's current canary (`old`), the other kept. Either one alone with no current canary is
/// refused here, saying what to add, rather than sent to the server half-filled.
fn updated_canary(
    model: Option<&str>,
    weight: Option<i64>,
    old: Option<&CanaryDto>,
) -> anyhow::Result<Option<CanaryDto>> {
    let model = model.map(str::to_owned).or(old.map(|c| c.model.clone()));
    let weight = weight.or(old.map(|c| c.weight));
    match (model, weight) {
        (Some(model), Some(weight)) => Ok(Some(CanaryDto { model, weight })),
        (None, None) => Ok(None),
        (None, Some(_)) => bail!(
            "--weight needs --canary MODEL (the canary's model reference, e.g. models:/name/3)"
        ),
        (Some(_), None) => {
            bail!("--canary needs --weight N (the canary's percent of requests, 1–99)")
        }
    }
}

/// `m/3` or `m/3 + canary m/4 at 10%`.
fn serving(s: &ServingDto) -> String {
    let model = |m: &ServingModelDto| format!("{}/{}", m.name, m.version);
    let mut out = model(&s.primary);
    if let Some(c) = &s.canary {
        out.push_str(&format!(
            " + canary {} at {}%",
            model(c),
            c.weight.unwrap_or(0)
        ));
    }
    out
}

/// `churn  models:/churn@champion  serving churn/3  (revision 2)`, then the status when it is not plain
/// `serving`: `  [rolling_out]`, or `  [degraded: <problem>]`.
fn describe(d: &DeploymentDto) -> String {
    let mut spec = d.state.model.clone();
    if let Some(c) = &d.state.canary {
        spec.push_str(&format!(" + canary {} at {}%", c.model, c.weight));
    }
    let mut out = format!(
        "{}  {spec}  serving {}  (revision {})",
        d.name,
        serving(&d.state.serving),
        d.revision
    );
    if d.state.log_sample < 1.0 {
        out.push_str(&format!(
            "  logging {}% of requests",
            d.state.log_sample * 100.0
        ));
    }
    if let Some(r) = &d.state.rollout {
        out.push_str(&format!(
            "  rollout {} on alias '{}'",
            r.policy, r.candidate_alias
        ));
        if let Some(c) = &r.canary {
            out.push_str(&format!(
                "  [canary {} vs {} since {}]",
                c.version,
                c.primary_version,
                time(Some(c.started_ms))
            ));
        }
        if let Some(last) = &r.last_decision {
            out.push_str(&format!(
                "  last decision: {} version {} ({})",
                last["outcome"].as_str().unwrap_or("?"),
                last["version"],
                last["reason"].as_str().unwrap_or("")
            ));
        }
    }
    match (d.status.as_str(), &d.problem) {
        ("serving", _) => {}
        (status, Some(problem)) => out.push_str(&format!("  [{status}: {problem}]")),
        (status, None) => out.push_str(&format!("  [{status}]")),
    }
    out
}

/// `3  2026-11-27T10:01:02.345Z  alice  rolled_out  churn/1 -> churn/2`, numbered by the deployment's
/// revision after the change (the log's sequence for events recorded before revisions were kept).
fn describe_event(e: &DeploymentEventDto) -> String {
    let side = |s: &Option<cairn_contract::StateDto>| {
        s.as_ref()
            .map_or_else(|| "-".to_owned(), |s| serving(&s.serving))
    };
    let mut out = format!(
        "{:>5}  {}  {}  {}  {} -> {}",
        e.revision.unwrap_or(e.seq),
        time(Some(e.timestamp_ms)),
        e.actor,
        e.kind,
        side(&e.before),
        side(&e.after),
    );
    if let Some(reason) = e.detail.as_ref().and_then(|d| d["reason"].as_str()) {
        out.push_str(&format!("  ({reason})"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(name: &str, version: &str, weight: Option<u8>) -> ServingModelDto {
        ServingModelDto {
            name: name.into(),
            version: version.into(),
            weight,
        }
    }

    fn deployment(canary: Option<CanaryDto>, serving: ServingDto) -> DeploymentDto {
        serde_json::from_value(json!({
            "name": "churn", "model": "models:/churn@champion", "serving": serving,
            "canary": canary, "revision": 2, "created_ms": 0, "updated_ms": 0, "status": "serving"
        }))
        .unwrap()
    }

    #[test]
    fn summaries() {
        let d = deployment(
            Some(CanaryDto {
                model: "models:/churn@challenger".into(),
                weight: 10,
            }),
            ServingDto {
                primary: model("churn", "3", None),
                canary: Some(model("churn", "4", Some(10))),
            },
        );
        assert_eq!(
            describe(&d),
            "churn  models:/churn@champion + canary models:/churn@challenger at 10%  serving churn/3 + \
             canary churn/4 at 10%  (revision 2)"
        );
        let mut degraded = deployment(
            None,
            ServingDto {
                primary: model("churn", "1", None),
                canary: None,
            },
        );
        degraded.status = "degraded".into();
        degraded.problem = Some("no onnx flavour; still serving churn/1".into());
        assert_eq!(
            describe(&degraded),
            "churn  models:/churn@champion  serving churn/1  (revision 2)  [degraded: no onnx flavour; \
             still serving churn/1]"
        );
        let e: DeploymentEventDto = serde_json::from_value(json!({
            "seq": 30, "revision": 3, "kind": "rolled_out", "actor": "alice", "timestamp_ms": 0,
            "before": {"model": "models:/m@a", "serving": {"primary": {"name": "m", "version": "1"}}},
            "after": {"model": "models:/m@a", "serving": {"primary": {"name": "m", "version": "2"}}}
        }))
        .unwrap();
        assert_eq!(
            describe_event(&e),
            "    3  1970-01-01T00:00:00.000Z  alice  rolled_out  m/1 -> m/2"
        );
    }

    #[test]
    fn a_rollout_policy_in_the_summary() {
        let d: DeploymentDto = serde_json::from_value(json!({
            "name": "churn", "model": "models:/churn@production", "revision": 4, "created_ms": 0,
            "updated_ms": 0, "status": "serving",
            "serving": {"primary": {"name": "churn", "version": "2"}},
            "rollout": {"policy": "canary:10%/15m", "weight": 10, "duration_ms": 900000,
                        "candidate_alias": "candidate",
                        "last_decision": {"outcome": "promoted", "version": 2, "reason": "fine"}}
        }))
        .unwrap();
        assert_eq!(
            describe(&d),
            "churn  models:/churn@production  serving churn/2  (revision 4)  rollout canary:10%/15m on \
             alias 'candidate'  last decision: promoted version 2 (fine)"
        );
    }

    #[test]
    fn an_update_keeps_what_it_does_not_change_of_the_canary() {
        let old = CanaryDto {
            model: "models:/m@challenger".into(),
            weight: 10,
        };
        let changed = |m, w| updated_canary(m, w, Some(&old)).unwrap().unwrap();
        assert_eq!(changed(None, Some(30)).weight, 30);
        assert_eq!(changed(None, Some(30)).model, "models:/m@challenger");
        assert_eq!(changed(Some("models:/m/4"), None).model, "models:/m/4");
        assert_eq!(changed(Some("models:/m/4"), None).weight, 10);
        assert_eq!(changed(None, None), old);
        assert!(updated_canary(None, None, None).unwrap().is_none());
        let err = updated_canary(None, Some(10), None).unwrap_err();
        assert!(
            err.to_string().starts_with("--weight needs --canary MODEL"),
            "{err}"
        );
        let err = updated_canary(Some("models:/m/4"), None, None).unwrap_err();
        assert!(
            err.to_string().starts_with("--canary needs --weight N"),
            "{err}"
        );
    }
}
