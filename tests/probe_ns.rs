//! The ICMP prober against real kernels, inside network namespaces only.
//!
//! Topology (built fresh per test):
//! ```text
//!   a: up1 192.0.2.1/24     --- r: wan1 192.0.2.2/24       (main's default route, table 101)
//!   b: up2 198.51.100.1/24  --- r: wan2 198.51.100.2/24    (table 102)
//!   a and b both hold the target 203.0.113.100/32 on lo.
//! ```
//! r routes fwmark 0x10000/0xff0000 to table 101 and 0x20000/0xff0000 to table 102, so a
//! reply from the target proves nothing by itself: nft counters in a and b show which way
//! the probes went.

mod runtime;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use runtime::in_runtime;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use uplink::netns::{require_root, unique_prefix, Netns};
use uplink::probe::{start, ProbeEvent, ProbeOutcome, ProbeSpec};

const TARGET: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 100);
/// Held by nobody: probes to it go unanswered.
const NOWHERE: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 200);
const WAN1_SOURCE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const WAN2_SOURCE: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The three namespaces. `Arc` so a test can change `a` or `b` from inside the runtime
/// that runs in `r`; each namespace is removed when its last reference drops.
struct Lab {
    r: Arc<Netns>,
    a: Arc<Netns>,
    b: Arc<Netns>,
}

impl Lab {
    fn build(label: &str) -> Lab {
        let prefix = unique_prefix(label);
        let ns = |role: &str| Arc::new(Netns::create(&format!("{prefix}-{role}")).unwrap());
        let lab = Lab {
            r: ns("r"),
            a: ns("a"),
            b: ns("b"),
        };
        lab.connect(&lab.a, "wan1", "up1", "192.0.2");
        lab.connect(&lab.b, "wan2", "up2", "198.51.100");
        for isp in [&lab.a, &lab.b] {
            isp.ip(&["addr", "add", "203.0.113.100/32", "dev", "lo"])
                .unwrap();
            // Like a real target beyond the ISP, answer ARP only for the link's own
            // address: otherwise a probe bound to wan2 but routed by no table would still
            // reach b (the kernel assumes an unroutable destination is on the bound link)
            // and the test could not tell whether the mark did its job.
            isp.exec(&["sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1"])
                .unwrap();
        }
        lab.route_lines();
        lab.set_rp_filter(0);
        lab
    }

    /// A veth from r (`wan`, `net`.2) to `isp` (`up`, `net`.1).
    fn connect(&self, isp: &Netns, wan: &str, up: &str, net: &str) {
        let r = &self.r;
        r.ip(&[
            "link",
            "add",
            wan,
            "type",
            "veth",
            "peer",
            "name",
            up,
            "netns",
            isp.name(),
        ])
        .unwrap();
        r.ip(&["addr", "add", &format!("{net}.2/24"), "dev", wan])
            .unwrap();
        isp.ip(&["addr", "add", &format!("{net}.1/24"), "dev", up])
            .unwrap();
        r.ip(&["link", "set", wan, "up"]).unwrap();
        isp.ip(&["link", "set", up, "up"]).unwrap();
    }

    /// Per-line tables and mark rules, and main's default route through wan1 only.
    fn route_lines(&self) {
        let r = &self.r;
        r.ip(&["route", "add", "default", "via", "192.0.2.1", "dev", "wan1"])
            .unwrap();
        for (gw, dev, table, mark) in [
            ("192.0.2.1", "wan1", "101", "0x10000/0xff0000"),
            ("198.51.100.1", "wan2", "102", "0x20000/0xff0000"),
        ] {
            r.ip(&[
                "route", "add", "default", "via", gw, "dev", dev, "table", table,
            ])
            .unwrap();
            r.ip(&["rule", "add", "fwmark", mark, "lookup", table])
                .unwrap();
        }
    }

    /// Reverse-path filtering in r: 0 off, 1 strict. Set on `all` and on each device
    /// because the kernel applies the larger of the two, and a new namespace inherits the
    /// host's IPv4 settings.
    fn set_rp_filter(&self, mode: u8) {
        for conf in ["all", "default", "wan1", "wan2"] {
            let key = format!("net.ipv4.conf.{conf}.rp_filter={mode}");
            self.r.exec(&["sysctl", "-qw", &key]).unwrap();
        }
    }
}

