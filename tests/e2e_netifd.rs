//! End-to-end `interface = "wan"` (OpenWrt netifd names): the line's device is read from
//! the network config, and followed when the interface moves to another device (a USB
//! modem that comes back under a new name) without a restart.

#![cfg(feature = "lab")]

mod common;

use std::time::{Duration, Instant};

use common::{root, write_executable, Scenario, RECOVERY};
use uplink::lab::{two_line_config, EchoServer, Fault, Line, ProbeProfile, Role, TrafficConfig};

/// Starts the daemon with main given as netifd interface "wan" and `bin` (the test's
/// `ubus` or `hotplug-call` scripts) first on its PATH; waits until main is active.
fn start_with_wan_interface(s: &mut Scenario, bin: &std::path::Path) -> EchoServer {
    let path = format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", bin.display());
    s.daemon.set_env("PATH", &path);
    let config = two_line_config(&s.daemon.socket(), ProbeProfile::Test).replacen(
        "device = \"wan1\"",
        "interface = \"wan\"",
        1,
    );
    let echo = s.lab.start_echo_server().unwrap();
    s.daemon.write_config(&config).unwrap();
    s.start_daemon();
    s.wait_active("main", RECOVERY);
    echo
}

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
    // The long-lived flow moved to backup while wan1 was down, and keeps it.
    s.wait_fresh_via(&traffic, Line::One, moved);
    let routes = s.owned_routes(&[]);
    assert!(
        routes.contains("dev wan9") && !routes.contains("wan1"),
        "{routes}"
    );
}

/// netifd is busy (ubus hangs) just when an interface line's device vanishes: the lookup
/// runs beside the event loop, so the daemon keeps answering and acting meanwhile.
#[test]
fn a_hanging_ubus_never_stalls_the_daemon() {
    if !root("a_hanging_ubus_never_stalls_the_daemon") {
        return;
    }
    let mut s = Scenario::new("ubus", false);
    let bin = s.daemon.config().with_file_name("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let asked = bin.join("asked");
    // Answers the start-up lookup at once, then hangs (ignoring -t, as a wedged ubus would).
    let ubus = bin.join("ubus");
    let script = format!(
        "#!/bin/sh\nif [ -e {0} ]; then touch {0}.again; sleep 30; fi\ntouch {0}\necho '{{\"l3_device\": \"wan1\"}}'\n",
        asked.display()
    );
    write_executable(&ubus, &script);
    let _echo = start_with_wan_interface(&mut s, &bin);
    let log = s.daemon.log();
    assert!(log.contains("interface wan is device wan1"), "{log}");
    assert!(asked.exists(), "ubus was asked at start");
    let router = s.lab.ns(Role::Router);
    router.ip(&["link", "set", "wan1", "down"]).unwrap();
    router.ip(&["link", "set", "wan1", "name", "wan9"]).unwrap();
    // The backup takes over while ubus hangs, and status answers throughout.
    s.wait_active("backup", RECOVERY);
    // A line is looked up at most every 5 s: poll past that, until ubus has been asked again.
    let again = asked.with_extension("again");
    let until = Instant::now() + Duration::from_secs(8);
    while Instant::now() < until || !again.exists() {
        assert!(
            Instant::now() < until + RECOVERY,
            "ubus was not asked again"
        );
        let asked_at = Instant::now();
        assert!(s.status().is_some(), "{}", s.daemon.log());
        assert!(
            asked_at.elapsed() < Duration::from_secs(3),
            "status took {:?}",
            asked_at.elapsed()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let log = s.daemon.log();
    assert!(
        !log.contains("moved from device"),
        "ubus hangs, nothing moved: {log}"
    );
}

/// A line of netifd interface "wan" tells `/etc/hotplug.d/iface` scripts when it is connected
/// and disconnected, as mwan3track does, through the `hotplug-call` found on the daemon's
/// PATH (here a script that records its arguments and environment).
#[test]
fn a_netifd_line_reaches_hotplug_iface_listeners_like_mwan3() {
    if !root("a_netifd_line_reaches_hotplug_iface_listeners_like_mwan3") {
        return;
    }
    let mut s = Scenario::new("hpif", false);
    let bin = s.daemon.config().with_file_name("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let calls = bin.join("calls");
    write_executable(
        &bin.join("ubus"),
        "#!/bin/sh\necho '{\"l3_device\": \"wan1\"}'\n",
    );
    let record = "[ \"$1\" = iface ] && echo \"$ACTION $INTERFACE $DEVICE first=${FIRSTCONNECT-unset} line=${UPLINK_LINE-unset}\"";
    write_executable(
        &bin.join("hotplug-call"),
        &format!("#!/bin/sh\n{record} >> {}\nexit 0\n", calls.display()),
    );
    let _echo = start_with_wan_interface(&mut s, &bin);
    let read = || std::fs::read_to_string(&calls).unwrap_or_default();
    s.wait_until("connected sent", RECOVERY, |_| !read().is_empty());

    // Carrier loss on the main line: disconnected; back: connected, not the first time.
    s.lab.inject(Fault::Carrier(Line::One)).unwrap();
    s.wait_active("backup", RECOVERY);
    s.wait_until("disconnected sent", RECOVERY, |_| {
        read().lines().count() >= 2
    });
    s.lab.clear(Fault::Carrier(Line::One)).unwrap();
    s.wait_active("main", RECOVERY);
    s.wait_until("connected again", RECOVERY, |_| read().lines().count() >= 3);
    // The backup line has a device, no interface: it never appears.
    assert_eq!(
        read(),
        "connected wan wan1 first=1 line=unset\n\
         disconnected wan wan1 first=unset line=unset\n\
         connected wan wan1 first= line=unset\n"
    );
}
