//! The model registry on SQL, written once for both engines: an engine supplies transactions
//! ([`RegistryDb`], [`Tx`]) and [`SqlRegistry`] does the rest.

// Used by every module below: defined first so that they see them.
/// Runs `body` in a write transaction and commits it; on error the transaction is dropped (rolled
/// back).
macro_rules! write {
    ($self:ident, |$tx:ident| $body:block) => {{
        let mut boxed = $self.db.begin_write().await?;
        let result = {
            let $tx: &mut dyn Tx = &mut *boxed;
            async { $body }.await
        };
        match result {
            Ok(v) => {
                boxed.commit().await?;
                Ok(v)
            }
            Err(e) => Err(e),
        }
    }};
}

/// Runs `body` on a read snapshot.
macro_rules! read {
    ($self:ident, |$tx:ident| $body:block) => {{
        let mut boxed = $self.db.begin_read().await?;
        let $tx: &mut dyn Tx = &mut *boxed;
        let result = async { $body }.await;
        drop(boxed);
        result
    }};
}

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

pub use db::{RegistryDb, Row, Tx, Val};
pub use store::SqlRegistry;
