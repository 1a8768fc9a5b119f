//! Cairn's composition root: turns a [`ServerConfig`] into a running HTTP server — opens the metadata
//! store and the artifact repository, builds the use cases, mounts the protocol routers, adds the
//! middleware (request ids, tracing, panic safety) and shuts down gracefully.
//!
//! The only crate that knows every concrete engine; everything below it sees traits.

mod backends;
mod config;
mod serve;

pub use config::ServerConfig;
pub use serve::{Server, run};
