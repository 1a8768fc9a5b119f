//! Mapping sqlx errors onto [`StoreError`], and retrying transactions PostgreSQL aborted to break a race.

use std::future::Future;
use std::time::Duration;

use cairn_store::{StoreError, StoreResult};
use sqlx::pool::PoolConnection;
use sqlx::{Postgres, Transaction};

use crate::PostgresDb;

/// How often one write is attempted when PostgreSQL keeps picking it as a deadlock or serialization victim.
const MAX_ATTEMPTS: u32 = 5;

/// Why one attempt at a store operation failed: a verdict already phrased for the caller, or a database
/// error still to be classified (and perhaps retried).
#[derive(Debug)]
pub(crate) enum Fail {
    Store(StoreError),
    Db(sqlx::Error),
}

impl From<sqlx::Error> for Fail {
    fn from(e: sqlx::Error) -> Self {
        Self::Db(e)
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

pub(crate) type TxResult<T> = Result<T, Fail>;

impl PostgresDb {
    /// Runs `attempt` — one whole transaction, begun and committed inside it — again when PostgreSQL aborted
    /// it to resolve a deadlock or a serialization failure, up to [`MAX_ATTEMPTS`] times.
    pub(crate) async fn write<T, F, Fut>(&self, mut attempt: F) -> StoreResult<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = TxResult<T>>,
    {
        let mut tries = 1;
        loop {
            match attempt().await {
                Err(Fail::Db(e)) if is_retryable(&e) && tries < MAX_ATTEMPTS => {
                    tracing::debug!(error = %e, tries, "retrying a transaction PostgreSQL aborted");
                    tokio::time::sleep(backoff(tries)).await;
                    tries += 1;
                }
                other => return other.map_err(|f| self.fail(f)),
            }
        }
    }

    /// Runs a read, mapping its failure.
    pub(crate) async fn read<T>(&self, read: impl Future<Output = TxResult<T>>) -> StoreResult<T> {
        read.await.map_err(|f| self.fail(f))
    }

    /// A pooled connection. Failing to get one — the server down, refusing logins, the database gone or
    /// closed to connections — is always [`StoreError::Unavailable`], whatever SQLSTATE it came with.
    pub(crate) async fn conn(&self) -> TxResult<PoolConnection<Postgres>> {
        self.pool.acquire().await.map_err(|e| self.unavailable(e))
    }

    /// A transaction on a pooled connection; failing to begin one is [`StoreError::Unavailable`].
    pub(crate) async fn begin(&self) -> TxResult<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(|e| self.unavailable(e))
    }

    fn unavailable(&self, e: sqlx::Error) -> Fail {
        Fail::Store(StoreError::Unavailable(format!(
            "PostgreSQL at {}: {e}",
            self.label
        )))
    }

    pub(crate) fn fail(&self, f: Fail) -> StoreError {
        match f {
            Fail::Store(e) => e,
            Fail::Db(e) => classify(e, &self.label),
        }
    }
}

/// Maps a database error: connection trouble is [`StoreError::Unavailable`] (naming the database), a value
/// PostgreSQL refused (a data exception) [`StoreError::InvalidData`], anything else
/// [`StoreError::Internal`].
pub(crate) fn classify(e: sqlx::Error, label: &str) -> StoreError {
    if is_unavailable(&e) {
        StoreError::Unavailable(format!("PostgreSQL at {label}: {e}"))
    } else if let Some(message) = data_exception(&e) {
        StoreError::InvalidData(message)
    } else {
        StoreError::Internal(e.to_string())
    }
}

/// PostgreSQL's message for a data exception (SQLSTATE class 22: 22021 a NUL byte or bad encoding in
/// text, 22001 a string too long, 22P02 invalid text representation, 22003 a number out of range, …):
/// a value the caller sent that the column cannot hold. A bound parameter PostgreSQL cannot encode
/// (sqlx's `Encode` error) is the same.
pub(crate) fn data_exception(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(d) if d.code().is_some_and(|c| c.starts_with("22")) => {
            Some(d.message().to_owned())
        }
        sqlx::Error::Encode(inner) => Some(inner.to_string()),
        _ => None,
    }
}

/// True for errors that say the database cannot be reached or used right now, rather than that a
/// statement was wrong.
pub(crate) fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(d) => d.code().is_some_and(|c| unavailable_sqlstate(&c)),
        _ => false,
    }
}

/// SQLSTATEs of a database that is down, full, read-only, gone or refusing us.
fn unavailable_sqlstate(code: &str) -> bool {
    code.starts_with("08") // connection exception
        || code.starts_with("28") // invalid authorization
        || code.starts_with("53") // insufficient resources (too many connections, disk full)
        || code.starts_with("57P") // shutdown, crash, starting up, database dropped
        || code == "3D000" // database does not exist
        || code == "25006" // read-only transaction (a standby after failover)
}

/// True for a serialization failure (40001) or a deadlock (40P01): the transaction lost a race and may
/// simply be run again.
pub(crate) fn is_retryable(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if matches!(d.code().as_deref(), Some("40001" | "40P01")))
}

/// True when the error is a UNIQUE or PRIMARY KEY violation.
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// 10, 20, 40, 80 ms, plus up to 10 ms of jitter so that two victims do not collide again in step.
fn backoff(tries: u32) -> Duration {
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() % 10_000_000)
        .unwrap_or(0);
    Duration::from_millis(10 << (tries - 1).min(4)) + Duration::from_nanos(u64::from(jitter))
}

#[cfg(test)]
mod tests {
    #[test]
    fn encode_errors_are_invalid_data() {
        let e = sqlx::Error::Encode("value too large".into());
        assert!(matches!(
            super::classify(e, "test"),
            cairn_store::StoreError::InvalidData(_)
        ));
    }
}
