//! MLflow wire types: request and response messages with MLflow's exact field names, and their
//! conversions from and to domain types. Never used as domain types themselves.

pub mod experiments;
pub mod lenient;
pub mod logged_models;
pub mod registry;
pub mod runs;
pub mod tags;
