//! Mapping sqlx errors onto [`StoreError`].

use cairn_store::StoreError;

pub(crate) fn db(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(e.to_string())
        }
        // Still locked by another process after the busy timeout: retryable, so a 503, not a 500.
        sqlx::Error::Database(d) if d.message().contains("database is locked") => {
            StoreError::Unavailable(e.to_string())
        }
        // A value SQLite cannot hold: a string or blob over its size limit (SQLITE_TOOBIG, 18), a
        // datatype mismatch (SQLITE_MISMATCH, 20), or a bound parameter that could not be encoded. The
        // caller's error, as PostgreSQL's data exceptions are.
        sqlx::Error::Database(d) if matches!(primary_code(d.code().as_deref()), Some(18 | 20)) => {
            StoreError::InvalidData(d.message().to_owned())
        }
        sqlx::Error::Encode(inner) => StoreError::InvalidData(inner.to_string()),
        _ => StoreError::Internal(e.to_string()),
    }
}

/// SQLite's primary result code (the low byte of an extended code), as sqlx reports it: a decimal string.
fn primary_code(code: Option<&str>) -> Option<i64> {
    code.and_then(|c| c.parse::<i64>().ok()).map(|c| c & 0xff)
}

/// True when the error is a UNIQUE or PRIMARY KEY violation.
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

#[cfg(test)]
mod tests {
    #[test]
    fn primary_codes() {
        assert_eq!(super::primary_code(Some("18")), Some(18));
        assert_eq!(super::primary_code(Some("2067")), Some(19));
        assert_eq!(super::primary_code(None), None);
    }
}
