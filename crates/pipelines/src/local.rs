//! The local executor: each command of a step in `sh -c`, in the stage's wdir, stdout and stderr into
//! the step's log. Each command leads its own process group, so stopping a step (a timeout, a cancel,
//! Ctrl-C, the step dropped) kills everything it started, not only the shell.

use std::io::Write as _;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use tokio::process::{Child, Command};
use tokio::time::Instant;

use crate::executor::{
    Executor, ExecutorError, ExecutorKind, FailureClass, RunningStep, StepLaunch, StepState,
};

/// Runs steps as subprocesses of this process.
#[derive(Debug, Clone, Default)]
pub struct LocalExecutor;

#[async_trait::async_trait]
impl Executor for LocalExecutor {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::Local
    }

    async fn submit(&self, launch: &StepLaunch) -> Result<Box<dyn RunningStep>, ExecutorError> {
        if let Some(dir) = launch.log_path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| ExecutorError(format!("{}: {e}", dir.display())))?;
        }
        let mut log = std::fs::File::options()
            .create(true)
            .write(true)
            .append(launch.attempt > 1)
            .truncate(launch.attempt <= 1)
            .open(&launch.log_path)
            .map_err(|e| ExecutorError(format!("{}: {e}", launch.log_path.display())))?;
        if launch.attempt > 1 {
            writeln!(log, "--- attempt {} ---", launch.attempt)
                .map_err(|e| ExecutorError(format!("{}: {e}", launch.log_path.display())))?;
        }
        Ok(Box::new(LocalStep {
            deadline: launch.timeout.map(|t| Instant::now() + t),
            launch: launch.clone(),
            next: 0,
            child: None,
            log,
        }))
    }
}

struct LocalStep {
    launch: StepLaunch,
    /// The next command to start.
    next: usize,
    /// The command running now.
    child: Option<Child>,
    log: std::fs::File,
    deadline: Option<Instant>,
}

impl LocalStep {
    fn spawn(&mut self, cmd: &str) -> std::io::Result<Child> {
        writeln!(self.log, "$ {cmd}")?;
        Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(&self.launch.cwd)
            .envs(&self.launch.env)
            .stdin(Stdio::null())
            .stdout(self.log.try_clone()?)
            .stderr(self.log.try_clone()?)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
    }
}

/// A finished command's status as a failure, or `None` for success.
fn failure(status: std::process::ExitStatus) -> Option<StepState> {
    if status.success() {
        return None;
    }
    Some(match (status.code(), status.signal()) {
        (Some(code), _) => StepState::Failed {
            class: FailureClass::User,
            exit_code: Some(code),
            message: format!("exit code {code}"),
        },
        (None, Some(signal)) => StepState::Failed {
            // The usual senders: the OOM killer (SIGKILL), an eviction (SIGTERM).
            class: match signal {
                9 => FailureClass::Oom,
                15 => FailureClass::Preempted,
                _ => FailureClass::User,
            },
            exit_code: None,
            message: format!("killed by signal {signal}"),
        },
        (None, None) => StepState::Failed {
            class: FailureClass::Infra,
            exit_code: None,
            message: "ended without an exit status".into(),
        },
    })
}

impl LocalStep {
    /// SIGKILL to the running command's process group, then reap the shell.
    async fn kill(&mut self) -> std::io::Result<()> {
        if let Some(mut child) = self.child.take() {
            kill_group(&child);
            child.kill().await?;
        }
        Ok(())
    }
}

fn kill_group(child: &Child) {
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        // The group may be gone already (ESRCH): nothing left to stop.
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

impl Drop for LocalStep {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            kill_group(child);
        }
    }
}

#[async_trait::async_trait]
impl RunningStep for LocalStep {
    fn id(&self) -> String {
        self.child
            .as_ref()
            .and_then(Child::id)
            .map_or_else(|| self.launch.submission_id.clone(), |pid| pid.to_string())
    }

