//! Cairn's artifact storage contract: files that runs and models log (model weights, plots, data samples).
//!
//! [`ArtifactPath`] is the only way in: it refuses any path that could escape the artifact root.
//! [`ArtifactStore`] is what the use cases need of a store of files; implementations live elsewhere
//! (`cairn-artifacts-object-store`: a local folder or S3 through `object_store`) and are chosen by the
//! composition root. Knows nothing of HTTP, of the metadata store or of any storage backend.

mod content_type;
mod error;
mod path;
mod store;

pub use content_type::content_type;
pub use error::ArtifactError;
pub use path::ArtifactPath;
pub use store::{ArtifactDownload, ArtifactEntry, ArtifactStore, ByteStream};
