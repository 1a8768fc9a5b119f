//! Model cards: per version, the facts generated from stored evidence (identity, data, parameters,
//! metrics, gates, approvals, where it is served) beside authored sections (intended use, limitations,
//! risk, owners), with a review status a policy can require.

use cairn_auth::roles::{Capability, Resource};
use cairn_domain::governance::CardRecord;
use cairn_domain::time::now_millis;
use cairn_store::GateQuery;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::policy::rfc3339;
use super::{Governance, Principal, change};
use crate::{ServiceError, ServiceResult};

/// The sections a card's authors fill in.
pub const AUTHORED_SECTIONS: [&str; 6] = [
    "intended_use",
    "limitations",
    "risk",
    "risk_rating",
    "owners",
    "ethical_considerations",
];

/// A version's card: generated facts, authored sections, status and digest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CardView {
    pub model: String,
    pub version: i64,
    /// `draft` or `approved`.
    pub status: String,
    /// `sha256:` over the generated and authored content: what a policy decision saw.
    pub digest: String,
    pub generated: Value,
    pub authored: Value,
    /// Authored sections still empty.
    pub missing: Vec<String>,
    pub updated_by: Option<String>,
    pub updated_at: Option<String>,
}

impl Governance {
    pub async fn card(&self, model: &str, version: i64) -> ServiceResult<CardView> {
        let record = self.store.card(model, version).await?;
        let generated = self.card_facts(model, version).await?;
        let authored = record
            .as_ref()
            .map_or_else(|| Value::Object(Map::new()), |r| r.authored.clone());
        let digest = format!(
            "sha256:{}",
            hex::encode(Sha256::digest(
                json!({"generated": generated, "authored": authored})
                    .to_string()
                    .as_bytes()
            ))
        );
        let missing = AUTHORED_SECTIONS
            .iter()
            .filter(|s| {
                authored
                    .get(**s)
                    .is_none_or(|v| v.as_str().is_some_and(str::is_empty))
            })
            .map(|s| (*s).to_owned())
            .collect();
        Ok(CardView {
            model: model.to_owned(),
            version,
            status: record
                .as_ref()
                .map_or("draft".to_owned(), |r| r.status.clone()),
            digest,
            generated,
            authored,
            missing,
            updated_by: record.as_ref().map(|r| r.updated_by.clone()),
            updated_at: record.as_ref().map(|r| rfc3339(r.updated_ms)),
        })
    }

    /// What a policy sees of a card.
    pub(crate) async fn card_summary(&self, model: &str, version: i64) -> ServiceResult<Value> {
        let c = self.card(model, version).await?;
        Ok(json!({
            "status": c.status,
            "digest": c.digest,
            "risk_rating": c.authored.get("risk_rating").cloned().unwrap_or(Value::Null),
            "missing": c.missing,
        }))
    }

    /// Writes authored sections (merged into what is there) and/or the status. Editing makes the card a
    /// draft again; approving it needs the approver role on the model and another person than its last
    /// author.
    pub async fn update_card(
        &self,
        by: &Principal,
        model: &str,
        version: i64,
        sections: Option<Map<String, Value>>,
        status: Option<&str>,
    ) -> ServiceResult<CardView> {
        self.registry
            .get_model_version(model, &version.to_string())
            .await?;
        let existing = self.store.card(model, version).await?;
        let mut authored = existing
            .as_ref()
            .and_then(|r| r.authored.as_object().cloned())
            .unwrap_or_default();
        let mut new_status = existing
            .as_ref()
            .map_or("draft".to_owned(), |r| r.status.clone());
        // Whoever writes sections is the card's last author, in this very request too.
        let edits = sections.is_some();
        if let Some(sections) = sections {
            if !by.can(Capability::Register, &Resource::Model(model)) {
                return Err(ServiceError::PermissionDenied(format!(
                    "editing the card of '{model}' needs the scientist role on it"
                )));
            }
            for (k, v) in sections {
                if !v.is_string() {
                    return Err(ServiceError::InvalidArgument(format!(
                        "card section '{k}' must be text"
                    )));
                }
                authored.insert(k, v);
            }
            new_status = "draft".to_owned();
        }
        match status {
            None => {}
            Some("draft") => new_status = "draft".to_owned(),
            Some("approved") => {
                if !by.can(Capability::Approve, &Resource::Model(model)) {
                    return Err(ServiceError::PermissionDenied(format!(
                        "approving the card of '{model}' needs the approver role on it"
                    )));
                }
                if edits || existing.as_ref().is_some_and(|r| r.updated_by == by.name) {
                    return Err(ServiceError::PermissionDenied(format!(
                        "four-eyes: {} last edited this card and cannot approve it",
                        by.name
                    )));
                }
                new_status = "approved".to_owned();
            }
            Some(other) => {
                return Err(ServiceError::InvalidArgument(format!(
                    "card status must be draft or approved, not '{other}'"
                )));
            }
        }
        let record = CardRecord {
            model: model.to_owned(),
            version,
            status: new_status,
            authored: Value::Object(authored),
            updated_by: by.name.clone(),
            updated_ms: now_millis(),
        };
        self.store.put_card(&record, &change(&by.name)).await?;
        self.card(model, version).await
    }