    async fn wait(&mut self) -> Result<StepState, ExecutorError> {
        loop {
            if self.child.is_none() {
                let Some(cmd) = self.launch.commands.get(self.next).cloned() else {
                    return Ok(StepState::Succeeded);
                };
                self.next += 1;
                match self.spawn(&cmd) {
                    Ok(child) => self.child = Some(child),
                    Err(e) => {
                        return Ok(StepState::Failed {
                            class: FailureClass::Env,
                            exit_code: None,
                            message: format!("cannot start `{cmd}`: {e}"),
                        });
                    }
                }
            }
            let child = self.child.as_mut().expect("started above");
            let status = match self.deadline {
                Some(at) => match tokio::time::timeout_at(at, child.wait()).await {
                    Ok(s) => s,
                    Err(_) => {
                        let _ = self.kill().await;
                        return Ok(StepState::Failed {
                            class: FailureClass::Timeout,
                            exit_code: None,
                            message: "timed out".into(),
                        });
                    }
                },
                None => child.wait().await,
            }
            .map_err(|e| ExecutorError(format!("waiting for the step: {e}")))?;
            self.child = None;
            if let Some(failed) = failure(status) {
                return Ok(failed);
            }
        }
    }

    async fn cancel(&mut self) -> Result<(), ExecutorError> {
        self.next = self.launch.commands.len();
        self.kill()
            .await
            .map_err(|e| ExecutorError(format!("stopping the step: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn launch(dir: &std::path::Path, commands: &[&str]) -> StepLaunch {
        StepLaunch {
            submission_id: "t".into(),
            stage: "s".into(),
            attempt: 1,
            commands: commands.iter().map(|c| c.to_string()).collect(),
            cwd: dir.to_path_buf(),
            root: dir.to_path_buf(),
            files: Vec::new(),
            outs: Vec::new(),
            env: BTreeMap::from([("CAIRN_TEST_VAR".into(), "hello".into())]),
            log_path: dir.join("logs/s.log"),
            timeout: None,
            resources: Default::default(),
        }
    }

    #[tokio::test]
    async fn runs_commands_in_order_with_env_and_log() {
        let dir = tempfile::tempdir().unwrap();
        let l = launch(
            dir.path(),
            &["echo $CAIRN_TEST_VAR > out.txt", "echo done; echo err >&2"],
        );
        let mut step = LocalExecutor.submit(&l).await.unwrap();
        assert_eq!(step.wait().await.unwrap(), StepState::Succeeded);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("out.txt")).unwrap(),
            "hello\n"
        );
        let log = std::fs::read_to_string(&l.log_path).unwrap();
        assert!(log.contains("done\n") && log.contains("err\n"), "{log}");
    }

    #[tokio::test]
    async fn the_first_failure_stops_the_step() {
        let dir = tempfile::tempdir().unwrap();
        let l = launch(dir.path(), &["exit 3", "touch never"]);
        let mut step = LocalExecutor.submit(&l).await.unwrap();
        match step.wait().await.unwrap() {
            StepState::Failed {
                class, exit_code, ..
            } => assert_eq!((class, exit_code), (FailureClass::User, Some(3))),
            other => panic!("{other:?}"),
        }
        assert!(!dir.path().join("never").exists());
    }

    #[tokio::test]
    async fn a_timeout_kills_the_step() {
        let dir = tempfile::tempdir().unwrap();
        // A compound command: the shell cannot exec `sleep`, so only a group kill stops it.
        let mut l = launch(dir.path(), &["sleep 3; touch late"]);
        l.timeout = Some(std::time::Duration::from_millis(200));
        let mut step = LocalExecutor.submit(&l).await.unwrap();
        let started = std::time::Instant::now();
        assert!(matches!(
            step.wait().await.unwrap(),
            StepState::Failed {
                class: FailureClass::Timeout,
                ..
            }
        ));
        assert!(started.elapsed() < std::time::Duration::from_secs(3));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let pgrep = std::process::Command::new("pgrep")
            .args(["-f", "^sleep 3$"])
            .output();
        if let Ok(out) = pgrep {
            // Other tests may not run `sleep 3`: any match would be ours, left running.
            assert!(
                out.stdout.is_empty(),
                "the step's sleep survived the timeout"
            );
        }
        assert!(!dir.path().join("late").exists());
    }
}
