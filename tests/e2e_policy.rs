//! End-to-end policies and manual control: two LAN hosts, one pinned to the backup line
//! with fallback to main; drain and undrain; a strict policy that must never leak.

#![cfg(feature = "lab")]

mod common;

use std::time::{Duration, Instant};

use common::{big_set_file, root, write_executable, Scenario, RECOVERY};
use uplink::lab::{two_line_config, Fault, Flow, Line, ProbeProfile, Role, TrafficConfig};

const SPEAKER: &str =
    "\n[[policy]]\nname = \"speaker\"\nfrom = [\"198.18.1.3\"]\nuplinks = [\"backup\", \"main\"]\n";

fn with_policy(s: &Scenario, policy: &str) {
    let base = two_line_config(&s.daemon.socket(), ProbeProfile::Test);
    s.daemon.write_config(&format!("{base}{policy}")).unwrap();
}

/// Traffic from a LAN host; each host's long-lived flow has its own source port (41000 for
/// the first host, 42000 for the second) so conntrack entries can be told apart.
fn traffic_from(s: &Scenario, host: Role) -> uplink::lab::Traffic {
    let cfg = TrafficConfig {
        from: host,
        long_lived_port: if host == Role::Lan2 { 42000 } else { 41000 },
        ..TrafficConfig::default()
    };
    s.lab.start_traffic(cfg).unwrap()
}

#[test]
fn pinned_host_uses_backup_falls_back_to_main_and_returns() {
    if !root("pinned_host_uses_backup_falls_back_to_main_and_returns") {
        return;
    }
    let mut s = Scenario::new("pol", true);
    let _echo = s.start(SPEAKER);
    let a = traffic_from(&s, Role::Lan);
    let b = traffic_from(&s, Role::Lan2);
    s.wait_traffic_via(&a, Line::One, a.origin(), RECOVERY);
    s.wait_traffic_via(&b, Line::Two, b.origin(), RECOVERY);

    let fault_at = Instant::now();
    s.lab.inject(Fault::Carrier(Line::Two)).unwrap();
    s.wait_traffic_via(&b, Line::One, fault_at, RECOVERY);
    let log_a = a.snapshot();
    for flow in Flow::ALL {
        let gap = log_a.outage_after(flow, fault_at);
        assert_eq!(
            gap,
            Some(Duration::ZERO),
            "host A ({flow}) must not notice the backup failing"
        );
        assert_eq!(log_a.line_at_end(flow), Some(Line::One));
    }

    let cleared = Instant::now();
    s.lab.clear(Fault::Carrier(Line::Two)).unwrap();
    // New connections return to backup; the long-lived flow, re-created on main during
    // backup's outage, keeps main (a session keeps its line while it works).
    s.wait_fresh_via(&b, Line::Two, cleared);
    assert!(
        s.daemon
            .log()
            .contains("policy \"speaker\": main -> backup"),
        "{}",
        s.daemon.log()
    );
}

/// Drain and undrain move fresh flows (new connections) without losing a packet; the
/// long-lived flow (an existing connection) keeps its line through both, and only
/// `drain --now` moves it; undrain does not pull it back.
#[test]
fn drain_and_undrain_move_traffic_without_loss_for_fresh_flows() {
    if !root("drain_and_undrain_move_traffic_without_loss_for_fresh_flows") {
        return;
    }
    let mut s = Scenario::new("drain", false);
    let _echo = s.start("");
    let a = traffic_from(&s, Role::Lan);
    s.wait_traffic_via(&a, Line::One, a.origin(), RECOVERY);
    let socket = s.daemon.socket();
    let socket = socket.to_str().unwrap();

    let drained_at = Instant::now();
    let out = s.run_uplink(&["drain", "main", "--socket", socket]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.wait_flow_via(&a, Flow::Fresh, Line::Two, drained_at);
    let main = s.status().unwrap().uplinks.remove(0);
    assert!(
        main.drained && !main.active && main.state == "up",
        "{main:?}"
    );

    let undrained_at = Instant::now();
    assert!(s
        .run_uplink(&["undrain", "main", "--socket", socket])
        .status
        .success());
    s.wait_flow_via(&a, Flow::Fresh, Line::One, undrained_at);
    // Fresh flows never lost a packet across both moves, and the long-lived flow never
    // left main nor lost a packet.
    let log = a.snapshot();
    for flow in Flow::ALL {
        let gaps = log.gaps(flow, drained_at);
        assert!(gaps.is_empty(), "{flow}: {gaps:?}");
    }
    assert_eq!(log.replies_via(Flow::LongLived, Line::Two, drained_at), 0);
    assert_eq!(log.line_at_end(Flow::LongLived), Some(Line::One));

    // drain --now moves the existing connections too; undrain does not pull them back
    // (backup keeps the long-lived flow while it works), only fresh flows return.
    let now_at = Instant::now();
    let out = s.run_uplink(&["drain", "main", "--now", "--socket", socket]);
    assert!(out.status.success(), "{out:?}");
    s.wait_traffic_via(&a, Line::Two, now_at, RECOVERY);
    let back_at = Instant::now();
    assert!(s
        .run_uplink(&["undrain", "main", "--socket", socket])
        .status
        .success());
    s.wait_flow_via(&a, Flow::Fresh, Line::One, back_at);
    std::thread::sleep(Duration::from_secs(2));
    let log = a.snapshot();
    assert!(log.gaps(Flow::Fresh, back_at).is_empty());
    assert!(log.recovered_via(Flow::LongLived, Line::Two, back_at));
    assert_eq!(log.replies_via(Flow::LongLived, Line::One, back_at), 0);

    let out = s.run_uplink(&["drain", "lte", "--socket", socket]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown uplink \"lte\""));

    // Draining every line is allowed, but said out loud.
    s.run_uplink(&["drain", "main", "--socket", socket]);
    let out = s.run_uplink(&["drain", "backup", "--socket", socket]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("warning: every line is drained"), "{said}");
}

