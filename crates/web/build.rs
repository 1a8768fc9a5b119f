//! Third-party front-end files come from the npm registry at the versions `package-lock.json` pins
//! (`npm ci`), never from the repository: this fetches them when they are missing and copies the files
//! the UI serves into `OUT_DIR`, where `assets.rs` embeds them.

use std::path::Path;
use std::process::Command;

/// (file under node_modules, name it is served and embedded as).
const VENDORED: &[(&str, &str)] = &[
    ("uplot/dist/uPlot.iife.min.js", "uplot.js"),
    ("uplot/dist/uPlot.min.css", "uplot.css"),
    ("uplot/LICENSE", "uplot.LICENSE"),
];

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    println!("cargo:rerun-if-changed=package-lock.json");
    println!("cargo:rerun-if-changed=node_modules/.package-lock.json");
    let modules = dir.join("node_modules");
    if VENDORED
        .iter()
        .any(|(from, _)| !modules.join(from).exists())
    {
        let status = Command::new("npm")
            .args([
                "ci",
                "--no-audit",
                "--no-fund",
                "--ignore-scripts",
                "--loglevel=error",
            ])
            .current_dir(dir)
            .status();
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => panic!(
                "`npm ci` in {} failed ({s}): the web UI's pinned assets are missing",
                dir.display()
            ),
            Err(e) => panic!(
                "cannot run npm ({e}): the web UI's assets (package-lock.json) are fetched with `npm ci` in {}",
                dir.display()
            ),
        }
    }
    let out = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).to_path_buf();
    for (from, to) in VENDORED {
        std::fs::copy(modules.join(from), out.join(to))
            .unwrap_or_else(|e| panic!("copying {from}: {e}"));
    }
}
