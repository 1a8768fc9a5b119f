//! The audit log's Ed25519 signing key, its file, and the verifier-key text (C2SP signed-note) that an
//! auditor needs to check checkpoints offline.
//!
//! Key file: one line, `cairn-audit-key v1 <name> <base64 std 32-byte seed>`, mode 0600. The public
//! text form is `<name>+<hex key hash>+<base64(0x01 ‖ public key)>`, exactly what Go's `sumdb/note` and
//! other signed-note tools accept, so checkpoints can be checked with them too.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::AuditError;

const FILE_TAG: &str = "cairn-audit-key";
const FILE_VERSION: &str = "v1";
/// C2SP signed-note's algorithm byte for Ed25519.
const ALG_ED25519: u8 = 1;

/// A signing key and the name its signatures carry.
pub struct AuditKey {
    name: String,
    signing: SigningKey,
}

/// What verifies an [`AuditKey`]'s signatures: its name and Ed25519 public key.
#[derive(Clone, PartialEq, Eq)]
pub struct AuditPublicKey {
    pub name: String,
    pub key: VerifyingKey,
}

/// Signed-note key names appear in `— <name> <sig>` lines and `<name>+…` key text, so they may not be
/// empty or hold whitespace or `+`.
pub fn check_key_name(name: &str) -> Result<(), AuditError> {
    if name.is_empty() {
        return Err(AuditError::format("key name", "empty"));
    }
    if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '+')
    {
        return Err(AuditError::format(
            "key name",
            format!("{name:?} may not contain whitespace or '+'"),
        ));
    }
    Ok(())
}

impl AuditKey {
    /// A fresh key from a random 32-byte seed. The name is not checked here (callers pass a constant);
    /// [`AuditKey::load_or_create`] and [`AuditKey::from_seed`] check it.
    pub fn generate(name: &str) -> AuditKey {
        AuditKey {
            name: name.to_owned(),
            signing: SigningKey::from_bytes(&rand::random::<[u8; 32]>()),
        }
    }

    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<AuditKey, AuditError> {
        check_key_name(name)?;
        Ok(AuditKey {
            name: name.to_owned(),
            signing: SigningKey::from_bytes(&seed),
        })
    }

    /// The key in `path`, or a new one written there (mode 0600, parent directories created). An
    /// existing file's name wins over `name`, so renaming in configuration never orphans the checkpoints
    /// signed so far.
    pub fn load_or_create(path: &Path, name: &str) -> Result<AuditKey, AuditError> {
        check_key_name(name)?;
        match fs::symlink_metadata(path) {
            Ok(_) => return Self::load(path),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(AuditError::io(path, e)),
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| AuditError::io(dir, e))?;
        }
        let key = Self::generate(name);
        let mut file = match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(f) => f,
            // Another process created it between our check and now: use theirs.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => return Self::load(path),
            Err(e) => return Err(AuditError::io(path, e)),
        };
        let line = format!(
            "{FILE_TAG} {FILE_VERSION} {} {}\n",
            key.name,
            B64.encode(key.signing.to_bytes())
        );
        file.write_all(line.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| AuditError::io(path, e))?;
        Ok(key)
    }

    /// Reads a key file, refusing one that group or others can access: a key others could read must be
    /// assumed leaked, and then checkpoints prove nothing.
    pub fn load(path: &Path) -> Result<AuditKey, AuditError> {
        let meta = fs::metadata(path).map_err(|e| AuditError::io(path, e))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(AuditError::InsecureKeyFile {
                path: path.to_path_buf(),
                mode,
            });
        }
        let text = fs::read_to_string(path).map_err(|e| AuditError::io(path, e))?;
        Self::parse_file(&text)
    }

    fn parse_file(text: &str) -> Result<AuditKey, AuditError> {
        let bad = |reason: &str| AuditError::format("audit key file", reason);
        let mut parts = text.trim_end_matches('\n').split(' ');
        let (Some(FILE_TAG), Some(FILE_VERSION), Some(name), Some(seed), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad("expected `cairn-audit-key v1 <name> <base64 seed>`"));
        };
        let seed: [u8; 32] = B64
            .decode(seed)
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| bad("the seed is not 32 bytes of base64"))?;
        Self::from_seed(name, seed)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn public(&self) -> AuditPublicKey {
        AuditPublicKey {
            name: self.name.clone(),
            key: self.signing.verifying_key(),
        }
    }

    pub(crate) fn sign_bytes(&self, msg: &[u8]) -> Signature {
        self.signing.sign(msg)
    }
}