/// Counts echo requests arriving in `ns` with a named nft counter.
fn count_echo_requests(ns: &Netns) {
    nft(ns, "add table inet probe_test");
    nft(ns, "add counter inet probe_test echo_requests");
    nft(
        ns,
        "add chain inet probe_test input { type filter hook input priority 0; policy accept; }",
    );
    nft(
        ns,
        "add rule inet probe_test input icmp type echo-request counter name echo_requests",
    );
}

/// Echo requests counted by [`count_echo_requests`] so far.
fn echo_requests(ns: &Netns) -> u64 {
    let listing = nft(ns, "list counter inet probe_test echo_requests");
    let after = listing.split("packets ").nth(1).expect("counter listing");
    after.split_whitespace().next().unwrap().parse().unwrap()
}

/// Blackholes `ns` for pings: every echo request is dropped on input.
fn drop_echo_requests(ns: &Netns) {
    nft(ns, "add table inet blackhole");
    nft(
        ns,
        "add chain inet blackhole input { type filter hook input priority -10; policy accept; }",
    );
    nft(
        ns,
        "add rule inet blackhole input icmp type echo-request drop",
    );
}

fn nft(ns: &Netns, command: &str) -> String {
    ns.exec(&["nft", command]).unwrap()
}

fn spec(line: usize, device: &str, source: Ipv4Addr, targets: Vec<Ipv4Addr>) -> ProbeSpec {
    ProbeSpec {
        line,
        device: device.into(),
        source: source.into(),
        mark: 0x10000 * (line as u32 + 1),
        ident: 0x4200 + line as u16,
        targets: targets.into_iter().map(Into::into).collect(),
        interface: None,
        resolvers: Vec::new(),
        dns_name: ".".into(),
        http_status: uplink::config::HttpStatus::Class(2),
        interval: ms(200),
        timeout: ms(1000),
    }
}

fn wan2_spec() -> ProbeSpec {
    spec(1, "wan2", WAN2_SOURCE, vec![TARGET])
}

/// Every event arriving within `span`.
async fn collect_for(rx: &mut UnboundedReceiver<ProbeEvent>, span: Duration) -> Vec<ProbeEvent> {
    let deadline = tokio::time::Instant::now() + span;
    let mut events = Vec::new();
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        events.push(event);
    }
    events
}

/// The first reply arriving within `bound`, if any.
async fn first_reply(
    rx: &mut UnboundedReceiver<ProbeEvent>,
    bound: Duration,
) -> Option<ProbeEvent> {
    let deadline = tokio::time::Instant::now() + bound;
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        if is_reply(&event) {
            return Some(event);
        }
    }
    None
}

fn is_reply(event: &ProbeEvent) -> bool {
    matches!(event.outcome, ProbeOutcome::Reply { .. })
}

/// (replies, losses) among `events` for `line` and `target`.
fn tally(events: &[ProbeEvent], line: usize, target: usize) -> (usize, usize) {
    let mine = events
        .iter()
        .filter(|e| e.line == line && e.target == target);
    let (replies, lost): (Vec<_>, Vec<_>) = mine.partition(|e| is_reply(e));
    (replies.len(), lost.len())
}

#[test]
fn probes_leave_through_their_own_line() {
    if !require_root("probes_leave_through_their_own_line") {
        return;
    }
    let lab = Lab::build("own");
    let unmarked = lab.r.ip(&["route", "get", &TARGET.to_string()]).unwrap();
    assert!(
        unmarked.contains("dev wan1"),
        "main must point at wan1: {unmarked}"
    );
    count_echo_requests(&lab.a);
    count_echo_requests(&lab.b);

    let events = in_runtime(&lab.r, || async {
        let (tx, mut rx) = unbounded_channel();
        let _prober = start(wan2_spec(), tx).unwrap();
        collect_for(&mut rx, ms(2000)).await
    });

    let (replies, _) = tally(&events, 1, 0);
    assert!(replies >= 5, "too few replies: {events:?}");
    assert!(
        events.iter().all(|e| e.line == 1 && e.target == 0),
        "{events:?}"
    );
    assert_eq!(
        echo_requests(&lab.a),
        0,
        "a wan2 probe went out through wan1"
    );
    assert!(echo_requests(&lab.b) >= replies as u64);
}

