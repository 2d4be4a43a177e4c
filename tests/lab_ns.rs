//! The namespace lab itself, driven with the classic static-route setup (no daemon): the
//! kernel fails over on ifdown by itself, and never on an upstream blackhole.
#![cfg(feature = "lab")]

use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use uplink::lab::{
    Fault, Flow, Lab, LabError, LabOptions, Line, Role, Traffic, TrafficConfig, TrafficLog,
};
use uplink::netns::require_root;

fn lab(label: &str, static_routes: bool) -> Lab {
    let opts = LabOptions {
        label: label.to_string(),
        static_routes,
        ..LabOptions::default()
    };
    Lab::build(opts).expect("build lab")
}

/// Polls `cond` on fresh snapshots until it holds or `within` has passed.
/// Waits up to `within` for both flows to recover via `line` since `since`; panics with
/// `what` and the traffic timeline from `start` when they do not.
fn expect_via(
    traffic: &Traffic,
    line: Line,
    since: Instant,
    within: Duration,
    what: &str,
    start: Instant,
) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if traffic.snapshot().all_recovered_via(line, since) {
            return;
        }
        sleep(Duration::from_millis(100));
    }
    panic!("{what}:\n{}", describe(&traffic.snapshot(), start));
}

fn describe(log: &TrafficLog, from: Instant) -> String {
    let bin = Duration::from_millis(50);
    let lines = Flow::ALL.map(|flow| format!("{flow}: {}", log.timeline_string(flow, from, bin)));
    lines.join("\n")
}

fn netns_list() -> String {
    let out = Command::new("ip").args(["netns", "list"]).output();
    String::from_utf8_lossy(&out.expect("ip netns list").stdout).into_owned()
}

#[test]
fn static_routes_fail_over_on_ifdown_and_come_back() {
    if !require_root("static_routes_fail_over_on_ifdown_and_come_back") {
        return;
    }
    let lab = lab("ifd", true);
    let _echo = lab.start_echo_server().expect("echo server");
    let traffic = lab
        .start_traffic(TrafficConfig::default())
        .expect("traffic");
    let start = traffic.origin();
    expect_via(
        &traffic,
        Line::One,
        start,
        Duration::from_secs(5),
        "no traffic via wan1",
        start,
    );

    let fault_at = Instant::now();
    lab.inject(Fault::IfDown(Line::One)).expect("inject");
    expect_via(
        &traffic,
        Line::Two,
        fault_at,
        Duration::from_secs(10),
        "no failover",
        start,
    );

    let cleared_at = Instant::now();
    lab.clear(Fault::IfDown(Line::One)).expect("clear");
    expect_via(
        &traffic,
        Line::One,
        cleared_at,
        Duration::from_secs(10),
        "static route not restored",
        start,
    );
    let log = traffic.stop();
    for flow in Flow::ALL {
        let outage = log.outage_after(flow, fault_at);
        eprintln!("ifdown wan1, static routes: {flow} outage {outage:?}");
    }
}

#[test]
fn static_routes_never_recover_from_a_blackhole() {
    if !require_root("static_routes_never_recover_from_a_blackhole") {
        return;
    }
    let lab = lab("bh", true);
    let _echo = lab.start_echo_server().expect("echo server");
    let traffic = lab
        .start_traffic(TrafficConfig::default())
        .expect("traffic");
    let start = traffic.origin();
    expect_via(
        &traffic,
        Line::One,
        start,
        Duration::from_secs(5),
        "no traffic via wan1",
        start,
    );

    let fault_at = Instant::now();
    lab.inject(Fault::Blackhole(Line::One)).expect("inject");
    // Longer than the 1 s in-flight window, so the losses are settled.
    sleep(Duration::from_secs(3));
    let log = traffic.snapshot();
    for flow in Flow::ALL {
        assert_eq!(log.outage_after(flow, fault_at), None, "{flow} recovered?");
        assert_eq!(
            log.replies_via(flow, Line::Two, fault_at),
            0,
            "{flow} via wan2?"
        );
    }

    let cleared_at = Instant::now();
    lab.clear(Fault::Blackhole(Line::One)).expect("clear");
    expect_via(
        &traffic,
        Line::One,
        cleared_at,
        Duration::from_secs(5),
        "no traffic after clear",
        start,
    );
}