#[test]
fn unreachable_fallback_never_leaks_through_another_line() {
    if !root("unreachable_fallback_never_leaks_through_another_line") {
        return;
    }
    let mut s = Scenario::new("strict", false);
    let strict = SPEAKER.replace(
        "uplinks = [\"backup\", \"main\"]",
        "uplinks = [\"backup\"]\nfallback = \"unreachable\"",
    );
    let _echo = s.start(&strict);
    let b = traffic_from(&s, Role::Lan2);
    s.wait_traffic_via(&b, Line::Two, b.origin(), RECOVERY);

    let fault_at = Instant::now();
    s.lab.inject(Fault::Blackhole(Line::Two)).unwrap();
    s.wait_until("backup down", RECOVERY, |s| {
        s.status().is_some_and(|st| st.uplinks[1].state == "down")
    });
    std::thread::sleep(Duration::from_secs(2));
    let log = b.snapshot();
    for flow in Flow::ALL {
        assert_eq!(
            log.replies_via(flow, Line::One, fault_at),
            0,
            "{flow} leaked via main"
        );
    }
    let route = s
        .lab
        .ns(Role::Router)
        .ip(&["route", "show", "table", "7740"])
        .unwrap();
    assert!(route.contains("unreachable default"), "{route}");
}

/// A UDP responder at `addr`:`port` in `role`'s namespace; `reply` makes the answer from
/// the datagram and its sender.
fn udp_responder(
    s: &Scenario,
    role: Role,
    addr: &'static str,
    port: u16,
    reply: fn(&[u8], std::net::SocketAddr) -> Vec<u8>,
) -> std::thread::JoinHandle<()> {
    let socket = s
        .lab
        .ns(role)
        .run_in(move || std::net::UdpSocket::bind((addr, port)).unwrap())
        .unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        while let Ok((n, peer)) = socket.recv_from(&mut buf) {
            let _ = socket.send_to(&reply(&buf[..n], peer), peer);
        }
    })
}

#[test]
fn port_forward_on_the_backup_line_is_answered_through_it() {
    if !root("port_forward_on_the_backup_line_is_answered_through_it") {
        return;
    }
    // Strict rp_filter on the router drops the forwarded request itself (after DNAT the
    // reverse path of the client is the active line); loose mode (2) or off is needed for
    // port forwards on a non-active line, and the README says so.
    let mut s = Scenario::new("fwd", false);
    s.start_daemon();
    s.wait_active("main", RECOVERY);
    // The user's own port forward on the backup line (not uplink's business).
    let router = s.lab.ns(Role::Router);
    router.exec(&["nft", "add table ip userfwd"]).unwrap();
    let chain = "add chain ip userfwd pre { type nat hook prerouting priority dstnat; }";
    router.exec(&["nft", chain]).unwrap();
    let rule = "add rule ip userfwd pre iifname wan2 udp dport 5000 dnat to 198.18.1.2:5000";
    router.exec(&["nft", rule]).unwrap();
    let _responder = udp_responder(&s, Role::Lan, "198.18.1.2", 5000, |data, _| data.to_vec());
    // A client on the internet reaches the router's backup address.
    let answered = s
        .lab
        .ns(Role::Net)
        .run_in(|| {
            let client = std::net::UdpSocket::bind("203.0.113.10:0").unwrap();
            client
                .set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            let mut buf = [0u8; 64];
            (0..10).any(|_| {
                client.send_to(b"hello", "198.51.100.2:5000").unwrap();
                matches!(client.recv_from(&mut buf), Ok((5, _)))
            })
        })
        .unwrap();
    // The ISPs drop packets with foreign sources (BCP 38): an answer sent through main,
    // the active line, would never arrive.
    assert!(answered, "no answer through the backup line");
}

