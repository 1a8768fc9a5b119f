//! The endpoints a process serves, each a name (the OIP model name; a deployment's name) routed to a
//! primary model and, optionally, a canary taking a share of requests.
//!
//! Requests take the endpoint's current `Arc<Routing>` and keep what they picked until they finish, so a
//! swap never interrupts one: a replaced model is dropped when its last request is done.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::Served;
use crate::predictions::PredictionLog;
use crate::traffic::VersionStats;

/// Where an endpoint's requests go.
pub struct Routing {
    pub primary: Arc<Served>,
    /// The canary and its percent of requests.
    pub canary: Option<(Arc<Served>, u8)>,
    /// For a deployment: its name and the share of requests logged.
    pub logging: Option<Logging>,
    /// For a deployment: the traffic counters of the primary and of the canary (see [`crate::traffic`]).
    pub counters: Option<(Arc<VersionStats>, Option<Arc<VersionStats>>)>,
}

/// Which deployment an endpoint's requests are logged under, and how many of them.
#[derive(Debug, Clone, PartialEq)]
pub struct Logging {
    pub deployment: Arc<str>,
    /// 0–1.
    pub sample: f64,
}

impl Logging {
    /// Is this request logged?
    pub fn sampled(&self) -> bool {
        self.sample >= 1.0 || (self.sample > 0.0 && rand::random::<f64>() < self.sample)
    }
}

impl Routing {
    pub fn single(served: Served) -> Self {
        Routing {
            primary: Arc::new(served),
            canary: None,
            logging: None,
            counters: None,
        }
    }

    /// The traffic counters of `served`, one of this routing's models.
    pub fn counters_for(&self, served: &Arc<Served>) -> Option<Arc<VersionStats>> {
        let (primary, canary) = self.counters.as_ref()?;
        if Arc::ptr_eq(served, &self.primary) {
            Some(primary.clone())
        } else {
            canary.clone()
        }
    }

    /// The model for one request: the canary with its weight's probability, else the primary.
    pub fn pick(&self) -> &Arc<Served> {
        match &self.canary {
            Some((canary, weight)) if rand::random_range(0..100u8) < *weight => canary,
            _ => &self.primary,
        }
    }

    /// The model serving `version`, for requests that name one.
    pub fn version(&self, version: &str) -> Option<&Arc<Served>> {
        std::iter::once(&self.primary)
            .chain(self.canary.as_ref().map(|(c, _)| c))
            .find(|s| s.version.as_deref() == Some(version))
    }

    /// Every model this endpoint serves (primary first).
    pub fn models(&self) -> impl Iterator<Item = &Arc<Served>> {
        std::iter::once(&self.primary).chain(self.canary.as_ref().map(|(c, _)| c))
    }
}

/// An endpoint's state: serving, or not (yet) able to, and why.
#[derive(Clone)]
enum Slot {
    Ready(Arc<Routing>),
    Failed(String),
}

/// Why a request cannot be served.
pub enum Unservable {
    /// No endpoint of that name.
    Unknown(String),
    /// The endpoint exists but its model could not be loaded.
    NotReady(String),
}

/// The endpoints of this process.
#[derive(Default)]
pub struct Endpoints {
    slots: RwLock<HashMap<String, Slot>>,
    /// The endpoint `/invocations` (without a name) serves, when the process serves one model.
    default: Option<String>,
    /// Where deployments' predictions are logged (none for a model served by hand).
    log: Option<PredictionLog>,
}

impl Endpoints {
    /// Endpoints where `/invocations` serves `default`.
    pub fn with_default(default: &str) -> Self {
        Endpoints {
            slots: RwLock::default(),
            default: Some(default.to_owned()),
            log: None,
        }
    }

    /// Logs the predictions of endpoints that serve a deployment to `log`.
    pub fn with_log(mut self, log: PredictionLog) -> Self {
        self.log = Some(log);
        self
    }

    /// The prediction log, when this routing's requests are to be logged.
    pub fn log_for<'a>(&'a self, routing: &'a Routing) -> Option<(&'a PredictionLog, &'a Logging)> {
        let logging = routing.logging.as_ref()?;
        let log = self.log.as_ref()?;
        logging.sampled().then_some((log, logging))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Slot>> {
        self.slots.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Slot>> {
        self.slots.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, name: &str) -> Result<Arc<Routing>, Unservable> {
        // The slot is cloned out so that the lock is released before `names()` takes it again (a second
        // read lock in one thread can deadlock behind a waiting writer).
        let slot = self.read().get(name).cloned();
        match slot {
            Some(Slot::Ready(r)) => Ok(r),
            Some(Slot::Failed(why)) => Err(Unservable::NotReady(format!(
                "model '{name}' is not ready: {why}"
            ))),
            None => Err(Unservable::Unknown(format!(
                "unknown model '{name}'; this server serves {:?}",
                self.names()
            ))),
        }
    }

    /// The endpoint `/invocations` serves.
    pub fn default_name(&self) -> Option<&str> {
        self.default.as_deref()
    }

    /// The routing serving now, if any.
    pub fn current(&self, name: &str) -> Option<Arc<Routing>> {
        match self.read().get(name) {
            Some(Slot::Ready(r)) => Some(r.clone()),
            _ => None,
        }
    }

    pub fn set(&self, name: &str, routing: Routing) {
        self.write()
            .insert(name.to_owned(), Slot::Ready(Arc::new(routing)));
    }

    /// Marks an endpoint as unable to serve, unless it serves already (then it goes on serving).
    pub fn failed(&self, name: &str, why: String) {
        let mut slots = self.write();
        if !matches!(slots.get(name), Some(Slot::Ready(_))) {
            slots.insert(name.to_owned(), Slot::Failed(why));
        }
    }

    /// Takes an endpoint out of service, saying why: it answers not-ready (503) from now on.
    pub fn retire(&self, name: &str, why: String) {
        self.write().insert(name.to_owned(), Slot::Failed(why));
    }

    pub fn remove(&self, name: &str) {
        self.write().remove(name);
    }

    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.read().keys().cloned().collect();
        names.sort();
        names
    }

    /// Every endpoint can serve.
    pub fn all_ready(&self) -> bool {
        self.read().values().all(|s| matches!(s, Slot::Ready(_)))
    }
}
