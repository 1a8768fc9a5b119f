//! Cairn's artifact storage: files that runs and models log (model weights, plots, data samples).
//!
//! [`ArtifactPath`] is the only way in: it refuses any path that could escape the artifact root.
//! [`ArtifactRepository`] stores files through `object_store`, so the local filesystem and S3-compatible
//! stores are the same code. Knows nothing of HTTP or of the metadata store.

mod error;
mod path;
mod repository;

pub use error::ArtifactError;
pub use path::ArtifactPath;
pub use repository::{ArtifactDownload, ArtifactEntry, ArtifactRepository};
