//! The crate's statistics against outside values: SciPy's and Evidently 0.7.23's own numbers on the
//! shared drift fixtures; false-positive rates under no drift.

mod fixtures;
mod fpr;
