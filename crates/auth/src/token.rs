//! API tokens in the GitHub style: `cairn_<kind>_<id>_<secret><check>`.
//!
//! The fixed prefix lets secret scanners (and people) recognise a leaked token; the CRC-32 checksum lets
//! them, and [`parse`], tell a real token from a random string without asking the server. The `id` is the
//! database key, so a lookup never needs the secret, and only a SHA-256 of the secret is stored: the secret
//! has 256 bits of entropy, so a fast hash is enough (no password hashing needed), and a stolen database
//! does not yield usable tokens.

use std::fmt;

use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::crc32::crc32;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const PREFIX: &str = "cairn_";
const ID_LEN: usize = 16;
/// 43 base62 characters carry 43 × log2(62) ≈ 256.03 bits.
const SECRET_LEN: usize = 43;
/// 62^6 ≈ 5.7e10 > 2^32, so six characters hold any CRC-32.
const CHECK_LEN: usize = 6;
/// `cairn_` + `pat` + `_` + id + `_` + secret + check.
const TOKEN_LEN: usize = PREFIX.len() + 3 + 1 + ID_LEN + 1 + SECRET_LEN + CHECK_LEN;

/// Who a token is for; the kind is part of the visible prefix so a leaked token says what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum TokenKind {
    /// A person's personal access token (`pat`).
    #[serde(rename = "pat")]
    Personal,
    /// A service account's token (`svc`).
    #[serde(rename = "svc")]
    Service,
}

impl TokenKind {
    /// The three-letter code used in the token prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Personal => "pat",
            Self::Service => "svc",
        }
    }

    /// The inverse of [`TokenKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pat" => Some(Self::Personal),
            "svc" => Some(Self::Service),
            _ => None,
        }
    }
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A freshly issued token. `token` is shown to its owner once and never stored; store `id` and
/// `secret_hash`.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// 16 lowercase hex characters: the database key.
    pub id: String,
    /// The whole secret string to hand to the client.
    pub token: String,
    /// Hex SHA-256 of the secret part, what the database keeps.
    pub secret_hash: String,
}

/// Redacts the token so an accidental `{:?}` in a log does not leak it.
impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("id", &self.id)
            .field("token", &"[redacted]")
            .field("secret_hash", &self.secret_hash)
            .finish()
    }
}

/// The parts of a well-formed token with a valid checksum. Whether it is *accepted* is decided by looking
/// up `id` and comparing `secret` with [`secret_matches`].
#[derive(Clone, PartialEq, Eq)]
pub struct ParsedToken {
    /// Personal or service token.
    pub kind: TokenKind,
    /// The database key (16 lowercase hex characters).
    pub id: String,
    /// The 43-character secret part (without the checksum).
    pub secret: String,
}

/// Redacts the secret so an accidental `{:?}` in a log does not leak it.
impl fmt::Debug for ParsedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedToken")
            .field("kind", &self.kind)
            .field("id", &self.id)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// Issues a new random token of `kind`. Uses the thread-local CSPRNG (ChaCha, seeded from the OS).
pub fn issue(kind: TokenKind) -> IssuedToken {
    let mut rng = rand::rng();
    let id = hex::encode(rng.random::<[u8; ID_LEN / 2]>());
    let secret: String = (0..SECRET_LEN)
        .map(|_| char::from(BASE62[rng.random_range(0..BASE62.len())]))
        .collect();
    let mut token = String::with_capacity(TOKEN_LEN);
    token.push_str(PREFIX);
    token.push_str(kind.as_str());
    token.push('_');
    token.push_str(&id);
    token.push('_');
    token.push_str(&secret);
    let check = checksum(token.as_bytes());
    token.extend(check.iter().map(|&b| char::from(b)));
    IssuedToken {
        id,
        secret_hash: hash_secret(&secret),
        token,
    }
}

/// Splits a token into its parts; `None` if it is malformed in any way or its checksum is wrong.
/// Cheap enough to run on every request before touching the database.
pub fn parse(token: &str) -> Option<ParsedToken> {
    let bytes = token.as_bytes();
    if bytes.len() != TOKEN_LEN || !looks_like_token(token) {
        return None;
    }
    // Layout after the prefix: kind(3) '_' id(16) '_' secret(43) check(6); all ASCII if valid.
    let kind = TokenKind::parse(token.get(6..9)?)?;
    let id = token.get(10..10 + ID_LEN)?;
    let secret_start = 10 + ID_LEN + 1;
    let check_start = secret_start + SECRET_LEN;
    let secret = token.get(secret_start..check_start)?;
    let check = bytes.get(check_start..)?;
    let id_ok = id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if bytes.get(10 + ID_LEN) != Some(&b'_') || !id_ok || !secret.bytes().all(is_base62) {
        return None;
    }
    if checksum(&bytes[..check_start]) != *check {
        return None;
    }
    Some(ParsedToken {
        kind,
        id: id.to_owned(),
        secret: secret.to_owned(),
    })
}

/// True for strings that claim to be a cairn API token (by prefix only), so an auth layer can route a
/// bearer credential to token lookup instead of JWT validation.
pub fn looks_like_token(s: &str) -> bool {
    s.starts_with("cairn_pat_") || s.starts_with("cairn_svc_")
}

