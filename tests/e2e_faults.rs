//! The fault suite: faults that real routers meet and that an earlier uplink turned into
//! an outage. The real daemon in the namespace lab, real LAN traffic; each test asserts
//! that the LAN keeps (or regains) its internet through the line that works, and that no
//! working line is declared down.

#![cfg(feature = "lab")]

mod common;

use std::time::{Duration, Instant};

use common::{big_set_file, root, write_executable, Scenario, RECOVERY};
use uplink::lab::{two_line_config, Fault, Line, ProbeProfile, Role, TrafficConfig};

/// Daemon up with `config` (the two-line config, edited), traffic running.
fn running_with(label: &str, edit: impl Fn(String) -> String) -> Scenario {
    let mut s = Scenario::new(label, true);
    let config = edit(two_line_config(&s.daemon.socket(), ProbeProfile::Test));
    s.daemon.write_config(&config).unwrap();
    s.start_daemon();
    s
}

/// A line's state and reason as the daemon reports them.
fn line_state(s: &Scenario, name: &str) -> (String, String) {
    let status = s.status().expect("status");
    let line = status.uplinks.into_iter().find(|l| l.name == name).unwrap();
    (line.state, line.reason)
}

/// The log written since byte `from` (the log is appended across restarts).
fn log_since(s: &Scenario, from: usize) -> String {
    s.daemon.log().get(from..).unwrap_or_default().to_string()
}

/// A typo in the backup's gateway (not on-link): the kernel refuses that one route. Main,
/// every rule and the LAN's traffic are unaffected; the backup is down and says why.
#[test]
fn an_off_link_gateway_on_one_line_leaves_the_other_working() {
    if !root("an_off_link_gateway_on_one_line_leaves_the_other_working") {
        return;
    }
    let s = running_with("offl", |c| {
        c.replace("gateway = \"198.51.100.1\"", "gateway = \"198.18.200.1\"")
    });
    let _echo = s.lab.start_echo_server().unwrap();
    s.wait_active("main", RECOVERY);
    s.wait_until("backup refused", RECOVERY, |s| {
        let (state, reason) = line_state(s, "backup");
        state == "down" && reason.contains("refused its route")
    });
    // Two line marks, main table, two source rules, two sticky rules, active table.
    assert_eq!(s.owned_rules().len(), 8, "every rule is in place");
    let traffic = s.lab.start_traffic(TrafficConfig::default()).unwrap();
    s.wait_traffic_via(&traffic, Line::One, traffic.origin(), RECOVERY);
    let log = s.daemon.log();
    assert!(log.contains("refused its route"), "{log}");
    let config = s.daemon.config();
    let check = s.run_uplink(&["check", "-c", config.to_str().unwrap()]);
    let warned = String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "{warned}");
    assert!(
        warned.contains("uplink \"backup\": gateway 198.18.200.1 is not on-link on \"wan2\""),
        "{warned}"
    );
}

/// Main's gateway is off-link at start (the modem moved to another subnet, the router's
/// address is a /32): the backup carries the LAN at once. When the address's prefix makes
/// the gateway on-link again, main is probed, proven and takes traffic back.
#[test]
fn an_off_link_gateway_at_start_and_on_link_later() {
    if !root("an_off_link_gateway_at_start_and_on_link_later") {
        return;
    }
    let mut s = Scenario::new("offs", true);
    let router = s.lab.ns(Role::Router);
    router
        .ip(&["addr", "del", "192.0.2.2/24", "dev", "wan1"])
        .unwrap();
    router
        .ip(&["addr", "add", "192.0.2.2/32", "dev", "wan1"])
        .unwrap();
    let _echo = s.lab.start_echo_server().unwrap();
    s.start_daemon();
    s.wait_active("backup", RECOVERY);
    let traffic = s.lab.start_traffic(TrafficConfig::default()).unwrap();
    s.wait_traffic_via(&traffic, Line::Two, traffic.origin(), RECOVERY);
    let (state, reason) = line_state(&s, "main");
    assert_eq!(state, "down");
    assert!(reason.contains("refused its route"), "{reason}");

    let fixed = Instant::now();
    let router = s.lab.ns(Role::Router);
    router
        .ip(&["addr", "del", "192.0.2.2/32", "dev", "wan1"])
        .unwrap();
    router
        .ip(&["addr", "add", "192.0.2.2/24", "dev", "wan1"])
        .unwrap();
    s.wait_active("main", RECOVERY);
    s.wait_traffic_via(&traffic, Line::One, fixed, RECOVERY);
}

