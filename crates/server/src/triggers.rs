//! The trigger scheduler every `cairn server` runs: it looks at cron slots and watched digests each
//! tick and follows the change log for monitor alerts and registry events, firing the triggers they
//! concern. Several servers may all see the same slot: the store records each (trigger, slot) once,
//! so each slot starts one run.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use cairn_domain::change_log::{ChangeEntry, Topic};
use cairn_domain::trigger::{Catchup, RegistryEvent, Trigger, TriggerKind};
use cairn_service::{Artifacts, ChangeLog, CronSchedule, Monitors, Triggers};
use serde_json::{Value, json};

/// How often cron slots and watched data are looked at.
const TICK: Duration = Duration::from_secs(1);
/// Under `catchup: none`, a slot this late (the servers were down) is not run.
const GRACE_MS: i64 = 30_000;
/// Slots one pass looks at, at most (a per-second cron after a long outage).
const MAX_SLOTS_PER_PASS: usize = 100;
/// The actor firings are recorded under.
const ACTOR: &str = "scheduler";

pub(crate) struct Scheduler {
    pub triggers: Triggers,
    /// To give an alert's run the window that drifted.
    pub monitors: Monitors,
    pub log: ChangeLog,
    pub artifacts: Artifacts,
}

impl Scheduler {
    /// Runs forever.
    pub(crate) async fn run(self) {
        // Alerts and registry events from now on; what happened while no server ran is not replayed.
        let mut cursor = match self.log.changes(0, 1, Duration::ZERO).await {
            Ok((_, head)) => head,
            Err(_) => 0,
        };
        let mut cron_last: HashMap<(String, String), i64> = HashMap::new();
        loop {
            tokio::time::sleep(TICK).await;
            let triggers: Vec<Trigger> = match self.triggers.triggers(None).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "listing triggers");
                    continue;
                }
            };
            for t in triggers.iter().filter(|t| !t.paused) {
                let result = match &t.spec.kind {
                    TriggerKind::Cron { .. } => self.cron(t, &mut cron_last).await,
                    TriggerKind::Watch { .. } => self.watch(t).await,
                    _ => Ok(()),
                };
                if let Err(e) = result {
                    tracing::warn!(pipeline = %t.pipeline, trigger = %t.name, error = %e, "trigger");
                }
            }
            match self.log.changes(cursor, 500, Duration::ZERO).await {
                Ok((entries, head)) => {
                    for e in &entries {
                        self.on_change(e, &triggers).await;
                    }
                    cursor = entries.last().map_or(head, |e| e.seq);
                }
                Err(e) => tracing::warn!(error = %e, "following the change log"),
            }
        }
    }

    async fn cron(
        &self,
        t: &Trigger,
        last: &mut HashMap<(String, String), i64>,
    ) -> anyhow::Result<()> {
        let TriggerKind::Cron {
            cron,
            timezone,
            catchup,
        } = &t.spec.kind
        else {
            return Ok(());
        };
        let schedule =
            CronSchedule::new(cron, timezone.as_deref()).map_err(|e| anyhow::anyhow!(e))?;
        let key = (t.pipeline.clone(), t.name.clone());
        let now = cairn_domain::time::now_millis();
        let after = match last.get(&key) {
            Some(a) => *a,
            None => {
                // The last slot any server fired, else the trigger's registration.
                let fired = self.triggers.fires(&t.pipeline, &t.name, 20).await?;
                let slot = fired
                    .iter()
                    .filter(|f| f.cause["kind"] == "cron")
                    .filter_map(|f| f.slot.parse::<i64>().ok())
                    .max();
                slot.unwrap_or(0).max(t.updated_ms)
            }
        };
        // Every slot since the last one looked at: a pass that took long may cross two.
        let mut due = Vec::new();
        let mut at = after;
        while let Some(slot) = schedule.next_after(at).filter(|s| *s <= now) {
            due.push(slot);
            at = slot;
            if due.len() > MAX_SLOTS_PER_PASS {
                due.remove(0);
            }
        }
        last.insert(key, at);
        let latest = due.last().copied();
        for slot in due {
            // Under `catchup: none` a slot missed while no server ran is not run; `latest` runs the
            // newest missed one.
            let late = now - slot > GRACE_MS;
            if late && !(*catchup == Catchup::Latest && Some(slot) == latest) {
                tracing::info!(pipeline = %t.pipeline, trigger = %t.name, slot, "missed cron slot not run");
                continue;
            }
            let cause = json!({
                "kind": "cron",
                "trigger": t.name,
                "slot": cairn_service::slot_time(slot),
                "slot_ms": slot,
            });
            self.fire(t, slot.to_string(), cause, false).await?;
        }
        Ok(())
    }

    async fn watch(&self, t: &Trigger) -> anyhow::Result<()> {
        let TriggerKind::Watch {
            target,
            debounce_ms,
        } = &t.spec.kind
        else {
            return Ok(());
        };
        let digest = if let Some(p) = local_path(target) {
            let p = p.to_owned();
            tokio::task::spawn_blocking(move || cairn_service::digest_local(Path::new(&p)))
                .await??
        } else {
            cairn_service::digest_artifacts(&self.artifacts, target).await?
        };
        let current = digest.unwrap_or_else(|| "absent".into());
        let now = cairn_domain::time::now_millis();
        let state = &t.state;
        let Some(baseline) = state["digest"].as_str() else {
            // First look: what is there now is the baseline, not news.
            self.triggers
                .set_state(t, &json!({ "digest": current }))
                .await?;
            return Ok(());
        };
        if baseline == current {
            if state.get("pending").is_some() {
                self.triggers
                    .set_state(t, &json!({ "digest": baseline }))
                    .await?;
            }
            return Ok(());
        }
        let since = match (state["pending"].as_str(), state["pending_ms"].as_i64()) {
            (Some(p), Some(ms)) if p == current => ms,
            _ => {
                self.triggers
                    .set_state(
                        t,
                        &json!({ "digest": baseline, "pending": current, "pending_ms": now }),
                    )
                    .await?;
                now
            }
        };
        if now - since < *debounce_ms {
            return Ok(());
        }
        let cause = json!({
            "kind": "watch",
            "trigger": t.name,
            "target": target,
            "digest": current,
            "previous_digest": baseline,
        });
        self.fire(t, current.clone(), cause, false).await?;
        self.triggers
            .set_state(t, &json!({ "digest": current }))
            .await?;
        Ok(())
    }

    async fn on_change(&self, e: &ChangeEntry, triggers: &[Trigger]) {
        // A trigger reacts to what happens after it exists.
        for t in triggers
            .iter()
            .filter(|t| !t.paused && e.timestamp_ms >= t.created_ms)
        {
            let fire = match (&t.spec.kind, e.topic) {
                (TriggerKind::Alert { monitor, rule, .. }, Topic::Alert)
                    if e.kind == "alert_fired" && &e.subject == monitor =>
                {
                    let detail = e.detail.clone().unwrap_or(Value::Null);
                    let fired_rule = detail["rule"].as_str().unwrap_or_default();
                    if rule.as_deref().is_some_and(|r| r != fired_rule) {
                        continue;
                    }
                    let alert_id = detail["alert_id"].as_i64().unwrap_or(e.topic_seq);
                    let mut cause = json!({
                        "kind": "alert",
                        "trigger": t.name,
                        "alert_id": alert_id,
                        "monitor": monitor,
                        "rule": fired_rule,
                        "condition": detail["condition"],
                        "value": detail["value"],
                    });
                    self.add_window(&mut cause, monitor, detail["snapshot_id"].as_i64())
                        .await;
                    Some((format!("alert:{alert_id}"), cause))
                }
                (
                    TriggerKind::Registry {
                        model,
                        event,
                        alias,
                    },
                    Topic::Registry,
                ) if &e.subject == model => {
                    let detail = e.detail.clone().unwrap_or(Value::Null);
                    let matches = match event {
                        RegistryEvent::VersionCreated => e.kind == "version_created",
                        RegistryEvent::AliasMoved => {
                            matches!(e.kind.as_str(), "alias_set" | "alias_moved")
                                && alias
                                    .as_deref()
                                    .is_none_or(|a| detail["alias"].as_str() == Some(a))
                        }
                    };
                    if !matches {
                        continue;
                    }
                    let version = detail["version"].as_i64();
                    Some((
                        format!("{}:{}", e.kind, e.seq),
                        json!({
                            "kind": "registry",
                            "trigger": t.name,
                            "event": event.as_str(),
                            "model": model,
                            "version": version,
                            "alias": detail["alias"],
                            "change_seq": e.seq,
                        }),
                    ))
                }
                _ => None,
            };
            if let Some((slot, cause)) = fire
                && let Err(err) = self.fire(t, slot, cause, true).await
            {
                tracing::warn!(pipeline = %t.pipeline, trigger = %t.name, error = %err, "firing");
            }
        }
    }

    /// What the retraining run needs to find the data that drifted: the deployment, the window the
    /// snapshot evaluated, and where its logged predictions are.
    async fn add_window(&self, cause: &mut Value, monitor: &str, snapshot: Option<i64>) {
        let Ok(m) = self.monitors.get(monitor).await else {
            return;
        };
        cause["deployment"] = json!(m.spec.deployment);
        cause["predictions"] = json!(format!("monitoring/{}/", m.spec.deployment));
        if let Some(id) = snapshot
            && let Ok(s) = self.monitors.snapshot(monitor, id).await
        {
            cause["snapshot_id"] = json!(id);
            cause["window"] = json!({
                "start_ms": s.window_start_ms,
                "end_ms": s.window_end_ms,
                "rows": s.rows,
            });
        }
    }

    async fn fire(
        &self,
        t: &Trigger,
        slot: String,
        cause: Value,
        with_cooldown: bool,
    ) -> anyhow::Result<()> {
        let r = self
            .triggers
            .fire(t, slot.clone(), cause, with_cooldown, ACTOR)
            .await?;
        if r.fired.new {
            tracing::info!(
                pipeline = %t.pipeline, trigger = %t.name, slot = %slot,
                outcome = r.fired.fire.outcome.as_str(), run_id = ?r.fired.fire.run_id,
                reason = ?r.fired.fire.reason, "trigger fired"
            );
        }
        Ok(())
    }
}

/// A watch target on the server's own file system: an absolute path or a `file://` URI.
fn local_path(target: &str) -> Option<&str> {
    target
        .strip_prefix("file://")
        .or_else(|| target.starts_with('/').then_some(target))
}
