//! Detection beyond probing on a timer, end to end with real LAN traffic: traffic-aware
//! detection (the LAN's unanswered packets trigger a burst of probes) and flap dampening
//! (a line that keeps failing and recovering is suppressed, never to the LAN's loss).

#![cfg(feature = "lab")]

mod common;

use std::time::{Duration, Instant};

use common::{root, Scenario, RECOVERY};
use uplink::lab::{two_line_config, Fault, Line, ProbeProfile, TrafficConfig};

/// The two-line config with `keys` as both lines' probe settings instead of the test
/// profile's.
fn config_with(s: &Scenario, keys: &str) -> String {
    let test = ProbeProfile::Test;
    two_line_config(&s.daemon.socket(), test).replace(test.keys(), keys)
}

fn start(s: &mut Scenario, keys: &str) -> uplink::lab::EchoServer {
    let echo = s.lab.start_echo_server().expect("echo server");
    s.daemon.write_config(&config_with(s, keys)).unwrap();
    s.start_daemon();
    s.wait_active("main", RECOVERY);
    echo
}

#[test]
fn a_blackhole_with_lan_traffic_fails_over_before_down_after() {
    if !root("a_blackhole_with_lan_traffic_fails_over_before_down_after") {
        return;
    }
    let mut s = Scenario::new("tdet", true);
    // Slow probing: without the LAN's evidence the line would be down after 6 s.
    let keys = "interval_ms = 1000\ntimeout_ms = 1500\ndown_after_ms = 6000\nup_after_ms = 3000\n";
    let _echo = start(&mut s, keys);
    let traffic = s.lab.start_traffic(TrafficConfig::default()).unwrap();
    s.wait_traffic_via(&traffic, Line::One, traffic.origin(), RECOVERY);
    let at = Instant::now();
    s.lab.inject(Fault::Blackhole(Line::One)).unwrap();
    // Generous (the machine is shared), yet well below down_after.
    s.wait_traffic_via(&traffic, Line::Two, at, Duration::from_secs(4));
    let main = s.status().unwrap().uplinks.remove(0);
    assert_eq!(main.state, "down");
    assert!(
        main.reason
            .starts_with("no reply to a burst of probes within"),
        "{}",
        main.reason
    );
    let log = s.daemon.log();
    assert!(
        log.contains("uplink \"main\": the LAN's traffic got no answer for 300 ms: probing it now"),
        "{log}"
    );
}

#[test]
fn a_flapping_line_is_suppressed_but_never_takes_the_last_working_line() {
    if !root("a_flapping_line_is_suppressed_but_never_takes_the_last_working_line") {
        return;
    }
    let mut s = Scenario::new("damp", true);
    let _echo = start(&mut s, ProbeProfile::Test.keys());
    let traffic = s.lab.start_traffic(TrafficConfig::default()).unwrap();
    s.wait_traffic_via(&traffic, Line::One, traffic.origin(), RECOVERY);
    // Fails, answers for a moment, fails again: two flaps within the half-life.
    s.lab.inject(Fault::Blackhole(Line::One)).unwrap();
    s.wait_active("backup", RECOVERY);
    s.lab.clear(Fault::Blackhole(Line::One)).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    s.lab.inject(Fault::Blackhole(Line::One)).unwrap();
    s.wait_until("main suppressed", RECOVERY, |s| {
        s.status()
            .is_some_and(|st| st.uplinks[0].suppressed_until.is_some())
    });
    // Main recovers for good and is up by its probes, but traffic stays on the backup.
    s.lab.clear(Fault::Blackhole(Line::One)).unwrap();
    s.wait_until("main up again", RECOVERY, |s| {
        s.status().is_some_and(|st| st.uplinks[0].state == "up")
    });
    let up = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    let main = s.status().unwrap().uplinks.remove(0);
    assert!(!main.active && main.suppressed_until.is_some(), "{main:?}");
    assert!(
        !traffic.snapshot().all_recovered_via(Line::One, up),
        "traffic went back to the suppressed line"
    );
    let log = s.daemon.log();
    assert!(log.contains("uplink \"main\" suppressed until 20"), "{log}");
    let socket = s.daemon.socket();
    let table = s.run_uplink(&["status", "--socket", socket.to_str().unwrap()]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("up, suppressed"), "{table}");

    // The backup dies: the suppressed main is the only working line and carries traffic.
    let at = Instant::now();
    s.lab.inject(Fault::Blackhole(Line::Two)).unwrap();
    s.wait_traffic_via(&traffic, Line::One, at, RECOVERY);
    s.wait_active("main", RECOVERY);
    let main = s.status().unwrap().uplinks.remove(0);
    assert!(
        main.suppressed_until.is_some(),
        "still suppressed: {main:?}"
    );
}