/// Main is dead (blackholed) and the backup carries traffic, when the backup's replies
/// stop for 0.5, 1.5 and 2.5 s. Traffic must stay on the backup (the dead main line is no
/// refuge) and the backup's connections must not be flushed.
#[test]
fn a_blip_on_the_backup_while_main_is_dead_keeps_traffic_on_the_backup() {
    if !root("a_blip_on_the_backup_while_main_is_dead_keeps_traffic_on_the_backup") {
        return;
    }
    let mut s = Scenario::new("blip", true);
    let _echo = s.start("");
    let traffic = s.lab.start_traffic(TrafficConfig::default()).unwrap();
    s.wait_traffic_via(&traffic, Line::One, traffic.origin(), RECOVERY);
    s.lab.inject(Fault::Blackhole(Line::One)).unwrap();
    s.wait_active("backup", RECOVERY);
    let failed_over = s.daemon.log().len();
    for blip in [500, 1500, 2500] {
        s.lab.inject(Fault::Blackhole(Line::Two)).unwrap();
        std::thread::sleep(Duration::from_millis(blip));
        let cleared = Instant::now();
        s.lab.clear(Fault::Blackhole(Line::Two)).unwrap();
        s.wait_traffic_via(&traffic, Line::Two, cleared, RECOVERY);
        // The backup needs up_after (3 s) to count as up again; wait for it so the
        // next blip starts from the same state.
        s.wait_active("backup", RECOVERY);
    }
    let log = log_since(&s, failed_over);
    assert!(
        !log.contains("-> main"),
        "traffic went to the dead line:\n{log}"
    );
    assert!(
        !log.contains("\"backup\": deleted"),
        "the backup's connections were flushed:\n{log}"
    );
}

/// The daemon is killed during a failover (main dead, backup carrying traffic) and
/// started again: it finds traffic on the backup and keeps it there, instead of sending it
/// to main until main's probes fail again.
#[test]
fn a_restart_during_a_failover_keeps_traffic_on_the_backup() {
    if !root("a_restart_during_a_failover_keeps_traffic_on_the_backup") {
        return;
    }
    let mut s = Scenario::new("rest", true);
    let _echo = s.start("");
    s.lab.inject(Fault::Blackhole(Line::One)).unwrap();
    s.wait_active("backup", RECOVERY);
    let traffic = s.lab.start_traffic(TrafficConfig::default()).unwrap();
    s.wait_traffic_via(&traffic, Line::Two, traffic.origin(), RECOVERY);
    s.daemon.kill();
    let before_restart = s.daemon.log().len();
    let restarted = Instant::now();
    s.start_daemon();
    s.wait_active("backup", RECOVERY);
    let log = log_since(&s, before_restart);
    assert!(log.contains("found traffic on backup"), "{log}");
    assert!(
        !log.contains("-> main"),
        "traffic went to the dead line:\n{log}"
    );
    // The restarted daemon may report before the first reply after its start: wait for
    // the flows to answer via the backup, then check none went via main meanwhile.
    s.wait_traffic_via(&traffic, Line::Two, restarted, RECOVERY);
    let snapshot = traffic.snapshot();
    assert_eq!(
        snapshot.replies_via(uplink::lab::Flow::LongLived, Line::One, restarted),
        0
    );
}

