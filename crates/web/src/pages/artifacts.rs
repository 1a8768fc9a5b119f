//! A run's artifacts: a lazy tree (one folder listed at a time), and a preview of the chosen file —
//! text and JSON (the first part), CSV (the first rows, parsed here), images, MLmodel files — that
//! never reads more than 1 MB unless the user asks; downloads stream.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use cairn_domain::Run;
use futures::StreamExt;
use maud::{Markup, html};
use serde::Deserialize;

use super::enc;
use crate::WebUi;
use crate::error::{DataQuery, DataResult, PageQuery, PageResult, invalid};
use crate::format;
use crate::layout::{Page, crumbs};

/// What a preview reads without asking.
pub const PREVIEW_LIMIT: u64 = 1024 * 1024;
/// CSV rows a preview parses.
const CSV_ROWS: usize = 100;

#[derive(Debug, Default, Deserialize)]
pub struct TreeQuery {
    /// The folder listed, relative to the run's artifact root.
    #[serde(default)]
    path: String,
    /// The file previewed.
    #[serde(default)]
    file: Option<String>,
    /// The user asked to preview past the limit.
    #[serde(default)]
    full: bool,
}

/// The run's artifact folder in the artifact store, if this server stores its artifacts.
fn root(ui: &WebUi, run: &Run) -> Result<String, cairn_service::ServiceError> {
    run.info
        .artifact_uri
        .strip_prefix(ui.artifact_scheme)
        .map(|p| p.trim_matches('/').to_owned())
        .ok_or_else(|| {
            invalid(format!(
                "this run's artifacts ({}) are not stored by this server",
                run.info.artifact_uri
            ))
        })
}

fn join(root: &str, rel: &str) -> String {
    let rel = rel.trim_matches('/');
    if rel.is_empty() {
        root.to_owned()
    } else {
        format!("{root}/{rel}")
    }
}

pub async fn tree(
    State(ui): State<WebUi>,
    Path((experiment_id, run_id)): Path<(String, String)>,
    PageQuery(q): PageQuery<TreeQuery>,
) -> PageResult<impl IntoResponse> {
    let run = ui.tracking.get_run(&run_id).await?;
    let root = root(&ui, &run)?;
    let folder = q.path.trim_matches('/').to_owned();
    let entries = ui.artifacts.list(Some(&join(&root, &folder))).await?;
    let base = format!("/experiments/{experiment_id}/runs/{run_id}/artifacts");
    let preview = match &q.file {
        Some(f) => Some(preview(&ui, &run_id, &root, f, q.full).await?),
        None => None,
    };
    let up = folder
        .rsplit_once('/')
        .map(|(p, _)| p.to_owned())
        .unwrap_or_default();
    let name = if run.info.run_name.is_empty() {
        run_id.clone()
    } else {
        run.info.run_name.clone()
    };
    let body = html! {
        (crumbs(&[("Experiments", "/experiments".into()), (&name, format!("/experiments/{experiment_id}/runs/{run_id}"))], "Artifacts"))
        div.split {
            nav.tree #artifact-tree aria-label="Artifacts" {
                p.meta { "/" (folder) }
                ul {
                    @if !folder.is_empty() { li { a href=(format!("{base}?path={}", enc(&up))) { "↑ .." } } }
                    @for e in &entries {
                        @let rel = if folder.is_empty() { e.name.clone() } else { format!("{folder}/{}", e.name) };
                        li {
                            @if e.is_dir {
                                a.dir href=(format!("{base}?path={}", enc(&rel))) { "📁 " (e.name) }
                            } @else {
                                a.file href=(format!("{base}?path={}&file={}", enc(&folder), enc(&rel))) { (e.name) }
                                " " span.meta { (e.size.map(format::bytes).unwrap_or_default()) }
                            }
                        }
                    }
                    @if entries.is_empty() { li.empty { "No artifacts." } }
                }
            }
            section.preview #artifact-preview {
                @if let Some(p) = preview { (p) } @else { p.empty { "Choose a file to preview it." } }
            }
        }
    };
    Ok(Page {
        title: "Artifacts".into(),
        section: "Experiments",
        scripts: &[],
        body,
    })
}

