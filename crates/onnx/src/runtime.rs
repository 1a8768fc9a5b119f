//! Finding and loading the ONNX Runtime shared library, once per process.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::environment::Environment;

use crate::EngineError;

/// What to tell a user who has no ONNX Runtime library where Cairn looks.
const HOW_TO_GET_IT: &str =
    "run scripts/onnxruntime.sh, or set ORT_DYLIB_PATH=/path/to/libonnxruntime.so";

/// The process's ONNX Runtime, loaded once and shared by every model; clone it freely.
#[derive(Clone)]
pub struct Runtime {
    env: Environment,
    library: PathBuf,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("library", &self.library)
            .finish_non_exhaustive()
    }
}

/// ONNX Runtime allows one environment per process, and `ort` loads one library per process.
static LOADED: Mutex<Option<Runtime>> = Mutex::new(None);

impl Runtime {
    /// Loads ONNX Runtime from `explicit` (e.g. a CLI flag), else `ORT_DYLIB_PATH`, else the first library
    /// found in: the executable's directory, then `.onnxruntime/` and
    /// `.venv/lib/python3*/site-packages/onnxruntime/capi/` in the working directory and each of its
    /// parents, then in the executable's directory and each of its parents.
    /// A path given explicitly (argument or variable) must exist: a mistyped one is an error, not a fallback.
    /// Later calls return the runtime already loaded (ONNX Runtime cannot be loaded twice in a process);
    /// an explicit path naming a different file is then ignored with a warning.
    pub fn init(explicit: Option<&Path>) -> Result<Runtime, EngineError> {
        let chosen = match explicit {
            Some(path) => Some(given(path, "the path given")?),
            None => match std::env::var_os("ORT_DYLIB_PATH").filter(|v| !v.is_empty()) {
                Some(path) => Some(given(Path::new(&path), "ORT_DYLIB_PATH")?),
                None => None,
            },
        };
        let mut loaded = LOADED
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(runtime) = loaded.as_ref() {
            if let Some(path) = &chosen
                && !same_file(path, &runtime.library)
            {
                tracing::warn!(
                    requested = %path.display(),
                    loaded = %runtime.library.display(),
                    "ONNX Runtime is already loaded in this process; keeping the library loaded first"
                );
            }
            return Ok(runtime.clone());
        }
        let library = match chosen {
            Some(path) => path,
            None => search().map_err(|searched| {
                EngineError::RuntimeMissing(format!(
                    "no ONNX Runtime library (libonnxruntime.so) found; looked in {}. To get one, {HOW_TO_GET_IT}",
                    searched.join(", ")
                ))
            })?,
        };
        let runtime = load(library)?;
        *loaded = Some(runtime.clone());
        Ok(runtime)
    }

    /// The library file this runtime was loaded from, for start-up logs and health output.
    pub fn library_path(&self) -> &Path {
        &self.library
    }

    pub(crate) fn environment(&self) -> &Environment {
        &self.env
    }
}

/// A path the user named: it has to be there. Made absolute, because `ort` would look for a relative path
/// next to the executable first.
fn given(path: &Path, source: &str) -> Result<PathBuf, EngineError> {
    match std::path::absolute(path) {
        Ok(absolute) if absolute.is_file() => Ok(absolute),
        _ => Err(EngineError::RuntimeMissing(format!(
            "{source}, {}, is not a file. To get the library, {HOW_TO_GET_IT}",
            path.display()
        ))),
    }
}

fn load(library: PathBuf) -> Result<Runtime, EngineError> {
    let builder = ort::init_from(&library).map_err(|e| {
        EngineError::RuntimeMissing(format!(
            "cannot load ONNX Runtime from {}: {e}. To get a compatible library (1.31 or later), {HOW_TO_GET_IT}",
            library.display()
        ))
    })?;
    let env = builder
        .with_name("cairn")
        .with_telemetry(false)
        .build()
        .map_err(|e| {
            EngineError::Internal(format!("cannot create the ONNX Runtime environment: {e}"))
        })?;
    tracing::info!(library = %library.display(), "loaded ONNX Runtime");
    Ok(Runtime { env, library })
}

/// The default locations, in order; on failure, the places searched (for the error message).
fn search() -> Result<PathBuf, Vec<String>> {
    let mut searched = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .as_deref()
        .and_then(Path::parent)
    {
        if let Some(found) = library_in(dir) {
            return Ok(found);
        }
        searched.push(dir.display().to_string());
    }
    // The working directory's, then the executable's: a binary built in a checkout finds the checkout's
    // library from wherever it runs.
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf));
    for root in std::iter::once(&cwd).chain(exe_dir.as_ref()) {
        for dir in root.ancestors() {
            if let Some(found) = library_in(&dir.join(".onnxruntime")) {
                return Ok(found);
            }
            for site in venv_site_packages(&dir.join(".venv")) {
                if let Some(found) = library_in(&site.join("onnxruntime").join("capi")) {
                    return Ok(found);
                }
            }
        }
        searched.push(format!(
            "{0}/.onnxruntime and {0}/.venv/lib/python3*/site-packages/onnxruntime/capi and those of its \
             parents",
            root.display()
        ));
    }
    Err(searched)
}

/// `libonnxruntime.so` in `dir`, else its highest-versioned `libonnxruntime.so.X.Y.Z`.
fn library_in(dir: &Path) -> Option<PathBuf> {
    let plain = format!(
        "{}onnxruntime{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let exact = dir.join(&plain);
    if exact.is_file() {
        return Some(exact);
    }
    let versioned_prefix = format!("{plain}.");
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let version = name.strip_prefix(&versioned_prefix)?;
            let key: Vec<u32> = version.split('.').map(|p| p.parse().unwrap_or(0)).collect();
            Some((key, entry.path()))
        })
        .filter(|(_, path)| path.is_file())
        .max()
        .map(|(_, path)| path)
}

/// `<venv>/lib/python3*/site-packages`, highest Python first.
fn venv_site_packages(venv: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(venv.join("lib")) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("python3"))
        .map(|entry| entry.path().join("site-packages"))
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    dirs.reverse();
    dirs
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_plain_name_then_the_highest_version() {
        let dir = std::env::temp_dir().join(format!("cairn-onnx-search-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(library_in(&dir), None);
        for name in [
            "libonnxruntime.so.1.9.0",
            "libonnxruntime.so.1.32.0",
            "libonnxruntime_providers_shared.so",
        ] {
            std::fs::write(dir.join(name), b"").unwrap();
        }
        assert_eq!(library_in(&dir), Some(dir.join("libonnxruntime.so.1.32.0")));
        std::fs::write(dir.join("libonnxruntime.so"), b"").unwrap();
        assert_eq!(library_in(&dir), Some(dir.join("libonnxruntime.so")));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
