//! What a new user hits first: the scoring server's liveness probe on `cairn server`, plain-text logs
//! when they go to a file, and `cairn deploy` answers when there is nothing to list or a canary flag is
//! missing.

use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::support::Server;

/// `cairn ARGS --server <s>`, with neither of the variables that could name another server.
fn cairn(s: &Server, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(args)
        .args(["--server", &s.base])
        .env_remove("MLFLOW_TRACKING_URI")
        .env_remove("CAIRN_SERVER")
        .output()
        .expect("run cairn")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn the_server_answers_ping_as_replicas_do() {
    let s = Server::start().await;
    let r = s.http.get(s.url("/ping")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn logs_written_to_a_file_have_no_colour_codes() {
    let s = Server::start().await;
    s.create_experiment("plain-logs").await;
    let log = s.log();
    assert!(log.contains("cairn server listening"), "{log}");
    assert!(
        !log.contains("\x1b["),
        "ANSI escapes in a log file: {log:?}"
    );
}

#[tokio::test]
async fn deploy_list_says_when_there_are_no_deployments() {
    let s = Server::start().await;
    let out = cairn(&s, &["deploy", "list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "No deployments.\n");
    let out = cairn(&s, &["deploy", "list", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(listed, json!({"deployments": []}));
}

#[tokio::test]
async fn deploy_create_with_half_a_canary_says_what_to_add() {
    let s = Server::start().await;
    for (flags, want) in [
        (["--weight", "10"], "--weight needs --canary MODEL"),
        (["--canary", "models:/m/2"], "--canary needs --weight N"),
    ] {
        let mut args = vec!["deploy", "create", "d", "--model", "models:/m/1"];
        args.extend(flags);
        let out = cairn(&s, &args);
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.contains(want), "{err}");
    }
    assert_eq!(
        text(&cairn(&s, &["deploy", "list"]).stdout),
        "No deployments.\n"
    );
}
