//! The identity provider's signing keys (JWKS): fetched over HTTP, cached, refreshed when stale or when
//! a token names a key we have not seen (the provider rotated), and kept when the provider is down.
//!
//! Refresh attempts are rate-limited, so a flood of tokens with made-up `kid`s cannot turn this server
//! into a load generator against the identity provider. Only one refresh runs at a time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::{Mutex, RwLock};

use crate::error::AuthError;

/// How long keys are trusted without re-fetching when the response has no `Cache-Control: max-age`.
pub const DEFAULT_JWKS_TTL: Duration = Duration::from_secs(600);
/// The least time between two fetch attempts (on unknown `kid`, staleness or failure).
pub const DEFAULT_MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(60);
/// A provider's `max-age` above this is capped, so a rotated-out key does not stay trusted for long.
const MAX_TTL: Duration = Duration::from_secs(24 * 3600);
/// With no keys at all every request fails, so retry sooner than `min_refresh_interval` (but not on every
/// request).
const EMPTY_RETRY_INTERVAL: Duration = Duration::from_secs(5);
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Discovery documents and key sets are a few KiB; refuse to buffer more than this.
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// RFC 7518 §3.3: RSA keys of at least 2048 bits.
const MIN_RSA_BITS: usize = 2048;

/// A verification key with what it may verify.
#[derive(Clone)]
struct SigningKey {
    kid: String,
    kind: KeyKind,
    /// The JWK's own `alg`, if it pins one.
    alg: Option<KeyAlgorithm>,
    key: DecodingKey,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl KeyKind {
    /// Key type must fit the token's algorithm, so e.g. an ES256 token can never be checked against an
    /// RSA key that happens to share its `kid`.
    fn fits(self, alg: Algorithm) -> bool {
        use Algorithm as A;
        match self {
            Self::Rsa => matches!(
                alg,
                A::RS256 | A::RS384 | A::RS512 | A::PS256 | A::PS384 | A::PS512
            ),
            Self::P256 => alg == A::ES256,
            Self::P384 => alg == A::ES384,
            Self::Ed25519 => alg == A::EdDSA,
        }
    }
}

enum Lookup {
    Found(DecodingKey),
    /// A key with this `kid` exists but cannot verify this algorithm.
    WrongType,
    Missing,
}

fn lookup(keys: &[SigningKey], kid: &str, alg: Algorithm) -> Lookup {
    let mut seen = false;
    for k in keys.iter().filter(|k| k.kid == kid) {
        seen = true;
        if k.kind.fits(alg) && k.alg.is_none_or(|a| a == KeyAlgorithm::from(alg)) {
            return Lookup::Found(k.key.clone());
        }
    }
    if seen {
        Lookup::WrongType
    } else {
        Lookup::Missing
    }
}

#[derive(Default)]
struct State {
    keys: Arc<Vec<SigningKey>>,
    /// Whether any fetch ever succeeded; without that, failures are "unavailable", not "unknown key".
    loaded: bool,
    fresh_until: Option<Instant>,
    last_attempt: Option<Instant>,
    last_error: Option<String>,
    /// From discovery; forgotten after a failed key fetch so the next attempt re-discovers.
    discovered_uri: Option<String>,
}

impl State {
    fn is_fresh(&self) -> bool {
        self.fresh_until.is_some_and(|t| Instant::now() < t)
    }
}

/// Cached keys of one issuer.
pub(crate) struct JwksCache {
    http: reqwest::Client,
    issuer: String,
    configured_uri: Option<String>,
    default_ttl: Duration,
    min_refresh_interval: Duration,
    state: RwLock<State>,
    /// Held for the duration of a fetch: one refresh at a time.
    refresh: Mutex<()>,
}

impl JwksCache {
    pub(crate) fn new(http: reqwest::Client, issuer: String, jwks_uri: Option<String>) -> Self {
        Self {
            http,
            issuer,
            configured_uri: jwks_uri,
            default_ttl: DEFAULT_JWKS_TTL,
            min_refresh_interval: DEFAULT_MIN_REFRESH_INTERVAL,
            state: RwLock::new(State::default()),
            refresh: Mutex::new(()),
        }
    }

