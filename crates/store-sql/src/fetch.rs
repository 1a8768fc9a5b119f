//! How an engine runs the SELECTs of a shared load.

use std::future::Future;

use cairn_store::StoreError;

use crate::Columns;

/// One engine's connection as the shared loads see it: it runs a SELECT, binding the load's one text
/// parameter when there is one, and reports failures in the engine's own error type (into which the
/// loads' own errors convert).
pub trait Fetch: Send {
    type Row: Columns;
    type Error: From<StoreError> + Send;

    /// How the engine writes the one bound parameter a load's condition refers to: `?1` or `$1`.
    const PARAM: &'static str;

    /// Whether loads spell out row order that the engine would otherwise leave open: PostgreSQL returns
    /// rows in no set order without ORDER BY (so ties and unkeyed child rows get one), while the SQLite
    /// store keeps the order its statements have always produced.
    const EXPLICIT_ORDER: bool;

    /// Runs `sql`, binding `bind` (if any) as [`Self::PARAM`].
    fn fetch(
        &mut self,
        sql: String,
        bind: Option<&str>,
    ) -> impl Future<Output = Result<Vec<Self::Row>, Self::Error>> + Send;
}
