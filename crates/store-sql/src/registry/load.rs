//! Reading registered models and versions with their tags and aliases: one query per table, assembled
//! in memory.

use std::collections::HashMap;

use cairn_domain::{ModelAlias, ModelVersion, RegisteredModel, Stage, Tag, VersionStatus};
use cairn_store::{StoreError, StoreResult};

use super::db::{Row, Tx, Val};
use crate::errors::{registered_model_not_found, version_not_found};

const VERSION_COLUMNS: &str = "v.name, v.version, v.creation_timestamp, v.last_updated_timestamp, \
     v.description, v.user_id, v.current_stage, v.source, v.storage_location, v.run_id, v.run_link, \
     v.model_id, v.status, v.status_message";

fn parse<T: std::str::FromStr>(s: String) -> StoreResult<T>
where
    T::Err: std::fmt::Display,
{
    s.parse()
        .map_err(|e| StoreError::Internal(format!("corrupt registry value {s:?}: {e}")))
}

fn version_from(r: &Row) -> StoreResult<ModelVersion> {
    Ok(ModelVersion {
        name: r.text(0)?,
        version: r.int(1)?,
        creation_timestamp: r.int(2)?,
        last_updated_timestamp: r.int(3)?,
        description: r.opt_text(4)?,
        user_id: r.opt_text(5)?,
        current_stage: parse::<Stage>(r.text(6)?)?,
        source: r.text(7)?,
        storage_location: r.text(8)?,
        run_id: r.opt_text(9)?,
        run_link: r.opt_text(10)?,
        model_id: r.opt_text(11)?,
        status: parse::<VersionStatus>(r.text(12)?)?,
        status_message: r.opt_text(13)?,
        tags: Vec::new(),
        aliases: Vec::new(),
    })
}

