//! Keeping what serves in step with the control plane: an alias served by `cairn serve --model
//! models:/name@alias`, or deployments (one, for a replica; all, for the serving embedded in `cairn
//! server`). A change is loaded beside what serves and swapped in. A failed check keeps what serves and
//! is retried at the next tick; so is a failed load, except that a deployment's model that failed to load
//! is tried again only after [`RETRY_FAILED`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::endpoints::{Endpoints, Routing};
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

/// What the control plane says a deployment serves (`GET /api/cairn/v1/deployments[/{name}]`).
#[derive(Debug, Deserialize)]
struct DeploymentWire {
    name: String,
    serving: ServingWire,
}

#[derive(Debug, Deserialize, PartialEq)]
struct ServingWire {
    primary: ModelWire,
    canary: Option<ModelWire>,
}

#[derive(Debug, Deserialize, PartialEq)]
struct ModelWire {
    name: String,
    version: String,
    weight: Option<u8>,
}

/// Which deployments a process serves.
#[derive(Debug, Clone)]
pub enum Scope {
    /// Every deployment (the serving embedded in `cairn server`).
    All,
    /// One (a replica).
    One(String),
}

/// Reads the deployments in scope from the control plane; `None` when the one deployment does not exist.
async fn fetch(
    http: &reqwest::Client,
    server: &str,
    scope: &Scope,
) -> anyhow::Result<Option<Vec<DeploymentWire>>> {
    let url = match scope {
        Scope::All => format!("{server}/api/cairn/v1/deployments"),
        Scope::One(name) => format!("{server}/api/cairn/v1/deployments/{name}"),
    };
    let resp = http
        .get(&url)
        .timeout(std::time::Duration::from_secs(30))
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = resp.status();
    if status == reqwest::StatusCode::NOT_FOUND && matches!(scope, Scope::One(_)) {
        return Ok(None);
    }
    let body: serde_json::Value = resp
        .json()
        .await
        .with_context(|| format!("{url} answered {status}"))?;
    if !status.is_success() {
        bail!(
            "{url}: {} ({status})",
            body["message"].as_str().unwrap_or("request failed")
        );
    }
    let list = match scope {
        Scope::All => serde_json::from_value(body["deployments"].clone()),
        Scope::One(_) => serde_json::from_value(body["deployment"].clone()).map(|d| vec![d]),
    }
    .with_context(|| format!("{url} answered an unexpected body"))?;
    Ok(Some(list))
}

/// Does `routing` serve exactly `wanted`?
fn serves(routing: &Routing, wanted: &ServingWire) -> bool {
    let primary = routing
        .primary
        .is(&wanted.primary.name, &wanted.primary.version);
    let canary = match (&routing.canary, &wanted.canary) {
        (None, None) => true,
        (Some((s, w)), Some(c)) => s.is(&c.name, &c.version) && Some(*w) == c.weight,
        _ => false,
    };
    primary && canary
}

/// The model for `wanted`: the one serving already when it is the same version, else loaded.
async fn model_for(
    loader: &Loader,
    current: Option<&Routing>,
    wanted: &ModelWire,
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
    wanted: &ServingWire,
) -> anyhow::Result<Routing> {
    let primary = model_for(loader, current, &wanted.primary).await?;
    let canary = match &wanted.canary {
        Some(c) => Some((model_for(loader, current, c).await?, c.weight.unwrap_or(0))),
        None => None,
    };
    Ok(Routing { primary, canary })
}

/// How long a deployment whose model failed to load waits before the same load is tried again.
const RETRY_FAILED: std::time::Duration = std::time::Duration::from_secs(30);

/// Keeps endpoints in line with the deployments in scope.
pub struct Follower {
    loader: Loader,
    http: reqwest::Client,
    scope: Scope,
    /// The endpoint name of a one-deployment scope (a replica's `--name`).
    rename: Option<String>,
    /// Loads that failed, by deployment: what was wanted and when, so that a model that cannot load
    /// (not ONNX, say) is not fetched again every tick.
    failed: HashMap<String, (String, Instant)>,
}

impl Follower {
    pub fn new(loader: Loader, scope: Scope, rename: Option<String>) -> Self {
        Follower {
            loader,
            http: reqwest::Client::new(),
            scope,
            rename,
            failed: HashMap::new(),
        }
    }

    /// Brings the endpoints in line with the deployments in scope, once.
    pub async fn sync(&mut self, endpoints: &Endpoints) -> anyhow::Result<()> {
        let Some(deployments) = fetch(&self.http, &self.loader.server, &self.scope).await? else {
            if let Scope::One(name) = &self.scope {
                let endpoint = self.rename.as_deref().unwrap_or(name);
                if endpoints.current(endpoint).is_some() {
                    tracing::warn!(deployment = %name, "deployment deleted: no longer serving it");
                }
                endpoints.remove(endpoint);
                bail!("deployment '{name}' not found on {}", self.loader.server);
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
            if current.as_deref().is_some_and(|r| serves(r, &d.serving)) {
                self.failed.remove(&d.name);
                continue;
            }
            let wanted = format!("{:?}", d.serving);
            if self
                .failed
                .get(&d.name)
                .is_some_and(|(w, at)| *w == wanted && at.elapsed() < RETRY_FAILED)
            {
                continue;
            }
            match routing_for(&self.loader, current.as_deref(), &d.serving).await {
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
                    self.failed.insert(d.name.clone(), (wanted, Instant::now()));
                    endpoints.failed(&endpoint, why);
                }
            }
        }
        Ok(())
    }

    /// Syncs every `poll`, forever.
    pub async fn run(mut self, endpoints: Arc<Endpoints>, poll: std::time::Duration) {
        let mut tick = ticker(poll);
        loop {
            tick.tick().await;
            if let Err(e) = self.sync(&endpoints).await {
                tracing::warn!(error = %format!("{e:#}"), "checking deployments");
            }
        }
    }
}
