//! End-to-end lifecycle scenarios: clean stop, crash and restart, invalid config, repair
//! of objects removed by hand, and reload.

#![cfg(feature = "lab")]

mod common;

use std::time::Duration;

use common::{root, Scenario, RECOVERY};
use uplink::lab::{two_line_config, ProbeProfile};
use uplink::lab::{Line, Role, TrafficConfig};

/// "Restored within 2 s" is a requirement; the daemon reacts to netlink and nft events,
/// so this bound is not a race.
const REPAIR: Duration = Duration::from_secs(2);

#[test]
fn f_stop_leaves_the_router_exactly_as_before() {
    if !root("f_stop_leaves_the_router_exactly_as_before") {
        return;
    }
    let mut s = Scenario::new("stop", false);
    let before = s.kernel_state();
    s.start_daemon();
    s.wait_active("main", RECOVERY);
    // Two line marks, main table, two source rules, two sticky rules, active table.
    assert_eq!(s.owned_rules().len(), 8);
    let status = s.stop_daemon();
    assert!(status.success(), "exit {status:?}\n{}", s.daemon.log());
    assert_eq!(s.kernel_state(), before);
    assert!(!s.daemon.socket().exists(), "control socket removed");
}

#[test]
fn g_sigkill_and_restart_adopts_leftovers_without_duplicates() {
    if !root("g_sigkill_and_restart_adopts_leftovers_without_duplicates") {
        return;
    }
    let mut s = Scenario::new("kill", true);
    let before = s.kernel_state();
    let _echo = s.start("");
    let rules = s.owned_rules();
    s.daemon.kill();
    assert_eq!(
        s.owned_rules(),
        rules,
        "a killed daemon leaves its objects (main still routes)"
    );
    s.start_daemon();
    s.wait_active("main", RECOVERY);
    assert_eq!(s.owned_rules(), rules, "no duplicate or stale rules");
    let routes = s.owned_routes(&[]);
    // Active, two line tables, main's serving table.
    assert_eq!(routes.lines().count(), 4, "{routes}");
    let traffic = s.lab.start_traffic(TrafficConfig::default()).unwrap();
    s.wait_traffic_via(&traffic, Line::One, traffic.origin(), RECOVERY);
    drop(traffic);
    assert!(s.stop_daemon().success());
    assert_eq!(s.kernel_state(), before);
}

#[test]
fn h_invalid_config_exits_non_zero_and_changes_nothing() {
    if !root("h_invalid_config_exits_non_zero_and_changes_nothing") {
        return;
    }
    let s = Scenario::new("bad", false);
    let before = s.kernel_state();
    let good = std::fs::read_to_string(s.daemon.config()).unwrap();
    let bad = good.replace("gateway = \"192.0.2.1\"", "gateway = \"192.0.2\"");
    s.daemon.write_config(&bad).unwrap();
    let path = s.daemon.config();
    let config = path.to_str().unwrap();
    let out = s.run_uplink(&["run", "-c", config]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("uplink \"main\": gateway \"192.0.2\""),
        "{stderr}"
    );
    let check = s.run_uplink(&["check", "-c", config]);
    assert_eq!(check.status.code(), Some(1));
    assert_eq!(s.kernel_state(), before);
    s.daemon.write_config(&good).unwrap();
    let check = s.run_uplink(&["check", "-c", config]);
    assert_eq!(check.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&check.stdout)
        .contains("table 7700: default via 192.0.2.1 dev wan1"));
}

