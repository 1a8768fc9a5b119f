//! Writing one owner's key/value rows (tags, params) in a single multi-row statement.

use std::collections::BTreeMap;

use cairn_domain::Tag;
use sqlx::{Encode, PgConnection, Postgres, QueryBuilder, Type};

use crate::errors::TxResult;

/// Each key's last value, keys in order: a multi-row statement may not touch a row twice, and applying
/// the pairs one by one would leave the last.
pub(crate) fn last_per_key<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> BTreeMap<&'a str, &'a str> {
    pairs.into_iter().collect()
}

/// `INSERT INTO {table} ({owner_column}, key, value) VALUES …`: one row per pair, all of `owner`.
pub(crate) fn key_value_rows<T>(
    table: &str,
    owner_column: &str,
    owner: T,
    pairs: &BTreeMap<&str, &str>,
) -> QueryBuilder<Postgres>
where
    T: for<'q> Encode<'q, Postgres> + Type<Postgres> + Clone,
{
    let mut b = QueryBuilder::new(format!("INSERT INTO {table} ({owner_column}, key, value) "));
    b.push_values(pairs.iter(), |mut row, (key, value)| {
        row.push_bind(owner.clone())
            .push_bind(key.to_string())
            .push_bind(value.to_string());
    });
    b
}

/// Sets tags of `owner` in `table` (keyed by `(owner_column, key)`); the last of repeated keys wins.
pub(crate) async fn upsert_tags<T>(
    conn: &mut PgConnection,
    table: &str,
    owner_column: &str,
    owner: T,
    tags: &[Tag],
) -> TxResult<()>
where
    T: for<'q> Encode<'q, Postgres> + Type<Postgres> + Clone,
{
    if tags.is_empty() {
        return Ok(());
    }
    let last = last_per_key(tags.iter().map(|t| (t.key.as_str(), t.value.as_str())));
    let mut b = key_value_rows(table, owner_column, owner, &last);
    b.push(format!(
        " ON CONFLICT ({owner_column}, key) DO UPDATE SET value = EXCLUDED.value"
    ));
    b.build().execute(&mut *conn).await?;
    Ok(())
}
