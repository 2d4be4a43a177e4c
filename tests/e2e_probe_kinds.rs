//! Probe kinds end to end: TCP, DNS and HTTP probes and host-name targets, with the real
//! daemon in the namespace lab, the lab's own responders (HTTP and DNS on `net`'s web host,
//! a resolver at each ISP) and real LAN traffic. Each fault is one that ICMP probing alone
//! judges wrongly: an ISP that filters ICMP, a captive portal, a dead ISP resolver, names
//! that do not resolve.

#![cfg(feature = "lab")]

mod common;

use std::time::{Duration, Instant};

use common::{root, Scenario, RECOVERY};
use uplink::daemon::status::{LineStatus, TargetStatus};
use uplink::lab::{
    two_line_config_probing, Fault, Line, ProbeProfile, TrafficConfig, LAB_MISSING_NAME,
    LAB_TARGET_NAME, LAB_WEB_NAME,
};

/// How long a line must stay as it is to show a fault does not move it: several times the
/// test profile's down_after (1 s).
const HOLD: Duration = Duration::from_secs(4);

/// The daemon with both lines probing per `probe_keys`, started and waited for until main
/// is active.
fn start(label: &str, probe_keys: &str) -> Scenario {
    let mut s = Scenario::new(label, true);
    let config = two_line_config_probing(&s.daemon.socket(), ProbeProfile::Test, probe_keys);
    s.daemon.write_config(&config).unwrap();
    s.start_daemon();
    s
}

/// A scenario whose lines probe per `main_keys` and `backup_keys` (TOML lines), not yet
/// started.
fn per_line(label: &str, main_keys: &str, backup_keys: &str) -> Scenario {
    let s = Scenario::new(label, true);
    let config = two_line_config_probing(&s.daemon.socket(), ProbeProfile::Test, "@KEYS@\n")
        .replacen("@KEYS@", main_keys, 1)
        .replacen("@KEYS@", backup_keys, 1);
    s.daemon.write_config(&config).unwrap();
    s
}

fn line(s: &Scenario, name: &str) -> LineStatus {
    let status = s.status().expect("status");
    status.uplinks.into_iter().find(|l| l.name == name).unwrap()
}

fn target(s: &Scenario, name: &str, text: &str) -> TargetStatus {
    let line = line(s, name);
    line.targets.into_iter().find(|t| t.target == text).unwrap()
}

