//! The control socket with real sockets in scratch directories, a stand-in event loop, and
//! clients of another user (a thread whose effective uid alone is changed). No network.

use std::fs;
use std::io::{BufRead, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

use super::*;

const NOBODY: u32 = 65534;
/// Far longer than anything here should take; only a regression waits this long.
const PATIENCE: Duration = Duration::from_secs(5);

use crate::files::scratch::Scratch;

impl Scratch {
    /// Where the tests' socket goes.
    fn socket(&self) -> PathBuf {
        self.0.join("uplink.sock")
    }
}

/// Answers like the event loop: status with a fixed report, drain/undrain with ok.
fn stand_in_loop() -> mpsc::Sender<Pending> {
    let (tx, mut rx) = mpsc::channel::<Pending>(16);
    tokio::spawn(async move {
        while let Some((request, reply)) = rx.recv().await {
            let answer = match request {
                Request::Status => serde_json::json!({ "uplinks": [], "pad": "x".repeat(2000) }),
                _ => serde_json::json!({ "ok": true }),
            };
            let _ = reply.send(answer);
        }
    });
    tx
}

/// Binds at `s.socket()` and serves with `limits` in the background.
async fn server(s: &Scratch, limits: Limits) {
    let listener = bind(&s.socket()).await.unwrap();
    tokio::spawn(serve_with(listener, stand_in_loop(), limits));
}

/// Runs `f` on a thread whose effective uid is `uid`. The raw syscall changes only the
/// calling thread (glibc's setresuid would change every thread of the test process).
fn as_user<T: Send + 'static>(uid: u32, f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(move || {
        // SAFETY: setresuid on this thread only; -1 leaves the real and saved uids (root),
        // so nothing else is affected and the thread ends right after.
        let rc = unsafe { libc::syscall(libc::SYS_setresuid, u32::MAX, uid, u32::MAX) };
        assert_eq!(rc, 0, "setresuid: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .unwrap()
}

/// Reads what the server says until it closes, or fails after [`PATIENCE`].
async fn until_closed(stream: &mut UnixStream) -> String {
    let (mut reader, _) = stream.split();
    read_to_close(&mut reader).await
}

/// Reads until the end. A Unix socket closed with our bytes still unread in it reports
/// ECONNRESET after the last byte it sent: that is an end too.
async fn read_to_close(reader: &mut (impl AsyncReadExt + Unpin)) -> String {
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    let read_all = async {
        loop {
            match reader.read(&mut chunk).await {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                Err(e) => panic!("{e}"),
            }
        }
    };
    tokio::time::timeout(PATIENCE, read_all)
        .await
        .expect("the server kept the connection open");
    String::from_utf8_lossy(&out).into_owned()
}

fn root(test: &str) -> bool {
    crate::netns::require_root(test)
}

#[tokio::test]
async fn a_request_line_over_4_kib_is_answered_with_an_error_and_closed() {
    let s = Scratch::new("ctllong");
    server(&s, Limits::default()).await;
    let mut long = UnixStream::connect(s.socket()).await.unwrap();
    // 100 MB without a newline used to be buffered whole (RSS grew to 109 MB).
    let (mut reader, mut writer) = long.split();
    let flood = async {
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..1600 {
            if writer.write_all(&chunk).await.is_err() {
                return true;
            }
        }
        false
    };
    let (stopped, answer) = tokio::time::timeout(PATIENCE, async {
        tokio::join!(flood, read_to_close(&mut reader))
    })
    .await
    .expect("the server kept reading the endless line");
    assert!(stopped, "the server took all 100 MB");
    assert_eq!(answer, "{\"error\":\"request longer than 4096 bytes\"}\n");
    drop(long);
    // A line of exactly the limit is a request like any other.
    let drain = |line: String| serde_json::to_string(&Request::Drain { line, now: false }).unwrap();
    let mut exact = drain("m".repeat(4096 - drain(String::new()).len()));
    assert_eq!(exact.len(), 4096);
    exact.push('\n');
    let mut ok = UnixStream::connect(s.socket()).await.unwrap();
    ok.write_all(exact.as_bytes()).await.unwrap();
    ok.shutdown().await.unwrap();
    assert_eq!(until_closed(&mut ok).await, "{\"ok\":true}\n");
}

#[tokio::test]
async fn clients_beyond_16_are_closed_at_once_and_the_others_still_served() {
    let s = Scratch::new("ctlmany");
    server(&s, Limits::default()).await;
    let mut held = Vec::new();
    for _ in 0..16 {
        held.push(UnixStream::connect(s.socket()).await.unwrap());
    }
    // Let the server take all of them before the extra ones arrive.
    for stream in &mut held {
        stream
            .write_all(b"{\"cmd\":\"undrain\",\"line\":\"main\"}\n")
            .await
            .unwrap();
        let mut line = [0u8; 12];
        stream.read_exact(&mut line).await.unwrap();
    }
    for _ in 0..50 {
        let mut extra = UnixStream::connect(s.socket()).await.unwrap();
        assert_eq!(
            until_closed(&mut extra).await,
            "{\"error\":\"too many clients (limit 16)\"}\n"
        );
    }
    // A freed slot serves the next client.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let answer = request(&s.socket(), &Request::Status).await.unwrap();
    assert!(answer.get("uplinks").is_some(), "{answer}");
}

#[tokio::test]
async fn a_client_that_sends_no_complete_request_is_closed_after_the_idle_time() {
    let s = Scratch::new("ctlidle");
    let limits = Limits {
        idle: Duration::from_millis(300),
        ..Limits::default()
    };
    server(&s, limits).await;
    let mut silent = UnixStream::connect(s.socket()).await.unwrap();
    let mut trickle = UnixStream::connect(s.socket()).await.unwrap();
    let start = Instant::now();
    // A byte at a time, never a whole line: the time limit is for the request, not a byte.
    for _ in 0..5 {
        // The last ones may find the connection already closed.
        let _ = trickle.write_all(b"{").await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let idle = "{\"error\":\"no complete request within 300 ms\"}\n";
    assert_eq!(until_closed(&mut silent).await, idle);
    assert_eq!(until_closed(&mut trickle).await, idle);
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_client_that_does_not_read_its_answers_is_dropped_after_the_write_time() {
    let s = Scratch::new("ctlnoread");
    let limits = Limits {
        write: Duration::from_millis(300),
        ..Limits::default()
    };
    server(&s, limits).await;
    let mut stream = UnixStream::connect(s.socket()).await.unwrap();
    // 2,000 answers of 2 KB: far more than the socket buffers hold.
    let requests = "{\"cmd\":\"status\"}\n".repeat(2000);
    let (mut reader, mut writer) = stream.split();
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        writer.write_all(requests.as_bytes()),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    // Reading now gets what was buffered, then the end: the server gave up on us.
    let got = read_to_close(&mut reader).await;
    let answers = got.matches('\n').count();
    assert!(answers < 2000, "{answers} answers");
}

#[tokio::test]
async fn another_user_may_read_the_status_but_not_drain() {
    if !root("another_user_may_read_the_status_but_not_drain") {
        return;
    }
    let s = Scratch::new("ctlpeer");
    server(&s, Limits::default()).await;
    // As an admin might, to let a monitoring user read the status.
    fs::set_permissions(s.socket(), fs::Permissions::from_mode(0o666)).unwrap();
    let path = s.socket();
    let answers = tokio::task::spawn_blocking(move || {
        as_user(NOBODY, move || {
            let mut stream = std::os::unix::net::UnixStream::connect(&path).unwrap();
            stream
                .write_all(b"{\"cmd\":\"status\"}\n{\"cmd\":\"drain\",\"line\":\"main\"}\n")
                .unwrap();
            let mut lines = std::io::BufReader::new(stream).lines();
            let mut next = || lines.next().unwrap().unwrap();
            (next(), next())
        })
    })
    .await
    .unwrap();
    assert!(answers.0.starts_with("{\"pad\":"), "{}", answers.0);
    assert_eq!(
        answers.1,
        "{\"error\":\"drain and undrain need root; the client runs as uid 65534\"}"
    );
    let drained = request(
        &s.socket(),
        &Request::Drain {
            now: false,
            line: "main".into(),
        },
    )
    .await;
    assert_eq!(drained.unwrap(), serde_json::json!({ "ok": true }));
}

#[tokio::test]
async fn the_client_does_not_believe_a_socket_another_user_listens_on() {
    if !root("the_client_does_not_believe_a_socket_another_user_listens_on") {
        return;
    }
    let s = Scratch::new("ctlfake");
    let path = s.socket();
    let socket = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&socket2::SockAddr::unix(&path).unwrap())
        .unwrap();
    // The credentials a client sees are the listener's at listen(2): listen as nobody,
    // and answer every client with a made-up status.
    let (listening, ready) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        as_user(NOBODY, move || {
            socket.listen(4).unwrap();
            listening.send(()).unwrap();
            let listener =
                std::os::unix::net::UnixListener::from(std::os::fd::OwnedFd::from(socket));
            if let Ok((mut stream, _)) = listener.accept() {
                let _ = stream.write_all(b"{\"uplinks\":[]}\n");
            }
        })
    });
    ready.recv_timeout(PATIENCE).unwrap();
    let err = request(&path, &Request::Status).await.unwrap_err();
    assert!(
        matches!(err, ControlError::UntrustedPeer { uid: NOBODY, .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("answered by a process of uid 65534 (pid "),
        "{text}"
    );
    assert!(text.ends_with("not by root: not trusting it"), "{text}");
}

/// A daemon stand-in (root, so trusted) that answers every request with `answer`, then
/// stays connected without a newline.
async fn odd_daemon(s: &Scratch, answer: &'static [u8]) {
    let listener = bind(&s.socket()).await.unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = stream.write_all(answer).await;
                tokio::time::sleep(PATIENCE * 2).await;
            });
        }
    });
}

