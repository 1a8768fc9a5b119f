//! How deployments meet the registry: references resolved to versions, versions checked to be servable
//! before they are deployed, and alias moves credited to whoever made them.

use cairn_domain::deployment::{
    CanaryServing, DeploymentSpec, ModelRef, Resolved, Serving, Target,
};
use cairn_domain::mlmodel::{MlModel, NOT_ONNX};
use cairn_domain::time::now_millis;
use cairn_domain::{EventKind, RegistryEvent};
use cairn_store::EventQuery;

use crate::deployments::Deployments;
use crate::{ServiceError, ServiceResult};

impl Deployments {
    /// Resolves a spec a client asks for, and checks that every version it resolves to can be served: an
    /// ONNX-flavour model stored where serving processes fetch it from. (An alias later moved to a version
    /// that cannot be served is not refused — the registry is not the deployment's to police — but
    /// serving processes keep the version that serves and log why.)
    pub(crate) async fn resolve_servable(&self, spec: &DeploymentSpec) -> ServiceResult<Serving> {
        let serving = self.resolve(spec).await?;
        self.check_serving(&serving).await?;
        Ok(serving)
    }

    /// Checks that every version of `serving` can be served.
    pub(crate) async fn check_serving(&self, serving: &Serving) -> ServiceResult<()> {
        self.check_servable(&serving.primary).await?;
        if let Some(c) = &serving.canary {
            self.check_servable(&c.model).await?;
        }
        Ok(())
    }

    pub(crate) async fn check_servable(&self, r: &Resolved) -> ServiceResult<()> {
        let version = r.version.to_string();
        let location = self.registry.get_download_uri(&r.name, &version).await?;
        let refuse = |why: String| {
            ServiceError::InvalidArgument(format!(
                "Version {version} of model '{}' cannot be deployed: {why}",
                r.name
            ))
        };
        let Some(path) = location.strip_prefix(self.artifact_scheme) else {
            return Err(refuse(format!(
                "it is stored at {location}, and deployments serve models stored through the server \
                 ({}); log it with the MLflow client against this server",
                self.artifact_scheme
            )));
        };
        let mlmodel = format!("{}/MLmodel", path.trim_matches('/'));
        let text = match self.artifacts.read_small(&mlmodel, 1 << 20).await {
            Ok(text) => text,
            Err(ServiceError::NotFound(_)) => {
                return Err(refuse("it has no MLmodel file".into()));
            }
            Err(e) => return Err(e),
        };
        match MlModel::parse(&text) {
            Ok(m) if m.onnx_data.is_some() => Ok(()),
            Ok(_) => Err(refuse(NOT_ONNX.into())),
            Err(e) => Err(refuse(e.to_string())),
        }
    }

    /// Resolves references against the registry: an alias to the version it points at, a version to
    /// itself once checked to exist.
    pub(crate) async fn resolve(&self, spec: &DeploymentSpec) -> ServiceResult<Serving> {
        let primary = self.resolve_ref(&spec.model).await?;
        let canary = match &spec.canary {
            Some(c) => Some(CanaryServing {
                model: self.resolve_ref(&c.model).await?,
                weight: c.weight,
            }),
            None => None,
        };
        Ok(Serving { primary, canary })
    }

    async fn resolve_ref(&self, r: &ModelRef) -> ServiceResult<Resolved> {
        let version = match &r.target {
            Target::Alias(alias) => {
                self.registry
                    .get_version_by_alias(&r.name, alias)
                    .await?
                    .version
            }
            Target::Version(v) => {
                self.registry
                    .get_model_version(&r.name, &v.to_string())
                    .await?
                    .version
            }
        };
        Ok(Resolved {
            name: r.name.clone(),
            version,
        })
    }

    /// Who moved the alias to the version now resolved, and when: the latest alias event of the primary
    /// (else the canary) that points where it now resolves.
    pub(crate) async fn who_moved(
        &self,
        spec: &DeploymentSpec,
        serving: &Serving,
    ) -> ServiceResult<(String, i64)> {
        let mut refs = vec![(&spec.model, serving.primary.version)];
        if let (Some(c), Some(s)) = (&spec.canary, &serving.canary) {
            refs.push((&c.model, s.model.version));
        }
        for (r, version) in refs {
            let Target::Alias(alias) = &r.target else {
                continue;
            };
            if let Some(e) = self.last_alias_event(&r.name, alias, version).await? {
                return Ok((e.actor, e.timestamp_ms));
            }
        }
        Ok(("registry".to_owned(), now_millis()))
    }

    async fn last_alias_event(
        &self,
        model: &str,
        alias: &str,
        version: i64,
    ) -> ServiceResult<Option<RegistryEvent>> {
        let mut found = None;
        let mut after_seq = 0;
        loop {
            let page = self
                .registry
                .store
                .events(EventQuery {
                    model: Some(model.to_owned()),
                    after_seq,
                    limit: 1000,
                })
                .await?;
            let done = page.len() < 1000;
            after_seq = page.last().map_or(after_seq, |e| e.seq);
            found = page
                .into_iter()
                .rfind(|e| {
                    matches!(e.kind, EventKind::AliasSet | EventKind::AliasMoved)
                        && e.alias.as_deref() == Some(alias)
                        && e.version == Some(version)
                })
                .or(found);
            if done {
                return Ok(found);
            }
        }
    }
}
