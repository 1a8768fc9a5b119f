//! Keeping what serves in step with the control plane: an alias served by `cairn serve --model
//! models:/name@alias` (polled), or deployments (one, for a replica; all, for the serving embedded in
//! `cairn server`), followed through the control plane's change log ([`ControlPlane`]): a replica
//! long-polls `GET /api/cairn/v1/events`, the embedded serving is woken in-process by each commit. On
//! every change the deployments in scope are read again; a changed one is loaded beside what serves and
//! swapped in. A failed load keeps what serves; the same load is tried again only after [`RETRY_FAILED`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use async_trait::async_trait;
use cairn_client::Client;
use cairn_contract::{DeploymentDto, ServingDto, ServingModelDto};

use crate::endpoints::{Endpoints, Logging, Routing};
use crate::served::{Loader, Served};
use crate::source;

/// Checks where `alias` points every `poll`; when it has moved, serves the version it points to.
pub async fn follow_alias(
    loader: Loader,
    endpoints: Arc<Endpoints>,
    endpoint: String,
    model: String,
    alias: String,
    poll: std::time::Duration,
) {
    let mut tick = ticker(poll);
    loop {
        tick.tick().await;
        let target = match source::alias_version(&loader.server, &model, &alias).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "checking alias {alias} of {model}");
                continue;
            }
        };
        let serving = endpoints
            .current(&endpoint)
            .and_then(|r| r.primary.version.clone());
        if serving.as_deref() == Some(target.as_str()) {
            continue;
        }
        match loader.registered(&model, &target).await {
            Ok(next) => {
                tracing::info!(model = %model, alias = %alias, from = ?serving, to = %target, "alias moved: new version serving");
                endpoints.set(&endpoint, Routing::single(next));
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), version = %target, "loading the version {alias} now points to")
            }
        }
    }
}

fn ticker(poll: std::time::Duration) -> tokio::time::Interval {
    let mut tick = tokio::time::interval(poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick
}

/// Which deployments a process serves.
#[derive(Debug, Clone)]
pub enum Scope {
    /// Every deployment (the serving embedded in `cairn server`).
    All,
    /// One (a replica).
    One(String),
}

/// What a deployment serves, as the control plane says.
#[derive(Debug, Clone, PartialEq)]
pub struct Wanted {
    pub name: String,
    pub serving: ServingDto,
    /// The share of requests logged.
    pub log_sample: f64,
}

/// Where deployments come from, and how a follower learns that they changed.
#[async_trait]
pub trait ControlPlane: Send + Sync + 'static {
    /// The deployments in scope; `None` when the one deployment of a replica does not exist.
    async fn deployments(&self, scope: &Scope) -> anyhow::Result<Option<Vec<Wanted>>>;
    /// Waits up to `timeout` for a change-log entry after `after`; returns the log's newest sequence
    /// (`after` itself when nothing came).
    async fn wait(&self, after: i64, timeout: Duration) -> anyhow::Result<i64>;
}

/// A control plane reached over HTTP: what replicas follow.
pub struct HttpControlPlane {
    client: Client,
}

impl HttpControlPlane {
    pub fn new(server: &str) -> Self {
        Self {
            client: Client::new(server),
        }
    }
}

#[async_trait]
impl ControlPlane for HttpControlPlane {
    async fn deployments(&self, scope: &Scope) -> anyhow::Result<Option<Vec<Wanted>>> {
        let wanted = |d: DeploymentDto| Wanted {
            name: d.name,
            serving: d.state.serving,
            log_sample: d.state.log_sample,
        };
        Ok(match scope {
            Scope::All => Some(
                self.client
                    .deployments()
                    .await?
                    .into_iter()
                    .map(wanted)
                    .collect(),
            ),
            Scope::One(name) => self.client.deployment(name).await?.map(|d| vec![wanted(d)]),
        })
    }

    async fn wait(&self, after: i64, timeout: Duration) -> anyhow::Result<i64> {
        Ok(self.client.changes(after, timeout).await?.head)
    }
}

/// Does `routing` serve exactly `wanted`, logged as it asks?
fn serves(routing: &Routing, wanted: &Wanted) -> bool {
    let serving = &wanted.serving;
    let primary = routing
        .primary
        .is(&serving.primary.name, &serving.primary.version);
    let canary = match (&routing.canary, &serving.canary) {
        (None, None) => true,
        (Some((s, w)), Some(c)) => s.is(&c.name, &c.version) && Some(*w) == c.weight,
        _ => false,
    };
    primary && canary && routing.logging == Some(logging(wanted))
}

fn logging(wanted: &Wanted) -> Logging {
    Logging {
        deployment: wanted.name.as_str().into(),
        sample: wanted.log_sample,
    }
}

/// The model for `wanted`: the one serving already when it is the same version, else loaded.
async fn model_for(
    loader: &Loader,
    current: Option<&Routing>,
    wanted: &ServingModelDto,
) -> anyhow::Result<Arc<Served>> {
    if let Some(found) = current
        .into_iter()
        .flat_map(Routing::models)
        .find(|s| s.is(&wanted.name, &wanted.version))
    {
        return Ok(found.clone());
    }
    Ok(Arc::new(
        loader.registered(&wanted.name, &wanted.version).await?,
    ))
}