/// Conntrack entries in the router: (id, line) of each UDP entry from `sport`.
fn entry_ids(s: &Scenario, sport: u16) -> Vec<(String, String)> {
    let out = s
        .lab
        .ns(Role::Router)
        .exec(&["conntrack", "-L", "-p", "udp", "-o", "id"])
        .unwrap_or_default();
    out.lines()
        .filter(|l| l.contains(&format!("sport={sport} ")))
        .map(|l| {
            let id = l
                .split_whitespace()
                .find(|w| w.starts_with("id="))
                .unwrap_or("")
                .to_string();
            let line = if l.contains("dst=192.0.2.2 ") {
                "wan1"
            } else {
                "wan2"
            };
            (id, line.to_string())
        })
        .collect()
}

#[test]
fn failover_deletes_only_the_dead_lines_conntrack_entries() {
    if !root("failover_deletes_only_the_dead_lines_conntrack_entries") {
        return;
    }
    let mut s = Scenario::new("ctflush", false);
    let _echo = s.start(SPEAKER);
    let a = traffic_from(&s, Role::Lan);
    let b = traffic_from(&s, Role::Lan2);
    s.wait_traffic_via(&a, Line::One, a.origin(), RECOVERY);
    s.wait_traffic_via(&b, Line::Two, b.origin(), RECOVERY);
    let backup_entry = entry_ids(&s, 42000);
    assert_eq!(backup_entry.len(), 1, "{backup_entry:?}");

    let fault_at = Instant::now();
    s.lab.inject(Fault::Carrier(Line::One)).unwrap();
    s.wait_traffic_via(&a, Line::Two, fault_at, RECOVERY);
    s.wait_until("main's entries deleted", RECOVERY, |s| {
        s.daemon.log().contains("uplink \"main\": deleted")
    });
    let conntrack = s
        .lab
        .ns(Role::Router)
        .exec(&["conntrack", "-L"])
        .unwrap_or_default();
    assert!(!conntrack.contains("dst=192.0.2.2 sport=7 "), "{conntrack}");
    assert_eq!(
        entry_ids(&s, 42000),
        backup_entry,
        "the backup line's entry survived"
    );
}

#[test]
fn hooks_get_their_variables_and_a_sleeping_hook_does_not_delay_failover() {
    if !root("hooks_get_their_variables_and_a_sleeping_hook_does_not_delay_failover") {
        return;
    }
    let mut s = Scenario::new("hook", false);
    let _echo = s.lab.start_echo_server().unwrap();
    let dir = s.daemon.config().with_file_name("hooks.d");
    std::fs::create_dir_all(&dir).unwrap();
    let record = dir.with_file_name("hook.log");
    let script = |name: &str, body: String| {
        write_executable(&dir.join(name), &format!("#!/bin/sh\n{body}\n"));
    };
    script(
        "10-slow",
        "[ \"$UPLINK_LINE\" = main ] && sleep 30; true".into(),
    );
    script(
        "20-record",
        format!(
            "echo \"$UPLINK_EVENT $UPLINK_LINE $UPLINK_DEVICE $UPLINK_ACTIVE\" >> {}",
            record.display()
        ),
    );
    let base = two_line_config(&s.daemon.socket(), ProbeProfile::Test);
    let config = format!(
        "hooks_dir = \"{}\"\nhook_timeout_ms = 60000\n{base}",
        dir.display()
    );
    s.daemon.write_config(&config).unwrap();
    s.start_daemon();
    s.wait_active("main", RECOVERY);
    let a = traffic_from(&s, Role::Lan);
    s.wait_traffic_via(&a, Line::One, a.origin(), RECOVERY);

    // The slow hook is still sleeping on main's start-up events when main fails.
    let fault_at = Instant::now();
    s.lab.inject(Fault::Carrier(Line::One)).unwrap();
    s.wait_traffic_via(&a, Line::Two, fault_at, Duration::from_secs(5));
    // Events of another line are not held up by main's sleeping hook either.
    s.wait_until("backup's hook ran", Duration::from_secs(10), |_| {
        std::fs::read_to_string(&record)
            .unwrap_or_default()
            .contains("active backup wan2 backup")
    });
}

