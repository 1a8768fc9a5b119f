//! Trigger use cases (maturity level 5): listing, pausing and firing a registered pipeline's
//! triggers, and what the server's scheduler and executor need — due cron slots, watched digests,
//! the run queue with its leases. A firing is keyed by its slot, so every server may look and each
//! slot still starts one run; the run gets its MLflow parent run at once, so the id a firing answers
//! opens in any MLflow client.

mod schedule;
mod watch;

use std::sync::Arc;

use cairn_domain::pipeline::PipelineRun;
use cairn_domain::time::now_millis;
use cairn_domain::trigger::{Fire, Trigger, TriggerKind, TriggerSpec, parse_triggers};
use cairn_domain::{RunId, Tag};
use cairn_store::{Fired, Lease, NewFire, TriggerStore};
use serde_json::{Value, json};

pub use schedule::{CronSchedule, slot_time};
pub use watch::{digest_artifacts, digest_local};

use crate::{NewRunRequest, ServiceError, ServiceResult, Tracking};

/// Firings a trigger listing shows per trigger.
pub const LAST_FIRES: usize = 5;

/// Checks a pipeline's `triggers:` and returns them in their canonical form (what is stored and
/// hashed): each a mapping as [`TriggerSpec::to_json`] writes it; cron expressions and time zones
/// are checked here, where the scheduler will read them.
pub fn canonical_triggers(triggers: &Value) -> ServiceResult<Value> {
    let mut out = serde_json::Map::new();
    for (name, spec) in parse_triggers(triggers)? {
        if let TriggerKind::Cron { cron, timezone, .. } = &spec.kind {
            CronSchedule::new(cron, timezone.as_deref())
                .map_err(|e| ServiceError::InvalidArgument(format!("trigger '{name}': {e}")))?;
        }
        out.insert(name, spec.to_json());
    }
    Ok(Value::Object(out))
}

/// A cron trigger's next slot from now, unless paused; none for other kinds.
pub fn next_fire(t: &Trigger) -> Option<i64> {
    match &t.spec.kind {
        TriggerKind::Cron { cron, timezone, .. } if !t.paused => {
            CronSchedule::new(cron, timezone.as_deref())
                .ok()?
                .next_after(now_millis())
        }
        _ => None,
    }
}

/// A firing's answer: whether it started a run, and which.
#[derive(Debug, Clone)]
pub struct FireResult {
    pub fired: Fired,
}

impl FireResult {
    /// A run was queued by this call (not by an earlier one with the same key, nor skipped).
    pub fn started(&self) -> bool {
        self.fired.new && self.fired.fire.run_id.is_some()
    }
}

#[derive(Clone)]
pub struct Triggers {
    store: Arc<dyn TriggerStore>,
    tracking: Tracking,
}

impl Triggers {
    pub fn new(store: Arc<dyn TriggerStore>, tracking: Tracking) -> Self {
        Self { store, tracking }
    }

    /// Triggers (of one pipeline, or all) with their latest firings.
    pub async fn list(&self, pipeline: Option<&str>) -> ServiceResult<Vec<(Trigger, Vec<Fire>)>> {
        let mut out = Vec::new();
        for t in self.store.list_triggers(pipeline).await? {
            let fires = self
                .store
                .list_fires(&t.pipeline, &t.name, LAST_FIRES)
                .await?;
            out.push((t, fires));
        }
        Ok(out)
    }

    /// Triggers (of one pipeline, or all), without their firings: what the scheduler looks at.
    pub async fn triggers(&self, pipeline: Option<&str>) -> ServiceResult<Vec<Trigger>> {
        Ok(self.store.list_triggers(pipeline).await?)
    }

    pub async fn get(&self, pipeline: &str, name: &str) -> ServiceResult<Trigger> {
        Ok(self.store.get_trigger(pipeline, name).await?)
    }

    pub async fn fires(
        &self,
        pipeline: &str,
        name: &str,
        limit: usize,
    ) -> ServiceResult<Vec<Fire>> {
        Ok(self.store.list_fires(pipeline, name, limit).await?)
    }

    pub async fn set_paused(
        &self,
        pipeline: &str,
        name: &str,
        paused: bool,
        actor: &str,
    ) -> ServiceResult<Trigger> {
        Ok(self
            .store
            .set_trigger_paused(pipeline, name, paused, actor, now_millis())
            .await?)
    }

