//! Aliases: set or move, remove, resolve.

use cairn_domain::{Change, Clash, EventKind, ModelVersion, NewEvent};
use cairn_store::{StoreError, StoreResult};
use serde_json::json;

use super::db::Tx;
use super::load::load_version;
use super::store::SqlRegistry;
use super::writes::*;
use crate::errors::registered_model_not_found;

impl SqlRegistry {
    /// Sets or moves the alias; with `expected` (a compare-and-set), only if it is still at the
    /// expected version (`Some(None)`: still unset). The check runs under the registry's write lock, in
    /// the transaction that moves it, so two callers expecting the same version cannot both win.
    pub(super) async fn set_alias_impl(
        &self,
        name: &str,
        alias: &str,
        version: i64,
        expected: Option<Option<i64>>,
        change: &Change,
    ) -> StoreResult<()> {
        write!(self, |tx| {
            move_alias(tx, name, alias, version, expected, change).await
        })
    }

    pub(super) async fn delete_alias_impl(
        &self,
        name: &str,
        alias: &str,
        change: &Change,
    ) -> StoreResult<()> {
        write!(self, |tx| {
            let key = model_key(tx, name).await?;
            let before = alias_version(tx, name, alias).await?;
            let Some(before) = before else {
                return Ok(());
            };
            tx.execute(
                "DELETE FROM registered_model_aliases WHERE name = $1 AND alias = $2",
                vec![name.into(), alias.into()],
            )
            .await?;
            let e = NewEvent::new(EventKind::AliasDeleted)
                .version(before)
                .alias(alias)
                .before(json!({"version": before.to_string()}));
            record(tx, &key, name, change, e).await
        })
    }

    pub(super) async fn get_version_by_alias_impl(
        &self,
        name: &str,
        alias: &str,
    ) -> StoreResult<Option<ModelVersion>> {
        let catalog = self.catalog().await?;
        let model = catalog
            .models
            .get(name)
            .ok_or_else(|| registered_model_not_found(name))?;
        match model.aliases.iter().find(|a| a.alias == alias) {
            Some(a) => cached_version(&catalog, name, a.version).map(Some),
            None => Ok(None),
        }
    }
}

/// Sets or moves the alias inside the caller's transaction (which holds the write lock): the registry's
/// own writes and a governed promotion's apply both move aliases through here.
pub(crate) async fn move_alias(
    tx: &mut dyn Tx,
    name: &str,
    alias: &str,
    version: i64,
    expected: Option<Option<i64>>,
    change: &Change,
) -> StoreResult<()> {
    let key = model_key(tx, name).await?;
    load_version(tx, name, version).await?;
    let before = alias_version(tx, name, alias).await?;
    if let Some(expected) = expected
        && before != expected
    {
        return Err(StoreError::Conflict(Clash::AliasMoved {
            model: name.to_owned(),
            alias: alias.to_owned(),
            expected,
            actual: before,
        }));
    }
    if before == Some(version) {
        return Ok(());
    }
    tx.execute(
        "INSERT INTO registered_model_aliases (name, alias, version) VALUES ($1, $2, $3) \
         ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
        vec![name.into(), alias.into(), version.into()],
    )
    .await?;
    let after = json!({"version": version.to_string()});
    let e = match before {
        None => NewEvent::new(EventKind::AliasSet).after(after),
        Some(b) => NewEvent::new(EventKind::AliasMoved)
            .before(json!({"version": b.to_string()}))
            .after(after),
    };
    record(tx, &key, name, change, e.version(version).alias(alias)).await
}
