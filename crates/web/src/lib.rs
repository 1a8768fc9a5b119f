//! Cairn's web UI, served by `cairn server` on its own port at `/`: server-rendered HTML (maud) over the
//! same use cases the protocol adapters call (`cairn-service`, in-process), a few small ES modules of
//! our own (virtual runs grid, metric charts, parallel coordinates) and uPlot from npm, every asset
//! embedded in the binary and served with a content hash (works offline, no CDN).
//!
//! Every page's state is in its URL and every navigation is a real link. Data the browser must page
//! or draw comes from `/ui/…` JSON endpoints that bound what they send: runs a page at a time, metric
//! series downsampled per pixel on the server (min/max/last per bucket), artifact previews capped.
//!
//! Layout: [`assets`] (embedded files), `layout` (the page shell), `pages/*` (one file per page and
//! its data endpoints), `format` (how values read), `error` (errors as pages or JSON).
//! Adding a page: a file under `pages/`, its routes in [`router`], a link in `layout::NAV`.

pub mod assets;
mod error;
mod format;
mod layout;
mod pages;

use axum::Router;
use axum::routing::{get, post};
use cairn_service::{
    Artifacts, ChangeLog, Deployments, Governance, MaturityTracker, Monitors, Pipelines, Registry,
    Tracking, Triggers,
};

/// What the pages read and change.
#[derive(Clone)]
pub struct WebUi {
    pub tracking: Tracking,
    pub registry: Registry,
    pub deployments: Deployments,
    pub maturity: MaturityTracker,
    pub pipelines: Pipelines,
    pub triggers: Triggers,
    pub change_log: ChangeLog,
    pub monitors: Monitors,
    pub artifacts: Artifacts,
    /// Users, promotions, policy, audit, lineage and cards.
    pub governance: Governance,
    /// The audit chain's verifier key (the page shows a verification).
    pub audit_key: Option<cairn_governance::audit::AuditPublicKey>,
    /// The URI scheme of artifacts this server stores (`mlflow-artifacts:`); runs elsewhere have none
    /// to browse here.
    pub artifact_scheme: &'static str,
    /// This process's Prometheus metrics in text format (the serving's requests, errors and latency
    /// per deployment), which the deployments pages summarise.
    pub metrics: fn() -> String,
}

/// The UI's routes, with their state applied. It has no fallback: unknown paths stay the MLflow
/// router's JSON 404.
pub fn router(ui: WebUi) -> Router {
    use pages::*;
    Router::new()
        .route("/", get(experiments::list))
        .route(
            "/experiments",
            get(experiments::list).post(experiments::create),
        )
        .route("/experiments/{id}", get(runs::grid))
        .route("/experiments/{id}/rename", post(experiments::rename))
        .route("/experiments/{id}/delete", post(experiments::delete))
        .route("/experiments/{id}/restore", post(experiments::restore))
        .route("/experiments/{id}/runs/{run}", get(run::page))
        .route(
            "/experiments/{id}/runs/{run}/artifacts",
            get(artifacts::tree),
        )
        .route("/runs/{run}", get(run::by_id))
        .route("/compare", get(compare::page))
        .route("/models", get(models::list))
        .route("/models/{name}", get(models::model))
        .route("/models/{name}/versions/{version}", get(models::version))
        .route("/deployments", get(deployments::list))
        .route("/deployments/{name}", get(deployments::page))
        .route(
            "/deployments/{name}/rollback",
            get(deployments::confirm_rollback).post(deployments::rollback),
        )
        .route("/pipelines", get(pipelines::list))
        .route("/pipelines/runs/{run}", get(pipelines::run))
        .route("/monitors", get(monitors::list))
        .route("/monitors/{name}", get(monitors::page))
        .route("/monitors/{name}/columns/{column}", get(monitors::column))
        .route("/maturity", get(maturity::page))
        .route(
            "/login",
            get(governance::login_page).post(governance::login),
        )
        .route("/logout", post(governance::logout))
        .route("/governance", get(governance::page))
        .route(
            "/governance/promotions/{id}/{verdict}",
            post(governance::review),
        )
        .route("/lineage", get(governance::lineage))
        .route(
            "/models/{name}/versions/{version}/card",
            get(governance::card),
        )
        .route("/ui/experiments/{id}/runs", get(runs::rows))
        .route("/ui/experiments/{id}/runs.csv", get(runs::csv))
        .route("/ui/series", get(charts::series))
        .route("/ui/runs/{run}/artifact", get(artifacts::raw))
        .route("/ui/runs/{run}/preview", get(artifacts::preview_fragment))
        .route("/static/{file}", get(assets::serve))
        .with_state(ui)
}
