//! Who a request is and what it may do. Authentication checks a credential (an API token, a password, an
//! OIDC bearer token) and yields a principal; authorization maps the principal's grants (role × scope) to
//! capabilities on a resource. The server stores users, tokens and grants and calls these functions.

mod bearer;
mod crc32;
mod credential_cache;
pub mod error;
mod glob;
mod hmac;
#[cfg(feature = "oidc")]
mod jwks;
#[cfg(feature = "oidc")]
pub mod oidc;
pub mod password;
pub mod roles;
pub mod token;

pub use bearer::looks_like_jwt;
pub use error::AuthError;
pub use glob::glob_match;
#[cfg(feature = "oidc")]
pub use oidc::{OidcConfig, OidcIdentity, OidcVerifier};
pub use password::{CredentialCache, check_password_strength, hash_password, verify_password};
pub use roles::{Capability, Grant, Resource, Role, Scope, allows, grants_of_admin};
pub use token::{IssuedToken, ParsedToken, TokenKind, looks_like_token};