#[tokio::test]
async fn the_client_reads_at_most_4_mib_and_waits_a_bounded_time() {
    let s = Scratch::new("ctlclient");
    static HUGE: std::sync::LazyLock<Vec<u8>> =
        std::sync::LazyLock::new(|| vec![b'x'; RESPONSE_LIMIT + 10]);
    odd_daemon(&s, &HUGE).await;
    let err = request(&s.socket(), &Request::Status).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "control socket {}: bad response: longer than 4194304 bytes",
            s.socket().display()
        )
    );
    let mute = Scratch::new("ctlmute");
    odd_daemon(&mute, b"{\"uplinks\":").await;
    let start = Instant::now();
    let limit = Duration::from_millis(300);
    let err = client::request_within(&mute.socket(), &Request::Status, limit)
        .await
        .unwrap_err();
    assert!(start.elapsed() < PATIENCE);
    assert_eq!(
        err.to_string(),
        format!(
            "control socket {}: no answer within 300 ms",
            mute.socket().display()
        )
    );
}

#[tokio::test]
async fn bind_makes_a_missing_directory_0700_and_the_socket_0600() {
    let s = Scratch::new("ctlmode");
    let path = s.0.join("run").join("uplink").join("uplink.sock");
    let _listener = bind(&path).await.unwrap();
    let mode = |p: &Path| fs::metadata(p).unwrap().mode() & 0o7777;
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    assert_eq!(mode(&path), 0o600);
}

