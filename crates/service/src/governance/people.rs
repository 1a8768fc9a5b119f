//! Users, API tokens and grants, and the first admin.

use cairn_auth::password::{check_password_strength, hash_password};
use cairn_auth::roles::{Capability, Role, Scope};
use cairn_auth::token::{self, TokenKind};
use cairn_domain::governance::{ApiToken, GrantRecord, User};
use cairn_domain::time::now_millis;
use serde::Serialize;

use super::{Governance, Principal, change};
use crate::{ServiceError, ServiceResult};

/// A token just created: its record and the secret, shown once.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedTokenView {
    #[serde(flatten)]
    pub token: ApiToken,
    pub secret: String,
}

fn denied(what: &str) -> ServiceError {
    ServiceError::PermissionDenied(format!("{what} needs the admin role"))
}

pub(crate) fn require_admin(p: &Principal, what: &str) -> ServiceResult<()> {
    if p.can_everywhere(Capability::Admin) {
        Ok(())
    } else {
        Err(denied(what))
    }
}

async fn hashed(password: &str) -> ServiceResult<String> {
    check_password_strength(password).map_err(|e| ServiceError::InvalidArgument(e.to_string()))?;
    let pw = password.to_owned();
    tokio::task::spawn_blocking(move || hash_password(&pw))
        .await
        .map_err(|e| ServiceError::Internal(format!("hashing a password: {e}")))?
        .map_err(|e| ServiceError::Internal(e.to_string()))
}

/// User names are what histories record: 1 to 100 letters, digits and `._@-`.
fn validate_user_name(name: &str) -> ServiceResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ServiceError::InvalidArgument(format!(
            "invalid user name '{name}': use 1 to 100 letters, digits and . _ @ -"
        )))
    }
}

impl Governance {
    /// Creates the first admin unless an admin exists; true when it created one.
    pub async fn bootstrap_admin(&self, name: &str, password: &str) -> ServiceResult<bool> {
        if self.has_admin().await? {
            return Ok(false);
        }
        validate_user_name(name)?;
        let hash = hashed(password).await?;
        let now = now_millis();
        let user = User {
            name: name.to_owned(),
            password_hash: Some(hash),
            is_admin: true,
            created_ms: now,
            updated_ms: now,
        };
        match self.store.create_user(&user, &change("cairn")).await {
            Ok(()) => {}
            // The name exists without admin rights: make it the admin.
            Err(cairn_store::StoreError::AlreadyExists(_)) => {
                self.store
                    .update_user(
                        name,
                        user.password_hash.as_deref(),
                        Some(true),
                        &change("cairn"),
                    )
                    .await?
            }
            Err(e) => return Err(e.into()),
        }
        self.auth.forget();
        Ok(true)
    }

    pub async fn has_admin(&self) -> ServiceResult<bool> {
        Ok(self.store.users().await?.iter().any(|u| u.is_admin))
    }

    pub async fn create_user(
        &self,
        by: &Principal,
        name: &str,
        password: Option<&str>,
        is_admin: bool,
    ) -> ServiceResult<User> {
        require_admin(by, "creating a user")?;
        validate_user_name(name)?;
        let password_hash = match password {
            Some(p) => Some(hashed(p).await?),
            None => None,
        };
        let now = now_millis();
        let user = User {
            name: name.to_owned(),
            password_hash,
            is_admin,
            created_ms: now,
            updated_ms: now,
        };
        self.store.create_user(&user, &change(&by.name)).await?;
        Ok(user)
    }

    pub async fn user(&self, by: &Principal, name: &str) -> ServiceResult<User> {
        if by.name != name {
            require_admin(by, "reading another user")?;
        }
        self.store.user(name).await?.ok_or_else(|| no_user(name))
    }

    pub async fn users(&self, by: &Principal) -> ServiceResult<Vec<User>> {
        require_admin(by, "listing users")?;
        Ok(self.store.users().await?)
    }

    /// Changes a password: one's own, or anyone's as an admin.
    pub async fn set_password(
        &self,
        by: &Principal,
        name: &str,
        password: &str,
    ) -> ServiceResult<()> {
        if by.name != name {
            require_admin(by, "changing another user's password")?;
        }
        let hash = hashed(password).await?;
        self.store
            .update_user(name, Some(&hash), None, &change(&by.name))
            .await?;
        // The old password must stop working now, not when its verified-credential entry expires.
        self.auth.forget_user(name);
        Ok(())
    }

    pub async fn set_admin(&self, by: &Principal, name: &str, is_admin: bool) -> ServiceResult<()> {
        require_admin(by, "changing admin rights")?;
        self.store
            .update_user(name, None, Some(is_admin), &change(&by.name))
            .await?;
        self.auth.forget();
        Ok(())
    }

    pub async fn delete_user(&self, by: &Principal, name: &str) -> ServiceResult<()> {
        require_admin(by, "deleting a user")?;
        self.store.delete_user(name, &change(&by.name)).await?;
        self.auth.forget_user(name);
        Ok(())
    }

