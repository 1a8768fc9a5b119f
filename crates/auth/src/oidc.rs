//! OIDC bearer tokens: this server is a resource server that accepts JWT access tokens from one
//! identity provider and turns them into an [`OidcIdentity`].
//!
//! The checks are deliberately narrow: asymmetric algorithms only (an `HS256` token "signed" with the
//! provider's public key must never verify), the key must be the one the token names, and issuer,
//! audience and lifetime are all required. Keys come from the provider's JWKS, fetched and cached by the
//! `jwks` module.

use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};

use crate::error::AuthError;
use crate::jwks::JwksCache;

pub use crate::jwks::{DEFAULT_JWKS_TTL, DEFAULT_MIN_REFRESH_INTERVAL};

/// Tokens longer than this are rejected before any parsing; real access tokens are 1–2 KiB.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The only algorithms accepted. No `HS*` (the verifier holds no shared secret, and accepting them
/// enables key-confusion attacks) and no `none`.
pub const ALLOWED_ALGORITHMS: [Algorithm; 7] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Which provider to trust and how to read its tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// Must equal the token's `iss` exactly (no trailing-slash normalisation).
    pub issuer: String,
    /// Must be one of the token's `aud` values.
    pub audience: String,
    /// Where the keys are; when `None`, read from `<issuer>/.well-known/openid-configuration`.
    pub jwks_uri: Option<String>,
    /// Claim holding the user name; `sub` is used when it is absent or not a string.
    pub username_claim: String,
    /// Claim holding group names (a string array, or a single string); dotted paths such as
    /// `realm_access.roles` reach into nested objects.
    pub groups_claim: String,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    pub leeway_s: u64,
}

impl OidcConfig {
    /// Config with the defaults: discovery, `preferred_username`, `groups`, 60 s leeway.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            jwks_uri: None,
            username_claim: "preferred_username".into(),
            groups_claim: "groups".into(),
            leeway_s: 60,
        }
    }
}

/// Who a verified token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcIdentity {
    /// The `sub` claim: stable and unique per issuer, the right key for linking to a local user.
    pub subject: String,
    /// For display and for matching configured user names; from `username_claim`, else `sub`.
    pub username: String,
    /// Group names from `groups_claim`, for mapping to grants; empty when the claim is absent.
    pub groups: Vec<String>,
    /// The token's `exp` (Unix seconds), e.g. to bound a session derived from it.
    pub expires_at: i64,
}

/// Verifies bearer JWTs of one issuer. Create once and share (it caches the provider's keys).
pub struct OidcVerifier {
    config: OidcConfig,
    keys: JwksCache,
}

impl OidcVerifier {
    /// A verifier that fetches keys with `http` (give it TLS and proxy settings as needed). Nothing is
    /// fetched until the first token arrives.
    pub fn new(config: OidcConfig, http: reqwest::Client) -> Self {
        // jsonwebtoken picks its crypto backend from cargo features and panics if it cannot decide
        // (e.g. another crate also enables `aws_lc_rs`); name ours explicitly in that case.
        if jsonwebtoken::crypto::CryptoProvider::try_get_default().is_none() {
            let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
        }
        let keys = JwksCache::new(http, config.issuer.clone(), config.jwks_uri.clone());
        Self { config, keys }
    }

    /// Overrides how long fetched keys count as fresh (when the response has no `max-age`; default
    /// 10 minutes, capped at a day) and the least time between two fetches (default 1 minute).
    #[must_use]
    pub fn with_jwks_timing(
        mut self,
        default_ttl: Duration,
        min_refresh_interval: Duration,
    ) -> Self {
        self.keys.set_timing(default_ttl, min_refresh_interval);
        self
    }

    /// The configuration in use.
    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// Checks signature, algorithm, key, issuer, audience and lifetime, and returns the identity.
    /// Errors: [`AuthError::Expired`] for an expired token, [`AuthError::Unavailable`] when no keys could
    /// ever be fetched (fail closed), [`AuthError::InvalidCredentials`] for everything else.
    pub async fn verify(&self, token: &str) -> Result<OidcIdentity, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(invalid("token too large"));
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("malformed token"))?;
        if !ALLOWED_ALGORITHMS.contains(&header.alg) {
            return Err(invalid(format!("algorithm {:?} not allowed", header.alg)));
        }
        let kid = header
            .kid
            .as_deref()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| invalid("token names no signing key (kid)"))?;
        let key = self.keys.key_for(kid, header.alg).await?;

        let mut validation = Validation::new(header.alg);
        validation.leeway = self.config.leeway_s;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        // jsonwebtoken skips iss/aud checks when the claim is absent unless it is required.
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|e| jwt_error(e.kind()))?;
        identity_from_claims(&self.config, &data.claims)
    }
}

impl std::fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

pub use crate::bearer::looks_like_jwt;

fn invalid(why: impl Into<String>) -> AuthError {
    AuthError::InvalidCredentials(why.into())
}

fn jwt_error(kind: &ErrorKind) -> AuthError {
    match kind {
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => invalid("token not valid yet (nbf)"),
        ErrorKind::InvalidIssuer => invalid("wrong issuer"),
        ErrorKind::InvalidAudience => invalid("wrong audience"),
        ErrorKind::MissingRequiredClaim(claim) => invalid(format!("missing claim {claim}")),
        ErrorKind::InvalidClaimFormat(claim) => invalid(format!("malformed claim {claim}")),
        ErrorKind::InvalidSignature => invalid("bad signature"),
        ErrorKind::InvalidAlgorithm => invalid("algorithm does not match the key"),
        _ => invalid("malformed token"),
    }
}

