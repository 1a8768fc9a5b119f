//! A watch trigger's content digest: of a file or directory on the server's machine (BLAKE3 over
//! each file's relative path and bytes), or of an artifact-store prefix (over each object's path and
//! size — objects written under a prefix, like prediction logs, get new names rather than new bytes).

use std::path::Path;

use crate::{Artifacts, ServiceResult};

/// Files hashed at most per look, so a mistaken `watch: /` cannot stall the scheduler.
const MAX_FILES: usize = 100_000;

/// The digest of a local file or directory; `None` when it does not exist.
pub fn digest_local(path: &Path) -> std::io::Result<Option<String>> {
    if !path.exists() {
        return Ok(None);
    }
    let mut files = Vec::new();
    collect(path, path, &mut files)?;
    files.sort();
    let mut h = blake3::Hasher::new();
    for rel in files.iter().take(MAX_FILES) {
        let full = if rel.is_empty() {
            path.to_path_buf()
        } else {
            path.join(rel)
        };
        h.update(rel.as_bytes());
        h.update(&[0]);
        h.update_reader(std::fs::File::open(&full)?)?;
        h.update(&[0]);
    }
    Ok(Some(h.finalize().to_hex().to_string()))
}

fn collect(root: &Path, at: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    if out.len() >= MAX_FILES {
        return Ok(());
    }
    let meta = std::fs::metadata(at)?;
    if meta.is_file() {
        let rel = at.strip_prefix(root).unwrap_or(at);
        out.push(rel.to_string_lossy().replace('\\', "/"));
        return Ok(());
    }
    for entry in std::fs::read_dir(at)? {
        let entry = entry?;
        // Hidden files (editor swaps, `.DS_Store`) are not data.
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        collect(root, &entry.path(), out)?;
    }
    Ok(())
}

/// The digest of everything under an artifact-store prefix; `None` when nothing is there.
pub async fn digest_artifacts(
    artifacts: &Artifacts,
    prefix: &str,
) -> ServiceResult<Option<String>> {
    let mut pending = vec![prefix.trim_matches('/').to_owned()];
    let mut files: Vec<(String, u64)> = Vec::new();
    while let Some(dir) = pending.pop() {
        let entries = match artifacts.list(Some(&dir)).await {
            Ok(e) => e,
            Err(crate::ServiceError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        for e in entries {
            let path = if dir.is_empty() {
                e.name.clone()
            } else {
                format!("{dir}/{}", e.name)
            };
            if e.is_dir {
                pending.push(path);
            } else {
                files.push((path, e.size.unwrap_or(0)));
            }
            if files.len() >= MAX_FILES {
                break;
            }
        }
    }
    if files.is_empty() {
        return Ok(None);
    }
    files.sort();
    let mut h = blake3::Hasher::new();
    for (p, size) in &files {
        h.update(p.as_bytes());
        h.update(&[0]);
        h.update(&size.to_le_bytes());
    }
    Ok(Some(h.finalize().to_hex().to_string()))
}
