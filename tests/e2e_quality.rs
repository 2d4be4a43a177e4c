//! End-to-end line quality: a line with 40% random loss (nft drop at its ISP) is avoided
//! when its limit is 20%, and used again once the loss stops.

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
    s.wait_traffic_via(&traffic, Line::One, cleared, RECOVERY);
    assert!(s.status().unwrap().uplinks[0].degraded.is_none());
    assert!(s
        .daemon
        .log()
        .contains("uplink \"main\" no longer degraded"));
    drop(echo);
}
