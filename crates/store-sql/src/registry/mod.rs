//! The model registry on SQL, written once for both engines: an engine supplies transactions
//! ([`RegistryDb`], [`Tx`]) and [`SqlRegistry`] does the rest.

mod aliases;
mod catalog;
mod db;
mod events;
mod load;
mod model_versions_tag;
mod models;
mod store;
mod versions;
mod writes;

pub(crate) use aliases::move_alias;
pub use db::{RegistryDb, Row, Tx, Val};
pub use store::SqlRegistry;
