//! Choosing and opening the engines a configuration names.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use cairn_artifacts::ArtifactRepository;
use cairn_store::TrackingStore;
use cairn_store_sqlite::SqliteStore;

/// An opened metadata store, kept concretely so it can be closed cleanly at shutdown.
pub(crate) enum MetadataStore {
    Sqlite(SqliteStore),
}

impl MetadataStore {
    pub(crate) async fn open(uri: &str) -> anyhow::Result<Self> {
        let scheme = uri.split_once("://").map(|(s, _)| s).unwrap_or("");
        match scheme {
            "sqlite" | "" => {
                Ok(Self::Sqlite(SqliteStore::open(uri).await.with_context(
                    || format!("opening the metadata store {uri}"),
                )?))
            }
            other => bail!(
                "unsupported --backend-store-uri scheme '{other}' in {uri}: use sqlite:///path/to/cairn.db"
            ),
        }
    }

    pub(crate) fn tracking(&self) -> Arc<dyn TrackingStore> {
        match self {
            Self::Sqlite(s) => Arc::new(s.clone()),
        }
    }

    pub(crate) async fn close(&self) {
        match self {
            Self::Sqlite(s) => s.close().await,
        }
    }
}

/// Opens the artifact repository named by a destination: a folder path or `file:///path`.
pub(crate) fn open_artifacts(uri: &str) -> anyhow::Result<ArtifactRepository> {
    let path = match uri.split_once("://") {
        None => PathBuf::from(uri),
        Some(("file", rest)) => PathBuf::from(rest),
        Some((other, _)) => bail!(
            "unsupported --artifacts-destination scheme '{other}' in {uri}: use a folder or file:///path"
        ),
    };
    ArtifactRepository::local(&path).with_context(|| format!("opening the artifact root {uri}"))
}
