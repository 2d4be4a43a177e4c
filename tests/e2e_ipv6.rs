//! End-to-end IPv6: each lab line also carries IPv6 (`main6` and `backup6` on the same
//! devices as `main` and `backup`). IPv6 traffic from the LAN leaves masqueraded through
//! main; an IPv6-only failure beyond main moves IPv6 to backup while IPv4 stays on main
//! (selection per family); IPv6 comes back when main's IPv6 recovers.

#![cfg(feature = "lab")]

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use common::{line6, root, Scenario, RECOVERY};
use uplink::lab::{two_line_config, Fault, Line, ProbeProfile, Role, TrafficConfig, ECHO_SERVER6};

/// A UDP echo server on [`ECHO_SERVER6`] in `net` that answers with the source it saw.
struct Echo6 {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Echo6 {
    fn start(s: &Scenario) -> Echo6 {
        let socket = s
            .lab
            .ns(Role::Net)
            .run_in(|| UdpSocket::bind(ECHO_SERVER6))
            .unwrap()
            .unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            while !flag.load(Ordering::Relaxed) {
                if let Ok((_, from)) = socket.recv_from(&mut buf) {
                    let _ = socket.send_to(from.ip().to_string().as_bytes(), from);
                }
            }
        });
        Echo6 {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Echo6 {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The line a fresh IPv6 flow from the LAN host takes now (by the source the echo server
/// saw after masquerade), or `None` when it gets no answer.
fn ipv6_line(s: &Scenario) -> Option<Line> {
    let socket = s
        .lab
        .ns(Role::Lan)
        .run_in(|| UdpSocket::bind("[::]:0"))
        .unwrap()
        .unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    socket
        .send_to(b"which line?", SocketAddr::V6(ECHO_SERVER6))
        .ok()?;
    let mut buf = [0u8; 64];
    let (len, _) = socket.recv_from(&mut buf).ok()?;
    let seen: std::net::Ipv6Addr = std::str::from_utf8(&buf[..len]).ok()?.parse().ok()?;
    Line::from_addr6(seen)
}

fn wait_ipv6_via(s: &Scenario, line: Line) {
    s.wait_until(&format!("IPv6 via {line}"), RECOVERY, |s| {
        ipv6_line(s) == Some(line)
    });
}

fn active(s: &Scenario) -> Vec<String> {
    s.daemon.active().unwrap_or_default()
}

#[test]
fn ipv6_fails_over_on_its_own_and_comes_back() {
    if !root("ipv6_fails_over_on_its_own_and_comes_back") {
        return;
    }
    let mut s = Scenario::new("six", true);
    let _echo4 = s.lab.start_echo_server().unwrap();
    let _echo6 = Echo6::start(&s);
    let config = format!(
        "{}{}{}",
        two_line_config(&s.daemon.socket(), ProbeProfile::Test),
        line6("main6", Line::One),
        line6("backup6", Line::Two)
    );
    s.daemon.write_config(&config).unwrap();
    s.start_daemon();
    s.wait_until("main and main6 active", RECOVERY, |s| {
        active(s) == ["main", "main6"]
    });
    wait_ipv6_via(&s, Line::One);
    let traffic = s.lab.start_traffic(TrafficConfig::default()).unwrap();
    s.wait_traffic_via(&traffic, Line::One, traffic.origin(), RECOVERY);

    // IPv6 dies beyond main; IPv4 on main is fine.
    let fault_at = std::time::Instant::now();
    s.lab.inject(Fault::Blackhole6(Line::One)).unwrap();
    s.wait_until("backup6 takes IPv6, main keeps IPv4", RECOVERY, |s| {
        active(s) == ["main", "backup6"]
    });
    wait_ipv6_via(&s, Line::Two);
    let status = s.status().unwrap();
    let state = |name: &str| {
        status
            .uplinks
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.state.clone())
    };
    assert_eq!(state("main").as_deref(), Some("up"));
    assert_eq!(state("main6").as_deref(), Some("down"));
    let log = traffic.snapshot();
    assert_eq!(
        log.outage_after(uplink::lab::Flow::LongLived, fault_at),
        Some(Duration::ZERO),
        "IPv4 must not notice the IPv6 failure"
    );

    s.lab.clear(Fault::Blackhole6(Line::One)).unwrap();
    s.wait_until("main6 back", RECOVERY, |s| active(s) == ["main", "main6"]);
    wait_ipv6_via(&s, Line::One);
    let routes = s
        .lab
        .ns(Role::Router)
        .ip(&["-6", "route", "show", "table", "7700"])
        .unwrap();
    assert!(
        routes.contains(&format!("default via {} dev wan1", Line::One.gateway6())),
        "{routes}"
    );

    // A clean stop leaves no IPv6 rule or route of ours behind.
    assert!(s.stop_daemon().success());
    let router = s.lab.ns(Role::Router);
    let rules = router.ip(&["-6", "rule"]).unwrap();
    assert!(!rules.contains("proto 197"), "{rules}");
    let routes = s.owned_routes(&["-6"]);
    assert!(routes.trim().is_empty(), "{routes}");
}
