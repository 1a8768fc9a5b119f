//! Black-box tests of the `cairn` binary over real HTTP on loopback: wire format, errors, durability
//! across `kill -9`, concurrency. One test binary; one module per subject.

mod support;

mod artifacts;
mod concurrency;
mod data_errors;
mod durability;
mod errors;
mod first_use;
mod gates;
mod lifecycle;
mod outage;
mod pipelines;
mod registry;
mod scale_out;
mod wire;
