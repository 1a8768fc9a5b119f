//! Cairn's embedded metadata store: [`cairn_store::TrackingStore`] on SQLite through sqlx.
//!
//! One file, WAL journal, `synchronous = FULL` so an acknowledged write survives a crash of the process or
//! the machine. Writes go through a single connection (SQLite has one writer at a time; queueing in the
//! pool beats retrying on `SQLITE_BUSY`), reads through a pool of read-only connections that WAL lets run
//! beside the writer. Migrations are embedded in the binary.

mod connect;
mod errors;
mod experiments;
mod load;
mod logged_models;
mod metrics;
mod registry;
mod runs;
mod store;

pub use connect::SqliteStore;
