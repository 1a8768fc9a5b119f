//! `cairn pipeline register NAME`: the project's snapshot (see `cairn_pipelines::snapshot`) stored on
//! the server, content-addressed: only the files the server lacks are uploaded, then the file list is
//! registered as the pipeline's next version (the same version when nothing changed).

use std::process::ExitCode;

use cairn_contract::{RegisterPipelineBody, SnapshotFileDto};
use cairn_pipelines::report::exit;
use cairn_pipelines::snapshot;

use super::{fail, open};

/// Digests asked about per request.
const BATCH: usize = 1000;

pub async fn register(
    name: &str,
    file: Option<&std::path::Path>,
    server: Option<&str>,
) -> ExitCode {
    let planner = match open(file, &[]) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let project = &planner.project;
    let files = match snapshot::collect(project, &planner.hasher) {
        Ok(f) => f,
        Err(e) => return fail(&e),
    };
    let _ = planner.hasher.save();
    let client = crate::client::client(server);
    let infra = |e: cairn_client::ClientError| {
        eprintln!("cairn: error: {e}");
        ExitCode::from(
            if matches!(e, cairn_client::ClientError::Api { status, .. } if status.is_client_error())
            {
                exit::CONFIGURATION
            } else {
                exit::INFRASTRUCTURE
            },
        )
    };
    let mut digests: Vec<String> = files.iter().map(|f| f.digest.clone()).collect();
    digests.sort();
    digests.dedup();
    let mut missing = Vec::new();
    for chunk in digests.chunks(BATCH) {
        match client.missing_objects(chunk.to_vec()).await {
            Ok(m) => missing.extend(m),
            Err(e) => return infra(e),
        }
    }
    let mut uploaded = 0u64;
    for digest in &missing {
        let Some(f) = files.iter().find(|f| &f.digest == digest) else {
            continue;
        };
        let bytes = match std::fs::read(&f.absolute) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("cairn: error: reading {}: {e}", f.absolute.display());
                return ExitCode::from(exit::CONFIGURATION);
            }
        };
        uploaded += bytes.len() as u64;
        if let Err(e) = client.put_object(digest, bytes).await {
            return infra(e);
        }
    }
    let body = RegisterPipelineBody {
        file: project.file_name.clone(),
        files: files
            .iter()
            .map(|f| SnapshotFileDto {
                path: f.path.clone(),
                digest: f.digest.clone(),
                size: f.size,
                executable: f.executable,
            })
            .collect(),
        triggers: snapshot::triggers(&project.pipeline),
    };
    match client.register_pipeline(name, &body).await {
        Ok(r) => {
            let p = r.pipeline;
            if r.created {
                println!(
                    "registered pipeline {} version {} ({} files, {} uploaded, {uploaded} bytes)",
                    p.name,
                    p.version,
                    p.files.len(),
                    missing.len()
                );
            } else {
                println!(
                    "pipeline {} is unchanged: version {} ({} files)",
                    p.name,
                    p.version,
                    p.files.len()
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => infra(e),
    }
}