    pub(crate) fn set_timing(&mut self, default_ttl: Duration, min_refresh_interval: Duration) {
        self.default_ttl = default_ttl;
        self.min_refresh_interval = min_refresh_interval;
    }

    /// The key named `kid` that can verify `alg`, fetching or refreshing the key set if needed.
    pub(crate) async fn key_for(
        &self,
        kid: &str,
        alg: Algorithm,
    ) -> Result<DecodingKey, AuthError> {
        let (found, fresh) = {
            let st = self.state.read().await;
            (lookup(&st.keys, kid, alg), st.is_fresh())
        };
        match found {
            Lookup::Found(key) if fresh => return Ok(key),
            Lookup::Found(key) => {
                // Stale but usable: refresh if nobody else is, otherwise don't wait for them.
                if let Ok(_guard) = self.refresh.try_lock() {
                    self.refresh_if_due().await;
                    if let Lookup::Found(newer) = self.lookup_now(kid, alg).await {
                        return Ok(newer);
                    }
                    // Rotated out by the provider: the refreshed set is authoritative.
                    return Err(self.not_found_error().await);
                }
                return Ok(key);
            }
            Lookup::WrongType => return Err(wrong_type()),
            Lookup::Missing => {}
        }
        // Unknown kid (or nothing loaded yet): queue behind any running refresh, then look again.
        let _guard = self.refresh.lock().await;
        match self.lookup_now(kid, alg).await {
            Lookup::Found(key) => return Ok(key),
            Lookup::WrongType => return Err(wrong_type()),
            Lookup::Missing => {}
        }
        self.refresh_if_due().await;
        match self.lookup_now(kid, alg).await {
            Lookup::Found(key) => Ok(key),
            Lookup::WrongType => Err(wrong_type()),
            Lookup::Missing => Err(self.not_found_error().await),
        }
    }

    async fn lookup_now(&self, kid: &str, alg: Algorithm) -> Lookup {
        lookup(&self.state.read().await.keys, kid, alg)
    }

    async fn not_found_error(&self) -> AuthError {
        let st = self.state.read().await;
        if st.loaded {
            AuthError::InvalidCredentials("token signed with an unknown key".into())
        } else {
            let why = st.last_error.as_deref().unwrap_or("not fetched yet");
            AuthError::Unavailable(format!("no signing keys for the OIDC issuer: {why}"))
        }
    }

    /// Fetches the key set unless the last attempt was too recent. Call with `refresh` held. On failure
    /// the old keys stay (and stay in use): a provider outage must not log everyone out, and an attacker
    /// who can break the fetch gains nothing since old keys are only ones the provider once published.
    async fn refresh_if_due(&self) {
        let (due, discovered) = {
            let st = self.state.read().await;
            let wait = if st.loaded {
                self.min_refresh_interval
            } else {
                self.min_refresh_interval.min(EMPTY_RETRY_INTERVAL)
            };
            let due = st.last_attempt.is_none_or(|t| t.elapsed() >= wait);
            (due, st.discovered_uri.clone())
        };
        if !due {
            return;
        }
        self.state.write().await.last_attempt = Some(Instant::now());
        let result = self.fetch(discovered).await;
        let mut st = self.state.write().await;
        match result {
            Ok(fetched) => {
                tracing::debug!(
                    issuer = %self.issuer,
                    keys = fetched.keys.len(),
                    "fetched OIDC signing keys"
                );
                st.keys = Arc::new(fetched.keys);
                st.loaded = true;
                let ttl = fetched.ttl.unwrap_or(self.default_ttl).min(MAX_TTL);
                st.fresh_until = Some(Instant::now() + ttl);
                st.last_error = None;
                st.discovered_uri = fetched.discovered_uri;
            }
            Err(e) => {
                tracing::warn!(
                    issuer = %self.issuer,
                    error = %e,
                    cached_keys = st.keys.len(),
                    "fetching OIDC signing keys failed; keeping cached keys"
                );
                st.last_error = Some(e);
                st.discovered_uri = None;
            }
        }
    }

