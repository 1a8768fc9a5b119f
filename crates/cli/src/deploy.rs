//! `cairn deploy …`: deployments from the command line, through a server's HTTP API.

use anyhow::bail;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{Api, encode_segment, time};

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
}

fn path(name: &str) -> String {
    format!("/api/cairn/v1/deployments/{}", encode_segment(name))
}

pub async fn run(cmd: DeployCommand) -> anyhow::Result<()> {
    let api = Api::new(cmd.server.as_deref());
    let answer = match cmd.command {
        DeploySub::Create(a) => {
            let mut body = json!({ "name": a.name, "model": a.model });
            let canary = updated_canary(a.canary.as_deref(), a.weight, &Value::Null)?;
            if !canary.is_null() {
                body["canary"] = canary;
            }
            api.call(Method::POST, "/api/cairn/v1/deployments", &[], Some(&body))
                .await?
        }
        DeploySub::Update(a) => {
            let current = api.call(Method::GET, &path(&a.name), &[], None).await?;
            let d = &current["deployment"];
            let mut body = json!({ "model": a.model.as_deref().or(d["model"].as_str()) });
            let canary = if a.no_canary {
                Value::Null
            } else {
                updated_canary(a.canary.as_deref(), a.weight, &d["canary"])?
            };
            if !canary.is_null() {
                body["canary"] = canary;
            }
            api.call(Method::PUT, &path(&a.name), &[], Some(&body))
                .await?
        }
        DeploySub::Rollback(a) => {
            api.call(
                Method::POST,
                &format!("{}/rollback", path(&a.name)),
                &[],
                None,
            )
            .await?
        }
        DeploySub::Get(a) => api.call(Method::GET, &path(&a.name), &[], None).await?,
        DeploySub::List => {
            let answer = api
                .call(Method::GET, "/api/cairn/v1/deployments", &[], None)
                .await?;
            if !cmd.json && answer["deployments"].as_array().is_some_and(Vec::is_empty) {
                println!("No deployments.");
                return Ok(());
            }
            answer
        }
        DeploySub::History(a) => {
            let events = api
                .all_events(&format!("{}/history", path(&a.name)))
                .await?;
            if !cmd.json {
                for e in &events {
                    println!("{}", describe_event(e));
                }
                return Ok(());
            }
            json!({ "events": events })
        }
        DeploySub::Delete(a) => {
            api.call(Method::DELETE, &path(&a.name), &[], None).await?;
            if !cmd.json {
                println!("deleted {}", a.name);
                return Ok(());
            }
            json!({})
        }
    };
    if cmd.json {
        println!("{answer}");
    } else if let Some(list) = answer["deployments"].as_array() {
        for d in list {
            println!("{}", describe(d));
        }
    } else {
        println!("{}", describe(&answer["deployment"]));
    }
    Ok(())
}

/// The canary asked for: `--canary` and `--weight` together, or (on update) either one changing the
/// deployment's current canary (`old`, null if none), the other kept. Either one alone with no current
/// canary is refused here, saying what to add, rather than sent to the server half-filled.
fn updated_canary(model: Option<&str>, weight: Option<i64>, old: &Value) -> anyhow::Result<Value> {
    let model = model.or(old["model"].as_str());
    let weight = weight.or(old["weight"].as_i64());
    match (model, weight) {
        (Some(model), Some(weight)) => Ok(json!({ "model": model, "weight": weight })),
        (None, None) => Ok(Value::Null),
        (None, Some(_)) => bail!(
            "--weight needs --canary MODEL (the canary's model reference, e.g. models:/name/3)"
        ),
        (Some(_), None) => {
            bail!("--canary needs --weight N (the canary's percent of requests, 1–99)")
        }
    }
}

/// `m/3` or `m/3 + canary m/4 at 10%`.
fn serving(s: &Value) -> String {
    let model = |m: &Value| {
        format!(
            "{}/{}",
            m["name"].as_str().unwrap_or("?"),
            m["version"].as_str().unwrap_or("?")
        )
    };
    let mut out = model(&s["primary"]);
    if !s["canary"].is_null() {
        out.push_str(&format!(
            " + canary {} at {}%",
            model(&s["canary"]),
            s["canary"]["weight"]
        ));
    }
    out
}

