//! What a new user hits first: the scoring server's liveness probe on `cairn server`.

use crate::support::Server;

#[tokio::test]
async fn the_server_answers_ping_as_replicas_do() {
    let s = Server::start().await;
    let r = s.http.get(s.url("/ping")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}
