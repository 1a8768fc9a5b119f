//! A version's content digest: what an approval is bound to, so that files swapped after approval
//! void it.

use blake3::Hasher;

use super::Governance;
use crate::ServiceResult;

/// Versions larger than this are digested by their listing (names and sizes) only.
const MAX_DIGEST_BYTES: u64 = 2 << 30;

impl Governance {
    /// `blake3:<hex>` over the version's files (sorted paths and contents), or `None` when its files
    /// are not stored through this server.
    pub(crate) async fn artifact_digest(
        &self,
        model: &str,
        version: i64,
    ) -> ServiceResult<Option<String>> {
        let location = self
            .registry
            .get_download_uri(model, &version.to_string())
            .await?;
        let Some(prefix) = location.strip_prefix(self.artifact_scheme) else {
            return Ok(None);
        };
        let prefix = prefix.trim_matches('/').to_owned();
        let mut pending = vec![prefix];
        let mut files: Vec<(String, u64)> = Vec::new();
        while let Some(dir) = pending.pop() {
            let entries = match self.artifacts.list(Some(&dir)).await {
                Ok(e) => e,
                Err(crate::ServiceError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            for e in entries {
                let path = format!("{dir}/{}", e.name);
                if e.is_dir {
                    pending.push(path);
                } else {
                    files.push((path, e.size.unwrap_or(0)));
                }
            }
        }
        files.sort();
        let total: u64 = files.iter().map(|(_, s)| *s).sum();
        let mut h = Hasher::new();
        for (path, size) in &files {
            h.update(path.as_bytes());
            h.update(&[0]);
            if total <= MAX_DIGEST_BYTES {
                h.update(&self.artifacts.read(path, MAX_DIGEST_BYTES).await?);
            } else {
                h.update(&size.to_le_bytes());
            }
            h.update(&[0]);
        }
        Ok(Some(format!("blake3:{}", h.finalize().to_hex())))
    }
}