/// `churn  models:/churn@champion  serving churn/3  (revision 2)`, then the status when it is not plain
/// `serving`: `  [rolling_out]`, or `  [degraded: <problem>]`.
fn describe(d: &Value) -> String {
    let mut spec = d["model"].as_str().unwrap_or("?").to_owned();
    if let Some(c) = d["canary"]["model"].as_str() {
        spec.push_str(&format!(" + canary {c} at {}%", d["canary"]["weight"]));
    }
    let mut out = format!(
        "{}  {spec}  serving {}  (revision {})",
        d["name"].as_str().unwrap_or("?"),
        serving(&d["serving"]),
        d["revision"]
    );
    match (d["status"].as_str(), d["problem"].as_str()) {
        (Some("serving") | None, _) => {}
        (Some(status), Some(problem)) => out.push_str(&format!("  [{status}: {problem}]")),
        (Some(status), None) => out.push_str(&format!("  [{status}]")),
    }
    out
}

/// `3  2026-11-27T10:01:02.345Z  alice  rolled_out  churn/1 -> churn/2`, numbered by the deployment's
/// revision after the change (the log's sequence for events recorded before revisions were kept).
fn describe_event(e: &Value) -> String {
    let side = |k: &str| {
        if e[k].is_null() {
            "-".to_owned()
        } else {
            serving(&e[k]["serving"])
        }
    };
    format!(
        "{:>5}  {}  {}  {}  {} -> {}",
        e["revision"].as_i64().or(e["seq"].as_i64()).unwrap_or(0),
        time(e["timestamp_ms"].as_i64()),
        e["actor"].as_str().unwrap_or("?"),
        e["kind"].as_str().unwrap_or("?"),
        side("before"),
        side("after"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries() {
        let d = json!({
            "name": "churn", "model": "models:/churn@champion",
            "canary": {"model": "models:/churn@challenger", "weight": 10},
            "serving": {"primary": {"name": "churn", "version": "3"},
                        "canary": {"name": "churn", "version": "4", "weight": 10}},
            "revision": 2
        });
        assert_eq!(
            describe(&d),
            "churn  models:/churn@champion + canary models:/churn@challenger at 10%  serving churn/3 + \
             canary churn/4 at 10%  (revision 2)"
        );
        let degraded = json!({"name": "m", "model": "models:/m@a", "revision": 4,
            "serving": {"primary": {"name": "m", "version": "1"}},
            "status": "degraded", "problem": "no onnx flavour; still serving m/1"});
        assert_eq!(
            describe(&degraded),
            "m  models:/m@a  serving m/1  (revision 4)  [degraded: no onnx flavour; still serving m/1]"
        );
        let e = json!({"seq": 30, "revision": 3, "kind": "rolled_out", "actor": "alice", "timestamp_ms": 0,
            "before": {"serving": {"primary": {"name": "m", "version": "1"}}},
            "after": {"serving": {"primary": {"name": "m", "version": "2"}}}});
        assert_eq!(
            describe_event(&e),
            "    3  1970-01-01T00:00:00.000Z  alice  rolled_out  m/1 -> m/2"
        );
    }

    #[test]
    fn an_update_keeps_what_it_does_not_change_of_the_canary() {
        let old = json!({"model": "models:/m@challenger", "weight": 10});
        assert_eq!(
            updated_canary(None, Some(30), &old).unwrap(),
            json!({"model": "models:/m@challenger", "weight": 30})
        );
        assert_eq!(
            updated_canary(Some("models:/m/4"), None, &old).unwrap(),
            json!({"model": "models:/m/4", "weight": 10})
        );
        assert_eq!(updated_canary(None, None, &old).unwrap(), old);
        assert_eq!(
            updated_canary(None, None, &Value::Null).unwrap(),
            Value::Null
        );
        let err = updated_canary(None, Some(10), &Value::Null).unwrap_err();
        assert!(
            err.to_string().starts_with("--weight needs --canary MODEL"),
            "{err}"
        );
        let err = updated_canary(Some("models:/m/4"), None, &Value::Null).unwrap_err();
        assert!(
            err.to_string().starts_with("--canary needs --weight N"),
            "{err}"
        );
    }
}