/// Reads the identity out of already-validated claims; re-checks `iss` strictly because jsonwebtoken also
/// accepts an array of issuers containing ours.
fn identity_from_claims(
    config: &OidcConfig,
    claims: &Map<String, Value>,
) -> Result<OidcIdentity, AuthError> {
    if claims.get("iss").and_then(Value::as_str) != Some(config.issuer.as_str()) {
        return Err(invalid("wrong issuer"));
    }
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("missing claim sub"))?
        .to_owned();
    let username = claims
        .get(&config.username_claim)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map_or_else(|| subject.clone(), str::to_owned);
    let groups = match claim_at(claims, &config.groups_claim) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(one)) if !one.is_empty() => vec![one.clone()],
        _ => Vec::new(),
    };
    let expires_at = claims
        .get("exp")
        .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
        .ok_or_else(|| invalid("missing claim exp"))?;
    Ok(OidcIdentity {
        subject,
        username,
        groups,
        expires_at,
    })
}

/// The claim named `name`, or if there is none and `name` is dotted, the value at that path.
fn claim_at<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(name) {
        return Some(v);
    }
    let mut parts = name.split('.');
    let mut current = claims.get(parts.next()?)?;
    for part in parts {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn config() -> OidcConfig {
        OidcConfig::new("https://idp.example", "cairn")
    }

    #[test]
    fn config_defaults() {
        let c = config();
        assert_eq!(c.jwks_uri, None);
        assert_eq!(c.username_claim, "preferred_username");
        assert_eq!(c.groups_claim, "groups");
        assert_eq!(c.leeway_s, 60);
    }

    #[test]
    fn jwt_shape_is_three_base64url_segments() {
        assert!(looks_like_jwt(
            "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln-_"
        ));
        assert!(!looks_like_jwt("a.b"));
        assert!(!looks_like_jwt("a.b.c.d"));
        assert!(!looks_like_jwt("a..c"));
        assert!(!looks_like_jwt("a.b."));
        assert!(!looks_like_jwt("a.b+/.c"));
        assert!(!looks_like_jwt("a.b=.c"));
        assert!(!looks_like_jwt(""));
        assert!(!looks_like_jwt("cairn_pat_0123456789abcdef_x"));
    }

    #[test]
    fn identity_uses_username_claim_then_sub() {
        let c = config();
        let id = identity_from_claims(
            &c,
            &claims(json!({
                "iss": "https://idp.example", "sub": "u1", "preferred_username": "ada", "exp": 10
            })),
        )
        .expect("valid");
        assert_eq!(
            (id.subject.as_str(), id.username.as_str(), id.expires_at),
            ("u1", "ada", 10)
        );
        let id = identity_from_claims(
            &c,
            &claims(json!({
                "iss": "https://idp.example", "sub": "u1", "preferred_username": 7, "exp": 10.6
            })),
        )
        .expect("valid");
        assert_eq!((id.username.as_str(), id.expires_at), ("u1", 10));
    }

    #[test]
    fn groups_accept_arrays_strings_and_dotted_paths() {
        let mut c = config();
        let base = |groups: Value| {
            claims(
                json!({"iss": "https://idp.example", "sub": "u", "exp": 1, "groups": groups,
                          "realm_access": {"roles": ["r1", "r2"]}}),
            )
        };
        let g = |c: &OidcConfig, v| identity_from_claims(c, &base(v)).expect("valid").groups;
        assert_eq!(g(&c, json!(["a", 3, "b"])), vec!["a", "b"]);
        assert_eq!(g(&c, json!("solo")), vec!["solo"]);
        assert!(g(&c, json!({"x": 1})).is_empty());
        c.groups_claim = "realm_access.roles".into();
        assert_eq!(g(&c, json!([])), vec!["r1", "r2"]);
        c.groups_claim = "realm_access.missing".into();
        assert!(g(&c, json!([])).is_empty());
    }

    #[test]
    fn issuer_must_be_a_single_exact_string() {
        let c = config();
        for iss in [
            json!(["https://idp.example"]),
            json!("https://idp.example/"),
            json!(null),
        ] {
            let r = identity_from_claims(&c, &claims(json!({"iss": iss, "sub": "u", "exp": 1})));
            assert!(r.is_err(), "{iss}");
        }
    }

    #[test]
    fn empty_subject_is_rejected() {
        let r = identity_from_claims(
            &config(),
            &claims(json!({"iss": "https://idp.example", "sub": "", "exp": 1})),
        );
        assert!(matches!(r, Err(AuthError::InvalidCredentials(_))));
    }

    #[test]
    fn jwt_errors_map_to_auth_errors() {
        assert_eq!(jwt_error(&ErrorKind::ExpiredSignature), AuthError::Expired);
        assert_eq!(jwt_error(&ErrorKind::InvalidAudience).status_code(), 401);
        assert_eq!(jwt_error(&ErrorKind::InvalidSignature).status_code(), 401);
    }
}
