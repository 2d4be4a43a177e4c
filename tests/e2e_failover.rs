//! End-to-end failover scenarios: the real daemon in a namespace lab, real traffic from a
//! LAN host to an echo server beyond both ISPs, faults injected at the ISPs or links.

#![cfg(feature = "lab")]

mod common;

use std::time::{Duration, Instant};

use common::{root, Scenario, RECOVERY};
use uplink::lab::{Fault, Flow, Line, Role, TrafficConfig};

/// Daemon up, main active, both flows running via main.
fn running(
    label: &str,
    rp_filter: bool,
) -> (Scenario, uplink::lab::Traffic, uplink::lab::EchoServer) {
    let mut s = Scenario::new(label, rp_filter);
    let echo = s.start("");
    let traffic = s.lab.start_traffic(TrafficConfig::default()).unwrap();
    s.wait_traffic_via(&traffic, Line::One, traffic.origin(), RECOVERY);
    (s, traffic, echo)
}

fn fails_over_on(fault: Fault, label: &str, rp_filter: bool) {
    let (s, traffic, _echo) = running(label, rp_filter);
    let at = Instant::now();
    s.lab.inject(fault).unwrap();
    s.wait_traffic_via(&traffic, Line::Two, at, RECOVERY);
    s.wait_active("backup", RECOVERY);
    let main = s.status().unwrap().uplinks.remove(0);
    assert_eq!(main.state, "down");
}

#[test]
fn a_main_interface_down_moves_traffic_to_backup() {
    if root("a_main_interface_down_moves_traffic_to_backup") {
        fails_over_on(Fault::IfDown(Line::One), "ifdn", true);
    }
}

#[test]
fn b_carrier_loss_on_main_moves_traffic_to_backup() {
    if root("b_carrier_loss_on_main_moves_traffic_to_backup") {
        fails_over_on(Fault::Carrier(Line::One), "carr", false);
    }
}

#[test]
fn b_carrier_loss_with_strict_rp_filter() {
    if root("b_carrier_loss_with_strict_rp_filter") {
        fails_over_on(Fault::Carrier(Line::One), "carrp", true);
    }
}

/// (c) upstream blackhole while the link stays up, then (d) recovery with hysteresis.
fn blackhole_and_back(label: &str, rp_filter: bool) {
    let (s, traffic, _echo) = running(label, rp_filter);
    let at = Instant::now();
    s.lab.inject(Fault::Blackhole(Line::One)).unwrap();
    s.wait_traffic_via(&traffic, Line::Two, at, RECOVERY);
    let main = s.status().unwrap().uplinks.remove(0);
    assert_eq!(main.state, "down");
    // By the probes' own lapse, or sooner by a burst the LAN's unanswered traffic set off.
    let reasons = ["no reply from 2/2 targets", "no reply to a burst of probes"];
    assert!(
        reasons.iter().any(|r| main.reason.starts_with(r)),
        "{}",
        main.reason
    );

    let cleared = Instant::now();
    s.lab.clear(Fault::Blackhole(Line::One)).unwrap();
    if rp_filter {
        // Strict filtering would drop the replies of connections kept on backup: it keeps
        // none once main is back, and the long-lived flow returns to main too.
        s.wait_traffic_via(&traffic, Line::One, cleared, RECOVERY);
    } else {
        s.wait_flow_via(&traffic, Flow::Fresh, Line::One, cleared);
    }
    s.wait_active("main", RECOVERY);
    if !rp_filter {
        // The long-lived flow, re-created on backup during the outage, keeps backup.
        std::thread::sleep(Duration::from_secs(2));
        let log = traffic.snapshot();
        assert!(log.recovered_via(Flow::LongLived, Line::Two, cleared));
        assert_eq!(log.replies_via(Flow::LongLived, Line::One, cleared), 0);
    }
    // Hysteresis: with up_after_ms = 3000, nothing goes back to main in the first 2 s.
    let log = traffic.snapshot();
    for flow in Flow::ALL {
        let early = log.records(flow).iter().any(|r| {
            r.sent_at >= cleared
                && r.sent_at < cleared + Duration::from_secs(2)
                && r.line == Some(Line::One)
        });
        assert!(!early, "{flow} flow went back to main before up_after");
    }
}

#[test]
fn c_d_upstream_blackhole_fails_over_and_returns_after_hysteresis() {
    if root("c_d_upstream_blackhole_fails_over_and_returns_after_hysteresis") {
        blackhole_and_back("bh", false);
    }
}

#[test]
fn c_d_blackhole_with_strict_rp_filter() {
    if root("c_d_blackhole_with_strict_rp_filter") {
        blackhole_and_back("bhrp", true);
    }
}

#[test]
fn e_both_lines_blackholed_keep_a_default_route() {
    if !root("e_both_lines_blackholed_keep_a_default_route") {
        return;
    }
    let (s, _traffic, _echo) = running("both", true);
    s.lab.inject(Fault::Blackhole(Line::One)).unwrap();
    s.lab.inject(Fault::Blackhole(Line::Two)).unwrap();
    s.wait_until("both lines down", RECOVERY, |s| {
        s.status()
            .is_some_and(|st| st.uplinks.iter().all(|l| l.state == "down"))
    });
    // The line that carried traffic last keeps the default route: main, or the backup if
    // main's silence was noticed first and traffic had moved there.
    let status = s.status().unwrap();
    let active: Vec<&str> = status
        .uplinks
        .iter()
        .filter(|l| l.active)
        .map(|l| l.device.as_str())
        .collect();
    assert_eq!(active.len(), 1, "{status:?}");
    let device = active[0];
    let table = s
        .lab
        .ns(Role::Router)
        .ip(&["route", "show", "table", "7700"])
        .unwrap();
    assert!(table.contains(&format!("dev {device}")), "{table}");
    // And the router itself still resolves a default route for new traffic.
    let get = s
        .lab
        .ns(Role::Router)
        .ip(&["route", "get", "203.0.113.10"])
        .unwrap();
    assert!(get.contains(&format!("dev {device}")), "{get}");
}

#[test]
fn flapping_main_link_settles_on_main_without_ping_pong() {
    if !root("flapping_main_link_settles_on_main_without_ping_pong") {
        return;
    }
    let (s, traffic, _echo) = running("flap", false);
    let fault = Fault::Carrier(Line::One);
    for _ in 0..15 {
        s.lab.inject(fault).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        s.lab.clear(fault).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    let settled = Instant::now();
    // Fresh flows end on main; the long-lived flow is alive on whichever line it was
    // re-created on (a session keeps its line).
    s.wait_fresh_via(&traffic, Line::One, settled);
    s.wait_active("main", RECOVERY);
    let log = s.daemon.log();
    let switches: Vec<&str> = log.lines().filter(|l| l.contains(" active: ")).collect();
    // Start-up (none -> main), one failover, one failback once the link stays up.
    assert_eq!(switches.len(), 3, "{}", switches.join("\n"));
}
