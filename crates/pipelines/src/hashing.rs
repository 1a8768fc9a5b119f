//! Content hashes (BLAKE3) of files and directories, with a stat memo so unchanged files are not read
//! again.
//!
//! A directory's hash is the hash of its [`Tree`]: the sorted (relative path, file hash, exec bit,
//! size) entries of every file below it, so equal content gives an equal hash wherever it lives. The
//! memo maps a project-relative path to (size, mtime_ns, inode) → hash, kept in
//! `.cairn/state/memo.json`. Like git's racy-clean rule, an entry recorded less than a second after
//! the file's mtime is not trusted (the file could still change within the clock's granularity); the
//! next look re-hashes it and records it again.

use std::collections::HashMap;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The first line of an encoded tree, so a tree can never be mistaken for a file's content.
const TREE_HEADER: &str = "cairn-tree-v1\n";
/// Threads that hash a directory's files at most.
const HASH_THREADS: usize = 4;
/// How long after a file's mtime its memo entry is trusted.
const RACY_NS: i64 = 1_000_000_000;

/// One file's content address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileHash {
    pub hash: String,
    pub size: u64,
    pub exec: bool,
}

/// A file below a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// Relative to the directory, `/`-separated.
    pub path: String,
    pub file: FileHash,
}

/// A directory's content: its files, sorted by path.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tree {
    pub entries: Vec<TreeEntry>,
}

impl Tree {
    /// The canonical bytes of the tree; their BLAKE3 hash is the directory's hash.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = String::from(TREE_HEADER);
        for e in &self.entries {
            let x = if e.file.exec { 'x' } else { '-' };
            out.push_str(&format!("{} {x} {} {}\n", e.file.hash, e.file.size, e.path));
        }
        out.into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Option<Tree> {
        let text = std::str::from_utf8(bytes).ok()?;
        let body = text.strip_prefix(TREE_HEADER)?;
        let mut entries = Vec::new();
        for line in body.lines() {
            let mut parts = line.splitn(4, ' ');
            let hash = parts.next()?.to_owned();
            let exec = parts.next()? == "x";
            let size = parts.next()?.parse().ok()?;
            let path = parts.next()?.to_owned();
            entries.push(TreeEntry {
                path,
                file: FileHash { hash, size, exec },
            });
        }
        Some(Tree { entries })
    }

    pub fn hash(&self) -> String {
        blake3::hash(&self.encode()).to_hex().to_string()
    }

    pub fn size(&self) -> u64 {
        self.entries.iter().map(|e| e.file.size).sum()
    }
}

/// What is at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    File(FileHash),
    Dir(Tree),
}

impl Content {
    pub fn hash(&self) -> String {
        match self {
            Content::File(f) => f.hash.clone(),
            Content::Dir(t) => t.hash(),
        }
    }

