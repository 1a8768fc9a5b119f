//! Cairn's shared metadata store: PostgreSQL through sqlx for the shared tracking store
//! (`cairn_store_sql::SqlTracking`: its connections, bulk ingest and the lookups PostgreSQL spells its own way) and the
//! transactions the shared model registry (`cairn_store_sql::SqlRegistry`) runs on (registry writes take
//! one advisory lock, so they serialise across servers and the change log follows commit order).
//!
//! Several Cairn servers may share one database, so every invariant the SQLite store gets from its single
//! writer is enforced here by PostgreSQL itself, under READ COMMITTED:
//! - each write to a run starts by locking the run's row (`SELECT … FOR UPDATE`), so writes to one run
//!   serialize across processes and param immutability is checked against settled state;
//! - unique names are unique constraints, latest metrics an atomic conditional upsert, duplicate metric
//!   points an `ON CONFLICT` no-op;
//! - locks are taken in one order (experiment, then run, then its child rows; dataset writes of one
//!   experiment take turns on an advisory lock), so the shared writes need no retry; `log_batch`, the one
//!   write spelt here, still retries a transaction PostgreSQL aborts as a deadlock or serialization
//!   victim (SQLSTATE 40P01/40001) a few times.
//!
//! Connection trouble (refused, timed out, dropped, database gone) surfaces as
//! [`StoreError::Unavailable`](cairn_store::StoreError::Unavailable); the pool tests each connection
//! before handing it out and reconnects when the database returns. Migrations are embedded in the binary.

mod connect;
mod errors;
mod experiments;
mod key_values;
mod load;
mod metrics;
mod registry;
mod runs;

pub use connect::PostgresDb;

/// The PostgreSQL store: tracking ([`cairn_store::TrackingStore`]) on [`PostgresDb`], and the
/// transactions the registry, deployments and change log run on.
pub type PostgresStore = cairn_store_sql::SqlTracking<PostgresDb>;
