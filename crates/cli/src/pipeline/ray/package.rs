//! The step's working directory as a Ray package: a zip of the files the step reads, entries sorted,
//! every mtime the zip epoch (1980-01-01) and modes only 644/755 — so the same files always make the
//! same bytes, the name `_ray_pkg_<BLAKE3-128 hex>.zip` is a content address, and unchanged code is
//! never uploaded twice.

use std::collections::BTreeMap;
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

/// Ray's dashboard refuses bodies above 100 MiB.
pub const MAX_PACKAGE: u64 = 100 * 1024 * 1024;

/// Directories never shipped: Cairn's state and cache, version control.
const SKIP_DIRS: &[&str] = &[".cairn", ".git", ".hg", ".svn", ".dvc"];

pub struct Package {
    /// `_ray_pkg_<hex>.zip`.
    pub name: String,
    pub bytes: Vec<u8>,
    /// Files in it (added ones included).
    pub files: usize,
}

/// Every file below `root` named by `paths` (files, or directories taken whole), project-relative and
/// `/`-separated. Symlinks are followed, as the hashing of deps follows them; a directory reached
/// twice (a symlink loop) is walked once. A path that does not exist is left out (the runner
/// reports missing deps itself).
fn collect(root: &Path, paths: &[String]) -> io::Result<BTreeMap<String, PathBuf>> {
    use std::os::unix::fs::MetadataExt as _;
    let mut files = BTreeMap::new();
    let mut seen_dirs = std::collections::HashSet::new();
    let mut stack: Vec<String> = paths.to_vec();
    while let Some(rel) = stack.pop() {
        let full = root.join(&rel);
        let meta = match std::fs::metadata(&full) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", full.display()))),
        };
        if meta.is_dir() {
            if !seen_dirs.insert((meta.dev(), meta.ino())) {
                continue;
            }
            for entry in std::fs::read_dir(&full)? {
                let entry = entry?;
                let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                    return Err(io::Error::other(format!(
                        "{}: a file name that is not UTF-8",
                        entry.path().display()
                    )));
                };
                if SKIP_DIRS.contains(&name.as_str()) {
                    continue;
                }
                stack.push(if rel == "." || rel.is_empty() {
                    name
                } else {
                    format!("{}/{name}", rel.trim_end_matches('/'))
                });
            }
        } else if meta.is_file() {
            files.insert(rel.trim_start_matches("./").to_owned(), full);
        }
    }
    Ok(files)
}

/// Zips `paths` under `root` plus `extra` (name, bytes) files at the package root.
pub fn build(root: &Path, paths: &[String], extra: &[(&str, &[u8])]) -> io::Result<Package> {
    use zip::write::SimpleFileOptions;
    let files = collect(root, paths)?;
    let mut entries: BTreeMap<String, (Vec<u8>, bool)> = BTreeMap::new();
    let mut total = 0u64;
    for (rel, full) in &files {
        let mut f = std::fs::File::open(full)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", full.display())))?;
        let meta = f.metadata()?;
        total += meta.len();
        if total > MAX_PACKAGE {
            return Err(io::Error::other(format!(
                "the step's files pass Ray's 100 MiB package limit at {rel}: narrow its deps or `code:` scope"
            )));
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        f.read_to_end(&mut bytes)?;
        entries.insert(rel.clone(), (bytes, meta.permissions().mode() & 0o111 != 0));
    }
    for (name, bytes) in extra {
        entries.insert((*name).to_owned(), (bytes.to_vec(), false));
    }
    let mut zip = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
    for (name, (bytes, exec)) in &entries {
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default())
            .unix_permissions(if *exec { 0o755 } else { 0o644 });
        zip.start_file(name.as_str(), options)
            .map_err(io::Error::other)?;
        zip.write_all(bytes)?;
    }
    let bytes = zip.finish().map_err(io::Error::other)?.into_inner();
    if bytes.len() as u64 > MAX_PACKAGE {
        return Err(io::Error::other(
            "the step's package passes Ray's 100 MiB limit: narrow its deps or `code:` scope",
        ));
    }
    let hash = blake3::hash(&bytes);
    let hex: String = hash.as_bytes()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Package {
        name: format!("_ray_pkg_{hex}.zip"),
        bytes,
        files: entries.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(root: &Path) {
        for (p, text) in [
            ("train.py", "print(1)\n"),
            ("data/a.csv", "1\n"),
            ("data/sub/b.csv", "2\n"),
            (".cairn/cache/x", "no"),
            ("other.txt", "not asked for"),
        ] {
            let full = root.join(p);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, text).unwrap();
        }
    }

    fn names(bytes: &[u8]) -> Vec<String> {
        let zip = zip::ZipArchive::new(io::Cursor::new(bytes)).unwrap();
        zip.file_names().map(str::to_owned).collect()
    }

    #[test]
    fn same_files_same_bytes_and_name_whatever_the_mtimes() {
        let dir = tempfile::tempdir().unwrap();
        tree(dir.path());
        let paths = [
            "train.py".to_owned(),
            "data".to_owned(),
            "gone.txt".to_owned(),
        ];
        let a = build(dir.path(), &paths, &[("_shim.py", b"x")]).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(dir.path().join("train.py"), "print(1)\n").unwrap();
        let b = build(dir.path(), &paths, &[("_shim.py", b"x")]).unwrap();
        assert_eq!(a.bytes, b.bytes);
        assert_eq!(a.name, b.name);
        assert!(a.name.starts_with("_ray_pkg_") && a.name.len() == "_ray_pkg_.zip".len() + 32);
        let mut listed = names(&a.bytes);
        listed.sort();
        assert_eq!(
            listed,
            ["_shim.py", "data/a.csv", "data/sub/b.csv", "train.py"]
        );

        std::fs::write(dir.path().join("data/a.csv"), "changed\n").unwrap();
        let c = build(dir.path(), &paths, &[("_shim.py", b"x")]).unwrap();
        assert_ne!(a.name, c.name);
    }

    #[test]
    fn a_symlink_loop_is_walked_once() {
        let dir = tempfile::tempdir().unwrap();
        tree(dir.path());
        std::os::unix::fs::symlink("..", dir.path().join("data/sub/up")).unwrap();
        let p = build(dir.path(), &["data".to_owned()], &[]).unwrap();
        let mut listed = names(&p.bytes);
        listed.sort();
        assert_eq!(listed, ["data/a.csv", "data/sub/b.csv"]);
    }

    #[test]
    fn the_whole_project_leaves_out_state_and_vcs() {
        let dir = tempfile::tempdir().unwrap();
        tree(dir.path());
        let p = build(dir.path(), &[".".to_owned()], &[]).unwrap();
        let listed = names(&p.bytes);
        assert!(
            !listed.iter().any(|n| n.starts_with(".cairn")),
            "{listed:?}"
        );
        assert!(listed.contains(&"other.txt".to_owned()));
    }
}
