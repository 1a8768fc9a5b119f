//! Cairn's embedded metadata store: SQLite through sqlx for the shared tracking store
//! (`cairn_store_sql::SqlTracking`: its connections, bulk ingest and the lookups SQLite spells its own way) and the transactions
//! the shared model registry (`cairn_store_sql::SqlRegistry`) runs on.
//!
//! One file, WAL journal, `synchronous = NORMAL` by default (an acknowledged write survives `kill -9` of
//! the process; `?synchronous=full` in the URI makes it survive a power cut too, at an fsync per commit). Writes go through a single connection (SQLite has one writer at a time; queueing in the
//! pool beats retrying on `SQLITE_BUSY`), reads through a pool of read-only connections that WAL lets run
//! beside the writer. Migrations are embedded in the binary.

mod connect;
mod errors;
mod experiments;
mod load;
mod metrics;
mod registry;
mod runs;

pub use connect::SqliteDb;

/// The SQLite store: tracking ([`cairn_store::TrackingStore`]) on [`SqliteDb`], and the transactions the
/// registry, deployments and change log run on.
pub type SqliteStore = cairn_store_sql::SqlTracking<SqliteDb>;
