//! `cairn pipeline stop`: every `cairn run` of a project leaves a marker `.cairn/state/runs/<pid>`
//! while it runs; stop sends each such process SIGINT — what Ctrl-C sends — so the run cancels its
//! running steps through their executors (a Ray job is stopped) and exits 130.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// How long stop waits for a run to exit.
const WAIT: Duration = Duration::from_secs(60);

fn runs_dir(state_root: &Path) -> PathBuf {
    state_root.join("state").join("runs")
}

/// The marker of this process's run; removed when dropped.
pub struct RunMarker(PathBuf);

impl RunMarker {
    pub fn create(state_root: &Path) -> std::io::Result<RunMarker> {
        let path = runs_dir(state_root).join(std::process::id().to_string());
        cairn_pipelines::state::write_atomic(&path, b"cairn run\n")?;
        Ok(RunMarker(path))
    }
}

impl Drop for RunMarker {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Makes this run stop as Ctrl-C would when its parent process goes away: a run a server's executor
/// started must not outlive that server, whose lease on it then passes to another server.
pub fn stop_with_parent() {
    let parent = std::os::unix::process::parent_id();
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(500));
            if std::os::unix::process::parent_id() != parent {
                let _ = kill(Pid::this(), Signal::SIGINT);
                return;
            }
        }
    });
}

/// A live `cairn` process with this pid (a marker left by a crashed run may name a reused pid).
fn alive(pid: Pid) -> bool {
    if kill(pid, None).is_err() {
        return false;
    }
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => String::from_utf8_lossy(&cmdline).contains("cairn"),
        Err(_) => true,
    }
}

/// Signals every run of the project; returns how many were stopped. Stale markers are removed.
pub fn stop(state_root: &Path) -> Result<usize, String> {
    let dir = runs_dir(state_root);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    };
    let mut signalled = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
            .map(Pid::from_raw)
        else {
            continue;
        };
        if pid.as_raw() <= 0 || !alive(pid) {
            let _ = std::fs::remove_file(&path);
            continue;
        }
        match kill(pid, Signal::SIGINT) {
            Ok(()) => {
                println!("stopping cairn run (pid {pid})");
                signalled.push(pid);
            }
            Err(e) => return Err(format!("signalling pid {pid}: {e}")),
        }
    }
    let until = Instant::now() + WAIT;
    while signalled.iter().any(|p| alive(*p)) {
        if Instant::now() >= until {
            return Err(format!(
                "the run did not exit within {}s of SIGINT",
                WAIT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(signalled.len())
}
