//! One error type for every check in this crate, shaped so the HTTP layer can pick a status without
//! inspecting message text.

/// Why authentication or a credential operation failed.
///
/// Messages are safe to return to the client: they never contain secrets, and they say no more about
/// *which* part of a credential was wrong than the client could learn by itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The credential is malformed, unknown, wrongly signed or otherwise not acceptable (HTTP 401).
    #[error("invalid credentials: {0}")]
    InvalidCredentials(String),
    /// The credential was valid once but its lifetime is over (HTTP 401; the client should re-login).
    #[error("credentials expired")]
    Expired,
    /// The request itself is wrong, e.g. a weak new password or an unparsable scope (HTTP 400).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Authenticated, but the grants do not allow the action (HTTP 403).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// A dependency needed to decide is unreachable, e.g. the identity provider's JWKS (HTTP 503).
    /// Callers must fail closed on this: it is never a reason to let a request through.
    #[error("authentication unavailable: {0}")]
    Unavailable(String),
    /// A local failure that is not the client's fault, e.g. the OS random source (HTTP 500).
    #[error("internal authentication error: {0}")]
    Internal(String),
}

impl AuthError {
    /// The HTTP status this error maps to, so callers without a shared HTTP type agree on it.
    pub fn status_code(&self) -> u16 {
        match self {
            Self::InvalidCredentials(_) | Self::Expired => 401,
            Self::BadRequest(_) => 400,
            Self::Forbidden(_) => 403,
            Self::Unavailable(_) => 503,
            Self::Internal(_) => 500,
        }
    }

    /// True when the client should be asked to authenticate again (HTTP 401).
    pub fn is_unauthenticated(&self) -> bool {
        self.status_code() == 401
    }
}

#[cfg(test)]
mod tests {
    use super::AuthError;

    #[test]
    fn status_codes_separate_client_auth_request_and_server_faults() {
        assert_eq!(AuthError::InvalidCredentials("x".into()).status_code(), 401);
        assert_eq!(AuthError::Expired.status_code(), 401);
        assert_eq!(AuthError::BadRequest("x".into()).status_code(), 400);
        assert_eq!(AuthError::Forbidden("x".into()).status_code(), 403);
        assert_eq!(AuthError::Unavailable("x".into()).status_code(), 503);
        assert_eq!(AuthError::Internal("x".into()).status_code(), 500);
        assert!(AuthError::Expired.is_unauthenticated());
        assert!(!AuthError::BadRequest("x".into()).is_unauthenticated());
    }

    #[test]
    fn messages_name_the_reason() {
        assert_eq!(
            AuthError::InvalidCredentials("bad checksum".into()).to_string(),
            "invalid credentials: bad checksum"
        );
        assert_eq!(AuthError::Expired.to_string(), "credentials expired");
    }
}
