//! End-to-end sessions: real TCP sessions (and a long-lived UDP flow) keep the line they
//! were opened on while that line works. A session opened on backup during an outage of
//! main survives failback and still leaves through backup while new sessions take main;
//! `keep_sessions_s` bounds that; drain keeps sessions and `drain --now` moves them; a
//! backup that fails moves its sessions to main; the same for IPv6.
//!
//! Strict rp_filter would drop the replies of a session kept on a line that is no longer
//! active, so such a line keeps none: one lab runs with it and checks that the session is
//! moved (reset) instead of left hanging; the others run without it.

#![cfg(feature = "lab")]

mod common;

use std::io::ErrorKind;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::{line6, root, Scenario, RECOVERY};
use uplink::lab::{
    two_line_config, Fault, Flow, Line, ProbeProfile, Session, TrafficConfig, ECHO_SERVER,
    ECHO_SERVER6,
};

/// The failback is checked this long after it happened (the bar).
const AFTER_FAILBACK: Duration = Duration::from_secs(20);

fn server4() -> IpAddr {
    (*ECHO_SERVER.ip()).into()
}

fn via4(line: Line) -> IpAddr {
    line.addr().into()
}

/// Starts the daemon with the two-line config, `backup_keys` added to backup's keys, and
/// waits until main is active.
fn start(s: &mut Scenario, backup_keys: &str, extra: &str) {
    let config = two_line_config(&s.daemon.socket(), ProbeProfile::Test).replace(
        "name = \"backup\"\n",
        &format!("name = \"backup\"\n{backup_keys}"),
    ) + extra;
    s.daemon.write_config(&config).unwrap();
    s.start_daemon();
    wait_carrying(s, "main");
}

/// Waits until `name` is among the active lines.
fn wait_carrying(s: &Scenario, name: &str) {
    s.wait_until(&format!("{name} active"), RECOVERY, |s| {
        s.daemon
            .active()
            .is_some_and(|a| a.iter().any(|n| n == name))
    });
}

/// Main blackholed until backup carries traffic.
fn outage_of_main(s: &Scenario, fault: Fault, backup: &str) {
    s.lab.inject(fault).unwrap();
    s.wait_active(backup, RECOVERY);
}

/// Waits until status says line `name` carries `n` connections.
fn wait_connections(s: &Scenario, name: &str, n: u64) {
    s.wait_until(&format!("{n} connections on {name}"), RECOVERY, |s| {
        s.status().is_some_and(|st| {
            (st.uplinks.iter()).any(|l| l.name == name && l.connections == Some(n))
        })
    });
}

fn ask(session: &mut Session, what: &str) -> IpAddr {
    session
        .ask()
        .unwrap_or_else(|e| panic!("{what}: the session does not answer: {e}"))
}