/// A reload that loads a 100k-entry set (seconds of nft work) while both lines are up:
/// probing goes on beside it, so neither line is declared down.
#[test]
fn a_reload_with_a_large_set_declares_no_line_down() {
    if !root("a_reload_with_a_large_set_declares_no_line_down") {
        return;
    }
    let mut s = Scenario::new("bigr", false);
    let file = s.daemon.config().with_file_name("big.txt");
    big_set_file(&file, 100_000, "198.18.0.1");
    let policy = format!(
        "\n[[set]]\nname = \"big\"\nfile = \"{}\"\n\n[[policy]]\nname = \"media\"\nset = \"big\"\nuplinks = [\"backup\", \"main\"]\n",
        file.display()
    );
    let _echo = s.start(&policy);
    s.wait_members(&["main"], RECOVERY);
    s.wait_until("backup up", RECOVERY, |s| line_state(s, "backup").0 == "up");
    let before = s.daemon.log().len();
    for round in 2..5 {
        big_set_file(&file, 100_000, &format!("198.18.0.{round}"));
        s.daemon.signal(libc::SIGHUP);
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until {
            for name in ["main", "backup"] {
                let (state, reason) = line_state(&s, name);
                assert_eq!(
                    state, "up",
                    "{name} declared down during a reload: {reason}"
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    s.wait_until("the last set is loaded", RECOVERY, |s| {
        let listed = s
            .lab
            .ns(Role::Router)
            .exec(&["nft", "list", "set", "inet", "uplink", "big_h"])
            .unwrap_or_default();
        listed.contains("198.18.0.4")
    });
    let log = log_since(&s, before);
    assert!(!log.contains(" down:"), "{log}");
}

/// A short soak (the 10-minute one is `uplink soak`, see BENCHMARKS.md): carrier flaps,
/// blackholes, loss and reload storms with a status request every second. The daemon stays
/// alive and answering, its status always matches the kernel, and it leaks no descriptors.
#[test]
fn a_short_soak_keeps_status_in_line_with_the_kernel() {
    if !root("a_short_soak_keeps_status_in_line_with_the_kernel") {
        return;
    }
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_uplink"));
    let report = uplink::lab::soak::run(exe, Duration::from_secs(45), |_| {}).unwrap();
    let text = report.render();
    assert!(report.alive, "{text}");
    assert_eq!(report.unanswered, 0, "{text}");
    assert!(report.mismatches.is_empty(), "{text}");
    assert!(report.compared >= 30, "{text}");
    assert!(report.fd_growth() <= 0, "{text}");
}

/// A reload that leaves the lines as they were keeps their probers (and the probes in
/// flight): no prober restarts, no line goes through "waiting for replies" again.
#[test]
fn a_reload_keeps_unchanged_lines_probing() {
    if !root("a_reload_keeps_unchanged_lines_probing") {
        return;
    }
    let mut s = Scenario::new("keep", false);
    s.daemon.set_env("RUST_LOG", "info,uplink::probe=debug");
    let _echo = s.start("");
    s.wait_until("backup up", RECOVERY, |s| line_state(s, "backup").0 == "up");
    let started = |s: &Scenario| s.daemon.log().matches("probing started").count();
    assert_eq!(started(&s), 2, "{}", s.daemon.log());
    let config = std::fs::read_to_string(s.daemon.config()).unwrap();
    s.reload(&format!(
        "# touched\n{}",
        config.replace("metric = 200", "metric = 150")
    ));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(started(&s), 2, "a prober restarted:\n{}", s.daemon.log());
    for name in ["main", "backup"] {
        assert_eq!(line_state(&s, name).0, "up");
    }
}

/// The backup (not carrying traffic) goes down while main carries it: the backup's
/// connections (inbound ones answered through it, say) are deleted when that happens, not
/// held back until the next routing change, when they could hit the line taking over.
#[test]
fn a_line_that_is_not_active_is_flushed_when_it_goes_down() {
    if !root("a_line_that_is_not_active_is_flushed_when_it_goes_down") {
        return;
    }
    let mut s = Scenario::new("fln", false);
    let _echo = s.start("");
    s.wait_until("backup up", RECOVERY, |s| line_state(s, "backup").0 == "up");
    s.lab.inject(Fault::Blackhole(Line::Two)).unwrap();
    s.wait_until("backup down", RECOVERY, |s| {
        line_state(s, "backup").0 == "down"
    });
    s.wait_until("backup's entries deleted", RECOVERY, |s| {
        s.daemon.log().contains("uplink \"backup\": deleted")
    });
    assert!(
        s.status().unwrap().uplinks[0].active,
        "main still carries traffic"
    );
}

/// `hooks_dir` and `hook_timeout_ms` take effect on reload, like every other key.
#[test]
fn a_reload_takes_a_new_hooks_directory() {
    if !root("a_reload_takes_a_new_hooks_directory") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let mut s = Scenario::new("hkrl", false);
    let _echo = s.start("");
    let dir = s.daemon.config().with_file_name("hooks.d");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let record = dir.with_file_name("hook.log");
    let hook = dir.join("10-record");
    let body = format!(
        "#!/bin/sh\necho \"$UPLINK_EVENT $UPLINK_LINE\" >> {}\n",
        record.display()
    );
    write_executable(&hook, &body);
    let config = std::fs::read_to_string(s.daemon.config()).unwrap();
    s.reload(&format!("hooks_dir = \"{}\"\n{config}", dir.display()));
    let socket = s.daemon.socket();
    let out = s.run_uplink(&["drain", "main", "--socket", socket.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.wait_until("the new directory's hook ran", RECOVERY, |_| {
        std::fs::read_to_string(&record)
            .unwrap_or_default()
            .contains("active backup")
    });
}