/// Never prints the secret.
impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditKey")
            .field("public", &self.public().to_text())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for AuditPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl AuditPublicKey {
    /// The signed-note key hash: the first 4 bytes of `SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)`.
    pub fn key_hash(&self) -> [u8; 4] {
        let mut h = Sha256::new();
        h.update(self.name.as_bytes());
        h.update(b"\n");
        h.update([ALG_ED25519]);
        h.update(self.key.as_bytes());
        let digest = h.finalize();
        [digest[0], digest[1], digest[2], digest[3]]
    }

    /// `<name>+<hex key hash>+<base64(0x01 ‖ public key)>`.
    pub fn to_text(&self) -> String {
        let mut raw = Vec::with_capacity(33);
        raw.push(ALG_ED25519);
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(self.key_hash()),
            B64.encode(raw)
        )
    }

    /// Parses [`AuditPublicKey::to_text`]'s form (surrounding whitespace ignored), checking the key hash
    /// so a mistyped name or key is caught here rather than as a failed signature later.
    pub fn parse(text: &str) -> Result<AuditPublicKey, AuditError> {
        let bad = |reason: &str| AuditError::format("verifier key", reason.to_owned());
        let text = text.trim();
        // Base64 can itself contain '+', so split at the first two only.
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(hash), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected <name>+<hex key hash>+<base64 key>"));
        };
        check_key_name(name)?;
        let mut hash_bytes = [0u8; 4];
        if hash.len() != 8 || hex::decode_to_slice(hash, &mut hash_bytes).is_err() {
            return Err(bad("the key hash is not 8 hex digits"));
        }
        let raw = B64.decode(key).map_err(|_| bad("the key is not base64"))?;
        let point: [u8; 32] = match raw.split_first() {
            Some((&ALG_ED25519, point)) => point.try_into().ok(),
            _ => None,
        }
        .ok_or_else(|| bad("not an Ed25519 key (0x01 followed by 32 bytes)"))?;
        let key = VerifyingKey::from_bytes(&point).map_err(|_| bad("not a valid Ed25519 point"))?;
        let public = AuditPublicKey {
            name: name.to_owned(),
            key,
        };
        if public.key_hash() != hash_bytes {
            return Err(bad("the key hash does not match the name and key"));
        }
        Ok(public)
    }
}

/// Writes the verifier key text (mode 0644) for auditors; atomically replaces an older copy.
pub fn write_public(path: &Path, key: &AuditPublicKey) -> Result<(), AuditError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| AuditError::io(dir, e))?;
    }
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let write = || -> std::io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&tmp)?;
        file.set_permissions(fs::Permissions::from_mode(0o644))?;
        file.write_all(format!("{}\n", key.to_text()).as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        AuditError::io(path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key from Go's `golang.org/x/mod/sumdb/note` documentation.
    fn peter_neumann() -> AuditKey {
        let raw = B64
            .decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")
            .unwrap();
        AuditKey::from_seed("PeterNeumann", raw[1..].try_into().unwrap()).unwrap()
    }

    #[test]
    fn public_text_matches_the_go_reference() {
        let public = peter_neumann().public();
        let text = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
        assert_eq!(public.to_text(), text);
        assert_eq!(hex::encode(public.key_hash()), "c74f20a3");
        assert_eq!(
            AuditPublicKey::parse(&format!(" {text}\n")).unwrap(),
            public
        );
    }

    #[test]
    fn parse_rejects_bad_verifier_keys() {
        let good = AuditKey::generate("cairn").public().to_text();
        // The base64 key may itself contain '+': split after the name and the hash.
        let mut parts = good.splitn(3, '+');
        let (name, hash, key) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let name_hash = format!("{name}+{hash}");
        for bad in [
            "",
            "cairn",
            "cairn+00000000",
            &good.replacen("cairn", "cairn2", 1),
            &format!("{name_hash}+{}", &key[4..]),
            &good.replacen("+", "+0", 1),
            &format!("{name_hash}+{}", B64.encode([2u8; 33])),
            "a b+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        ] {
            assert!(AuditPublicKey::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn key_files_are_private_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/nested/audit.key");
        let key = AuditKey::load_or_create(&path, "cairn.example").unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("cairn-audit-key v1 cairn.example "),
            "{text}"
        );

        let again = AuditKey::load_or_create(&path, "renamed").unwrap();
        assert_eq!(again.public(), key.public());
        assert_eq!(AuditKey::load(&path).unwrap().public(), key.public());
        assert!(!format!("{key:?}").contains(text.split(' ').nth(3).unwrap().trim()));

        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        assert!(matches!(
            AuditKey::load(&path),
            Err(AuditError::InsecureKeyFile { mode: 0o640, .. })
        ));
        assert!(AuditKey::load_or_create(&path, "cairn.example").is_err());

        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&path, "cairn-audit-key v1 cairn.example c2VlZA==\n").unwrap();
        assert!(matches!(
            AuditKey::load(&path),
            Err(AuditError::Format { .. })
        ));
        assert!(AuditKey::load_or_create(&dir.path().join("k2"), "bad name").is_err());
        assert!(matches!(
            AuditKey::load(&dir.path().join("missing")),
            Err(AuditError::Io { .. })
        ));
    }

    #[test]
    fn public_key_file_is_world_readable_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pub/audit.pub");
        let public = AuditKey::generate("cairn").public();
        write_public(&path, &public).unwrap();
        write_public(&path, &public).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(AuditPublicKey::parse(&text).unwrap(), public);
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    }
}