    /// The card's facts, from the registry, the run, the gates, the promotions and the deployments.
    async fn card_facts(&self, model: &str, version: i64) -> ServiceResult<Value> {
        let v = self
            .registry
            .get_model_version(model, &version.to_string())
            .await?;
        let run = match &v.run_id {
            Some(id) => self.tracking.get_run(id).await.ok(),
            None => None,
        };
        let gates: Vec<Value> = self
            .gates
            .list_gate_evaluations(&GateQuery {
                pipeline_run_id: None,
                model_name: Some(model.to_owned()),
                limit: 200,
            })
            .await?
            .into_iter()
            .filter(|g| g.record.model_version == Some(version))
            .map(|g| {
                json!({"id": g.id, "pipeline": g.record.pipeline, "decision": g.record.decision.as_str(),
                       "rules": g.record.rules.iter().map(|r| json!({"name": r.name, "rule": r.rule,
                           "observed": r.observed, "outcome": format!("{:?}", r.outcome).to_lowercase()}))
                           .collect::<Vec<_>>()})
            })
            .collect();
        let approvals: Vec<Value> = self
            .store
            .promotions(None, Some(model))
            .await?
            .into_iter()
            .filter(|p| p.version == version)
            .map(|p| {
                json!({"id": p.id, "alias": p.alias, "state": p.state.as_str(), "requested_by": p.requested_by,
                       "approved_by": p.approvers().collect::<Vec<_>>(), "decision_id": p.decision_id})
            })
            .collect();
        let mut served_by = Vec::new();
        for d in self.deployments.list().await? {
            let s = &d.state.serving;
            if s.primary.name == model && s.primary.version == version {
                served_by.push(json!({"deployment": d.name, "role": "primary"}));
            } else if s
                .canary
                .as_ref()
                .is_some_and(|c| c.model.name == model && c.model.version == version)
            {
                served_by.push(json!({"deployment": d.name, "role": "canary"}));
            }
        }
        Ok(json!({
            "identity": {
                "model": model,
                "version": version,
                "aliases": v.aliases,
                "stage": v.current_stage.as_str(),
                "source": v.source,
                "created_by": v.user_id,
                "created_at": rfc3339(v.creation_timestamp),
                "artifact_digest": self.artifact_digest(model, version).await?,
            },
            "training": run.as_ref().map(|r| json!({
                "run_id": r.info.run_id.to_string(),
                "experiment_id": r.info.experiment_id.to_string(),
                "author": r.info.user_id,
                "datasets": r.inputs.dataset_inputs.iter().map(|d| json!({
                    "name": d.dataset.name, "digest": d.dataset.digest, "source": d.dataset.source,
                    "context": d.context()})).collect::<Vec<_>>(),
                "params": r.data.params.iter().map(|p| (p.key.clone(), json!(p.value))).collect::<Map<_, _>>(),
                "metrics": r.data.metrics.iter().map(|m| (m.key.clone(), json!(m.value))).collect::<Map<_, _>>(),
            })),
            "gates": gates,
            "approvals": approvals,
            "deployments": served_by,
        }))
    }
}