/// Which router address a UDP exchange from the LAN host to `port` was seen from.
fn seen_from(s: &Scenario, port: u16) -> String {
    s.lab
        .ns(Role::Lan)
        .run_in(move || {
            let socket = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
            socket
                .set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            let mut buf = [0u8; 64];
            for _ in 0..10 {
                socket.send_to(b"who", ("203.0.113.10", port)).unwrap();
                if let Ok((n, _)) = socket.recv_from(&mut buf) {
                    return String::from_utf8_lossy(&buf[..n]).into_owned();
                }
            }
            String::new()
        })
        .unwrap()
}

#[test]
fn port_policy_moves_only_the_matching_flow() {
    if !root("port_policy_moves_only_the_matching_flow") {
        return;
    }
    // Strict rp_filter drops the replies of marked connections on a non-active line (the
    // kernel's reverse-path lookup ignores marks unless src_valid_mark is set): documented.
    let mut s = Scenario::new("port", false);
    let _other = udp_responder(&s, Role::Net, "203.0.113.10", 9, |_, peer| {
        peer.ip().to_string().into_bytes()
    });
    let games = "\n[[policy]]\nname = \"echo\"\nproto = \"udp\"\nports = [7]\nuplinks = [\"backup\", \"main\"]\n";
    let _echo = s.start(games);
    let a = traffic_from(&s, Role::Lan);
    // UDP to port 7 matches: backup. UDP to port 9 does not: main.
    s.wait_traffic_via(&a, Line::Two, a.origin(), RECOVERY);
    assert_eq!(seen_from(&s, 9), "192.0.2.2");
    // Backup fails: the matching flow falls back to main.
    let fault_at = Instant::now();
    s.lab.inject(Fault::Carrier(Line::Two)).unwrap();
    s.wait_traffic_via(&a, Line::One, fault_at, RECOVERY);
}

#[test]
fn policy_by_a_100k_entry_set_loads_and_matches() {
    if !root("policy_by_a_100k_entry_set_loads_and_matches") {
        return;
    }
    let mut s = Scenario::new("set", false);
    let _other = s
        .lab
        .ns(Role::Net)
        .run_in(|| std::net::UdpSocket::bind("203.0.113.100:9").unwrap())
        .unwrap();
    let file = s.daemon.config().with_file_name("big.txt");
    big_set_file(&file, 100_000, "203.0.113.10");
    let policy = format!(
        "\n[[set]]\nname = \"big\"\nfile = \"{}\"\n\n[[policy]]\nname = \"media\"\nset = \"big\"\nuplinks = [\"backup\", \"main\"]\n",
        file.display()
    );
    let started = Instant::now();
    let _echo = s.start(&policy);
    eprintln!(
        "daemon with a 100k-entry set up in {} ms",
        started.elapsed().as_millis()
    );
    let listed = s
        .lab
        .ns(Role::Router)
        .exec(&["nft", "list", "set", "inet", "uplink", "big_h"])
        .unwrap();
    assert_eq!(
        listed.matches(",").count() + 1,
        100_001,
        "all entries loaded"
    );
    let a = traffic_from(&s, Role::Lan);
    s.wait_traffic_via(&a, Line::Two, a.origin(), RECOVERY);
}

#[test]
fn a_policy_added_by_reload_leaves_unrelated_traffic_alone() {
    if !root("a_policy_added_by_reload_leaves_unrelated_traffic_alone") {
        return;
    }
    let mut s = Scenario::new("reload", false);
    let _echo = s.start("");
    let a = traffic_from(&s, Role::Lan);
    let b = traffic_from(&s, Role::Lan2);
    s.wait_traffic_via(&a, Line::One, a.origin(), RECOVERY);
    s.wait_traffic_via(&b, Line::One, b.origin(), RECOVERY);

    let reloaded = Instant::now();
    with_policy(&s, SPEAKER);
    s.daemon.signal(libc::SIGHUP);
    // Host B's new connections take backup; its long-lived flow keeps main.
    s.wait_fresh_via(&b, Line::Two, reloaded);
    let log_b = b.snapshot();
    assert_eq!(log_b.replies_via(Flow::LongLived, Line::Two, reloaded), 0);
    assert_eq!(log_b.line_at_end(Flow::LongLived), Some(Line::One));
    let log = a.snapshot();
    for flow in Flow::ALL {
        assert!(
            log.gaps(flow, reloaded).is_empty(),
            "host A ({flow}) was disturbed: {:?}",
            log.gaps(flow, reloaded)
        );
        assert_eq!(log.line_at_end(flow), Some(Line::One));
    }
}
