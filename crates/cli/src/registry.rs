//! `cairn registry …`: the model registry from the command line, through the native API's typed client
//! (so it works the same against an embedded server and a scaled-out deployment).

use cairn_contract::EventDto;
use clap::{Args, Subcommand};
use serde_json::Value;

use crate::client::{client, time};

#[derive(Debug, Args)]
pub struct RegistryCommand {
    #[command(subcommand)]
    command: RegistrySub,
}

#[derive(Debug, Subcommand)]
enum RegistrySub {
    /// Print a registered model's change history, oldest first: every version created, updated or
    /// deleted, every alias set, moved or removed, every rename — with who and when.
    History(HistoryArgs),
}

#[derive(Debug, Args)]
struct HistoryArgs {
    /// The registered model's name (its current name, or the name of a deleted model).
    name: String,
    /// The Cairn server [default: MLFLOW_TRACKING_URI when it is an http(s) URL, else
    /// http://127.0.0.1:5000].
    #[arg(long, env = "CAIRN_SERVER")]
    server: Option<String>,
    /// Print the events as the JSON the server returns (`{"events": [...]}`).
    #[arg(long)]
    json: bool,
}

pub async fn run(cmd: RegistryCommand) -> anyhow::Result<()> {
    match cmd.command {
        RegistrySub::History(args) => history(args).await,
    }
}

async fn history(args: HistoryArgs) -> anyhow::Result<()> {
    let events = client(args.server.as_deref())
        .model_history(&args.name)
        .await?;
    if args.json {
        println!("{}", serde_json::json!({ "events": events }));
    } else {
        for e in &events {
            println!("{}", describe(e));
        }
    }
    Ok(())
}

/// `12  2026-11-27T10:01:02.345Z  alice  alias_moved  champion: 1 -> 2`
fn describe(e: &EventDto) -> String {
    let time = time(Some(e.timestamp_ms));
    format!(
        "{:>5}  {time}  {}  {}  {}",
        e.seq,
        e.actor,
        e.kind,
        details(e)
    )
    .trim_end()
    .to_owned()
}

fn details(e: &EventDto) -> String {
    let version = e.version.as_deref();
    let field = |side: &Option<Value>, key: &str| -> Option<String> {
        match side.as_ref().map(|s| &s[key]) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        }
    };
    let (before, after) = (&e.before, &e.after);
    match e.kind.as_str() {
        "alias_set" | "alias_moved" | "alias_deleted" => {
            let alias = e.alias.as_deref().unwrap_or("?");
            let from = field(before, "version").unwrap_or_else(|| "-".into());
            let to = field(after, "version").unwrap_or_else(|| "-".into());
            format!("{alias}: {from} -> {to}")
        }
        "model_renamed" => format!(
            "{} -> {}",
            field(before, "name").unwrap_or_default(),
            field(after, "name").unwrap_or_default()
        ),
        "version_stage_changed" => format!(
            "v{}: {} -> {}",
            version.unwrap_or("?"),
            field(before, "stage").unwrap_or_default(),
            field(after, "stage").unwrap_or_default()
        ),
        "version_created" => format!(
            "v{} from {}",
            version.unwrap_or("?"),
            field(after, "source").unwrap_or_default()
        ),
        "model_tag_set" | "model_tag_deleted" | "version_tag_set" | "version_tag_deleted" => {
            let key = field(after, "key")
                .or_else(|| field(before, "key"))
                .unwrap_or_default();
            let value = field(after, "value").unwrap_or_else(|| "(deleted)".into());
            match version {
                Some(v) => format!("v{v} {key} = {value}"),
                None => format!("{key} = {value}"),
            }
        }
        _ => match version {
            Some(v) => format!("v{v}"),
            None => String::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_event_kind() {
        let e: EventDto = serde_json::from_value(serde_json::json!({
            "seq": 7, "kind": "alias_moved", "model_name": "m", "version": "2", "alias": "champion",
            "actor": "alice", "timestamp_ms": 0, "before": {"version": "1"}, "after": {"version": "2"}
        }))
        .unwrap();
        assert_eq!(
            describe(&e),
            "    7  1970-01-01T00:00:00.000Z  alice  alias_moved  champion: 1 -> 2"
        );
    }
}