#[test]
fn blackholed_line_reports_losses_and_no_replies() {
    if !require_root("blackholed_line_reports_losses_and_no_replies") {
        return;
    }
    let lab = Lab::build("bh");
    let b = Arc::clone(&lab.b);
    let (first, dropped_at, events) = in_runtime(&lab.r, move || async move {
        let (tx, mut rx) = unbounded_channel();
        let _prober = start(wan2_spec(), tx).unwrap();
        let first = first_reply(&mut rx, ms(5000)).await;
        drop_echo_requests(&b);
        let dropped_at = Instant::now();
        (first, dropped_at, collect_for(&mut rx, ms(4000)).await)
    });

    assert!(first.is_some(), "no reply before the blackhole");
    let timeout = wan2_spec().timeout;
    let late = events
        .iter()
        .find(|e| is_reply(e) && e.at > dropped_at + timeout);
    assert!(late.is_none(), "reply through a blackhole: {late:?}");
    let lost: Vec<_> = events.iter().filter(|e| !is_reply(e)).collect();
    assert!(lost.len() >= 5, "too few losses: {events:?}");
    assert!(
        lost[0].at <= dropped_at + ms(5000),
        "loss reported late: {events:?}"
    );
}

/// Strict rp_filter checks a reply's source (the target) against the route back to it as
/// if sent from the line's address, without the probe's mark: that finds main's default
/// route via wan1, so replies arriving on wan2 are dropped. A rule sending traffic from the
/// line's address to the line's table makes the check find wan2, and replies pass.
#[test]
fn strict_rp_filter_needs_the_from_rule() {
    if !require_root("strict_rp_filter_needs_the_from_rule") {
        return;
    }
    let lab = Lab::build("rpf");
    lab.set_rp_filter(1);
    count_echo_requests(&lab.b);
    let r = Arc::clone(&lab.r);
    let (without_rule, with_rule) = in_runtime(&lab.r, move || async move {
        let (tx, mut rx) = unbounded_channel();
        let _prober = start(wan2_spec(), tx).unwrap();
        let without_rule = collect_for(&mut rx, ms(2500)).await;
        let from = WAN2_SOURCE.to_string();
        r.ip(&["rule", "add", "from", &from, "lookup", "102"])
            .unwrap();
        (without_rule, first_reply(&mut rx, ms(5000)).await)
    });

    assert!(!without_rule.iter().any(is_reply), "{without_rule:?}");
    assert!(
        !without_rule.is_empty(),
        "no losses reported without the rule"
    );
    assert!(
        echo_requests(&lab.b) > 0,
        "probes did not reach b: the test proves nothing"
    );
    assert!(with_rule.is_some(), "no reply with the from-rule in place");
}

/// Three probers at once: wan1 (two targets), and two on wan2 sharing its device and
/// address, so the kernel hands every echo reply arriving on wan2 to both of their sockets.
/// Only the identifier (and token) keeps them apart: the prober whose target never answers
/// must see no reply at all, although its neighbour gets one every 100 ms.
#[test]
fn concurrent_probers_see_only_their_own_replies() {
    if !require_root("concurrent_probers_see_only_their_own_replies") {
        return;
    }
    let lab = Lab::build("two");
    let wan1 = spec(
        0,
        "wan1",
        WAN1_SOURCE,
        vec![TARGET, Ipv4Addr::new(192, 0, 2, 1)],
    );
    let wan2 = ProbeSpec {
        interval: ms(100),
        ..spec(1, "wan2", WAN2_SOURCE, vec![TARGET])
    };
    let silent = ProbeSpec {
        mark: 0x20000,
        ..spec(2, "wan2", WAN2_SOURCE, vec![NOWHERE])
    };
    let run = ms(3000);
    let events = in_runtime(&lab.r, move || async move {
        let (tx, mut rx) = unbounded_channel();
        let _probers = [
            start(wan1, tx.clone()),
            start(wan2, tx.clone()),
            start(silent, tx),
        ]
        .map(Result::unwrap);
        collect_for(&mut rx, run).await
    });

    for (line, target, interval) in [(0, 0, 200), (0, 1, 200), (1, 0, 100)] {
        let (replies, lost) = tally(&events, line, target);
        let most = run.as_millis() as usize / interval + 2;
        let fewest = most / 2;
        assert!(
            (fewest..=most).contains(&replies),
            "line {line} target {target}: {replies} replies"
        );
        assert!(
            lost <= replies / 5,
            "line {line} target {target}: {lost} lost"
        );
    }
    let (replies, lost) = tally(&events, 2, 0);
    assert_eq!(
        replies, 0,
        "a reply to another prober was taken as this one's"
    );
    assert!(lost >= 5, "too few losses for the silent target: {lost}");
    assert!(events.iter().all(|e| e.line <= 2), "{events:?}");
}

