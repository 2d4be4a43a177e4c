//! End-to-end `gateway = "auto"`: the main line's next hop is learned from the system's
//! default route on wan1 and followed through a DHCP renewal with a new gateway, a device
//! unplugged and plugged back, and a new address, all without restarting the daemon and
//! without leaving stale routes.

#![cfg(feature = "lab")]

mod common;

use std::net::Ipv4Addr;
use std::time::Instant;

use common::{root, Scenario, RECOVERY};
use uplink::lab::{two_line_config, Flow, Line, ProbeProfile, TrafficConfig};

const RENEWED_GATEWAY: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 254);

/// The lab with the system's default routes in `main` (as netifd would install them) and
/// the daemon running with main's gateway learned.
fn auto_scenario(label: &str) -> Scenario {
    let mut s = Scenario::new(label, true);
    s.lab.install_static_routes().unwrap();
    let config = two_line_config(&s.daemon.socket(), ProbeProfile::Test).replacen(
        &format!("gateway = \"{}\"", Line::One.gateway()),
        "gateway = \"auto\"",
        1,
    );
    assert!(config.contains("gateway = \"auto\""));
    s.daemon.write_config(&config).unwrap();
    s.start_daemon();
    s.wait_active("main", RECOVERY);
    s
}

fn wait_main_routes_via(s: &Scenario, gateway: Ipv4Addr) {
    s.wait_until(&format!("main's routes via {gateway}"), RECOVERY, |s| {
        let routes = s.owned_routes(&[]);
        routes.contains(&format!("default via {gateway} dev wan1"))
            && !routes
                .lines()
                .any(|l| l.contains("dev wan1") && !l.contains(&gateway.to_string()))
    });
}

#[test]
fn a_dhcp_renewal_with_a_new_gateway_is_followed_without_failover() {
    if !root("a_dhcp_renewal_with_a_new_gateway_is_followed_without_failover") {
        return;
    }
    let s = auto_scenario("dhc");
    let _echo = s.lab.start_echo_server().unwrap();
    wait_main_routes_via(&s, Line::One.gateway());
    let traffic = s.lab.start_traffic(TrafficConfig::default()).unwrap();
    s.wait_traffic_via(&traffic, Line::One, traffic.origin(), RECOVERY);

    let renewed = Instant::now();
    s.lab
        .renew_gateway(Line::One, Line::One.gateway(), RENEWED_GATEWAY)
        .unwrap();
    wait_main_routes_via(&s, RENEWED_GATEWAY);
    s.wait_traffic_via(&traffic, Line::One, renewed, RECOVERY);
    let log = s.daemon.log();
    assert!(
        !log.contains("uplink \"main\" down"),
        "a renewal is not a failure:\n{log}"
    );
    let gap = traffic.snapshot().outage_after(Flow::LongLived, renewed);
    println!("long-lived flow gap across the renewal: {gap:?}");
}

#[test]
fn an_unplugged_device_fails_over_and_is_taken_back_when_plugged_in() {
    if !root("an_unplugged_device_fails_over_and_is_taken_back_when_plugged_in") {
        return;
    }
    let s = auto_scenario("plg");
    let _echo = s.lab.start_echo_server().unwrap();
    let traffic = s.lab.start_traffic(TrafficConfig::default()).unwrap();
    s.wait_traffic_via(&traffic, Line::One, traffic.origin(), RECOVERY);

    let unplugged = Instant::now();
    s.lab.unplug(Line::One).unwrap();
    s.wait_active("backup", RECOVERY);
    s.wait_traffic_via(&traffic, Line::Two, unplugged, RECOVERY);
    assert!(
        !s.owned_routes(&[]).contains("wan1"),
        "{}",
        s.owned_routes(&[])
    );

    let plugged = Instant::now();
    s.lab.plug(Line::One, Line::One.gateway()).unwrap();
    s.wait_active("main", RECOVERY);
    wait_main_routes_via(&s, Line::One.gateway());
    s.wait_traffic_via(&traffic, Line::One, plugged, RECOVERY);
}

#[test]
fn a_new_address_after_a_reconnect_moves_the_source_rule() {
    if !root("a_new_address_after_a_reconnect_moves_the_source_rule") {
        return;
    }
    let s = auto_scenario("adr");
    let _echo = s.lab.start_echo_server().unwrap();
    let traffic = s.lab.start_traffic(TrafficConfig::default()).unwrap();
    s.wait_traffic_via(&traffic, Line::One, traffic.origin(), RECOVERY);

    let new_addr = Ipv4Addr::new(192, 0, 2, 3);
    let changed = Instant::now();
    s.lab
        .readdress(Line::One, Line::One.addr(), new_addr)
        .unwrap();
    s.wait_until("source rule follows the address", RECOVERY, |s| {
        let rules = s.owned_rules().join("\n");
        rules.contains(&format!("from {new_addr} lookup"))
            && !rules.contains(&format!("from {} lookup", Line::One.addr()))
    });
    s.wait_traffic_via(&traffic, Line::One, changed, RECOVERY);
    let seen = traffic
        .snapshot()
        .settled(Flow::Fresh)
        .last()
        .and_then(|r| r.seen_from);
    assert_eq!(
        seen.map(|a| *a.ip()),
        Some(new_addr),
        "masqueraded to the new address"
    );
}