    async fn fetch(&self, discovered: Option<String>) -> Result<Fetched, String> {
        let (uri, discovered_uri) = match (&self.configured_uri, discovered) {
            (Some(uri), _) => (uri.clone(), None),
            (None, Some(uri)) => (uri.clone(), Some(uri)),
            (None, None) => {
                let uri = self.discover().await?;
                (uri.clone(), Some(uri))
            }
        };
        let (body, cache_control) = self.get(&uri).await?;
        let doc: KeySetDoc = serde_json::from_slice(&body)
            .map_err(|e| format!("JWKS at {uri} is not a key set: {e}"))?;
        Ok(Fetched {
            keys: doc.keys.into_iter().filter_map(usable_key).collect(),
            ttl: cache_control.as_deref().and_then(max_age),
            discovered_uri,
        })
    }

    async fn discover(&self) -> Result<String, String> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let (body, _) = self.get(&url).await?;
        let doc: DiscoveryDoc = serde_json::from_slice(&body)
            .map_err(|e| format!("discovery document at {url} is invalid: {e}"))?;
        // OpenID Connect Discovery §4.3: the document must be for exactly this issuer.
        if doc.issuer != self.issuer {
            return Err(format!(
                "discovery document at {url} is for issuer {:?}, expected {:?}",
                doc.issuer, self.issuer
            ));
        }
        Ok(doc.jwks_uri)
    }

    /// GET `url`, returning the body and any `Cache-Control` header.
    async fn get(&self, url: &str) -> Result<(Vec<u8>, Option<String>), String> {
        let mut resp = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(HTTP_TIMEOUT)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("GET {url}: HTTP {}", resp.status()));
        }
        let cache_control = resp
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_BODY_BYTES as u64)
        {
            return Err(format!(
                "GET {url}: response larger than {MAX_BODY_BYTES} bytes"
            ));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| format!("GET {url}: {e}"))? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(format!(
                    "GET {url}: response larger than {MAX_BODY_BYTES} bytes"
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, cache_control))
    }
}

fn wrong_type() -> AuthError {
    AuthError::InvalidCredentials("signing key type does not match the token's algorithm".into())
}

struct Fetched {
    keys: Vec<SigningKey>,
    ttl: Option<Duration>,
    discovered_uri: Option<String>,
}

#[derive(serde::Deserialize)]
struct DiscoveryDoc {
    issuer: String,
    jwks_uri: String,
}

/// Keys as raw JSON, so one key we cannot parse does not make the whole set unusable.
#[derive(serde::Deserialize)]
struct KeySetDoc {
    keys: Vec<serde_json::Value>,
}

/// Turns one JWK into a verification key, or `None` for keys that must not or cannot verify tokens:
/// no `kid`, meant for encryption, symmetric (`oct`), unsupported curves, RSA below 2048 bits.
fn usable_key(value: serde_json::Value) -> Option<SigningKey> {
    let jwk: Jwk = serde_json::from_value(value).ok()?;
    let kid = jwk.common.key_id.clone().filter(|k| !k.is_empty())?;
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return None;
    }
    if jwk
        .common
        .key_operations
        .as_ref()
        .is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
    {
        return None;
    }
    let kind = match &jwk.algorithm {
        AlgorithmParameters::RSA(p) => {
            (rsa_modulus_bits(&p.n)? >= MIN_RSA_BITS).then_some(KeyKind::Rsa)?
        }
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => KeyKind::P256,
            EllipticCurve::P384 => KeyKind::P384,
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(p) => match p.curve {
            EllipticCurve::Ed25519 => KeyKind::Ed25519,
            _ => return None,
        },
        _ => return None,
    };
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    Some(SigningKey {
        kid,
        kind,
        alg: jwk.common.key_algorithm,
        key,
    })
}

/// Bit length of a base64url big-endian modulus, ignoring leading zero bytes.
fn rsa_modulus_bits(n_b64: &str) -> Option<usize> {
    let n = URL_SAFE_NO_PAD.decode(n_b64.trim_end_matches('=')).ok()?;
    let first = n.iter().position(|&b| b != 0)?;
    let significant = n.len() - first;
    Some(significant * 8 - n[first].leading_zeros() as usize)
}