#[test]
fn carrier_loss_shows_no_carrier_on_the_router() {
    if !require_root("carrier_loss_shows_no_carrier_on_the_router") {
        return;
    }
    let lab = lab("car", false);
    let router = lab.ns(Role::Router);
    let show = || router.ip(&["link", "show", "wan1"]).expect("ip link show");
    let lower_up = |text: &str| text.contains("LOWER_UP") && !text.contains("NO-CARRIER");
    assert!(lower_up(&show()), "{}", show());

    lab.inject(Fault::Carrier(Line::One)).expect("inject");
    let text = show();
    assert!(
        text.contains("NO-CARRIER") && !text.contains("LOWER_UP"),
        "{text}"
    );
    // Only the link lost its carrier: the router still has it administratively up.
    assert!(text.contains(",UP"), "{text}");

    lab.clear(Fault::Carrier(Line::One)).expect("clear");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !lower_up(&show()) && Instant::now() < deadline {
        sleep(Duration::from_millis(50));
    }
    assert!(lower_up(&show()), "{}", show());
}

#[test]
fn faults_keep_to_their_own_tables_and_options_apply() {
    if !require_root("faults_keep_to_their_own_tables_and_options_apply") {
        return;
    }
    let lab = Lab::build(LabOptions {
        label: "flt".to_string(),
        rp_filter: true,
        ..LabOptions::default()
    })
    .expect("build lab");
    let router = lab.ns(Role::Router);
    for conf in ["all", "wan1", "wan2"] {
        let key = format!("net.ipv4.conf.{conf}.rp_filter");
        let value = router.exec(&["sysctl", "-n", &key]).expect("sysctl");
        assert_eq!(value.trim(), "1", "{key}");
    }
    // No static routes asked for: the router has no default route from the lab.
    let routes = router.ip(&["route", "show", "default"]).expect("ip route");
    assert!(routes.trim().is_empty(), "{routes}");

    let isp1 = lab.ns(Role::Isp1);
    let tables = || isp1.exec(&["nft", "list", "tables"]).expect("nft list");
    lab.inject(Fault::Blackhole(Line::One)).expect("blackhole");
    lab.inject(Fault::Loss(Line::One, 30)).expect("loss");
    lab.inject(Fault::Loss(Line::One, 50))
        .expect("loss again replaces");
    lab.clear(Fault::Loss(Line::One, 0)).expect("clear loss");
    assert!(tables().contains("labblackhole"), "{}", tables());
    assert!(!tables().contains("labloss"), "{}", tables());
    lab.clear(Fault::Blackhole(Line::One))
        .expect("clear blackhole");
    lab.clear(Fault::Blackhole(Line::One))
        .expect("clearing twice is fine");
    assert!(tables().trim().is_empty(), "{}", tables());
    let invalid = lab.inject(Fault::Loss(Line::Two, 101));
    assert!(
        matches!(invalid, Err(LabError::InvalidFault(_))),
        "{invalid:?}"
    );
}

#[test]
fn drop_removes_every_namespace_and_process() {
    if !require_root("drop_removes_every_namespace_and_process") {
        return;
    }
    let lab = lab("drop", true);
    let prefix = lab.prefix().to_string();
    let listed = netns_list();
    assert!(
        lab.names()
            .iter()
            .all(|name| listed.contains(name.as_str())),
        "{listed}"
    );
    let echo = lab.start_echo_server().expect("echo server");
    let traffic = lab
        .start_traffic(TrafficConfig::default())
        .expect("traffic");
    let mut child = lab
        .ns(Role::Router)
        .command("sleep")
        .arg("30")
        .spawn()
        .expect("sleep");

    drop(lab);
    assert!(!netns_list().contains(&prefix), "{}", netns_list());
    let status = child.wait().expect("wait");
    assert!(!status.success(), "the process in the lab was not killed");
    // Threads with sockets in the deleted namespaces still stop cleanly.
    drop((traffic, echo));
}

#[test]
fn a_panic_tears_the_lab_down() {
    if !require_root("a_panic_tears_the_lab_down") {
        return;
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let result = std::panic::catch_unwind(move || {
        let lab = lab("pan", false);
        tx.send(lab.prefix().to_string()).expect("send");
        panic!("test failure inside the lab");
    });
    assert!(result.is_err());
    let prefix = rx.recv().expect("prefix");
    assert!(!netns_list().contains(&prefix), "{}", netns_list());
}
