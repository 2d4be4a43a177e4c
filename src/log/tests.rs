use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant, UNIX_EPOCH};

use tracing::level_filters::LevelFilter;
use tracing::Level;

use super::*;

#[test]
fn syslog_datagrams_carry_facility_daemon_and_the_level_as_priority() {
    assert_eq!(syslog_datagram(Level::INFO, 42, "up"), "<30>uplink[42]: up");
    assert_eq!(syslog_datagram(Level::WARN, 42, "w"), "<28>uplink[42]: w");
    assert_eq!(syslog_datagram(Level::ERROR, 42, "e"), "<27>uplink[42]: e");
    assert_eq!(syslog_datagram(Level::DEBUG, 42, "d"), "<31>uplink[42]: d");
    assert_eq!(syslog_datagram(Level::TRACE, 42, "t"), "<31>uplink[42]: t");
}

#[test]
fn long_syslog_lines_are_cut_on_a_character_boundary() {
    let long = "é".repeat(2000);
    let datagram = syslog_datagram(Level::INFO, 1, &long);
    assert!(
        datagram.len() <= 1024 && datagram.len() > 1000,
        "{}",
        datagram.len()
    );
    assert!(datagram.ends_with('é'));
}

#[test]
fn journal_lines_prefix_every_line_and_carry_no_timestamp() {
    assert_eq!(journal_lines(Level::WARN, "a\nb"), "<4>a\n<4>b\n");
    assert_eq!(journal_lines(Level::INFO, "x"), "<6>x\n");
    assert_eq!(journal_lines(Level::ERROR, "x"), "<3>x\n");
    assert_eq!(journal_lines(Level::DEBUG, "x"), "<7>x\n");
}

#[test]
fn stderr_lines_keep_the_timestamped_layout() {
    let t = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
    assert_eq!(
        stderr_line(t, Level::INFO, "hello", false),
        "2023-11-14T22:13:20.123456Z  INFO hello\n"
    );
    assert_eq!(
        stderr_line(t, Level::WARN, "w", true),
        "2023-11-14T22:13:20.123456Z \x1b[33m WARN\x1b[0m w\n"
    );
}

#[test]
fn auto_picks_the_journal_only_when_journal_stream_names_stderr() {
    let stderr = Some((64769, 123));
    assert_eq!(
        resolve(Mode::Auto, Some("64769:123"), stderr),
        Mode::Journal
    );
    // Inherited by a child whose stderr goes elsewhere: not the journal.
    assert_eq!(resolve(Mode::Auto, Some("64769:124"), stderr), Mode::Stderr);
    assert_eq!(resolve(Mode::Auto, Some("garbage"), stderr), Mode::Stderr);
    assert_eq!(resolve(Mode::Auto, None, stderr), Mode::Stderr);
    assert_eq!(resolve(Mode::Auto, Some("64769:123"), None), Mode::Stderr);
    // Explicit choices are kept.
    assert_eq!(
        resolve(Mode::Syslog, Some("64769:123"), stderr),
        Mode::Syslog
    );
    assert_eq!(resolve(Mode::Journal, None, None), Mode::Journal);
}

#[test]
fn directives_set_a_default_and_per_target_levels() {
    let (filter, bad) = Filter::parse("warn,uplink::probe=debug,uplink::probe::icmp=error");
    assert!(bad.is_empty());
    assert!(filter.allows("uplink::daemon", Level::WARN));
    assert!(!filter.allows("uplink::daemon", Level::INFO));
    assert!(filter.allows("uplink::probe", Level::DEBUG));
    assert!(filter.allows("uplink::probe::tcp", Level::DEBUG));
    assert!(!filter.allows("uplink::probe::icmp", Level::WARN));
    // A prefix of a name is not its parent module.
    assert!(!filter.allows("uplink::prober", Level::INFO));
    assert_eq!(filter.max(), LevelFilter::DEBUG);
}

#[test]
fn unknown_directives_are_reported_and_left_out() {
    let (filter, bad) = Filter::parse("info,uplink=loud,[span]=debug");
    assert_eq!(bad, ["uplink=loud", "[span]=debug"]);
    assert_eq!(filter, Filter::parse("info").0);
}

#[test]
fn the_config_level_applies_unless_rust_log_was_given() {
    let mut filter = Filter::level(LevelFilter::INFO);
    assert!(filter.set_config_level(LevelFilter::WARN));
    assert!(!filter.allows("uplink", Level::INFO));
    assert!(!filter.set_config_level(LevelFilter::WARN), "unchanged");
    let (mut from_env, _) = Filter::parse("debug");
    assert!(!from_env.set_config_level(LevelFilter::ERROR));
    assert!(from_env.allows("uplink", Level::DEBUG));
}

#[test]
fn a_full_syslog_socket_drops_lines_without_blocking() {
    let dir = std::env::temp_dir().join(format!("uplink-log-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("full.sock");
    let _ = std::fs::remove_file(&path);
    let receiver = UnixDatagram::bind(&path).unwrap();
    let mut sink = Sink::Syslog(Syslog::connect(&path).unwrap());
    // Nobody reads: the receive queue fills after a few hundred datagrams.
    let started = Instant::now();
    for i in 0..20_000 {
        sink.write(Level::INFO, &format!("line {i}"));
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    let mut buf = [0u8; 2048];
    let n = receiver.recv(&mut buf).unwrap();
    assert!(std::str::from_utf8(&buf[..n])
        .unwrap()
        .starts_with("<30>uplink["));
    drop(receiver);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_syslog_socket_is_an_error_not_a_hang() {
    let missing = std::path::Path::new("/nonexistent/uplink-test/log");
    assert!(Syslog::connect(missing).is_err());
}
