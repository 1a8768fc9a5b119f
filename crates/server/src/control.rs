//! The control loops `cairn server` runs in-process, following the change log without HTTP: the
//! deployment controller, which rolls out alias moves (the one place a roll-out is recorded), and the
//! control plane the embedded serving follows.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cairn_contract::StateDto;
use cairn_service::{ChangeLog, Deployments};
use cairn_serving::{ControlPlane, Scope, Wanted};

/// The longest one wait on the change log lasts before the controller reconciles anyway.
const IDLE: Duration = Duration::from_secs(30);
/// The pause after a failed step (the database unreachable, say).
const BACKOFF: Duration = Duration::from_secs(1);

/// Reconciles every deployment at start and after each change of the log: an alias a deployment
/// follows that moved to a servable version is rolled out and recorded. Runs forever.
pub(crate) async fn run_deployment_controller(deployments: Deployments, log: ChangeLog) {
    let mut cursor = 0;
    let mut first = true;
    loop {
        let wait = if first { Duration::ZERO } else { IDLE };
        match log.changes(cursor, 1, wait).await {
            Ok((_, head)) => cursor = head,
            Err(e) => {
                tracing::warn!(error = %e, "following the change log");
                tokio::time::sleep(BACKOFF).await;
                continue;
            }
        }
        first = false;
        if let Err(e) = deployments.reconcile_all().await {
            tracing::warn!(error = %e, "reconciling deployments");
        }
    }
}

/// The server's own control plane, as the embedded serving sees it.
pub(crate) struct InProcess {
    pub deployments: Deployments,
    pub log: ChangeLog,
}

#[async_trait]
impl ControlPlane for InProcess {
    async fn deployments(&self, scope: &Scope) -> anyhow::Result<Option<Vec<Wanted>>> {
        let wanted = |d: cairn_domain::deployment::Deployment| Wanted {
            serving: StateDto::from(&d.state).serving,
            name: d.name,
        };
        Ok(match scope {
            Scope::All => Some(
                self.deployments
                    .list()
                    .await?
                    .into_iter()
                    .map(wanted)
                    .collect(),
            ),
            Scope::One(name) => match self.deployments.get(name).await {
                Ok(d) => Some(vec![wanted(d)]),
                Err(cairn_service::ServiceError::NotFound(_)) => None,
                Err(e) => return Err(e.into()),
            },
        })
    }

    async fn wait(&self, after: i64, timeout: Duration) -> anyhow::Result<i64> {
        Ok(self.log.changes(after, 1, timeout).await?.1)
    }
}

/// The embedded serving's control plane.
pub(crate) fn in_process(deployments: Deployments, log: ChangeLog) -> Arc<dyn ControlPlane> {
    Arc::new(InProcess { deployments, log })
}
