//! End-to-end `enabled = false`: a disabled line gets no routes, rules, nft rules or probes,
//! while the other line carries the traffic (even though the disabled one has the better
//! metric), and a policy naming both skips the disabled one.

#![cfg(feature = "lab")]

mod common;

use std::time::{Duration, Instant};

use common::{root, Scenario, RECOVERY};
use uplink::lab::{two_line_config, Line, ProbeProfile, Role, TrafficConfig};

/// Counts the router's ICMP leaving each WAN device (the probes), in a table of its own.
const COUNTERS: &str = "table inet probecount {
  chain out {
    type filter hook output priority 0;
    oifname \"wan1\" meta l4proto icmp counter
    oifname \"wan2\" meta l4proto icmp counter
  }
}
";

fn icmp_packets(s: &Scenario, device: &str) -> u64 {
    let rules = s
        .lab
        .ns(Role::Router)
        .exec(&["nft", "list", "table", "inet", "probecount"])
        .unwrap();
    let line = rules
        .lines()
        .find(|l| l.contains(&format!("\"{device}\"")))
        .unwrap_or_else(|| panic!("no counter for {device}: {rules}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "packets").expect("packets");
    words[at + 1].parse().unwrap()
}

#[test]
fn a_disabled_line_gets_nothing_while_the_other_works() {
    if !root("a_disabled_line_gets_nothing_while_the_other_works") {
        return;
    }
    let mut s = Scenario::new("off", false);
    let base = two_line_config(&s.daemon.socket(), ProbeProfile::Test);
    // `main` (wan1, metric 100) would be preferred: disable it.
    let config = base.replacen(
        "name = \"main\"\n",
        "name = \"main\"\nenabled = false\n",
        1,
    ) + "[[policy]]\nname = \"lan\"\nfrom = [\"192.168.1.0/24\"]\nuplinks = [\"main\", \"backup\"]\n";
    assert!(config.contains("enabled = false"));
    s.daemon.write_config(&config).unwrap();
    let path = s.daemon.config();
    let checked = s.run_uplink(&["check", "-c", path.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&checked.stdout);
    assert!(checked.status.success(), "{stdout}");
    assert!(stdout.contains("disabled: uplink \"main\""), "{stdout}");

    s.lab
        .ns(Role::Router)
        .exec(&["sh", "-c", &format!("printf '{COUNTERS}' | nft -f -")])
        .unwrap();
    let _echo = s.lab.start_echo_server().unwrap();
    let started = Instant::now();
    s.start_daemon();
    s.wait_active("backup", RECOVERY);
    let status = s.status().expect("status");
    let names: Vec<&str> = status.uplinks.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["backup"]);
    let traffic = s.lab.start_traffic(TrafficConfig::default()).unwrap();
    s.wait_traffic_via(&traffic, Line::Two, started, RECOVERY);

    // Probes run on wan2 and never on wan1, over several probe intervals (200 ms).
    std::thread::sleep(Duration::from_secs(2));
    assert!(icmp_packets(&s, "wan2") > 0, "backup is not probed");
    assert_eq!(icmp_packets(&s, "wan1"), 0, "the disabled line was probed");
    let routes = s.owned_routes(&[]);
    assert!(routes.contains("dev wan2"), "{routes}");
    assert!(!routes.contains("wan1"), "{routes}");
    let ours = s
        .lab
        .ns(Role::Router)
        .exec(&["nft", "list", "table", "inet", "uplink"])
        .unwrap();
    assert!(ours.contains("wan2") && !ours.contains("wan1"), "{ours}");
    // The policy's rules lead to backup's table only: one line, so one table for all rules.
    let rules = s.owned_rules();
    assert!(!rules.is_empty());
    assert!(
        s.daemon
            .log()
            .contains("policy \"lan\": skips disabled uplinks \"main\""),
        "{}",
        s.daemon.log()
    );
    s.stop_daemon();
}

/// `enabled = false` at the top: `uplink run` says so and exits 0 without touching the
/// kernel; with every line disabled it fails, also touching nothing.
#[test]
fn a_switched_off_config_runs_nothing() {
    if !root("a_switched_off_config_runs_nothing") {
        return;
    }
    let s = Scenario::new("swoff", false);
    let base = two_line_config(&s.daemon.socket(), ProbeProfile::Test);
    let before = s.kernel_state();
    let path = s.daemon.config();
    let path = path.to_str().unwrap();
    let no_lines = base.replace(
        "masquerade = true\n",
        "masquerade = true\nenabled = false\n",
    );
    for (config, code, says) in [
        (format!("enabled = false\n{base}"), 0, "switched off"),
        (no_lines, 1, "every uplink is disabled"),
    ] {
        s.daemon.write_config(&config).unwrap();
        let ran = s.run_uplink(&["run", "-c", path]);
        let stderr = String::from_utf8_lossy(&ran.stderr);
        assert_eq!(ran.status.code(), Some(code), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        let checked = s.run_uplink(&["check", "-c", path]);
        assert_eq!(checked.status.code(), Some(3));
        assert_eq!(s.kernel_state(), before);
        assert!(!s.daemon.socket().exists());
    }
}

/// A reload into a switched-off config keeps the running one (the init script's `reload`
/// stops the service instead), and says so.
#[test]
fn a_reload_into_a_switched_off_config_keeps_running() {
    if !root("a_reload_into_a_switched_off_config_keeps_running") {
        return;
    }
    let mut s = Scenario::new("rloff", false);
    let base = two_line_config(&s.daemon.socket(), ProbeProfile::Test);
    let _echo = s.lab.start_echo_server().unwrap();
    s.start_daemon();
    s.wait_active("main", RECOVERY);
    s.daemon
        .write_config(&format!("enabled = false\n{base}"))
        .unwrap();
    s.daemon.signal(libc::SIGHUP);
    s.wait_until("reload refused", RECOVERY, |s| {
        s.daemon
            .log()
            .contains("reload: keeping the running config: uplink is switched off")
    });
    s.wait_active("main", RECOVERY);
    assert!(s.owned_routes(&[]).contains("dev wan1"));
    s.stop_daemon();
}