/// The card as Markdown.
pub fn card_markdown(c: &CardView) -> String {
    let mut md = format!(
        "# Model card: {} v{}\n\nStatus: **{}** · digest `{}`\n\n",
        c.model, c.version, c.status, c.digest
    );
    for s in AUTHORED_SECTIONS {
        let title = s.replace('_', " ");
        let text = c
            .authored
            .get(s)
            .and_then(Value::as_str)
            .unwrap_or("_(not written yet)_");
        md.push_str(&format!(
            "## {}{}\n\n{text}\n\n",
            title[..1].to_uppercase(),
            &title[1..]
        ));
    }
    let g = &c.generated;
    md.push_str("## Identity (generated)\n\n");
    if let Some(id) = g.get("identity").and_then(Value::as_object) {
        for (k, v) in id {
            md.push_str(&format!("- {k}: {}\n", plain(v)));
        }
    }
    md.push_str("\n## Training (generated)\n\n");
    match g.get("training") {
        Some(Value::Object(t)) => {
            for key in ["run_id", "experiment_id", "author"] {
                md.push_str(&format!("- {key}: {}\n", plain(&t[key])));
            }
            for d in t["datasets"].as_array().into_iter().flatten() {
                md.push_str(&format!(
                    "- dataset {} ({}): digest `{}`\n",
                    plain(&d["name"]),
                    plain(&d["context"]),
                    plain(&d["digest"])
                ));
            }
            md.push_str("\n| parameter | value |\n|---|---|\n");
            for (k, v) in t["params"].as_object().into_iter().flatten() {
                md.push_str(&format!("| {k} | {} |\n", plain(v)));
            }
            md.push_str("\n| metric | value |\n|---|---|\n");
            for (k, v) in t["metrics"].as_object().into_iter().flatten() {
                md.push_str(&format!("| {k} | {} |\n", plain(v)));
            }
        }
        _ => md.push_str("No training run recorded.\n"),
    }
    for (title, key) in [
        ("Gates", "gates"),
        ("Approvals", "approvals"),
        ("Deployments", "deployments"),
    ] {
        md.push_str(&format!("\n## {title} (generated)\n\n"));
        let items = g[key].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            md.push_str("None.\n");
        }
        for i in items {
            md.push_str(&format!("- {}\n", i));
        }
    }
    if !c.missing.is_empty() {
        md.push_str(&format!("\n_Missing sections: {}_\n", c.missing.join(", ")));
    }
    md
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    }
}

/// The card as a self-contained HTML page (its Markdown, with headings, lists and tables rendered).
pub fn card_html(c: &CardView) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut body = String::new();
    let mut in_list = false;
    let mut in_table = false;
    for line in card_markdown(c).lines() {
        if in_list && !line.starts_with("- ") {
            body.push_str("</ul>\n");
            in_list = false;
        }
        if in_table && !line.starts_with('|') {
            body.push_str("</table>\n");
            in_table = false;
        }
        if let Some(h) = line.strip_prefix("# ") {
            body.push_str(&format!("<h1>{}</h1>\n", esc(h)));
        } else if let Some(h) = line.strip_prefix("## ") {
            body.push_str(&format!("<h2>{}</h2>\n", esc(h)));
        } else if let Some(item) = line.strip_prefix("- ") {
            if !in_list {
                body.push_str("<ul>\n");
                in_list = true;
            }
            body.push_str(&format!("<li>{}</li>\n", esc(item)));
        } else if line.starts_with('|') {
            if line.starts_with("|---") {
                continue;
            }
            if !in_table {
                body.push_str("<table>\n");
                in_table = true;
            }
            let cells: Vec<String> = line
                .trim_matches('|')
                .split('|')
                .map(|cell| format!("<td>{}</td>", esc(cell.trim())))
                .collect();
            body.push_str(&format!("<tr>{}</tr>\n", cells.concat()));
        } else if !line.is_empty() {
            body.push_str(&format!("<p>{}</p>\n", esc(line)));
        }
    }
    if in_list {
        body.push_str("</ul>\n");
    }
    if in_table {
        body.push_str("</table>\n");
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Model card: {} v{}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}\
         table{{border-collapse:collapse}}td{{border:1px solid #ccc;padding:.2rem .5rem}}</style></head>\
         <body>\n{body}</body></html>\n",
        esc(&c.model),
        c.version
    )
}
