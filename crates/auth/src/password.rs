//! Human passwords: argon2id hashing with the OWASP-recommended parameters, verification, and a minimum
//! strength rule. A correct password costs ~19 MiB and tens of milliseconds to check, which is the point
//! for an attacker with a stolen database and a problem for per-request basic auth; the
//! [`CredentialCache`] re-exported here avoids paying it on every request.

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

use crate::error::AuthError;

pub use crate::credential_cache::CredentialCache;

/// OWASP Password Storage Cheat Sheet, argon2id option 2: m = 19 MiB, t = 2, p = 1.
const M_COST_KIB: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

/// Refuse to verify against stored hashes asking for more than this much memory (1 GiB), so a corrupted
/// or hostile row cannot make the server allocate without bound.
const MAX_VERIFY_M_COST_KIB: u32 = 1024 * 1024;
/// Likewise for passes; OWASP's strongest option uses t = 5.
const MAX_VERIFY_T_COST: u32 = 64;

/// The shortest password [`check_password_strength`] accepts (NIST SP 800-63B minimum).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The longest password [`check_password_strength`] accepts; long enough for any passphrase, short
/// enough that hashing it is not a denial-of-service lever.
pub const MAX_PASSWORD_CHARS: usize = 1024;

fn hasher() -> Result<Argon2<'static>, AuthError> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None)
        .map_err(|e| AuthError::Internal(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes `password` with argon2id and a fresh random 16-byte salt into a PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), which carries everything needed to verify it later.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let hash = hasher()?
        .hash_password(password.as_bytes())
        .map_err(|e| AuthError::Internal(format!("hashing password: {e}")))?;
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `phc`. Any malformed, unsupported or absurdly expensive hash
/// simply does not match; the parameters are taken from the hash so older hashes keep verifying after
/// the defaults change.
pub fn verify_password(phc: &str, password: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    if params.m_cost() > MAX_VERIFY_M_COST_KIB || params.t_cost() > MAX_VERIFY_T_COST {
        return false;
    }
    // `Argon2::default()` only supplies the hasher object; algorithm, version and parameters come from
    // `hash`, and the output comparison is constant-time.
    Argon2::default()
        .verify_password(password.as_bytes(), &hash)
        .is_ok()
}

/// Rejects passwords that are too short (fewer than 8 characters) or unreasonably long. Deliberately no
/// composition rules: NIST SP 800-63B advises against them.
pub fn check_password_strength(password: &str) -> Result<(), AuthError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(AuthError::BadRequest(format!(
            "password must be at least {MIN_PASSWORD_CHARS} characters long"
        )));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(AuthError::BadRequest(format!(
            "password must be at most {MAX_PASSWORD_CHARS} characters long"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_argon2id_with_owasp_parameters_and_verifies() {
        let phc = hash_password("correct horse").expect("hashes");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_password(&phc, "correct horse"));
        assert!(!verify_password(&phc, "correct horsf"));
        assert!(!verify_password(&phc, ""));
    }

    #[test]
    fn salts_differ_between_hashes_of_the_same_password() {
        let a = hash_password("same password").expect("hashes");
        let b = hash_password("same password").expect("hashes");
        assert_ne!(a, b);
        assert!(verify_password(&a, "same password"));
        assert!(verify_password(&b, "same password"));
    }

    #[test]
    fn hashes_with_other_parameters_still_verify() {
        // A cheap argon2id hash as an older configuration might have written it.
        let params = Params::new(64, 1, 1, None).expect("params");
        let old = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"pw")
            .expect("hashes")
            .to_string();
        assert!(old.contains("m=64,t=1,p=1"));
        assert!(verify_password(&old, "pw"));
        assert!(!verify_password(&old, "px"));
    }

    #[test]
    fn garbage_and_oversized_hashes_do_not_match() {
        assert!(!verify_password("", "pw"));
        assert!(!verify_password("not a phc string", "pw"));
        assert!(!verify_password("$argon2id$v=19$m=19456,t=2,p=1$", "pw"));
        assert!(!verify_password("$bcrypt$whatever", "pw"));
        let phc = hash_password("pw").expect("hashes");
        let greedy = phc.replace("m=19456", "m=4194304");
        assert!(!verify_password(&greedy, "pw"));
    }

    #[test]
    fn strength_rule_counts_characters_not_bytes() {
        assert!(check_password_strength("1234567").is_err());
        assert!(check_password_strength("12345678").is_ok());
        // 7 characters of 2 bytes each: 14 bytes but still too short.
        assert!(check_password_strength("ééééééé").is_err());
        assert!(check_password_strength(&"x".repeat(1025)).is_err());
        let err = check_password_strength("short").expect_err("too short");
        assert_eq!(err.status_code(), 400);
        assert!(err.to_string().contains("at least 8 characters"), "{err}");
    }
}
