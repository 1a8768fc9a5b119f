//! Reading the change log: a model's history (through renames, after deletion) or the whole feed.

use cairn_domain::RegistryEvent;
use cairn_store::{EventQuery, StoreError, StoreResult};

use super::db::{Tx, Val};
use super::store::SqlRegistry;
use super::writes::*;
use crate::errors::registered_model_not_found;

impl SqlRegistry {
    pub(super) async fn events_impl(&self, query: EventQuery) -> StoreResult<Vec<RegistryEvent>> {
        read!(self, |tx| {
            let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
            let (cond, mut args): (&str, Vec<Val>) = match &query.model {
                Some(name) => {
                    let current = tx
                        .query(
                            "SELECT model_key FROM registered_models WHERE name = $1",
                            vec![name.into()],
                        )
                        .await?;
                    let key = match current.first() {
                        Some(r) => r.text(0)?,
                        None => tx
                            .query(
                                "SELECT model_key FROM registry_events WHERE model_name = $1 \
                                 ORDER BY seq DESC LIMIT 1",
                                vec![name.into()],
                            )
                            .await?
                            .first()
                            .map(|r| r.text(0))
                            .transpose()?
                            .ok_or_else(|| registered_model_not_found(name))?,
                    };
                    ("model_key = $3 AND", vec![key.into()])
                }
                None => ("", vec![]),
            };
            let mut all = vec![query.after_seq.into(), limit.into()];
            all.append(&mut args);
            let rows = tx
                .query(
                    &format!(
                        "SELECT seq, model_name, kind, version, alias, actor, timestamp_ms, before_json, \
                         after_json FROM registry_events WHERE {cond} seq > $1 ORDER BY seq LIMIT $2"
                    ),
                    all,
                )
                .await?;
            rows.into_iter()
                .map(|r| {
                    Ok(RegistryEvent {
                        seq: r.int(0)?,
                        model_name: r.text(1)?,
                        kind: r.text(2)?.parse().map_err(|e| {
                            StoreError::Internal(format!("corrupt event kind: {e}"))
                        })?,
                        version: r.opt_int(3)?,
                        alias: r.opt_text(4)?,
                        actor: r.text(5)?,
                        timestamp_ms: r.int(6)?,
                        before: parse_json(r.opt_text(7)?)?,
                        after: parse_json(r.opt_text(8)?)?,
                    })
                })
                .collect()
        })
    }
}
