//! Log priorities as real receivers get them: syslog datagrams on a unix socket the test
//! binds (as syslogd binds /dev/log), journald's `<N>` prefixes on a stderr that
//! JOURNAL_STREAM names, and `log_level` changed by a reload.

#![cfg(feature = "lab")]

mod common;

use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use common::{root, Scenario, RECOVERY};
use uplink::lab::{two_line_config, ProbeProfile};

/// What a syslog daemon would have received, in order.
struct Syslogd {
    socket: UnixDatagram,
    got: Vec<String>,
}

impl Syslogd {
    fn bind(path: &std::path::Path) -> Syslogd {
        let socket = UnixDatagram::bind(path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        Syslogd {
            socket,
            got: Vec::new(),
        }
    }

    /// Reads until a datagram satisfies `want`; returns its index in [`Syslogd::got`].
    fn wait_for(&mut self, what: &str, want: impl Fn(&str) -> bool) -> usize {
        let start = Instant::now();
        let mut buf = vec![0u8; 4096];
        while start.elapsed() < RECOVERY {
            if let Ok(n) = self.socket.recv(&mut buf) {
                self.got
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
                if want(self.got.last().unwrap()) {
                    return self.got.len() - 1;
                }
            }
        }
        panic!("{what}: not received; got {:#?}", self.got);
    }
}

fn with_level(level: &str, config: &str) -> String {
    format!("log_level = \"{level}\"\n{config}")
}

/// The two-line config with backup preferred: a reload to it visibly takes effect.
fn backup_first(s: &Scenario) -> String {
    two_line_config(&s.daemon.socket(), ProbeProfile::Test).replace("metric = 200", "metric = 50")
}

#[test]
fn syslog_gets_daemon_facility_priorities_and_log_level_reloads_without_restart() {
    if !root("syslog_gets_daemon_facility_priorities_and_log_level_reloads_without_restart") {
        return;
    }
    let mut s = Scenario::new("lgsys", false);
    let path = s.daemon.log_path().with_file_name("log.sock");
    let mut syslogd = Syslogd::bind(&path);
    // The config's log_level applies only without RUST_LOG.
    s.daemon.set_env("RUST_LOG", "");
    s.daemon
        .add_args(&["--log", "syslog", "--syslog-socket", path.to_str().unwrap()]);
    let _echo = s.start("");
    let pid = s.daemon.pid().unwrap();
    let info = format!("<30>uplink[{pid}]: ");
    let warn = format!("<28>uplink[{pid}]: ");

    // facility daemon (3) * 8 + info (6); no timestamp: syslogd adds its own.
    let first = syslogd.wait_for("an info line", |d| d.starts_with(&info));
    let text = &syslogd.got[first][info.len()..];
    assert!(!text.starts_with(|c: char| c.is_ascii_digit()), "{text}");

    let base = two_line_config(&s.daemon.socket(), ProbeProfile::Test);
    s.daemon.write_config("[[uplink]\n").unwrap();
    s.daemon.signal(libc::SIGHUP);
    let warned = syslogd.wait_for("a warning", |d| {
        d.starts_with(&warn) && d.contains("reload: keeping the running config")
    });

    // Now warn only: the reload's own line and the failover it causes are info lines.
    s.daemon
        .write_config(&with_level("warn", &backup_first(&s)))
        .unwrap();
    s.daemon.signal(libc::SIGHUP);
    s.wait_active("backup", RECOVERY);
    s.daemon.write_config("[[uplink]\n").unwrap();
    s.daemon.signal(libc::SIGHUP);
    let marker = syslogd.wait_for("the second warning", |d| {
        d.starts_with(&warn) && d.contains("reload: keeping the running config")
    });
    let quiet: Vec<_> = syslogd.got[warned + 1..marker]
        .iter()
        .filter(|d| d.contains("reload: new config") || d.contains("backup"))
        .collect();
    assert!(quiet.is_empty(), "info lines at log_level warn: {quiet:#?}");

    // Back to info, again without a restart.
    s.daemon.write_config(&with_level("info", &base)).unwrap();
    s.daemon.signal(libc::SIGHUP);
    syslogd.wait_for("info after the reload", |d| {
        d.starts_with(&info) && d.contains("reload: new config")
    });
    assert_eq!(s.daemon.pid(), Some(pid), "restarted");
    // Nothing fell back to stderr.
    assert!(!s.daemon.log().contains("reload"), "{}", s.daemon.log());
}

#[test]
fn journal_stream_gets_sd_daemon_prefixes_without_timestamps() {
    if !root("journal_stream_gets_sd_daemon_prefixes_without_timestamps") {
        return;
    }
    let mut s = Scenario::new("lgjrn", false);
    // As systemd does: JOURNAL_STREAM names the device and inode of stderr.
    std::fs::write(s.daemon.log_path(), "").unwrap();
    let meta = std::fs::metadata(s.daemon.log_path()).unwrap();
    s.daemon
        .set_env("JOURNAL_STREAM", &format!("{}:{}", meta.dev(), meta.ino()));
    let _echo = s.start("");
    s.daemon.write_config("[[uplink]\n").unwrap();
    s.daemon.signal(libc::SIGHUP);
    s.wait_until("a warning", RECOVERY, |s| {
        s.daemon
            .log()
            .contains("<4>reload: keeping the running config")
    });
    let log = s.daemon.log();
    assert!(log.lines().any(|l| l.starts_with("<6>")), "{log}");
    for line in log.lines() {
        let digit = line.strip_prefix('<').and_then(|l| l.chars().next());
        assert!(
            matches!(digit, Some('3'..='7')) && line[2..].starts_with('>'),
            "not a journald line: {line:?}"
        );
    }
}

#[test]
fn an_unreachable_syslog_socket_falls_back_to_stderr() {
    if !root("an_unreachable_syslog_socket_falls_back_to_stderr") {
        return;
    }
    let mut s = Scenario::new("lgfbk", false);
    let missing = s.daemon.log_path().with_file_name("no-such.sock");
    s.daemon.add_args(&[
        "--log",
        "syslog",
        "--syslog-socket",
        missing.to_str().unwrap(),
    ]);
    let _echo = s.start("");
    let log = s.daemon.log();
    assert!(
        log.contains("WARN syslog socket") && log.contains("logging to stderr"),
        "{log}"
    );
    assert!(log.contains(" INFO "), "{log}");
}
