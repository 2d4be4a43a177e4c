//! End-to-end `interface = "wan"` (OpenWrt netifd names): the line's device is read from
//! the network config, and followed when the interface moves to another device (a USB
//! modem that comes back under a new name) without a restart.

#![cfg(feature = "lab")]

mod common;

use std::time::Instant;

use common::{root, Scenario, RECOVERY};
use uplink::lab::{two_line_config, Line, ProbeProfile, Role, TrafficConfig};

fn network_config(device: &str) -> String {
    format!("config interface 'wan'\n\toption device '{device}'\n\toption proto 'static'\n")
}

#[test]
fn a_netifd_interface_is_resolved_and_followed_to_a_new_device() {
    if !root("a_netifd_interface_is_resolved_and_followed_to_a_new_device") {
        return;
    }
    let mut s = Scenario::new("ifd", false);
    let network = s.daemon.config().with_file_name("network");
    std::fs::write(&network, network_config("wan1")).unwrap();
    s.daemon
        .set_env("UPLINK_NETIFD_NETWORK", network.to_str().unwrap());
    let config = two_line_config(&s.daemon.socket(), ProbeProfile::Test).replacen(
        "device = \"wan1\"",
        "interface = \"wan\"",
        1,
    );
    assert!(config.contains("interface = \"wan\""));
    let _echo = s.lab.start_echo_server().unwrap();
    s.daemon.write_config(&config).unwrap();
    s.start_daemon();
    s.wait_active("main", RECOVERY);
    assert!(s.daemon.log().contains("interface wan is device wan1"));
    let traffic = s.lab.start_traffic(TrafficConfig::default()).unwrap();
    s.wait_traffic_via(&traffic, Line::One, traffic.origin(), RECOVERY);

    // netifd now uses another device for "wan" (the stick re-enumerated as wan9).
    let moved = Instant::now();
    std::fs::write(&network, network_config("wan9")).unwrap();
    let router = s.lab.ns(Role::Router);
    router.ip(&["link", "set", "wan1", "down"]).unwrap();
    router.ip(&["link", "set", "wan1", "name", "wan9"]).unwrap();
    router.ip(&["link", "set", "wan9", "up"]).unwrap();
    s.wait_until("the line follows the interface to wan9", RECOVERY, |s| {
        s.daemon
            .log()
            .contains("interface wan moved from device wan1 to wan9")
    });
    s.wait_active("main", RECOVERY);
    s.wait_traffic_via(&traffic, Line::One, moved, RECOVERY);
    let routes = s.owned_routes(&[]);
    assert!(
        routes.contains("dev wan9") && !routes.contains("wan1"),
        "{routes}"
    );
}
