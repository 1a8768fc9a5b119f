//! `cairn card …`: a version's model card — facts generated from evidence beside authored sections —
//! shown as Markdown or JSON, edited, approved.

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::{api, call, print_json};

#[derive(Debug, Args)]
pub struct CardCommand {
    #[arg(long, env = "CAIRN_SERVER", global = true)]
    server: Option<String>,
    #[command(subcommand)]
    command: CardSub,
}

#[derive(Debug, Subcommand)]
enum CardSub {
    /// Print the card (md, html or json).
    Show {
        model: String,
        version: i64,
        #[arg(long, default_value = "md")]
        format: String,
    },
    /// Write authored sections: --set intended_use="…" --set limitations="…" (intended_use,
    /// limitations, risk, risk_rating, owners, ethical_considerations, or your own). Makes it a draft.
    Edit {
        model: String,
        version: i64,
        #[arg(long = "set", value_name = "SECTION=TEXT", required = true)]
        sections: Vec<String>,
    },
    /// Approve the card (the approver role; not its last author).
    Approve { model: String, version: i64 },
}

pub async fn card(cmd: CardCommand) -> Result<()> {
    let c = api(cmd.server.as_deref());
    let path = |m: &str, v: i64| format!("/cards/{}/{v}", cairn_client::encode_segment(m));
    match cmd.command {
        CardSub::Show {
            model,
            version,
            format,
        } => {
            let v = call(&c, Method::GET, &path(&model, version), &[], None).await?;
            match format.as_str() {
                "json" => print_json(&v["card"]),
                "md" | "markdown" => {
                    let card: cairn_service::CardView = serde_json::from_value(v["card"].clone())?;
                    print!("{}", cairn_service::card_markdown(&card));
                    Ok(())
                }
                "html" => {
                    let card: cairn_service::CardView = serde_json::from_value(v["card"].clone())?;
                    print!("{}", cairn_service::card_html(&card));
                    Ok(())
                }
                other => bail!("--format must be md, json or html, not '{other}'"),
            }
        }
        CardSub::Edit {
            model,
            version,
            sections,
        } => {
            let mut m = Map::new();
            for kv in sections {
                let Some((k, v)) = kv.split_once('=') else {
                    bail!("--set takes SECTION=TEXT, not '{kv}'");
                };
                m.insert(k.trim().to_owned(), Value::String(v.to_owned()));
            }
            let v = call(
                &c,
                Method::PUT,
                &path(&model, version),
                &[],
                Some(&json!({"sections": m})),
            )
            .await?;
            println!(
                "card of {model} v{version}: {}",
                v["card"]["status"].as_str().unwrap_or("?")
            );
            Ok(())
        }
        CardSub::Approve { model, version } => {
            call(
                &c,
                Method::PUT,
                &path(&model, version),
                &[],
                Some(&json!({"status": "approved"})),
            )
            .await?;
            println!("card of {model} v{version}: approved");
            Ok(())
        }
    }
}