#[tokio::test]
async fn bind_refuses_a_directory_another_user_owns_or_anyone_can_write() {
    let s = Scratch::new("ctldir");
    let open = s.0.join("open");
    fs::create_dir(&open).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    let err = bind(&open.join("uplink.sock")).await.unwrap_err();
    assert!(matches!(err, ControlError::Untrusted { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("has mode 0777: writable by group or others"),
        "{err}"
    );
    // `uplink` prints the whole chain ({:#}): each fact once.
    let text = err.to_string();
    assert_eq!(format!("{:#}", anyhow::Error::from(err)), text);
    if !root("bind_refuses_a_directory_another_user_owns_or_anyone_can_write") {
        return;
    }
    fs::set_permissions(&open, fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(&open, Some(NOBODY), None).unwrap();
    let err = bind(&open.join("uplink.sock")).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("is owned by uid 65534, not by root"),
        "{err}"
    );
}

#[tokio::test]
async fn bind_never_removes_what_is_not_a_socket_also_through_a_symlinked_directory() {
    let s = Scratch::new("ctlfile");
    let real = s.0.join("real");
    fs::create_dir(&real).unwrap();
    let precious = real.join("uplink.sock");
    fs::write(&precious, "not a socket").unwrap();
    let linked = s.0.join("linked");
    std::os::unix::fs::symlink(&real, &linked).unwrap();
    for path in [precious.clone(), linked.join("uplink.sock")] {
        let err = bind(&path).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "control socket {}: a regular file is there, not a socket; refusing to replace it",
                path.display()
            )
        );
    }
    // A symlink at the socket's path is not followed either.
    let link = s.0.join("uplink.sock");
    std::os::unix::fs::symlink(&precious, &link).unwrap();
    let err = bind(&link).await.unwrap_err();
    assert!(
        matches!(
            err,
            ControlError::NotSocket {
                kind: FileKind::Symlink,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(fs::read_to_string(&precious).unwrap(), "not a socket");
}

#[tokio::test]
async fn bind_replaces_a_stale_socket_but_not_a_live_one() {
    let s = Scratch::new("ctlstale");
    drop(std::os::unix::net::UnixListener::bind(s.socket()).unwrap());
    let live = bind(&s.socket()).await.unwrap();
    let err = bind(&s.socket()).await.unwrap_err();
    assert!(matches!(err, ControlError::InUse { .. }), "{err}");
    drop(live);
}

#[tokio::test]
async fn no_other_user_can_connect() {
    if !root("no_other_user_can_connect") {
        return;
    }
    let s = Scratch::new("ctlreach");
    server(&s, Limits::default()).await;
    let path = s.socket();
    let result = as_user(NOBODY, move || {
        std::os::unix::net::UnixStream::connect(&path).map(drop)
    });
    assert_eq!(
        result.unwrap_err().kind(),
        std::io::ErrorKind::PermissionDenied
    );
}

#[test]
fn read_line_never_holds_more_than_the_limit() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut buf = Vec::new();
    let mut read = |input: &'static [u8]| {
        let mut reader = BufReader::new(input);
        rt.block_on(read_line(&mut reader, &mut buf, 4)).unwrap()
    };
    assert_eq!(read(b"abcd\nrest"), Line::Complete);
    assert_eq!(read(b"abcde\n"), Line::TooLong);
    assert_eq!(read(b"abc"), Line::Last);
    assert_eq!(read(b""), Line::End);
    let mut reader = BufReader::new(&b"abcdefgh"[..]);
    assert_eq!(
        rt.block_on(read_line(&mut reader, &mut buf, 4)).unwrap(),
        Line::TooLong
    );
    assert_eq!(buf.len(), 5);
}