async fn routing_for(
    loader: &Loader,
    current: Option<&Routing>,
    wanted: &Wanted,
) -> anyhow::Result<Routing> {
    let serving = &wanted.serving;
    let primary = model_for(loader, current, &serving.primary).await?;
    let canary = match &serving.canary {
        Some(c) => Some((model_for(loader, current, c).await?, c.weight.unwrap_or(0))),
        None => None,
    };
    let counters = (
        crate::traffic::counters(&wanted.name, &serving.primary.version),
        serving
            .canary
            .as_ref()
            .map(|c| crate::traffic::counters(&wanted.name, &c.version)),
    );
    Ok(Routing {
        primary,
        canary,
        logging: Some(logging(wanted)),
        counters: Some(counters),
    })
}

/// How long a deployment whose model failed to load waits before the same load is tried again.
const RETRY_FAILED: Duration = Duration::from_secs(30);
/// The longest one wait on the change log lasts (then the deployments are read again regardless).
const LONG_POLL: Duration = Duration::from_secs(30);
/// The pause after the control plane could not be reached.
const BACKOFF: Duration = Duration::from_secs(1);

/// Keeps endpoints in line with the deployments in scope.
pub struct Follower {
    loader: Loader,
    plane: Arc<dyn ControlPlane>,
    scope: Scope,
    /// The endpoint name of a one-deployment scope (a replica's `--name`).
    rename: Option<String>,
    /// Loads that failed, by deployment: what was wanted and when, so that a model that cannot load
    /// (not ONNX, say) is not fetched again at every change.
    failed: HashMap<String, (ServingDto, Instant)>,
}

impl Follower {
    pub fn new(
        loader: Loader,
        plane: Arc<dyn ControlPlane>,
        scope: Scope,
        rename: Option<String>,
    ) -> Self {
        Follower {
            loader,
            plane,
            scope,
            rename,
            failed: HashMap::new(),
        }
    }

    /// Brings the endpoints in line with the deployments in scope, once. A replica whose deployment is
    /// gone retires its endpoint (it answers not-ready) and returns an error.
    pub async fn sync(&mut self, endpoints: &Endpoints) -> anyhow::Result<()> {
        let Some(deployments) = self.plane.deployments(&self.scope).await? else {
            if let Scope::One(name) = &self.scope {
                let endpoint = self.rename.as_deref().unwrap_or(name);
                let server = &self.loader.server;
                if endpoints.current(endpoint).is_some() {
                    tracing::warn!(deployment = %name, "deployment deleted: no longer serving it");
                    let why = format!("deployment '{name}' no longer exists on {server}");
                    endpoints.retire(endpoint, why);
                }
                bail!("deployment '{name}' not found on {server}");
            }
            return Ok(());
        };
        if matches!(self.scope, Scope::All) {
            for gone in endpoints
                .names()
                .into_iter()
                .filter(|n| !deployments.iter().any(|d| &d.name == n))
            {
                tracing::info!(deployment = %gone, "deployment deleted: no longer serving it");
                endpoints.remove(&gone);
            }
        }
        for d in deployments {
            let endpoint = self.rename.clone().unwrap_or_else(|| d.name.clone());
            let current = endpoints.current(&endpoint);
            if current.as_deref().is_some_and(|r| serves(r, &d)) {
                self.failed.remove(&d.name);
                continue;
            }
            if self
                .failed
                .get(&d.name)
                .is_some_and(|(w, at)| *w == d.serving && at.elapsed() < RETRY_FAILED)
            {
                continue;
            }
            match routing_for(&self.loader, current.as_deref(), &d).await {
                Ok(next) => {
                    tracing::info!(
                        deployment = %d.name,
                        model = %d.serving.primary.name,
                        version = %d.serving.primary.version,
                        canary = ?d.serving.canary.as_ref().map(|c| format!("{}/{} at {}%", c.name, c.version, c.weight.unwrap_or(0))),
                        "deployment serving"
                    );
                    self.failed.remove(&d.name);
                    endpoints.set(&endpoint, next);
                }
                Err(e) => {
                    let why = format!("{e:#}");
                    tracing::warn!(deployment = %d.name, error = %why, "cannot load the deployment's model; retrying in 30 s");
                    self.failed
                        .insert(d.name.clone(), (d.serving, Instant::now()));
                    endpoints.failed(&endpoint, why);
                }
            }
        }
        Ok(())
    }

    /// Follows the change log forever: after each change (or [`LONG_POLL`] without one, or
    /// [`RETRY_FAILED`] while a load is failing), reads the deployments again.
    pub async fn run(mut self, endpoints: Arc<Endpoints>) {
        let mut cursor = 0;
        let mut first = true;
        loop {
            // Position first, then state: a change committed after the position read wakes the next wait.
            let timeout = if first {
                Duration::ZERO
            } else if self.failed.is_empty() {
                LONG_POLL
            } else {
                RETRY_FAILED
            };
            match self.plane.wait(cursor, timeout).await {
                Ok(head) => cursor = head,
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "following the control plane's change log");
                    tokio::time::sleep(BACKOFF).await;
                    continue;
                }
            }
            first = false;
            if let Err(e) = self.sync(&endpoints).await {
                tracing::warn!(error = %format!("{e:#}"), "checking deployments");
            }
        }
    }
}
