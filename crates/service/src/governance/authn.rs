//! Authentication: a credential (Basic user:password or user:token, Bearer token or OIDC JWT) to a
//! principal. Tokens cost one lookup and one SHA-256; passwords one argon2id verification, then a
//! verified-credential cache; principals are cached for a few seconds so a request costs no read.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use std::sync::Arc;

use cairn_auth::looks_like_jwt;
use cairn_auth::password::{CredentialCache, verify_password};
use cairn_auth::roles::{Grant, Role, Scope};
use cairn_auth::token;
use cairn_domain::time::now_millis;
use sha2::{Digest, Sha256};

use super::{Governance, Principal, Via};
use crate::{ServiceError, ServiceResult};

/// Who an OIDC bearer token names, once its signature, issuer, audience and times checked out.
#[derive(Debug, Clone)]
pub struct JwtIdentity {
    pub username: String,
    pub groups: Vec<String>,
}

/// Verifies OIDC bearer tokens (the server supplies one over its HTTP client and the issuer's JWKS).
#[async_trait::async_trait]
pub trait JwtVerifier: Send + Sync {
    /// The identity, or why the token is refused.
    async fn verify(&self, token: &str) -> Result<JwtIdentity, String>;
}

/// How this server authenticates.
#[derive(Clone, Default)]
pub struct AuthConfig {
    pub enabled: bool,
    pub oidc: Option<Arc<dyn JwtVerifier>>,
}

/// A credential as a request presents it.
#[derive(Debug, Clone)]
pub enum Credential {
    Basic { user: String, password: String },
    Bearer(String),
}

/// How long a verified principal is reused without reading the store: a revoked token or grant takes
/// effect within this (at once for changes made through this server).
const PRINCIPAL_TTL: Duration = Duration::from_secs(5);
const PRINCIPAL_CACHE_MAX: usize = 10_000;

pub(crate) struct AuthState {
    pub(crate) config: AuthConfig,
    passwords: CredentialCache,
    oidc: Option<Arc<dyn JwtVerifier>>,
    principals: Mutex<HashMap<[u8; 32], (Principal, Instant)>>,
}

impl AuthState {
    pub(crate) fn new(config: AuthConfig) -> Self {
        let oidc = config.oidc.clone();
        Self {
            config,
            passwords: CredentialCache::new(Duration::from_secs(60)),
            oidc,
            principals: Mutex::new(HashMap::new()),
        }
    }

    /// Forgets every cached principal (after a change to users, tokens or grants).
    pub(crate) fn forget(&self) {
        self.principals.lock().expect("principal cache").clear();
    }

    /// Forgets every cached principal and the passwords verified for `user` (after a password change
    /// or a deletion).
    pub(crate) fn forget_user(&self, user: &str) {
        self.passwords.forget_user(user);
        self.forget();
    }
}

fn unauthenticated(why: &str) -> ServiceError {
    ServiceError::Unauthenticated(why.to_owned())
}

fn cache_key(c: &Credential) -> [u8; 32] {
    let mut h = Sha256::new();
    match c {
        Credential::Basic { user, password } => {
            h.update(b"basic\0");
            h.update(user.as_bytes());
            h.update([0]);
            h.update(password.as_bytes());
        }
        Credential::Bearer(t) => {
            h.update(b"bearer\0");
            h.update(t.as_bytes());
        }
    }
    h.finalize().into()
}

