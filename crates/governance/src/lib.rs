//! Governance without I/O: what the audit chain's entries hash to and how a copy of it is verified, and how a
//! Rego policy decides a promotion. The stores write the rows and the server decides when to sign; this
//! crate only computes and checks, and its only I/O is reading and writing the signing key's file.

pub mod audit;
pub mod policy;
