//! What a new user hits first: the scoring server's liveness probe on `cairn server`, plain-text logs
//! when they go to a file.

use crate::support::Server;

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
