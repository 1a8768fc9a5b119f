//! The registry held in memory, kept exact by the change log.
//!
//! Every registry write appends events in its own transaction, so the log's position (`MAX(seq)`) names
//! a state of the registry. A read checks the position — one indexed lookup — and, when the log has
//! moved, reloads only the models the new events name (a model is reloaded whole: its row, tags,
//! aliases and versions), also when another server on the same database made the change. Reads then
//! answer from memory: searches and point reads alike.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use cairn_domain::{ModelVersion, RegisteredModel};
use cairn_store::{StoreError, StoreResult};

use super::db::Tx;
use super::load::{Versions, load_models, load_versions};

/// Past this many changed models a full reload is cheaper than one reload per model.
const MAX_INCREMENTAL: usize = 64;

/// The registry as of change-log position `seq`.
#[derive(Clone, Default)]
pub(crate) struct Catalog {
    pub seq: i64,
    /// By name.
    pub models: BTreeMap<String, Arc<RegisteredModel>>,
    /// Live versions by model name, in version order.
    pub versions: BTreeMap<String, Arc<Vec<ModelVersion>>>,
    /// Change-log key → current name.
    names: HashMap<String, String>,
}

/// The last catalog read, shared by every request of one server.
#[derive(Clone, Default)]
pub(crate) struct CatalogCache(Arc<Mutex<Option<Arc<Catalog>>>>);

async fn position(tx: &mut dyn Tx) -> StoreResult<i64> {
    tx.query("SELECT COALESCE(MAX(seq), 0) FROM registry_events", vec![])
        .await?[0]
        .int(0)
}

/// Loads the models named (all when `None`) with their versions, and their change-log keys.
async fn load_into(cat: &mut Catalog, tx: &mut dyn Tx, name: Option<&str>) -> StoreResult<()> {
    let (cond, args) = match name {
        Some(n) => ("WHERE name = $1", vec![n.into()]),
        None => ("", vec![]),
    };
    for r in tx
        .query(
            &format!("SELECT model_key, name FROM registered_models {cond}"),
            args,
        )
        .await?
    {
        cat.names.insert(r.text(0)?, r.text(1)?);
    }
    for m in load_models(tx, name).await? {
        cat.models.insert(m.name.clone(), Arc::new(m));
    }
    let versions = match name {
        Some(n) => load_versions(tx, Versions::OfModel(n)).await?,
        None => load_versions(tx, Versions::All).await?,
    };
    let mut by_model: BTreeMap<String, Vec<ModelVersion>> = BTreeMap::new();
    for v in versions {
        by_model.entry(v.name.clone()).or_default().push(v);
    }
    for (n, vs) in by_model {
        cat.versions.insert(n, Arc::new(vs));
    }
    Ok(())
}

impl CatalogCache {
    fn cached(&self) -> StoreResult<Option<Arc<Catalog>>> {
        Ok(self
            .0
            .lock()
            .map_err(|_| StoreError::Internal("registry catalog lock poisoned".into()))?
            .clone())
    }

    /// The catalog as of `tx`'s snapshot.
    pub async fn current(&self, tx: &mut dyn Tx) -> StoreResult<Arc<Catalog>> {
        let seq = position(tx).await?;
        let cached = self.cached()?;
        if let Some(c) = &cached
            && c.seq == seq
        {
            return Ok(c.clone());
        }
        let mut next = match &cached {
            Some(c) if c.seq < seq => {
                let keys: HashSet<String> = tx
                    .query(
                        "SELECT DISTINCT model_key FROM registry_events WHERE seq > $1",
                        vec![c.seq.into()],
                    )
                    .await?
                    .iter()
                    .map(|r| r.text(0))
                    .collect::<StoreResult<_>>()?;
                if keys.len() > MAX_INCREMENTAL {
                    None
                } else {
                    let mut next = Catalog::clone(c);
                    // Forget every changed model under the name it had, then reload each under the
                    // name it has now (in two passes: a name one model gave up may now be another's).
                    for key in &keys {
                        if let Some(old) = next.names.remove(key) {
                            next.models.remove(&old);
                            next.versions.remove(&old);
                        }
                    }
                    for key in keys {
                        let now = tx
                            .query(
                                "SELECT name FROM registered_models WHERE model_key = $1",
                                vec![key.into()],
                            )
                            .await?;
                        if let Some(r) = now.first() {
                            let name = r.text(0)?;
                            next.models.remove(&name);
                            next.versions.remove(&name);
                            load_into(&mut next, tx, Some(&name)).await?;
                        }
                    }
                    Some(next)
                }
            }
            _ => None,
        };
        if next.is_none() {
            let mut full = Catalog::default();
            load_into(&mut full, tx, None).await?;
            next = Some(full);
        }
        let mut next = next.unwrap_or_default();
        next.seq = seq;
        let next = Arc::new(next);
        if let Ok(mut slot) = self.0.lock()
            && slot.as_ref().is_none_or(|c| c.seq < seq)
        {
            *slot = Some(next.clone());
        }
        Ok(next)
    }
}