/// Waits until `session` is reset (moved to another line): its question fails.
fn wait_reset(s: &Scenario, session: &mut Session, within: Duration, what: &str) {
    let start = Instant::now();
    while start.elapsed() < within {
        if session.ask().is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!(
        "{what}: the session was not moved within {within:?}\n{}",
        s.daemon.log()
    );
}

#[test]
fn sessions_survive_failback_and_a_failed_backup_moves_them() {
    if !root("sessions_survive_failback_and_a_failed_backup_moves_them") {
        return;
    }
    let mut s = Scenario::new("ses", false);
    let _echo = s.lab.start_echo_server().unwrap();
    let _server = s.lab.start_session_server(server4()).unwrap();
    start(&mut s, "", "");
    outage_of_main(&s, Fault::Blackhole(Line::One), "backup");
    let mut sessions: Vec<Session> = (0..100)
        .map(|_| s.lab.open_session(server4()).unwrap())
        .collect();
    for (k, session) in sessions.iter_mut().enumerate() {
        assert_eq!(
            ask(session, &format!("session {k} during the outage")),
            via4(Line::Two)
        );
    }
    // Status counts them (conntrack entries with backup's marks), counted on demand.
    wait_connections(&s, "backup", 100);
    // The long-lived UDP flow starts on backup too.
    let traffic = s.lab.start_traffic(TrafficConfig::default()).unwrap();
    s.lab.clear(Fault::Blackhole(Line::One)).unwrap();
    s.wait_active("main", RECOVERY);
    let failback = Instant::now();
    let mut fresh = s.lab.open_session(server4()).unwrap();
    assert_eq!(
        ask(&mut fresh, "a session opened after failback"),
        via4(Line::One)
    );
    while failback.elapsed() < AFTER_FAILBACK {
        assert_eq!(
            ask(&mut sessions[0], "the first session after failback"),
            via4(Line::Two)
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    let mut lost = Vec::new();
    for (k, session) in sessions.iter_mut().enumerate() {
        if session.ask().ok() != Some(via4(Line::Two)) {
            lost.push(k);
        }
    }
    assert!(
        lost.is_empty(),
        "sessions lost or moved after failback: {lost:?}"
    );
    let log = traffic.snapshot();
    let udp_main = log.replies_via(Flow::LongLived, Line::One, failback);
    let udp_backup = log.replies_via(Flow::LongLived, Line::Two, failback);
    assert!(
        udp_main == 0 && udp_backup > 100,
        "the long-lived UDP flow after failback: {udp_main} replies via main, {udp_backup} via backup"
    );
    // Backup fails: its sessions move to main within the detection time (TCP: reset;
    // the UDP flow: answered through main).
    let fault = Instant::now();
    s.lab.inject(Fault::Blackhole(Line::Two)).unwrap();
    s.wait_until(
        "the long-lived flow answered through main",
        RECOVERY,
        |_| {
            traffic
                .snapshot()
                .replies_via(Flow::LongLived, Line::One, fault)
                > 10
        },
    );
    assert_eq!(ask(&mut fresh, "the session on main"), via4(Line::One));
    traffic.stop();
}

#[test]
fn keep_sessions_s_bounds_how_long_backup_keeps_them() {
    if !root("keep_sessions_s_bounds_how_long_backup_keeps_them") {
        return;
    }
    let mut s = Scenario::new("sesb", false);
    let _server = s.lab.start_session_server(server4()).unwrap();
    start(&mut s, "keep_sessions_s = 8\n", "");
    outage_of_main(&s, Fault::Blackhole(Line::One), "backup");
    let mut old = s.lab.open_session(server4()).unwrap();
    assert_eq!(ask(&mut old, "during the outage"), via4(Line::Two));
    s.lab.clear(Fault::Blackhole(Line::One)).unwrap();
    s.wait_active("main", RECOVERY);
    assert_eq!(ask(&mut old, "just after failback"), via4(Line::Two));
    wait_reset(&s, &mut old, RECOVERY, "keep_sessions_s = 8");
    let log = s.daemon.log();
    assert!(log.contains("its remaining connections move"), "{log}");
    let mut fresh = s.lab.open_session(server4()).unwrap();
    assert_eq!(ask(&mut fresh, "after the bound"), via4(Line::One));
}

#[test]
fn drain_keeps_sessions_and_drain_now_moves_them() {
    if !root("drain_keeps_sessions_and_drain_now_moves_them") {
        return;
    }
    let mut s = Scenario::new("sesd", false);
    let _server = s.lab.start_session_server(server4()).unwrap();
    start(&mut s, "", "");
    s.wait_until("backup up", RECOVERY, |s| {
        s.status()
            .is_some_and(|st| st.uplinks.iter().all(|l| l.state == "up"))
    });
    let mut old = s.lab.open_session(server4()).unwrap();
    assert_eq!(ask(&mut old, "before the drain"), via4(Line::One));
    let socket = s.daemon.socket();
    let socket = socket.to_str().unwrap();
    let out = s.run_uplink(&["drain", "main", "--socket", socket]);
    assert!(out.status.success(), "{out:?}");
    s.wait_active("backup", RECOVERY);
    let mut fresh = s.lab.open_session(server4()).unwrap();
    assert_eq!(
        ask(&mut fresh, "a session opened after the drain"),
        via4(Line::Two)
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(ask(&mut old, "the drained line's session"), via4(Line::One));
    let out = s.run_uplink(&["drain", "main", "--now", "--socket", socket]);
    assert!(out.status.success(), "{out:?}");
    wait_reset(&s, &mut old, RECOVERY, "drain --now");
    assert_eq!(ask(&mut fresh, "the session on backup"), via4(Line::Two));
}

#[test]
fn ipv6_sessions_survive_failback() {
    if !root("ipv6_sessions_survive_failback") {
        return;
    }
    let mut s = Scenario::new("ses6", false);
    let server6: IpAddr = (*ECHO_SERVER6.ip()).into();
    let _server = s.lab.start_session_server(server6).unwrap();
    let extra = line6("main6", Line::One) + &line6("backup6", Line::Two);
    start(&mut s, "", &extra);
    wait_carrying(&s, "main6");
    s.lab.inject(Fault::Blackhole6(Line::One)).unwrap();
    wait_carrying(&s, "backup6");
    let mut old = s.lab.open_session(server6).unwrap();
    assert_eq!(
        ask(&mut old, "during the outage"),
        IpAddr::from(Line::Two.addr6())
    );
    s.lab.clear(Fault::Blackhole6(Line::One)).unwrap();
    wait_carrying(&s, "main6");
    let failback = Instant::now();
    let mut fresh = s.lab.open_session(server6).unwrap();
    assert_eq!(
        ask(&mut fresh, "after failback"),
        IpAddr::from(Line::One.addr6())
    );
    while failback.elapsed() < AFTER_FAILBACK {
        assert_eq!(
            ask(&mut old, "after failback"),
            IpAddr::from(Line::Two.addr6())
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Strict reverse-path filtering on the backup (the lab sets rp_filter=1 on all and on the
/// WAN devices): the replies of a session kept on backup after failback would be dropped
/// and the session would hang. Backup keeps none: the session is reset (or answered via
/// main), never left without an answer, and the log says why.
#[test]
fn with_strict_rp_filter_a_session_is_moved_not_left_hanging_after_failback() {
    if !root("with_strict_rp_filter_a_session_is_moved_not_left_hanging_after_failback") {
        return;
    }
    let mut s = Scenario::new("sesrp", true);
    let _server = s.lab.start_session_server(server4()).unwrap();
    start(&mut s, "", "");
    outage_of_main(&s, Fault::Blackhole(Line::One), "backup");
    let mut old = s.lab.open_session(server4()).unwrap();
    assert_eq!(ask(&mut old, "during the outage"), via4(Line::Two));
    s.lab.clear(Fault::Blackhole(Line::One)).unwrap();
    s.wait_active("main", RECOVERY);
    let failback = Instant::now();
    loop {
        match old.ask() {
            Ok(addr) if addr == via4(Line::One) => break,
            Ok(addr) => assert!(
                failback.elapsed() < RECOVERY,
                "still answered via {addr} long after failback\n{}",
                s.daemon.log()
            ),
            Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
                panic!("the session hangs after failback: {e}\n{}", s.daemon.log())
            }
            Err(_) => break,
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = s.daemon.log();
    assert!(
        log.contains("uplink \"backup\": its remaining connections move")
            && log.contains("strict reverse-path filtering"),
        "{log}"
    );
    let mut fresh = s.lab.open_session(server4()).unwrap();
    assert_eq!(ask(&mut fresh, "after failback"), via4(Line::One));
}
