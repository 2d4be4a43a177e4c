//! End-to-end line quality: a line with 40% random loss (nft drop at its ISP) is avoided
//! when its limit is 20%, and used again once the loss stops.

#![cfg(feature = "lab")]

mod common;

use std::time::Instant;

use common::{root, Scenario, RECOVERY};
use uplink::lab::{Fault, Line, TrafficConfig};

#[test]
fn a_lossy_main_line_is_avoided_and_used_again_when_the_loss_stops() {
    if !root("a_lossy_main_line_is_avoided_and_used_again_when_the_loss_stops") {
        return;
    }
    let mut s = Scenario::new("qlt", false);
    let base = uplink::lab::two_line_config(&s.daemon.socket(), uplink::lab::ProbeProfile::Test);
    // The limit on main only: its probe table is the first one.
    let config = base.replacen(
        "up_after_ms = 3000\n",
        "up_after_ms = 3000\nmax_loss_pct = 20\nquality_window_ms = 3000\n",
        1,
    );
    assert_ne!(config, base);
    let echo = s.lab.start_echo_server().unwrap();
    s.daemon.write_config(&config).unwrap();
    s.start_daemon();
    s.wait_active("main", RECOVERY);
    let traffic = s.lab.start_traffic(TrafficConfig::default()).unwrap();

    let fault_at = Instant::now();
    s.lab.inject(Fault::Loss(Line::One, 40)).unwrap();
    s.wait_until("main degraded, backup active", RECOVERY, |s| {
        s.status().is_some_and(|st| {
            let main = &st.uplinks[0];
            let backup = &st.uplinks[1];
            main.state == "up" && main.degraded.is_some() && !main.active && backup.active
        })
    });
    s.wait_traffic_via(&traffic, Line::Two, fault_at, RECOVERY);
    let status = s.status().unwrap();
    let why = status.uplinks[0].degraded.clone().unwrap();
    assert!(why.contains("> 20%"), "{why}");
    assert!(s.daemon.log().contains("uplink \"main\" degraded: loss"));

    let cleared = Instant::now();
    s.lab.clear(Fault::Loss(Line::One, 40)).unwrap();
    s.wait_active("main", RECOVERY);
    // New connections come back to main; the long-lived one keeps backup, where it went
    // when main was degraded (sessions keep a working line).
    s.wait_fresh_via(&traffic, Line::One, cleared);
    assert!(s.status().unwrap().uplinks[0].degraded.is_none());
    assert!(s
        .daemon
        .log()
        .contains("uplink \"main\" no longer degraded"));
    drop(echo);
}

#[test]
fn a_slow_main_line_is_avoided_and_used_again_when_it_is_fast() {
    if !root("a_slow_main_line_is_avoided_and_used_again_when_it_is_fast") {
        return;
    }
    let mut s = Scenario::new("slw", true);
    let slow = s
        .lab
        .start_slow_target(Line::One, std::time::Duration::ZERO)
        .unwrap();
    let base = uplink::lab::two_line_config(&s.daemon.socket(), uplink::lab::ProbeProfile::Test);
    let targets = format!(
        "targets = [\"{}\", \"{}\"]\n",
        uplink::lab::PROBE_TARGETS[0],
        uplink::lab::PROBE_TARGETS[1]
    );
    // Main probes only the slow target, with a 100 ms limit on the mean.
    let config = base.replacen(
        &targets,
        &format!(
            "targets = [\"{}\"]\nmax_rtt_ms = 100\nquality_window_ms = 2000\n",
            uplink::lab::SLOW_TARGET
        ),
        1,
    );
    assert_ne!(config, base);
    let _echo = s.lab.start_echo_server().unwrap();
    s.daemon.write_config(&config).unwrap();
    s.start_daemon();
    s.wait_active("main", RECOVERY);

    slow.set_delay(std::time::Duration::from_millis(250));
    s.wait_active("backup", RECOVERY);
    let why = s.status().unwrap().uplinks[0].degraded.clone();
    assert!(
        why.as_deref()
            .is_some_and(|w| w.contains("mean rtt") && w.contains("> 100 ms")),
        "{why:?}"
    );
    assert_eq!(
        s.status().unwrap().uplinks[0].state,
        "up",
        "slow is not down"
    );

    slow.set_delay(std::time::Duration::ZERO);
    s.wait_active("main", RECOVERY);
}
