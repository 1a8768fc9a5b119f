//! `cairn audit …`: verify the tamper-evident audit chain (from a data folder, or a server's copy
//! checked here against the signing key), read it with filters or export it as JSON Lines, sign a
//! checkpoint now, print the verifier key.

use std::io::Write as _;

use anyhow::{Context, Result};
use cairn_governance::audit::{AuditPublicKey, StoredCheckpoint, StoredEntry, Verifier};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::Value;

use super::access::StoreArgs;
use super::{api, call, print_json, s};

#[derive(Debug, Args)]
pub struct AuditCommand {
    #[command(subcommand)]
    command: AuditSub,
}

#[derive(Debug, Subcommand)]
enum AuditSub {
    /// Verify the chain: every entry's hashes and links, and every signed checkpoint. Exit 0 intact,
    /// 1 tampered (the first bad entry and why), 2 cannot verify (no key, unreadable store).
    Verify(VerifyArgs),
    /// The chain's entries, oldest first, with filters; `--jsonl` exports them as JSON Lines.
    Log(LogArgs),
    /// Sign a checkpoint over every entry now.
    Checkpoint {
        #[arg(long, env = "CAIRN_SERVER")]
        server: Option<String>,
    },
    /// The server's verifier (public) key, to keep where the database administrator cannot change it.
    Pubkey {
        #[arg(long, env = "CAIRN_SERVER")]
        server: Option<String>,
    },
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// Verify a server's chain (fetched, then checked here).
    #[arg(long, conflicts_with = "data_dir")]
    server: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
    /// The verifier key (`name+hash+base64`, or a file holding it); default: the data folder's key,
    /// or (with --server) the key the server states.
    #[arg(long)]
    pubkey: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct LogArgs {
    #[arg(long, env = "CAIRN_SERVER")]
    server: Option<String>,
    #[arg(long)]
    actor: Option<String>,
    /// Entries whose action starts with this (`registry.alias`, `governance.promotion`).
    #[arg(long)]
    action: Option<String>,
    /// Entries about this resource (a model, a deployment, a promotion id).
    #[arg(long)]
    resource: Option<String>,
    #[arg(long, default_value_t = 0)]
    after_seq: i64,
    #[arg(long, default_value_t = 1000)]
    limit: usize,
    /// One entry's canonical JSON per line (what was hashed).
    #[arg(long)]
    jsonl: bool,
}

/// Exit codes of `audit verify`.
pub enum Verified {
    Intact,
    Tampered,
    CannotVerify,
}

fn key_text(arg: &str) -> Result<String> {
    if std::path::Path::new(arg).is_file() {
        Ok(std::fs::read_to_string(arg)
            .with_context(|| format!("reading {arg}"))?
            .trim()
            .to_owned())
    } else {
        Ok(arg.trim().to_owned())
    }
}

pub async fn audit(cmd: AuditCommand) -> Result<Verified> {
    match cmd.command {
        AuditSub::Verify(a) => verify(a).await,
        AuditSub::Log(a) => {
            log(a).await?;
            Ok(Verified::Intact)
        }
        AuditSub::Checkpoint { server } => {
            let v = call(
                &api(server.as_deref()),
                Method::POST,
                "/audit/checkpoints",
                &[],
                None,
            )
            .await?;
            match v["checkpoint"].as_object() {
                Some(c) => println!("signed a checkpoint at size {}", s(&c["size"])),
                None => println!("the last checkpoint already covers every entry"),
            }
            Ok(Verified::Intact)
        }
        AuditSub::Pubkey { server } => {
            let v = call(
                &api(server.as_deref()),
                Method::GET,
                "/audit/pubkey",
                &[],
                None,
            )
            .await?;
            println!("{}", s(&v["pubkey"]));
            Ok(Verified::Intact)
        }
    }
}

async fn verify(a: VerifyArgs) -> Result<Verified> {
    let pubkey = a.pubkey.as_deref().map(key_text).transpose()?;
    let report: Value = match &a.server {
        None => serde_json::to_value(
            cairn_server::audit_verify_local(&a.store.config(), pubkey.as_deref()).await?,
        )?,
        Some(server) => {
            let c = api(Some(server));
            let key = match pubkey {
                Some(k) => Some(k),
                None => call(&c, Method::GET, "/audit/pubkey", &[], None).await?["pubkey"]
                    .as_str()
                    .map(str::to_owned),
            };
            let key = key
                .map(|k| AuditPublicKey::parse(&k))
                .transpose()
                .map_err(|e| anyhow::anyhow!("the verifier key: {e}"))?;
            verify_remote(&c, key).await?
        }
    };
    if a.json {
        print_json(&report)?;
    } else {
        match report["outcome"].as_str() {
            Some("intact") => println!(
                "intact: {} entries, {} signed checkpoint(s) verified, {} entries after the last one",
                s(&report["entries"]),
                s(&report["checkpoints_verified"]),
                s(&report["unanchored_tail"])
            ),
            Some("tampered") => println!(
                "TAMPERED at entry {}: {}",
                s(&report["seq"]),
                s(&report["reason"])
            ),
            _ => println!("cannot verify: {}", s(&report["reason"])),
        }
        for w in report["warnings"].as_array().into_iter().flatten() {
            eprintln!("warning: {}", s(w));
        }
    }
    Ok(match report["outcome"].as_str() {
        Some("intact") => Verified::Intact,
        Some("tampered") => Verified::Tampered,
        _ => Verified::CannotVerify,
    })
}

/// Fetches a server's chain and checkpoints and verifies them here.
async fn verify_remote(c: &cairn_client::Client, key: Option<AuditPublicKey>) -> Result<Value> {
    let info = call(c, Method::GET, "/audit/checkpoints", &[], None).await?;
    let checkpoints = info["checkpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|cp| StoredCheckpoint {
            size: cp["size"].as_u64().unwrap_or(0),
            note: s(&cp["note"]),
        })
        .collect();
    let first = call(
        c,
        Method::GET,
        "/audit/entries",
        &[("limit", "1".into())],
        None,
    )
    .await?;
    let log_id = first["entries"][0]["entry"]
        .as_str()
        .and_then(|e| serde_json::from_str::<Value>(e).ok())
        .and_then(|e| e["log"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut verifier = Verifier::new(&log_id, key, checkpoints);
    let mut after = 0i64;
    loop {
        let page = call(
            c,
            Method::GET,
            "/audit/entries",
            &[("after_seq", after.to_string()), ("limit", "10000".into())],
            None,
        )
        .await?;
        let rows = page["entries"].as_array().cloned().unwrap_or_default();
        for r in &rows {
            verifier.push(&StoredEntry {
                seq: r["seq"].as_i64().unwrap_or(0),
                ts_ms: r["ts_ms"].as_i64().unwrap_or(0),
                actor: s(&r["actor"]),
                action: s(&r["action"]),
                resource_kind: s(&r["resource_kind"]),
                resource_id: s(&r["resource_id"]),
                entry: s(&r["entry"]).into_bytes(),
                leaf_hash: hex::decode(s(&r["leaf_hash"])).unwrap_or_default(),
                chain_hash: hex::decode(s(&r["chain_hash"])).unwrap_or_default(),
            });
        }
        match rows.last() {
            Some(last) if rows.len() == 10_000 => after = last["seq"].as_i64().unwrap_or(after),
            _ => break,
        }
    }
    Ok(serde_json::to_value(
        cairn_service::AuditVerification::from(verifier.finish()),
    )?)
}

async fn log(a: LogArgs) -> Result<()> {
    let c = api(a.server.as_deref());
    let mut q = vec![
        ("after_seq", a.after_seq.to_string()),
        ("limit", a.limit.to_string()),
    ];
    for (k, v) in [
        ("actor", a.actor),
        ("action", a.action),
        ("resource", a.resource),
    ] {
        if let Some(v) = v {
            q.push((k, v));
        }
    }
    let v = call(&c, Method::GET, "/audit/entries", &q, None).await?;
    let mut out = std::io::stdout().lock();
    for e in v["entries"].as_array().into_iter().flatten() {
        let line = if a.jsonl {
            s(&e["entry"])
        } else {
            format!(
                "{:>6}  {}  {:<12} {:<36} {}",
                s(&e["seq"]),
                crate::client::time(e["ts_ms"].as_i64()),
                s(&e["actor"]),
                s(&e["action"]),
                s(&e["resource_id"])
            )
        };
        // A closed pipe (`| head`) ends the listing quietly.
        if writeln!(out, "{line}").is_err() {
            break;
        }
    }
    Ok(())
}