/// Which versions to load.
pub(crate) enum Versions<'a> {
    One(&'a str, i64),
    OfModel(&'a str),
    All,
    /// The newest live version in each stage, of one model or of all.
    LatestPerStage(Option<&'a str>),
}

/// Loads live versions with their tags and aliases, ordered by name then version.
pub(crate) async fn load_versions(
    tx: &mut dyn Tx,
    which: Versions<'_>,
) -> StoreResult<Vec<ModelVersion>> {
    let (cond, args): (String, Vec<Val>) = match which {
        Versions::One(name, v) => (
            "v.name = $1 AND v.version = $2".into(),
            vec![name.into(), v.into()],
        ),
        Versions::OfModel(name) => ("v.name = $1".into(), vec![name.into()]),
        Versions::All => ("1 = 1".into(), vec![]),
        // One uncorrelated aggregate, not a subquery per version: models have hundreds of versions.
        Versions::LatestPerStage(Some(n)) => (
            "v.name = $1 AND (v.name, v.version) IN (SELECT name, MAX(version) FROM model_versions \
             WHERE deleted = 0 AND name = $1 GROUP BY name, current_stage)"
                .into(),
            vec![n.into()],
        ),
        Versions::LatestPerStage(None) => (
            "(v.name, v.version) IN (SELECT name, MAX(version) FROM model_versions \
             WHERE deleted = 0 GROUP BY name, current_stage)"
                .into(),
            vec![],
        ),
    };
    let rows = tx
        .query(
            &format!(
                "SELECT {VERSION_COLUMNS} FROM model_versions v WHERE v.deleted = 0 AND {cond} \
                 ORDER BY v.name, v.version"
            ),
            args.clone(),
        )
        .await?;
    let mut versions = rows
        .iter()
        .map(version_from)
        .collect::<StoreResult<Vec<_>>>()?;
    if versions.is_empty() {
        return Ok(versions);
    }
    let index: HashMap<(String, i64), usize> = versions
        .iter()
        .enumerate()
        .map(|(i, v)| ((v.name.clone(), v.version), i))
        .collect();
    // Tags of the same selection, then the model's aliases (those of other versions are skipped).
    let tags = tx
        .query(
            &format!(
                "SELECT t.name, t.version, t.key, t.value FROM model_version_tags t \
                 JOIN model_versions v ON v.name = t.name AND v.version = t.version \
                 WHERE v.deleted = 0 AND {cond} ORDER BY t.name, t.version, t.key"
            ),
            args.clone(),
        )
        .await?;
    for r in &tags {
        if let Some(&i) = index.get(&(r.text(0)?, r.int(1)?)) {
            versions[i].tags.push(Tag {
                key: r.text(2)?,
                value: r.text(3)?,
            });
        }
    }
    let names_cond = match which {
        Versions::One(..) | Versions::OfModel(_) | Versions::LatestPerStage(Some(_)) => {
            ("a.name = $1", vec![args[0].clone()])
        }
        Versions::All | Versions::LatestPerStage(None) => ("1 = 1", vec![]),
    };
    let aliases = tx
        .query(
            &format!(
                "SELECT a.name, a.version, a.alias FROM registered_model_aliases a WHERE {} \
                 ORDER BY a.name, a.alias",
                names_cond.0
            ),
            names_cond.1,
        )
        .await?;
    for r in &aliases {
        if let Some(&i) = index.get(&(r.text(0)?, r.int(1)?)) {
            versions[i].aliases.push(r.text(2)?);
        }
    }
    Ok(versions)
}

/// Loads one live version or fails with MLflow's not-found message.
pub(crate) async fn load_version(
    tx: &mut dyn Tx,
    name: &str,
    version: i64,
) -> StoreResult<ModelVersion> {
    load_versions(tx, Versions::One(name, version))
        .await?
        .pop()
        .ok_or_else(|| version_not_found(name, version))
}

/// Loads registered models (one, or all) with tags, aliases and latest versions, ordered by name.
pub(crate) async fn load_models(
    tx: &mut dyn Tx,
    name: Option<&str>,
) -> StoreResult<Vec<RegisteredModel>> {
    let (cond, args): (&str, Vec<Val>) = match name {
        Some(n) => ("name = $1", vec![n.into()]),
        None => ("1 = 1", vec![]),
    };
    let rows = tx
        .query(
            &format!(
                "SELECT name, creation_timestamp, last_updated_timestamp, description \
                 FROM registered_models WHERE {cond} ORDER BY name"
            ),
            args.clone(),
        )
        .await?;
    let mut models = rows
        .iter()
        .map(|r| {
            Ok(RegisteredModel {
                name: r.text(0)?,
                creation_timestamp: r.int(1)?,
                last_updated_timestamp: r.int(2)?,
                description: r.opt_text(3)?,
                tags: Vec::new(),
                aliases: Vec::new(),
                latest_versions: Vec::new(),
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    if models.is_empty() {
        return Ok(models);
    }
    let index: HashMap<String, usize> = models
        .iter()
        .enumerate()
        .map(|(i, m)| (m.name.clone(), i))
        .collect();
    let tags = tx
        .query(
            &format!(
                "SELECT name, key, value FROM registered_model_tags WHERE {cond} ORDER BY name, key"
            ),
            args.clone(),
        )
        .await?;
    for r in &tags {
        if let Some(&i) = index.get(&r.text(0)?) {
            models[i].tags.push(Tag {
                key: r.text(1)?,
                value: r.text(2)?,
            });
        }
    }
    let aliases = tx
        .query(
            &format!(
                "SELECT name, alias, version FROM registered_model_aliases WHERE {cond} \
                 ORDER BY name, alias"
            ),
            args,
        )
        .await?;
    for r in &aliases {
        if let Some(&i) = index.get(&r.text(0)?) {
            models[i].aliases.push(ModelAlias {
                alias: r.text(1)?,
                version: r.int(2)?,
            });
        }
    }
    let mut latest = load_versions(tx, Versions::LatestPerStage(name)).await?;
    latest.sort_by(|a, b| (&a.name, a.current_stage).cmp(&(&b.name, b.current_stage)));
    for v in latest {
        if let Some(&i) = index.get(&v.name) {
            models[i].latest_versions.push(v);
        }
    }
    Ok(models)
}

/// Loads one registered model or fails with MLflow's not-found message.
pub(crate) async fn load_model(tx: &mut dyn Tx, name: &str) -> StoreResult<RegisteredModel> {
    load_models(tx, Some(name))
        .await?
        .pop()
        .ok_or_else(|| registered_model_not_found(name))
}
