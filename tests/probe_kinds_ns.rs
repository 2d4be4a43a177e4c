//! TCP, DNS and HTTP probes and a name lookup against real kernels in the namespace lab (no
//! daemon): they leave through the line they test, as ICMP probes do, even though the
//! router's main table points at the other line.
//!
//! The router gets main's default route via wan1, and wan2's table (102) with the rules
//! the daemon makes for a line (its mark, and its address as source); isp1 drops everything
//! it would forward to the web host, so only a probe that really leaves through wan2 gets
//! an answer.

#![cfg(feature = "lab")]

mod runtime;

use std::time::Duration;

use runtime::in_runtime;
use tokio::sync::mpsc::unbounded_channel;
use uplink::config::{HttpStatus, Target};
use uplink::lab::{Lab, LabOptions, Line, Role};
use uplink::netns::require_root;
use uplink::probe::{start, ProbeEvent, ProbeOutcome, ProbeSpec};

const MARK: u32 = 0x20000;

fn lab(label: &str) -> Lab {
    let lab = Lab::build(LabOptions {
        label: label.into(),
        rp_filter: true,
        static_routes: false,
    })
    .unwrap();
    let r = lab.ns(Role::Router);
    let ip = |args: &str| r.ip(&args.split(' ').collect::<Vec<_>>()).unwrap();
    ip("route add default via 192.0.2.1 dev wan1");
    ip("route add default via 198.51.100.1 dev wan2 table 102");
    ip("rule add fwmark 0x20000/0xff0000 lookup 102");
    // Replies to wan2's address under strict rp_filter (DESIGN: the `from` rule).
    ip("rule add from 198.51.100.2 lookup 102");
    let isp1 = lab.ns(Role::isp(Line::One));
    isp1.exec(&["nft", "add table inet probetest"]).unwrap();
    isp1.exec(&[
        "nft",
        "add chain inet probetest through { type filter hook forward priority 0; policy accept; }",
    ])
    .unwrap();
    isp1.exec(&[
        "nft",
        "add rule inet probetest through ip daddr 203.0.113.10 drop",
    ])
    .unwrap();
    lab
}

fn spec(mark: u32, targets: &[&str]) -> ProbeSpec {
    ProbeSpec {
        line: 0,
        device: "wan2".into(),
        source: Line::Two.addr().into(),
        mark,
        ident: 0x4300,
        targets: targets.iter().map(|t| Target::parse(t).unwrap()).collect(),
        interface: None,
        resolvers: vec![Line::Two.gateway().into()],
        dns_name: ".".into(),
        http_status: HttpStatus::Class(2),
        interval: Duration::from_millis(200),
        timeout: Duration::from_millis(500),
    }
}

/// The events of a prober run for 1.5 s in the router namespace.
fn run(lab: &Lab, spec: ProbeSpec) -> Vec<ProbeEvent> {
    in_runtime(lab.ns(Role::Router), move || async move {
        let (tx, mut rx) = unbounded_channel();
        let _prober = start(spec, tx).unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(1500);
        let mut events = Vec::new();
        while let Ok(Some(e)) = tokio::time::timeout_at(deadline, rx.recv()).await {
            events.push(e);
        }
        events
    })
}

fn replies(events: &[ProbeEvent], target: usize) -> usize {
    events
        .iter()
        .filter(|e| e.target == target && matches!(e.outcome, ProbeOutcome::Reply { .. }))
        .count()
}

const TARGETS: [&str; 5] = [
    "tcp://203.0.113.10:80",
    "dns://203.0.113.10",
    "http://203.0.113.10/generate_204",
    "tcp://203.0.113.10:81",
    "tcp://web.lab.test:80",
];

#[test]
fn tcp_dns_and_http_probes_leave_through_their_own_line() {
    if !require_root("tcp_dns_and_http_probes_leave_through_their_own_line") {
        return;
    }
    let lab = lab("kinds");
    let _web = lab.start_net_responders().unwrap();
    let _resolver = lab.start_isp_resolver(Line::Two).unwrap();
    let events = run(&lab, spec(MARK, &TARGETS));
    // 1.5 s at 200 ms: about 7 probes each; the name needs its lookup first.
    for (index, target) in TARGETS.iter().enumerate() {
        let answered = replies(&events, index);
        assert!(answered >= 3, "{target}: {answered} replies: {events:?}");
    }
    for e in &events {
        assert!(
            !matches!(e.outcome, ProbeOutcome::Failed(_)),
            "no failures: {e:?}"
        );
    }
}