impl Governance {
    /// The principal a credential proves, or `Unauthenticated` saying why not.
    pub async fn authenticate(&self, credential: &Credential) -> ServiceResult<Principal> {
        let key = cache_key(credential);
        if let Some((p, at)) = self
            .auth
            .principals
            .lock()
            .expect("principal cache")
            .get(&key)
            && at.elapsed() < PRINCIPAL_TTL
        {
            return Ok(p.clone());
        }
        let principal = match credential {
            Credential::Basic { user, password } if token::looks_like_token(password) => {
                let p = self.by_token(password).await?;
                if p.name != *user {
                    return Err(unauthenticated("the token does not belong to that user"));
                }
                p
            }
            Credential::Basic { user, password } => self.by_password(user, password).await?,
            Credential::Bearer(t) if token::looks_like_token(t) => self.by_token(t).await?,
            Credential::Bearer(t) if looks_like_jwt(t) => self.by_oidc(t).await?,
            Credential::Bearer(_) => return Err(unauthenticated("unrecognised bearer token")),
        };
        let mut cache = self.auth.principals.lock().expect("principal cache");
        if cache.len() >= PRINCIPAL_CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, (principal.clone(), Instant::now()));
        Ok(principal)
    }

    async fn by_token(&self, presented: &str) -> ServiceResult<Principal> {
        let parsed =
            token::parse(presented).ok_or_else(|| unauthenticated("malformed API token"))?;
        let stored = self
            .store
            .token(&parsed.id)
            .await?
            .ok_or_else(|| unauthenticated("unknown API token"))?;
        if !token::secret_matches(&stored.secret_hash, &parsed.secret) {
            return Err(unauthenticated("unknown API token"));
        }
        if stored.revoked_ms.is_some() {
            return Err(unauthenticated("the API token was revoked"));
        }
        if stored.expires_ms.is_some_and(|e| e <= now_millis()) {
            return Err(unauthenticated("the API token has expired"));
        }
        self.principal_of(&stored.user, Via::Token).await
    }

    async fn by_password(&self, user: &str, password: &str) -> ServiceResult<Principal> {
        if !self.auth.passwords.contains(user, password) {
            let stored = self.store.user(user).await?;
            let Some(hash) = stored.and_then(|u| u.password_hash) else {
                return Err(unauthenticated("invalid user name or password"));
            };
            let pw = password.to_owned();
            let ok = tokio::task::spawn_blocking(move || verify_password(&hash, &pw))
                .await
                .map_err(|e| ServiceError::Internal(format!("password check: {e}")))?;
            if !ok {
                return Err(unauthenticated("invalid user name or password"));
            }
            self.auth.passwords.insert(user, password);
        }
        self.principal_of(user, Via::Password).await
    }

    async fn by_oidc(&self, jwt: &str) -> ServiceResult<Principal> {
        let verifier = self
            .auth
            .oidc
            .as_ref()
            .ok_or_else(|| unauthenticated("this server accepts no OIDC tokens"))?;
        let id = verifier
            .verify(jwt)
            .await
            .map_err(|e| unauthenticated(&e))?;
        // An OIDC subject is known by its user name; grants given to that name apply, and a user
        // record is not required.
        let mut p = match self.store.user(&id.username).await? {
            Some(_) => self.principal_of(&id.username, Via::Oidc).await?,
            None => Principal {
                name: id.username.clone(),
                via: Via::Oidc,
                is_admin: false,
                grants: self.grants_of(&id.username).await?,
                groups: Vec::new(),
            },
        };
        p.groups = id.groups;
        Ok(p)
    }

    /// The principal named `user`, with its grants (an admin holds every capability).
    pub(crate) async fn principal_of(&self, user: &str, via: Via) -> ServiceResult<Principal> {
        let record = self
            .store
            .user(user)
            .await?
            .ok_or_else(|| unauthenticated("unknown user"))?;
        let mut grants = self.grants_of(user).await?;
        if record.is_admin {
            grants.push(Grant {
                role: Role::Admin,
                scope: Scope::All,
            });
        }
        Ok(Principal {
            name: record.name,
            via,
            is_admin: record.is_admin,
            grants,
            groups: Vec::new(),
        })
    }

    async fn grants_of(&self, user: &str) -> ServiceResult<Vec<Grant>> {
        Ok(self
            .store
            .grants(Some(user))
            .await?
            .into_iter()
            .filter_map(|g| {
                Some(Grant {
                    role: Role::parse(&g.role)?,
                    scope: Scope::parse(&g.scope).ok()?,
                })
            })
            .collect())
    }
}
