//! Following the control plane's change log: read entries after a position, or wait for the next ones.
//! In-process followers (the deployment controller, the serving embedded in `cairn server`) are woken by
//! this process's commits at once; writes by other servers on the same database are seen by polling.

use std::sync::Arc;
use std::time::Duration;

use cairn_domain::change_log::ChangeEntry;
use cairn_store::ChangeLogStore;

use crate::{ServiceError, ServiceResult};

/// How often a waiting follower looks for entries committed by other processes.
const POLL: Duration = Duration::from_millis(200);
/// The longest a client may ask to wait in one call.
pub const MAX_WAIT: Duration = Duration::from_secs(60);
/// The most entries one call returns.
pub const MAX_CHANGES: usize = 1000;

#[derive(Clone)]
pub struct ChangeLog {
    store: Arc<dyn ChangeLogStore>,
    /// Set when the server shuts down: waiting calls answer at once, so that long polls do not hold up
    /// a graceful shutdown.
    closed: Arc<tokio::sync::watch::Sender<bool>>,
}

impl ChangeLog {
    pub fn new(store: Arc<dyn ChangeLogStore>) -> Self {
        Self {
            store,
            closed: Arc::new(tokio::sync::watch::Sender::new(false)),
        }
    }

    /// Ends every wait now and from now on (the server is shutting down).
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// Entries after `after`, oldest first, and the log's newest sequence (read after them: a follower
    /// may resume from it, and one ahead of the log — a database restored from a backup — learns where
    /// the log really is); waits up to `wait` for the first entry when there is none yet.
    pub async fn changes(
        &self,
        after: i64,
        limit: usize,
        wait: Duration,
    ) -> ServiceResult<(Vec<ChangeEntry>, i64)> {
        if after < 0 {
            return Err(ServiceError::InvalidArgument(format!(
                "'after' must be a sequence number ≥ 0, got {after}."
            )));
        }
        if wait > MAX_WAIT {
            return Err(ServiceError::InvalidArgument(format!(
                "'wait' must be at most {} seconds.",
                MAX_WAIT.as_secs()
            )));
        }
        if !(1..=MAX_CHANGES).contains(&limit) {
            return Err(ServiceError::InvalidArgument(format!(
                "'max_results' must be between 1 and {MAX_CHANGES}, got {limit}."
            )));
        }
        let deadline = tokio::time::Instant::now() + wait;
        let mut commits = self.store.commits();
        let mut closed = self.closed.subscribe();
        loop {
            // Marked seen before reading, so a commit between the read and the wait still wakes us.
            commits.borrow_and_update();
            let found = self.store.changes(after, limit).await?;
            if !found.is_empty() || tokio::time::Instant::now() >= deadline || *closed.borrow() {
                let head = self.store.head().await?;
                return Ok((found, head));
            }
            let next = (tokio::time::Instant::now() + POLL).min(deadline);
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {}
                _ = commits.changed() => {}
                _ = closed.wait_for(|c| *c) => {}
            }
        }
    }

    /// The newest entry's sequence (0 when the log is empty).
    pub async fn head(&self) -> ServiceResult<i64> {
        Ok(self.store.head().await?)
    }
}
