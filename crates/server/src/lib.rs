//! Cairn's composition root: turns a [`ServerConfig`] into a running HTTP server — opens the metadata
//! store and the artifact repository, builds the use cases, mounts the protocol routers, adds the
//! middleware (request ids, tracing, panic safety) and shuts down gracefully; and the same for the model
//! server of `cairn serve`.
//!
//! The only crate that knows every concrete engine; everything below it sees traits.

mod access;
mod alerts;
mod backends;
mod config;
mod control;
mod executor;
mod governance;
mod serve;
mod triggers;

pub use cairn_serving::ServeConfig;
pub use config::ServerConfig;
pub use governance::{admin_init, audit_verify_local};
pub use serve::{Server, run, run_model_server};
