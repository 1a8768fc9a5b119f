//! Telling bearer credentials apart by shape, before any verification (no dependencies: the core
//! build has it without the `oidc` feature).

/// Whether `s` has the shape of a compact JWS (three non-empty base64url segments), so an auth layer can
/// tell a JWT bearer from an API token or a session id without trying to verify it.
pub fn looks_like_jwt(s: &str) -> bool {
    let mut segments = 0;
    for part in s.split('.') {
        segments += 1;
        if segments > 3
            || part.is_empty()
            || !part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return false;
        }
    }
    segments == 3
}