    /// Creates an API token for `user` (oneself unless an admin), expiring after `expires_days` (none:
    /// 90 days; 0: never).
    pub async fn create_token(
        &self,
        by: &Principal,
        user: Option<&str>,
        name: &str,
        expires_days: Option<u32>,
    ) -> ServiceResult<IssuedTokenView> {
        let owner = user.unwrap_or(&by.name);
        if owner != by.name {
            require_admin(by, "creating a token for another user")?;
        }
        if name.trim().is_empty() || name.len() > 200 {
            return Err(ServiceError::InvalidArgument(
                "a token needs a name of 1 to 200 characters (--name)".into(),
            ));
        }
        if self.store.user(owner).await?.is_none() {
            return Err(no_user(owner));
        }
        let issued = token::issue(TokenKind::Personal);
        let now = now_millis();
        let days = expires_days.unwrap_or(90);
        let record = ApiToken {
            id: issued.id.clone(),
            user: owner.to_owned(),
            name: name.to_owned(),
            secret_hash: issued.secret_hash.clone(),
            created_ms: now,
            expires_ms: (days > 0).then(|| now + i64::from(days) * 86_400_000),
            revoked_ms: None,
        };
        self.store.create_token(&record, &change(&by.name)).await?;
        Ok(IssuedTokenView {
            token: record,
            secret: issued.token,
        })
    }

    /// One's own tokens, or everyone's (or one user's) as an admin.
    pub async fn tokens(&self, by: &Principal, user: Option<&str>) -> ServiceResult<Vec<ApiToken>> {
        match user {
            Some(u) if u == by.name => Ok(self.store.tokens(Some(u)).await?),
            None if !by.is_admin => Ok(self.store.tokens(Some(&by.name)).await?),
            other => {
                require_admin(by, "listing other users' tokens")?;
                Ok(self.store.tokens(other).await?)
            }
        }
    }

    pub async fn revoke_token(&self, by: &Principal, id: &str) -> ServiceResult<()> {
        let t = self.store.token(id).await?.ok_or_else(|| {
            ServiceError::NotFound(cairn_domain::Missing::Governed {
                kind: "Token",
                key: id.to_owned(),
            })
        })?;
        if t.user != by.name {
            require_admin(by, "revoking another user's token")?;
        }
        self.store.revoke_token(id, &change(&by.name)).await?;
        self.auth.forget();
        Ok(())
    }

    /// Grants `role` over `scope` to `user`; true when it was new.
    pub async fn grant(
        &self,
        by: &Principal,
        user: &str,
        role: &str,
        scope: &str,
    ) -> ServiceResult<bool> {
        let (role, scope) = parse_grant(role, scope)?;
        self.may_grant(by, &scope)?;
        let record = GrantRecord {
            user: user.to_owned(),
            role: role.as_str().to_owned(),
            scope: scope.to_string(),
            created_ms: now_millis(),
            created_by: by.name.clone(),
        };
        let added = self.store.add_grant(&record, &change(&by.name)).await?;
        self.auth.forget();
        Ok(added)
    }

    pub async fn revoke_grant(
        &self,
        by: &Principal,
        user: &str,
        role: &str,
        scope: &str,
    ) -> ServiceResult<bool> {
        let (role, scope) = parse_grant(role, scope)?;
        self.may_grant(by, &scope)?;
        let removed = self
            .store
            .remove_grant(user, role.as_str(), &scope.to_string(), &change(&by.name))
            .await?;
        self.auth.forget();
        Ok(removed)
    }

    pub async fn grants(
        &self,
        by: &Principal,
        user: Option<&str>,
    ) -> ServiceResult<Vec<GrantRecord>> {
        if user != Some(by.name.as_str()) {
            require_admin(by, "listing grants")?;
        }
        Ok(self.store.grants(user).await?)
    }

    /// Admins grant anything; whoever holds the admin role over exactly this scope (MLflow's MANAGE on
    /// a model or an experiment) may grant on it.
    fn may_grant(&self, by: &Principal, scope: &Scope) -> ServiceResult<()> {
        let manages = by.is_admin
            || by
                .grants
                .iter()
                .any(|g| g.role == Role::Admin && (g.scope == Scope::All || &g.scope == scope));
        if manages {
            Ok(())
        } else {
            Err(denied("granting"))
        }
    }
}

fn parse_grant(role: &str, scope: &str) -> ServiceResult<(Role, Scope)> {
    let r = Role::parse(role).ok_or_else(|| {
        ServiceError::InvalidArgument(format!(
            "unknown role '{role}': viewer, scientist, approver, operator, invoker, auditor or admin"
        ))
    })?;
    let s = Scope::parse(scope).map_err(|e| ServiceError::InvalidArgument(e.to_string()))?;
    Ok((r, s))
}

fn no_user(name: &str) -> ServiceError {
    ServiceError::NotFound(cairn_domain::Missing::Governed {
        kind: "User",
        key: name.to_owned(),
    })
}

/// The account the server's pipeline executor runs triggered pipelines as.
pub const EXECUTOR_USER: &str = "cairn-executor";

impl Governance {
    /// A one-day token for a triggered pipeline run to call this server with: the executor's own
    /// account (created on first use, scientist and operator everywhere, no password). Its promotions of
    /// protected aliases become requests like anyone's.
    pub async fn run_token(&self) -> ServiceResult<String> {
        let system = Principal::unrestricted("cairn", super::Via::System);
        if self.store.user(EXECUTOR_USER).await?.is_none() {
            match self.create_user(&system, EXECUTOR_USER, None, false).await {
                Ok(_) | Err(ServiceError::AlreadyExists(_)) => {}
                Err(e) => return Err(e),
            }
            for role in ["scientist", "operator"] {
                self.grant(&system, EXECUTOR_USER, role, "*").await?;
            }
        }
        let t = self
            .create_token(
                &system,
                Some(EXECUTOR_USER),
                "triggered pipeline run",
                Some(1),
            )
            .await?;
        Ok(t.secret)
    }
}