/// Socket errors come back from `start` itself, naming the device, the step and the cause.
#[test]
fn start_reports_socket_errors_synchronously() {
    if !require_root("start_reports_socket_errors_synchronously") {
        return;
    }
    let lab = Lab::build("err");
    let (foreign, missing) = in_runtime(&lab.r, || async {
        let (tx, _rx) = unbounded_channel();
        let foreign = spec(0, "wan1", Ipv4Addr::new(192, 0, 2, 99), vec![TARGET]);
        let missing = spec(0, "nosuch0", WAN1_SOURCE, vec![TARGET]);
        let message = |spec| start(spec, tx.clone()).map(drop).unwrap_err().to_string();
        (message(foreign), message(missing))
    });

    let expected =
        "probe socket for device \"wan1\": bind to 192.0.2.99: Cannot assign requested address";
    assert!(foreign.starts_with(expected), "{foreign}");
    assert!(
        missing.starts_with("probe socket for device \"nosuch0\": bind to device:"),
        "{missing}"
    );
}

/// A line whose device is down cannot send at all: each probe is a loss (not an error that
/// ends the prober), and replies resume once the device is back.
#[test]
fn send_errors_count_as_losses_and_probing_goes_on() {
    if !require_root("send_errors_count_as_losses_and_probing_goes_on") {
        return;
    }
    let lab = Lab::build("down");
    lab.r.ip(&["link", "set", "wan2", "down"]).unwrap();
    let r = Arc::clone(&lab.r);
    let (while_down, after_up) = in_runtime(&lab.r, move || async move {
        let (tx, mut rx) = unbounded_channel();
        let _prober = start(wan2_spec(), tx).unwrap();
        let while_down = collect_for(&mut rx, ms(1000)).await;
        r.ip(&["link", "set", "wan2", "up"]).unwrap();
        // Table 102's default route went away with the link; the daemon would restore it.
        r.ip(&[
            "route",
            "replace",
            "default",
            "via",
            "198.51.100.1",
            "dev",
            "wan2",
            "table",
            "102",
        ])
        .unwrap();
        (while_down, first_reply(&mut rx, ms(5000)).await)
    });

    // Losses arrive before any timeout could pass: they are send errors.
    assert!(while_down.len() >= 3, "{while_down:?}");
    assert!(!while_down.iter().any(is_reply), "{while_down:?}");
    assert!(after_up.is_some(), "no reply after the device came back");
}

/// The runtime thread is blocked for twice the timeout (a slow nft, a busy CPU) while
/// replies are on their way (the target answers after 300 ms): they are replies, with
/// their true round-trip time, not losses.
#[cfg(feature = "lab")]
#[test]
fn replies_that_arrive_while_the_runtime_is_blocked_are_not_lost() {
    use uplink::lab::{SlowTarget, SLOW_TARGET};
    if !require_root("replies_that_arrive_while_the_runtime_is_blocked_are_not_lost") {
        return;
    }
    let lab = Lab::build("stall");
    let never = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let _slow = SlowTarget::start_in(&lab.b, ms(300), never).unwrap();
    let events = in_runtime(&lab.r, || async {
        let (tx, mut rx) = unbounded_channel();
        let _prober = start(spec(1, "wan2", WAN2_SOURCE, vec![SLOW_TARGET]), tx).unwrap();
        first_reply(&mut rx, ms(3000)).await.expect("a first reply");
        // Probes are out and their replies due within 300 ms; the only runtime thread is
        // blocked, so the prober cannot read its socket meanwhile.
        std::thread::sleep(ms(2000));
        collect_for(&mut rx, ms(100)).await
    });
    let (replies, lost) = tally(&events, 1, 0);
    assert_eq!(
        lost, 0,
        "replies read late were counted as lost: {events:?}"
    );
    assert!(replies >= 1, "{events:?}");
    for event in &events {
        if let ProbeOutcome::Reply { rtt } = event.outcome {
            assert!(rtt < ms(900), "the rtt includes the stall: {rtt:?}");
        }
    }
}
