use super::*;

/// The event loop's side: answers each query with its name.
fn responder() -> mpsc::Sender<Pending> {
    let (tx, mut rx) = mpsc::channel::<Pending>(4);
    tokio::spawn(async move {
        while let Some((query, reply)) = rx.recv().await {
            let _ = reply.send(format!("{query:?}"));
        }
    });
    tx
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap()
}

#[tokio::test]
async fn paths_map_to_queries_with_their_content_types() {
    let queries = responder();
    let metrics = text(respond("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &queries).await);
    assert!(metrics.starts_with("HTTP/1.1 200 OK\r\n"), "{metrics}");
    assert!(metrics.contains("Content-Type: text/plain; version=0.0.4"));
    assert!(metrics.ends_with("\r\n\r\nMetrics"), "{metrics}");
    let status = text(respond("GET /api/status?x=1 HTTP/1.0\r\n\r\n", &queries).await);
    assert!(status.contains("application/json") && status.ends_with("Status"));
    let page = text(respond("GET / HTTP/1.1\r\n\r\n", &queries).await);
    assert!(page.contains("text/html") && page.contains("<title>uplink</title>"));
    assert!(page.contains("Content-Security-Policy: default-src 'none'"));
}

#[tokio::test]
async fn nothing_but_get_and_known_paths() {
    let queries = responder();
    let post = text(respond("POST /api/status HTTP/1.1\r\n\r\n", &queries).await);
    assert!(post.starts_with("HTTP/1.1 405"), "{post}");
    let missing = text(respond("GET /api/drain HTTP/1.1\r\n\r\n", &queries).await);
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    let head = text(respond("HEAD /metrics HTTP/1.1\r\n\r\n", &queries).await);
    assert!(
        head.ends_with("\r\n\r\n") && head.contains("Content-Length: 7"),
        "{head}"
    );
    let garbage = text(respond("\u{0}\u{1}", &queries).await);
    assert!(garbage.starts_with("HTTP/1.1 405"), "{garbage}");
}

#[tokio::test]
async fn a_stopping_daemon_answers_503() {
    let (tx, rx) = mpsc::channel::<Pending>(1);
    drop(rx);
    let answer = text(respond("GET /metrics HTTP/1.1\r\n\r\n", &tx).await);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
}

#[test]
fn the_page_is_self_contained_and_small() {
    assert!(PAGE.len() < 60 * 1024, "{} bytes", PAGE.len());
    for external in ["src=\"http", "href=\"http", "@import", "url(http"] {
        assert!(!PAGE.contains(external), "{external}");
    }
}
