use std::time::Duration;

use super::*;
use crate::daemon::status::{LineStatus, TargetStatus};

fn status() -> Status {
    let target = |t: &str, loss: Option<f64>| TargetStatus {
        target: t.into(),
        kind: "icmp".into(),
        error: None,
        answering: loss.is_some_and(|l| l < 100.0),
        last_rtt_ms: None,
        rtt_ms: None,
        jitter_ms: None,
        loss_pct: loss,
    };
    let line = LineStatus {
        name: "main".into(),
        device: "pppoe-wan".into(),
        interface: Some("wan".into()),
        family: "ipv4".into(),
        state: "up".into(),
        active: true,
        drained: false,
        rtt_ms: Some(12.0),
        loss_pct: Some(0.0),
        since: "2026-12-01T10:00:00Z".into(),
        state_secs: 5,
        reason: "2/2 targets answering".into(),
        degraded: None,
        suppressed_until: None,
        flap_penalty: None,
        gateway: None,
        transitions: 1,
        downtime_secs: 7,
        connections: Some(42),
        targets: vec![target("192.0.2.1", Some(25.0)), target("x\"y", None)],
    };
    Status {
        uplinks: vec![line],
        policies: Vec::new(),
        drained: Vec::new(),
    }
}

#[test]
fn gauges_follow_the_status() {
    let text = render(&status(), &Counters::default());
    for expected in [
        "uplink_line_up{line=\"main\",device=\"pppoe-wan\",family=\"ipv4\"} 1",
        "uplink_line_active{line=\"main\",family=\"ipv4\"} 1",
        "uplink_line_degraded{line=\"main\"} 0",
        "uplink_line_downtime_seconds_total{line=\"main\"} 7",
        "uplink_line_connections{line=\"main\"} 42",
        "uplink_probe_loss_ratio{line=\"main\",target=\"192.0.2.1\",kind=\"icmp\"} 0.25",
        "uplink_probe_answering{line=\"main\",target=\"x\\\"y\",kind=\"icmp\"} 0",
        "uplink_switches_total{family=\"ipv6\"} 0",
        "uplink_reloads_total{result=\"error\"} 0",
    ] {
        assert!(text.contains(expected), "{expected}\n{text}");
    }
    // No count yet: no connections family at all.
    let mut uncounted = status();
    uncounted.uplinks[0].connections = None;
    let text2 = render(&uncounted, &Counters::default());
    assert!(!text2.contains("uplink_line_connections"), "{text2}");
    // No loss figure before the first probe: absent, not zero.
    assert!(!text.contains("uplink_probe_loss_ratio{line=\"main\",target=\"x"));
}

#[test]
fn counters_and_histograms_accumulate() {
    let mut counters = Counters::default();
    counters.transition("main", false);
    counters.transition("main", false);
    counters.switch("ipv4");
    counters.reload(true);
    counters.driver_error("nft");
    for ms in [3, 15, 15, 700, 9000] {
        counters.rtt("main", "192.0.2.1", Duration::from_millis(ms));
    }
    let text = render(&status(), &counters);
    for expected in [
        "uplink_line_transitions_total{line=\"main\",state=\"down\"} 2",
        "uplink_switches_total{family=\"ipv4\"} 1",
        "uplink_reloads_total{result=\"ok\"} 1",
        "uplink_driver_errors_total{kind=\"nft\"} 1",
        "uplink_probe_rtt_seconds_bucket{line=\"main\",target=\"192.0.2.1\",le=\"0.005\"} 1",
        "uplink_probe_rtt_seconds_bucket{line=\"main\",target=\"192.0.2.1\",le=\"0.02\"} 3",
        "uplink_probe_rtt_seconds_bucket{line=\"main\",target=\"192.0.2.1\",le=\"1\"} 4",
        "uplink_probe_rtt_seconds_bucket{line=\"main\",target=\"192.0.2.1\",le=\"+Inf\"} 5",
        "uplink_probe_rtt_seconds_count{line=\"main\",target=\"192.0.2.1\"} 5",
    ] {
        assert!(text.contains(expected), "{expected}\n{text}");
    }
    counters.retain_targets(|_, target| target != "192.0.2.1");
    let text = render(&status(), &counters);
    assert!(text.contains("uplink_probe_rtt_seconds_count{line=\"main\",target=\"192.0.2.1\"} 0"));
}

#[test]
fn every_family_has_help_and_type_once() {
    let text = render(&status(), &Counters::default());
    let types: Vec<&str> = text.lines().filter(|l| l.starts_with("# TYPE")).collect();
    let mut names: Vec<&str> = types.iter().map(|l| l.split(' ').nth(2).unwrap()).collect();
    let count = names.len();
    names.dedup();
    assert_eq!(names.len(), count, "{types:?}");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("# HELP")).count(),
        count
    );
}
