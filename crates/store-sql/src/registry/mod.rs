//! The model registry on SQL, written once for both engines: an engine supplies transactions
//! ([`RegistryDb`], [`Tx`]) and [`SqlRegistry`] does the rest.

mod catalog;
mod db;
mod load;
mod model_versions_tag;
mod store;

pub use db::{RegistryDb, Row, Tx, Val};
pub use store::SqlRegistry;