    pub fn size(&self) -> u64 {
        match self {
            Content::File(f) => f.size,
            Content::Dir(t) => t.size(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct MemoEntry {
    size: u64,
    mtime_ns: i64,
    ino: u64,
    /// When the hash was taken (ns since the epoch).
    seen_ns: i64,
    hash: String,
}

/// Hashes project files through the stat memo. Shared by the stages of a run (`&self`, thread-safe).
#[derive(Debug)]
pub struct FileHasher {
    root: PathBuf,
    memo_file: PathBuf,
    memo: Mutex<HashMap<String, MemoEntry>>,
    dirty: AtomicBool,
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

impl FileHasher {
    /// A hasher for the project at `root`, its memo in `memo_file` (missing or unreadable: empty).
    pub fn open(root: &Path, memo_file: &Path) -> FileHasher {
        let memo = std::fs::read(memo_file)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        FileHasher {
            root: root.to_path_buf(),
            memo_file: memo_file.to_path_buf(),
            memo: Mutex::new(memo),
            dirty: AtomicBool::new(false),
        }
    }

    /// Writes the memo back if it changed.
    pub fn save(&self) -> io::Result<()> {
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let bytes = {
            let memo = self.memo.lock().expect("memo lock");
            serde_json::to_vec(&*memo).map_err(io::Error::other)?
        };
        crate::state::write_atomic(&self.memo_file, &bytes)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The content at a project-relative path; `None` when nothing is there.
    pub fn content(&self, rel: &str) -> io::Result<Option<Content>> {
        let full = self.root.join(rel);
        let meta = match std::fs::metadata(&full) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if meta.is_dir() {
            Ok(Some(Content::Dir(self.tree(rel)?)))
        } else {
            Ok(Some(Content::File(self.file_with(rel, &full, &meta)?)))
        }
    }

    /// A regular file's hash.
    pub fn file(&self, rel: &str) -> io::Result<FileHash> {
        let full = self.root.join(rel);
        let meta = std::fs::metadata(&full)?;
        self.file_with(rel, &full, &meta)
    }

    fn file_with(&self, rel: &str, full: &Path, meta: &std::fs::Metadata) -> io::Result<FileHash> {
        let exec = meta.permissions().mode() & 0o111 != 0;
        let size = meta.len();
        let mtime_ns = meta.mtime() * 1_000_000_000 + meta.mtime_nsec();
        let ino = meta.ino();
        {
            let memo = self.memo.lock().expect("memo lock");
            if let Some(e) = memo.get(rel)
                && e.size == size
                && e.mtime_ns == mtime_ns
                && e.ino == ino
                && e.seen_ns - mtime_ns > RACY_NS
            {
                return Ok(FileHash {
                    hash: e.hash.clone(),
                    size,
                    exec,
                });
            }
        }
        let hash = hash_file(full)?;
        self.memo.lock().expect("memo lock").insert(
            rel.to_owned(),
            MemoEntry {
                size,
                mtime_ns,
                ino,
                seen_ns: now_ns(),
                hash: hash.clone(),
            },
        );
        self.dirty.store(true, Ordering::Release);
        Ok(FileHash { hash, size, exec })
    }

    /// A directory's tree (symlinks followed; empty directories leave no trace, as in git). Files are
    /// hashed on a few threads: a cold read of a large dataset overlaps reading with hashing, which one
    /// thread cannot (it waits for each read before hashing it).
    pub fn tree(&self, rel: &str) -> io::Result<Tree> {
        let dir = self.root.join(rel);
        let mut found = Vec::new();
        for entry in walkdir::WalkDir::new(&dir)
            .follow_links(true)
            .sort_by_file_name()
        {
            let entry = entry.map_err(io::Error::other)?;
            if !entry.file_type().is_file() {
                continue;
            }
            let inner = relative(entry.path(), &dir)?;
            let meta = entry.metadata().map_err(io::Error::other)?;
            found.push((inner, entry.into_path(), meta));
        }
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .clamp(1, HASH_THREADS)
            .min(found.len().max(1));
        let next = std::sync::atomic::AtomicUsize::new(0);
        let hashed: Vec<io::Result<Vec<(usize, FileHash)>>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut out = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some((inner, path, meta)) = found.get(i) else {
                                return Ok(out);
                            };
                            out.push((i, self.file_with(&format!("{rel}/{inner}"), path, meta)?));
                        }
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| {
                    w.join()
                        .unwrap_or_else(|_| Err(io::Error::other("a hashing thread panicked")))
                })
                .collect()
        });
        let mut files: Vec<Option<FileHash>> = vec![None; found.len()];
        for part in hashed {
            for (i, f) in part? {
                files[i] = Some(f);
            }
        }
        let mut entries: Vec<TreeEntry> = found
            .into_iter()
            .zip(files)
            .filter_map(|((path, _, _), file)| file.map(|file| TreeEntry { path, file }))
            .collect();
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Tree { entries })
    }
}

/// `path` relative to `base`, `/`-separated; an error for names that are not UTF-8 or hold a newline
/// (they could not be written in a tree unambiguously).
pub fn relative(path: &Path, base: &Path) -> io::Result<String> {
    let rel = path.strip_prefix(base).map_err(io::Error::other)?;
    let text = rel
        .to_str()
        .ok_or_else(|| io::Error::other(format!("{}: file name is not UTF-8", path.display())))?;
    if text.contains('\n') {
        return Err(io::Error::other(format!(
            "{}: file name holds a newline",
            path.display()
        )));
    }
    Ok(text.replace('\\', "/"))
}

/// BLAKE3 of a file's bytes, hex.
pub fn hash_file(path: &Path) -> io::Result<String> {
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(std::fs::File::open(path)?)?;
    Ok(hasher.finalize().to_hex().to_string())
}

/// BLAKE3 of bytes, hex.
pub fn hash_bytes(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_hash_is_content_not_location_or_time() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        for root in [a.path(), b.path()] {
            std::fs::create_dir_all(root.join("m/sub")).unwrap();
            std::fs::write(root.join("m/x.txt"), "x").unwrap();
            std::fs::write(root.join("m/sub/y.txt"), "y").unwrap();
        }
        let ha = FileHasher::open(a.path(), &a.path().join("memo.json"));
        let hb = FileHasher::open(b.path(), &b.path().join("memo.json"));
        let ta = ha.tree("m").unwrap();
        assert_eq!(ta.entries.len(), 2);
        assert_eq!(ta.entries[0].path, "sub/y.txt");
        assert_eq!(ta.hash(), hb.tree("m").unwrap().hash());
        std::fs::write(b.path().join("m/sub/y.txt"), "z").unwrap();
        assert_ne!(ta.hash(), hb.tree("m").unwrap().hash());
        assert_eq!(Tree::decode(&ta.encode()).unwrap(), ta);
    }

    #[test]
    fn the_memo_answers_for_old_files_and_not_for_changed_ones() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("data.bin");
        std::fs::write(&f, "one").unwrap();
        // An mtime well in the past, so the memo entry is trusted.
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&f)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let memo = dir.path().join("memo.json");
        let h = FileHasher::open(dir.path(), &memo);
        let first = h.file("data.bin").unwrap();
        assert_eq!(first.hash, hash_bytes(b"one"));
        h.save().unwrap();
        // A memo entry with a planted hash proves the second look does not read the file.
        let mut m: HashMap<String, MemoEntry> =
            serde_json::from_slice(&std::fs::read(&memo).unwrap()).unwrap();
        m.get_mut("data.bin").unwrap().hash = "planted".into();
        std::fs::write(&memo, serde_json::to_vec(&m).unwrap()).unwrap();
        let h = FileHasher::open(dir.path(), &memo);
        assert_eq!(h.file("data.bin").unwrap().hash, "planted");
        // A changed file (new size and mtime) is hashed again.
        std::fs::write(&f, "two!").unwrap();
        assert_eq!(h.file("data.bin").unwrap().hash, hash_bytes(b"two!"));
    }
}