/// Cache lifetime from a `Cache-Control` value: `max-age` (capped at a day), or zero for `no-cache` /
/// `no-store`. Zero still means "use until the next permitted refresh", not "refetch per request".
fn max_age(cache_control: &str) -> Option<Duration> {
    let mut age = None;
    for directive in cache_control.split(',').map(str::trim) {
        if directive.eq_ignore_ascii_case("no-cache") || directive.eq_ignore_ascii_case("no-store")
        {
            return Some(Duration::ZERO);
        }
        if let Some((name, value)) = directive.split_once('=')
            && name.trim().eq_ignore_ascii_case("max-age")
            && let Ok(secs) = value.trim().trim_matches('"').parse::<u64>()
        {
            age = Some(Duration::from_secs(secs).min(MAX_TTL));
        }
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn max_age_reads_cache_control() {
        assert_eq!(max_age("max-age=300"), Some(Duration::from_secs(300)));
        assert_eq!(
            max_age("public, Max-Age = 120 , must-revalidate"),
            Some(Duration::from_secs(120))
        );
        assert_eq!(max_age("max-age=99999999"), Some(MAX_TTL));
        assert_eq!(max_age("no-cache, max-age=300"), Some(Duration::ZERO));
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("max-age=soon"), None);
        assert_eq!(max_age(""), None);
    }

    #[test]
    fn modulus_bits_ignore_leading_zero_bytes() {
        let n = URL_SAFE_NO_PAD.encode([0u8, 0x80, 0, 0]);
        assert_eq!(rsa_modulus_bits(&n), Some(24));
        let n = URL_SAFE_NO_PAD.encode([0x01, 0, 0]);
        assert_eq!(rsa_modulus_bits(&n), Some(17));
        assert_eq!(rsa_modulus_bits("!!"), None);
        assert_eq!(rsa_modulus_bits(""), None);
    }

    fn rsa_jwk(bits: usize) -> serde_json::Value {
        let mut n = vec![0xffu8; bits / 8];
        n[bits / 8 - 1] = 0x01;
        json!({"kty": "RSA", "kid": "r", "n": URL_SAFE_NO_PAD.encode(n), "e": "AQAB"})
    }

    #[test]
    fn keys_that_must_not_verify_are_dropped() {
        assert!(usable_key(rsa_jwk(2048)).is_some());
        assert!(usable_key(rsa_jwk(1024)).is_none(), "short RSA");
        let mut no_kid = rsa_jwk(2048);
        no_kid.as_object_mut().map(|o| o.remove("kid"));
        assert!(usable_key(no_kid).is_none(), "no kid");
        let mut enc = rsa_jwk(2048);
        enc["use"] = json!("enc");
        assert!(usable_key(enc).is_none(), "encryption key");
        let mut sig = rsa_jwk(2048);
        sig["use"] = json!("sig");
        assert!(usable_key(sig).is_some());
        let mut ops = rsa_jwk(2048);
        ops["key_ops"] = json!(["encrypt"]);
        assert!(usable_key(ops).is_none(), "key_ops without verify");
        let oct = json!({"kty": "oct", "kid": "h", "k": "c2VjcmV0"});
        assert!(usable_key(oct).is_none(), "symmetric key");
        let p521 = json!({"kty": "EC", "kid": "e", "crv": "P-521", "x": "AA", "y": "AA"});
        assert!(usable_key(p521).is_none(), "unsupported curve");
        assert!(usable_key(json!({"kty": "weird", "kid": "w"})).is_none());
        assert!(usable_key(json!("not an object")).is_none());
    }

    #[test]
    fn key_type_and_pinned_alg_must_fit_the_token_alg() {
        let mut pinned = rsa_jwk(2048);
        pinned["alg"] = json!("RS256");
        let keys = vec![usable_key(pinned).expect("usable")];
        assert!(matches!(
            lookup(&keys, "r", Algorithm::RS256),
            Lookup::Found(_)
        ));
        assert!(matches!(
            lookup(&keys, "r", Algorithm::PS256),
            Lookup::WrongType
        ));
        assert!(matches!(
            lookup(&keys, "r", Algorithm::ES256),
            Lookup::WrongType
        ));
        assert!(matches!(
            lookup(&keys, "other", Algorithm::RS256),
            Lookup::Missing
        ));
        let unpinned = vec![usable_key(rsa_jwk(2048)).expect("usable")];
        assert!(matches!(
            lookup(&unpinned, "r", Algorithm::PS256),
            Lookup::Found(_)
        ));
        assert!(matches!(
            lookup(&unpinned, "r", Algorithm::EdDSA),
            Lookup::WrongType
        ));
    }
}
