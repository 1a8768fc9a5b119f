//! `cairn trigger …`: the triggers of registered pipelines — list them with their next slot and
//! latest firings, fire one by hand (once per idempotency key across the cluster), pause, resume.

use anyhow::Result;
use cairn_contract::TriggerDto;
use clap::{Args, Subcommand};
use serde_json::json;

use crate::client::{client, time};

#[derive(Debug, Args)]
pub struct TriggerCommand {
    /// The Cairn server [default: MLFLOW_TRACKING_URI when it is an http(s) URL, else
    /// http://127.0.0.1:5000].
    #[arg(long, env = "CAIRN_SERVER", global = true)]
    server: Option<String>,
    #[command(subcommand)]
    command: TriggerSub,
}

#[derive(Debug, Subcommand)]
enum TriggerSub {
    /// Every registered pipeline's triggers: kind, paused, next fire, latest firings and why.
    List(ListArgs),
    /// Fire a trigger by hand (any trigger can be): queues a run of the pipeline on the server. Prints
    /// whether this call started a run and the run's id.
    Fire(FireArgs),
    /// Stop a trigger firing on its own (firing it by hand still works).
    Pause(TriggerArg),
    /// Let a paused trigger fire on its own again.
    Resume(TriggerArg),
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Only this pipeline's triggers.
    #[arg(long)]
    pipeline: Option<String>,
    /// Print `{"triggers": […]}` as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct FireArgs {
    pipeline: String,
    trigger: String,
    /// Start one run per key, however often and on whichever server it is sent; a repeat answers
    /// `fired: false` with the first run's id.
    #[arg(long, value_name = "K")]
    idempotency_key: Option<String>,
    /// Print `{"fired": …, "pipeline_run_id": …}` as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct TriggerArg {
    pipeline: String,
    trigger: String,
}

pub async fn run(cmd: TriggerCommand) -> Result<()> {
    let c = client(cmd.server.as_deref());
    match cmd.command {
        TriggerSub::List(a) => {
            let triggers = c.triggers(a.pipeline.as_deref()).await?;
            if a.json {
                println!("{}", json!({ "triggers": triggers }));
            } else {
                print_list(&triggers);
            }
        }
        TriggerSub::Fire(a) => {
            let r = c
                .fire_trigger(&a.pipeline, &a.trigger, a.idempotency_key.as_deref())
                .await?;
            if a.json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                match (&r.pipeline_run_id, r.fired) {
                    (Some(id), true) => println!("fired: pipeline run {id} queued"),
                    (Some(id), false) => {
                        println!("not fired again: this key already started pipeline run {id}")
                    }
                    (None, _) => println!(
                        "not fired: {}",
                        r.reason.as_deref().unwrap_or("the firing was skipped")
                    ),
                }
            }
        }
        TriggerSub::Pause(a) => {
            let t = c.pause_trigger(&a.pipeline, &a.trigger, true).await?;
            println!("trigger {}/{} paused", t.pipeline, t.name);
        }
        TriggerSub::Resume(a) => {
            let t = c.pause_trigger(&a.pipeline, &a.trigger, false).await?;
            println!("trigger {}/{} resumed", t.pipeline, t.name);
        }
    }
    Ok(())
}

fn print_list(triggers: &[TriggerDto]) {
    if triggers.is_empty() {
        println!("no triggers (register a pipeline whose file has `triggers:`)");
        return;
    }
    println!(
        "{:<24} {:<16} {:<9} {:<7} {:<25} LAST FIRE",
        "PIPELINE", "TRIGGER", "KIND", "PAUSED", "NEXT FIRE"
    );
    for t in triggers {
        let next = t
            .next_fire_ms
            .map_or_else(|| "-".into(), |ms| time(Some(ms)));
        let last = t.last_fires.first().map_or("-".to_owned(), |f| {
            let what = match (&f.pipeline_run_id, &f.reason) {
                (Some(id), _) => format!("run {id}"),
                (None, Some(r)) => format!("skipped: {r}"),
                (None, None) => "skipped".into(),
            };
            format!(
                "{} {} ({})",
                time(Some(f.fired_ms)),
                what,
                f.cause["kind"].as_str().unwrap_or("?")
            )
        });
        println!(
            "{:<24} {:<16} {:<9} {:<7} {:<25} {last}",
            t.pipeline,
            t.name,
            t.kind,
            if t.paused { "yes" } else { "no" },
            next
        );
    }
}