    pub async fn set_state(&self, t: &Trigger, state: &Value) -> ServiceResult<()> {
        Ok(self
            .store
            .set_trigger_state(&t.pipeline, &t.name, state)
            .await?)
    }

    /// Fires a trigger by hand: with an idempotency key, once per key (the same key again answers
    /// the first firing); without one, every call.
    pub async fn fire_by_hand(
        &self,
        pipeline: &str,
        name: &str,
        key: Option<&str>,
        actor: &str,
    ) -> ServiceResult<FireResult> {
        if let Some(k) = key
            && (k.is_empty() || k.len() > 256)
        {
            return Err(ServiceError::InvalidArgument(
                "an idempotency key is 1–256 characters".into(),
            ));
        }
        let t = self.get(pipeline, name).await?;
        let slot = match key {
            Some(k) => format!("key:{k}"),
            None => format!("manual:{}", RunId::generate().as_str()),
        };
        let mut cause = json!({ "kind": "manual", "trigger": name });
        if let Some(k) = key {
            cause["key"] = json!(k);
        }
        // By hand, an alert trigger's cooldown does not hold a person back.
        self.fire(&t, slot, cause, false, actor).await
    }

    /// Records a firing of `t` for `slot` and, if it queues a run, creates the run's MLflow parent run.
    pub async fn fire(
        &self,
        t: &Trigger,
        slot: String,
        cause: Value,
        with_cooldown: bool,
        actor: &str,
    ) -> ServiceResult<FireResult> {
        let spec: &TriggerSpec = &t.spec;
        let cooldown_ms = match &spec.kind {
            TriggerKind::Alert { cooldown_ms, .. } if with_cooldown => *cooldown_ms,
            _ => 0,
        };
        let new = NewFire {
            pipeline: t.pipeline.clone(),
            trigger: t.name.clone(),
            slot,
            cause,
            run_id: RunId::generate().as_str().to_owned(),
            cooldown_ms,
            concurrency: spec.concurrency,
            max_active_runs: spec.max_active_runs,
            params: spec.params.clone(),
        };
        let fired = self.store.fire(&new, actor, now_millis()).await?;
        let result = FireResult { fired };
        if result.started() {
            self.ensure_mlflow_run(&t.pipeline, &t.name, &new.run_id, actor)
                .await?;
        }
        Ok(result)
    }

    /// The MLflow parent run of a triggered run, in the experiment named after the pipeline (made
    /// when missing); nothing when it exists.
    pub async fn ensure_mlflow_run(
        &self,
        pipeline: &str,
        trigger: &str,
        run_id: &str,
        actor: &str,
    ) -> ServiceResult<String> {
        let experiment_id = match self.tracking.get_experiment_by_name(pipeline).await {
            Ok(e) => e.id.to_string(),
            Err(ServiceError::NotFound(_)) => {
                match self
                    .tracking
                    .create_experiment(pipeline, None, vec![])
                    .await
                {
                    Ok(id) => id.to_string(),
                    // Another server made it first.
                    Err(ServiceError::AlreadyExists(_)) => self
                        .tracking
                        .get_experiment_by_name(pipeline)
                        .await?
                        .id
                        .to_string(),
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        let id = RunId::parse(run_id)?;
        if self.tracking.get_run(run_id).await.is_ok() {
            return Ok(experiment_id);
        }
        let tag = |k: &str, v: &str| Tag {
            key: k.into(),
            value: v.into(),
        };
        let req = NewRunRequest {
            experiment_id: Some(experiment_id.clone()),
            user_id: actor.to_owned(),
            run_name: Some(pipeline.to_owned()),
            start_time: None,
            tags: vec![
                tag("cairn.pipeline", pipeline),
                tag("cairn.trigger", trigger),
                tag("cairn.executor", "server"),
            ],
        };
        match self.tracking.create_run_as(id, req).await {
            Ok(_) | Err(ServiceError::AlreadyExists(_)) => Ok(experiment_id),
            Err(e) => Err(e),
        }
    }

    /// The next triggered run for this server to execute, leased until `lease_until_ms`.
    pub async fn claim(&self, server: &str, lease_ms: i64) -> ServiceResult<Option<PipelineRun>> {
        let now = now_millis();
        Ok(self.store.claim_run(server, now + lease_ms, now).await?)
    }

    pub async fn renew(&self, run_id: &str, server: &str, lease_ms: i64) -> ServiceResult<Lease> {
        Ok(self
            .store
            .renew_lease(run_id, server, now_millis() + lease_ms)
            .await?)
    }
}