#[test]
fn i_objects_removed_by_hand_are_restored() {
    if !root("i_objects_removed_by_hand_are_restored") {
        return;
    }
    let mut s = Scenario::new("heal", false);
    s.start_daemon();
    s.wait_active("main", RECOVERY);
    let router = s.lab.ns(Role::Router);
    router
        .ip(&["route", "del", "default", "table", "7700"])
        .unwrap();
    s.wait_until("active route restored", REPAIR, |s| {
        let r = s
            .lab
            .ns(Role::Router)
            .ip(&["route", "show", "table", "7700"])
            .unwrap();
        r.contains("via 192.0.2.1 dev wan1")
    });
    router.ip(&["rule", "del", "priority", "7990"]).unwrap();
    s.wait_until("active rule restored", REPAIR, |s| {
        s.owned_rules().len() == 8
    });
    router.exec(&["nft", "flush", "ruleset"]).unwrap();
    s.wait_until("nft table restored", REPAIR, |s| {
        let r = s
            .lab
            .ns(Role::Router)
            .exec(&["nft", "list", "ruleset"])
            .unwrap();
        r.contains("table inet uplink")
            && r.contains("oifname \"wan2\" meta nfproto ipv4 masquerade")
    });
    // Each repair is said, in the log and in the event history.
    s.wait_until("repairs logged", REPAIR, |s| {
        let log = s.daemon.log();
        log.matches("repaired: 1 of uplink's routes or rules had gone")
            .count()
            == 2
            && log.contains("repaired: nft table inet uplink was changed or removed")
    });
    let events = s.run_uplink(&["events", "--socket", s.daemon.socket().to_str().unwrap()]);
    let events = String::from_utf8_lossy(&events.stdout).into_owned();
    assert_eq!(events.matches("  repair  ").count(), 3, "{events}");
    assert!(s.stop_daemon().success());
}

#[test]
fn reload_applies_a_good_config_and_keeps_running_on_a_bad_one() {
    if !root("reload_applies_a_good_config_and_keeps_running_on_a_bad_one") {
        return;
    }
    let mut s = Scenario::new("hup", false);
    s.start_daemon();
    s.wait_active("main", RECOVERY);
    let swapped = two_line_config(&s.daemon.socket(), ProbeProfile::Test)
        .replace("metric = 100", "metric = 300");
    s.daemon.write_config(&swapped).unwrap();
    s.daemon.signal(libc::SIGHUP);
    s.wait_active("backup", RECOVERY);
    let bad = "[[uplink]]\nname = \"bad name\"\ndevice = \"x\"\n";
    s.daemon.write_config(bad).unwrap();
    s.daemon.signal(libc::SIGHUP);
    s.wait_until("reload rejected", RECOVERY, |s| {
        s.daemon
            .log()
            .contains("reload: keeping the running config")
    });
    assert!(s.status().is_some(), "still running");
    s.wait_active("backup", RECOVERY);
    assert!(s.stop_daemon().success());
}

/// Reads notify datagrams until one contains `wanted` (or panics after `within`).
fn expect_notify(
    socket: &std::os::unix::net::UnixDatagram,
    wanted: &str,
    within: Duration,
) -> String {
    let start = std::time::Instant::now();
    let mut buf = [0u8; 512];
    while start.elapsed() < within {
        if let Ok(n) = socket.recv(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if text.contains(wanted) {
                return text;
            }
        }
    }
    panic!("no {wanted} from the daemon within {within:?}");
}

#[test]
fn systemd_notify_ready_watchdog_reload_and_stop() {
    if !root("systemd_notify_ready_watchdog_reload_and_stop") {
        return;
    }
    let mut s = Scenario::new("notify", false);
    let path = s.daemon.config().with_file_name("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    s.daemon.set_env("NOTIFY_SOCKET", path.to_str().unwrap());
    s.daemon.set_env("WATCHDOG_USEC", "400000");
    s.start_daemon();
    let ready = expect_notify(&socket, "READY=1", RECOVERY);
    assert!(ready.contains("STATUS=watching 2 lines"), "{ready}");
    // Our routes are in place by the time READY=1 is sent.
    assert_eq!(s.owned_rules().len(), 8);
    expect_notify(&socket, "WATCHDOG=1", Duration::from_secs(2));
    s.daemon.signal(libc::SIGHUP);
    expect_notify(&socket, "RELOADING=1", Duration::from_secs(5));
    expect_notify(&socket, "READY=1", Duration::from_secs(5));
    s.daemon.signal(libc::SIGTERM);
    expect_notify(&socket, "STOPPING=1", Duration::from_secs(5));
}