/// Hex SHA-256 of a token secret: the value to store and later compare with [`secret_matches`].
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Whether `secret` hashes to `stored_hash_hex`, compared in constant time so response timing does not
/// reveal how many leading bytes of the hash matched.
pub fn secret_matches(stored_hash_hex: &str, secret: &str) -> bool {
    let Ok(stored) = hex::decode(stored_hash_hex) else {
        return false;
    };
    let actual = Sha256::digest(secret.as_bytes());
    stored.as_slice().ct_eq(actual.as_slice()).into()
}

fn is_base62(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// CRC-32 of `data` as six base62 digits, most significant first, zero-padded.
fn checksum(data: &[u8]) -> [u8; CHECK_LEN] {
    let mut n = u64::from(crc32(data));
    let mut out = [b'0'; CHECK_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_token_has_the_documented_shape() {
        let t = issue(TokenKind::Personal);
        assert_eq!(t.token.len(), 76);
        assert!(t.token.starts_with("cairn_pat_"));
        assert_eq!(t.id.len(), 16);
        assert!(
            t.id.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_eq!(&t.token[10..26], t.id);
        assert_eq!(&t.token[26..27], "_");
        assert!(t.token[27..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(t.secret_hash.len(), 64);
        assert!(issue(TokenKind::Service).token.starts_with("cairn_svc_"));
    }

    #[test]
    fn issued_tokens_parse_back_and_match_their_hash() {
        for kind in [TokenKind::Personal, TokenKind::Service] {
            let t = issue(kind);
            let p = parse(&t.token).expect("fresh token parses");
            assert_eq!(p.kind, kind);
            assert_eq!(p.id, t.id);
            assert_eq!(p.secret.len(), 43);
            assert_eq!(hash_secret(&p.secret), t.secret_hash);
            assert!(secret_matches(&t.secret_hash, &p.secret));
        }
    }

    #[test]
    fn tokens_are_unique() {
        let a = issue(TokenKind::Personal);
        let b = issue(TokenKind::Personal);
        assert_ne!(a.id, b.id);
        assert_ne!(a.token, b.token);
    }

    #[test]
    fn any_single_character_change_is_caught_by_the_checksum_or_shape() {
        let t = issue(TokenKind::Service).token;
        for i in 0..t.len() {
            let mut bytes = t.clone().into_bytes();
            bytes[i] = if bytes[i] == b'x' { b'y' } else { b'x' };
            let changed = String::from_utf8(bytes).expect("ascii");
            assert!(
                parse(&changed).is_none(),
                "change at {i} accepted: {changed}"
            );
        }
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        let t = issue(TokenKind::Personal).token;
        assert!(parse("").is_none());
        assert!(parse("cairn_pat_").is_none());
        assert!(parse(&t[..t.len() - 1]).is_none());
        assert!(parse(&format!("{t}x")).is_none());
        assert!(parse(&t.replacen("cairn_pat_", "cairn_xyz_", 1)).is_none());
        assert!(parse(&t.replacen("cairn_", "CAIRN_", 1)).is_none());
        // Multi-byte characters of the right byte length must not panic on slicing.
        let weird = format!("cairn_pat_{}", "é".repeat(33));
        assert_eq!(weird.len(), 76);
        assert!(parse(&weird).is_none());
        let weird = format!("cairn_p€_{}", "a".repeat(64));
        assert!(parse(&weird).is_none());
    }

    #[test]
    fn uppercase_id_is_rejected_even_with_a_recomputed_checksum() {
        let t = issue(TokenKind::Personal).token;
        let mut body = t[..70].to_owned();
        body.replace_range(10..26, "ABCDEF0123456789");
        let check = checksum(body.as_bytes());
        body.extend(check.iter().map(|&b| char::from(b)));
        assert!(parse(&body).is_none());
    }

    #[test]
    fn looks_like_token_checks_the_prefix_only() {
        assert!(looks_like_token("cairn_pat_whatever"));
        assert!(looks_like_token("cairn_svc_"));
        assert!(!looks_like_token("cairn_abc_"));
        assert!(!looks_like_token("eyJhbGciOi.x.y"));
    }

    #[test]
    fn hash_secret_is_hex_sha256() {
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn secret_matches_rejects_wrong_secret_and_garbage_hashes() {
        let h = hash_secret("right");
        assert!(secret_matches(&h, "right"));
        assert!(secret_matches(&h.to_uppercase(), "right"));
        assert!(!secret_matches(&h, "wrong"));
        assert!(!secret_matches("", "right"));
        assert!(!secret_matches("zz", "right"));
        assert!(!secret_matches(&h[..62], "right"));
    }

    #[test]
    fn checksum_is_fixed_width_base62() {
        assert_eq!(checksum(b""), *b"000000");
        // crc32("123456789") = 0xCBF43926 = digits [3, 45, 35, 27, 22, 14] in base 62.
        assert_eq!(&checksum(b"123456789"), b"3jZRME");
    }

    #[test]
    fn debug_output_redacts_secrets() {
        let t = issue(TokenKind::Personal);
        let p = parse(&t.token).expect("parses");
        assert!(!format!("{t:?}").contains(&t.token));
        assert!(!format!("{p:?}").contains(&p.secret));
    }

    #[test]
    fn kind_round_trips_through_text_and_serde() {
        for kind in [TokenKind::Personal, TokenKind::Service] {
            assert_eq!(TokenKind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).expect("serialises");
            assert_eq!(json, format!("\"{kind}\""));
        }
        assert_eq!(TokenKind::parse("PAT"), None);
    }
}