/// The preview pane of one file.
async fn preview(
    ui: &WebUi,
    run_id: &str,
    root: &str,
    rel: &str,
    full: bool,
) -> PageResult<Markup> {
    let (name, download) = ui.artifacts.download(&join(root, rel)).await?;
    let size = download.size;
    let raw = format!("/ui/runs/{run_id}/artifact?path={}", enc(rel));
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let head = html! {
        h2 { (name) }
        p.meta { (format::bytes(size)) " · " a href=(raw) download=(name) { "Download" } }
    };
    let image = matches!(
        ext.as_str(),
        "png" | "jpg" | "jpeg" | "gif" | "svg" | "webp" | "bmp"
    );
    if size > PREVIEW_LIMIT && !full {
        let ask = format!(
            "?path={}&file={}&full=true",
            enc(rel.rsplit_once('/').map(|(p, _)| p).unwrap_or("")),
            enc(rel)
        );
        return Ok(html! {
            (head)
            p.notice #too-large { "This file is " (format::bytes(size)) ", larger than the 1 MB previews read. "
                a href=(ask) { "Preview the first 1 MB anyway" } }
        });
    }
    if image {
        return Ok(html! { (head) img.artifact src=(raw) alt=(name); });
    }
    // Read at most the limit, never the whole of a large file.
    let mut bytes = Vec::new();
    let mut stream = download.stream;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(cairn_service::ServiceError::from)?;
        bytes.extend_from_slice(&chunk);
        if bytes.len() as u64 >= PREVIEW_LIMIT {
            bytes.truncate(PREVIEW_LIMIT as usize);
            break;
        }
    }
    let truncated = (bytes.len() as u64) < size;
    let Ok(text) =
        std::str::from_utf8(&bytes).or_else(|e| std::str::from_utf8(&bytes[..e.valid_up_to()]))
    else {
        return Ok(html! { (head) p.empty { "Binary file: no preview." } });
    };
    if text.is_empty() && size > 0 {
        return Ok(html! { (head) p.empty { "Binary file: no preview." } });
    }
    let note = html! { @if truncated { p.notice { "Showing the first " (format::bytes(bytes.len() as u64)) " of " (format::bytes(size)) "." } } };
    let body = match ext.as_str() {
        "csv" | "tsv" => csv_table(text, if ext == "tsv" { b'\t' } else { b',' }),
        "json" if !truncated => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v) => html! { pre.code { (serde_json::to_string_pretty(&v).unwrap_or_default()) } },
            Err(_) => html! { pre.code { (text) } },
        },
        _ => html! { pre.code { (text) } },
    };
    Ok(html! { (head) (note) (body) })
}

/// The first rows of a CSV, as a table.
fn csv_table(text: &str, delimiter: u8) -> Markup {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map(|h| h.iter().map(str::to_owned).collect())
        .unwrap_or_default();
    let rows: Vec<Vec<String>> = reader
        .records()
        .take(CSV_ROWS)
        .filter_map(Result::ok)
        .map(|r| r.iter().map(str::to_owned).collect())
        .collect();
    html! {
        p.meta { "First " (rows.len()) " rows" }
        div.scroll { table.list.csv { thead { tr { @for h in &headers { th { (h) } } } } tbody {
            @for r in &rows { tr { @for c in r { td { (c) } } } }
        } } }
    }
}

#[derive(Debug, Deserialize)]
pub struct RawQuery {
    path: String,
}

/// A file of the run, streamed (images in previews, downloads).
pub async fn raw(
    State(ui): State<WebUi>,
    Path(run_id): Path<String>,
    DataQuery(q): DataQuery<RawQuery>,
) -> DataResult<Response> {
    let run = ui.tracking.get_run(&run_id).await?;
    let root = root(&ui, &run)?;
    let (name, file) = ui.artifacts.download(&join(&root, &q.path)).await?;
    let mut r = Body::from_stream(file.stream).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(cairn_artifacts::content_type(&name)),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(file.size));
    // Served files never run as this origin's pages (an HTML artifact could carry script).
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(r)
}

/// The preview pane alone (for scripts that swap it in).
pub async fn preview_fragment(
    State(ui): State<WebUi>,
    Path(run_id): Path<String>,
    PageQuery(q): PageQuery<RawQuery>,
) -> PageResult<Response> {
    let run = ui.tracking.get_run(&run_id).await?;
    let root = root(&ui, &run)?;
    let m = preview(&ui, &run_id, &root, &q.path, false).await?;
    Ok(axum::response::Html(m.into_string()).into_response())
}
