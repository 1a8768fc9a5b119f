//! Cairn's monitoring statistics, pure: no HTTP, SQL or async runtime (callers run them on blocking
//! threads).
//!
//! - [`table`]: [`Table`]s read from CSV or Parquet ([`csv_read`], [`parquet_read`]), concatenated and
//!   selected by column.
//! - [`profile`]: a reference [`Profile`] (types, quantiles, histograms, category frequencies).
//! - [`stattests`]: Evidently 0.7.23's drift tests reproduced to its numbers (`ks`, `wasserstein`, `psi`,
//!   `jensenshannon`, `chisquare`, `z`) and the two-sample chi² beside them.
//! - [`drift`]: [`drift_report`] — per-column and dataset drift with Evidently's automatic choice, and
//!   multiple-testing control; [`quality`] — data quality; [`performance`] — classification and
//!   regression metrics once labels arrive.
//! - [`report`] (JSON) and [`html`] (a self-contained page) present it.

pub mod csv_read;
pub mod drift;
pub mod ecdf;
mod error;
pub mod format;
pub mod html;
pub mod parquet_read;
pub mod performance;
pub mod profile;
pub mod quality;
pub mod report;
pub mod sorted;
pub mod source;
pub mod stattests;
pub mod table;

pub use drift::{Correction, DriftOptions, drift_report};
pub use error::InputError;
pub use profile::Profile;
pub use report::Report;
pub use source::Source;
pub use table::{Categories, Column, Table, Values};
