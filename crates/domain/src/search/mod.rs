//! The search grammar of the domain: parsing and evaluating MLflow's filter strings and `order_by`
//! clauses for runs, experiments and logged models, and the opaque page tokens that continue a search.
//! Pure functions over the entities, no I/O: a store fetches candidates, and these types decide which
//! match and in what order, with the semantics (and error messages) of MLflow's SQL store.
//!
//! Layout: [`lexer`] tokenises, [`parser`] reads entity-independent clauses and order items, [`predicate`]
//! and [`like`] compile and evaluate comparisons, and one module per searchable entity decides what its
//! identifiers mean (registered models and model versions share [`registry`]).

mod experiments;
mod lexer;
mod like;
mod logged_models;
mod order;
mod page_token;
mod parser;
mod predicate;
mod registry;
mod run_fields;
mod run_order;
mod runs;
#[cfg(test)]
mod test_support;

pub use experiments::{ExperimentFilter, ExperimentOrder};
pub use like::LikePattern;
pub use logged_models::{LoggedModelFilter, LoggedModelOrder, LoggedModelOrderBy};
pub use page_token::{KeyValue, Keyset, PageToken, RunPageToken};
pub use predicate::{KeyTest, NumOp, NumTest, StrTest};
pub use registry::{
    ModelVersionFilter, ModelVersionOrder, RegisteredModelFilter, RegisteredModelOrder,
    version_is_prompt,
};
pub use run_fields::RunFields;
pub use run_order::RunOrder;
pub use runs::{DatasetField, RunAttr, RunClause, RunField, RunFilter};
