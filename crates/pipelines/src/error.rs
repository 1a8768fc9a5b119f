//! The crate's one error type, and where in a file a configuration error is.

use std::fmt;
use std::path::{Path, PathBuf};

/// A place in a file: 1-based line and column, as editors and compilers print them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// A configuration error's location: `file:line:col`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub pos: Pos,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.file.display(),
            self.pos.line,
            self.pos.col
        )
    }
}

/// Everything that can go wrong, grouped by what the caller does about it (the CLI maps each group to
/// one exit code: configuration 4, infrastructure 3).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// A mistake in the pipeline file or a params file, at a known place.
    #[error("{at}: {message}")]
    Config { at: Location, message: String },
    /// A configuration mistake with no place in a file (a missing file, an unknown stage asked for).
    #[error("{0}")]
    Usage(String),
    /// Reading or writing the workspace or the local state failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The output cache failed.
    #[error("cache: {0}")]
    Cache(String),
    /// The executor could not be reached or lost a step.
    #[error("executor: {0}")]
    Executor(String),
    /// The tracking server could not be reached or refused a write.
    #[error("tracking server: {0}")]
    Tracker(String),
}

impl PipelineError {
    pub fn config(file: &Path, pos: Pos, message: impl Into<String>) -> Self {
        PipelineError::Config {
            at: Location {
                file: file.to_path_buf(),
                pos,
            },
            message: message.into(),
        }
    }

    pub fn io(path: &Path, source: std::io::Error) -> Self {
        PipelineError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// A mistake the user fixes in their files or command line (exit code 4), as opposed to
    /// infrastructure that failed (exit code 3).
    pub fn is_configuration(&self) -> bool {
        matches!(self, PipelineError::Config { .. } | PipelineError::Usage(_))
    }
}

pub type Result<T, E = PipelineError> = std::result::Result<T, E>;