/// Asserts for `HOLD` that `name` stays up and the only active line.
fn stays_active(s: &Scenario, name: &str) {
    let start = Instant::now();
    while start.elapsed() < HOLD {
        let status = s.status().expect("status");
        for l in &status.uplinks {
            let expected = l.name == name;
            assert_eq!(l.active, expected, "{l:?}\n{}", s.daemon.log());
            if expected {
                assert_eq!(l.state, "up", "{l:?}\n{}", s.daemon.log());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// ICMP is filtered beyond main; its TCP, DNS and HTTP probes still pass, so main stays up
/// and keeps the LAN's traffic. The ICMP target on the same line shows the filter works.
/// The backup, inactive, is up by the same kinds of probes: they leave through their line.
#[test]
fn an_icmp_filtering_isp_keeps_a_line_probed_by_tcp_dns_and_http() {
    if !root("an_icmp_filtering_isp_keeps_a_line_probed_by_tcp_dns_and_http") {
        return;
    }
    let keys = "targets = [\"203.0.113.100\", \"tcp://203.0.113.10:80\", \
                \"dns://203.0.113.10\", \"http://203.0.113.10/generate_204\"]\n";
    let s = start("icmpf", keys);
    let _web = s.lab.start_net_responders().unwrap();
    let _echo = s.lab.start_echo_server().unwrap();
    s.wait_active("main", RECOVERY);
    s.wait_until("backup up by its probes", RECOVERY, |s| {
        line(s, "backup").state == "up"
    });
    let kinds: Vec<String> = line(&s, "main")
        .targets
        .into_iter()
        .map(|t| t.kind)
        .collect();
    assert_eq!(kinds, ["icmp", "tcp", "dns", "http"]);
    let traffic = s.lab.start_traffic(TrafficConfig::default()).unwrap();
    s.wait_traffic_via(&traffic, Line::One, traffic.origin(), RECOVERY);

    let fault_at = Instant::now();
    s.lab.inject(Fault::IcmpFilter(Line::One)).unwrap();
    s.wait_until("the ICMP target stops answering", RECOVERY, |s| {
        !target(s, "main", "203.0.113.100").answering
    });
    stays_active(&s, "main");
    for socket_probe in [
        "tcp://203.0.113.10:80",
        "dns://203.0.113.10",
        "http://203.0.113.10/generate_204",
    ] {
        let t = target(&s, "main", socket_probe);
        assert!(t.answering && t.error.is_none(), "{t:?}");
        assert!(t.rtt_ms.is_some(), "{t:?}");
    }
    let log = traffic.snapshot();
    assert!(
        log.all_recovered_via(Line::One, fault_at),
        "traffic stayed on wan1"
    );
}

/// A captive portal on main answers port 80 with a 302 while ICMP still passes: the HTTP
/// probe fails and says why, the ICMP probe answers; with both required, main goes down
/// and the LAN's traffic moves to the backup.
#[test]
fn a_captive_portal_fails_the_http_probe_but_not_the_icmp_probe() {
    if !root("a_captive_portal_fails_the_http_probe_but_not_the_icmp_probe") {
        return;
    }
    let keys = "targets = [\"203.0.113.100\", \"http://203.0.113.10/generate_204\"]\n\
                reliability = 2\n";
    let s = start("portal", keys);
    let _web = s.lab.start_net_responders().unwrap();
    let _portal = s.lab.start_portal(Line::One).unwrap();
    let _echo = s.lab.start_echo_server().unwrap();
    s.wait_active("main", RECOVERY);
    let traffic = s.lab.start_traffic(TrafficConfig::default()).unwrap();
    s.wait_traffic_via(&traffic, Line::One, traffic.origin(), RECOVERY);

    let fault_at = Instant::now();
    s.lab.inject(Fault::Portal(Line::One)).unwrap();
    s.wait_until("main down", RECOVERY, |s| line(s, "main").state == "down");
    s.wait_active("backup", RECOVERY);
    s.wait_traffic_via(&traffic, Line::Two, fault_at, RECOVERY);
    let http = target(&s, "main", "http://203.0.113.10/generate_204");
    let icmp = target(&s, "main", "203.0.113.100");
    assert!(!http.answering, "{http:?}");
    let why = http.error.unwrap_or_default();
    assert!(why.contains("http status 302"), "{why}");
    assert!(icmp.answering, "the portal lets ICMP through: {icmp:?}");
    // The down event names the failing probe and its kind.
    let socket = s.daemon.socket();
    let events = s.run_uplink(&["events", "--json", "--socket", socket.to_str().unwrap()]);
    let json: serde_json::Value = serde_json::from_slice(&events.stdout).expect("events JSON");
    let down = json["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "down" && e["line"] == "main")
        .expect("a down event");
    assert_eq!(
        down["evidence"]["failing"],
        serde_json::json!(["http http://203.0.113.10/generate_204"]),
        "{down}"
    );
    // The backup's HTTP probes were never intercepted.
    assert!(target(&s, "backup", "http://203.0.113.10/generate_204").answering);

    s.lab.clear(Fault::Portal(Line::One)).unwrap();
    s.wait_active("main", RECOVERY);
}

/// The ISP's resolver dies while its routing works: a dns:// probe to it fails (and says
/// why), the TCP probe beyond it keeps answering, and main keeps the traffic.
#[test]
fn a_dead_isp_resolver_fails_only_the_probe_that_asks_it() {
    if !root("a_dead_isp_resolver_fails_only_the_probe_that_asks_it") {
        return;
    }
    let gateway = Line::One.gateway();
    let keys = |resolver| format!("targets = [\"dns://{resolver}\", \"tcp://203.0.113.10:80\"]\n");
    // Each line asks its own ISP's resolver.
    let mut s = per_line("deadns", &keys(gateway), &keys(Line::Two.gateway()));
    let resolver = s.lab.start_isp_resolver(Line::One).unwrap();
    let _resolver2 = s.lab.start_isp_resolver(Line::Two).unwrap();
    let _web = s.lab.start_net_responders().unwrap();
    let _echo = s.lab.start_echo_server().unwrap();
    s.start_daemon();
    s.wait_active("main", RECOVERY);
    let dns = format!("dns://{gateway}");
    s.wait_until("the ISP resolver answers", RECOVERY, |s| {
        target(s, "main", &dns).answering
    });
    let traffic = s.lab.start_traffic(TrafficConfig::default()).unwrap();
    s.wait_traffic_via(&traffic, Line::One, traffic.origin(), RECOVERY);

    let fault_at = Instant::now();
    resolver.stop();
    s.wait_until("the dns probe fails", RECOVERY, |s| {
        let t = target(s, "main", &dns);
        !t.answering && t.error.is_some()
    });
    stays_active(&s, "main");
    // A closed port is refused (ICMP port unreachable) or, while the ISP rate-limits its
    // ICMP errors, unanswered: either way a failed probe that says so.
    let t = target(&s, "main", &dns);
    assert!(!t.answering && t.error.is_some(), "{t:?}");
    assert!(target(&s, "main", "tcp://203.0.113.10:80").answering);
    assert!(traffic.snapshot().all_recovered_via(Line::One, fault_at));
}

/// Host names resolved through each line's own resolver: names that resolve are probed
/// (ICMP and TCP), a name that does not exist is a failed probe that says NXDOMAIN, and a
/// line whose resolver does not answer is down, not a crash; the LAN's traffic stays on
/// the line that works.
#[test]
fn host_name_targets_resolve_through_the_line_and_failures_are_failed_probes() {
    if !root("host_name_targets_resolve_through_the_line_and_failures_are_failed_probes") {
        return;
    }
    let (tcp, missing) = (
        format!("tcp://{LAB_WEB_NAME}:80"),
        format!("http://{LAB_MISSING_NAME}/generate_204"),
    );
    let keys = |resolver: std::net::Ipv4Addr| {
        format!(
            "targets = [\"{LAB_TARGET_NAME}\", \"{tcp}\", \"{missing}\"]\nreliability = 2\n\
             resolvers = [\"{resolver}\"]\n"
        )
    };
    // The backup's resolver (isp2's) is never started: its lookups fail.
    let mut s = per_line(
        "names",
        &keys(Line::One.gateway()),
        &keys(Line::Two.gateway()),
    );
    let _resolver = s.lab.start_isp_resolver(Line::One).unwrap();
    let _web = s.lab.start_net_responders().unwrap();
    let _echo = s.lab.start_echo_server().unwrap();
    s.start_daemon();
    s.wait_active("main", RECOVERY);
    let traffic = s.lab.start_traffic(TrafficConfig::default()).unwrap();
    s.wait_traffic_via(&traffic, Line::One, traffic.origin(), RECOVERY);

    s.wait_until("names answer, the missing one says why", RECOVERY, |s| {
        let m = target(s, "main", &missing);
        target(s, "main", LAB_TARGET_NAME).answering
            && target(s, "main", &tcp).answering
            && m.error.as_deref().is_some_and(|e| e.contains("NXDOMAIN"))
    });
    assert!(!target(&s, "main", &missing).answering);
    // The backup's lookups go unanswered (refused, or timed out while isp2 rate-limits its
    // ICMP errors): every probe of it fails and says which name.
    s.wait_until("the backup's names fail", RECOVERY, |s| {
        line(s, "backup").targets.iter().all(|t| {
            let why = t.error.as_deref().unwrap_or_default();
            !t.answering && why.starts_with("name ")
        })
    });
    assert_eq!(line(&s, "backup").state, "down");
    stays_active(&s, "main");
    assert!(!s.daemon.exited(), "{}", s.daemon.log());
}
