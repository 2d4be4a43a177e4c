use super::*;
use std::net::Ipv4Addr;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn timing(targets: usize, reliability: usize) -> Probe {
    Probe {
        targets: (0..targets as u8)
            .map(|i| Ipv4Addr::new(192, 0, 2, 100 + i).into())
            .collect(),
        reliability,
        ..Probe::default_timing()
    }
}

fn link_ok() -> Option<LinkFacts> {
    Some(LinkFacts {
        ifindex: 3,
        admin_up: true,
        carrier: true,
        addrs: vec![Ipv4Addr::new(192, 0, 2, 2).into()],
        ..LinkFacts::default()
    })
}

/// A line with a usable link and one reply from every target: up.
fn up_line(t0: Instant, targets: usize) -> LineState {
    let mut line = LineState::new(&timing(targets, 1), t0);
    assert_eq!(line.on_link(link_ok(), t0), None);
    for t in 0..targets {
        line.on_probe(t, Some(ms(10)), t0 + ms(20));
    }
    assert!(line.is_up());
    line
}

#[test]
fn first_reply_brings_a_new_line_up_at_once() {
    let t0 = Instant::now();
    let mut line = LineState::new(&timing(2, 1), t0);
    line.on_link(link_ok(), t0);
    assert!(!line.is_up());
    let change = line
        .on_probe(1, Some(ms(12)), t0 + ms(30))
        .expect("transition");
    assert!(change.up);
    assert_eq!(line.rtt(), Some(ms(12)));
}

#[test]
fn new_line_without_replies_is_down_after_down_after() {
    let t0 = Instant::now();
    let mut line = LineState::new(&timing(1, 1), t0);
    line.on_link(link_ok(), t0);
    assert_eq!(line.next_deadline(), Some(t0 + ms(2000)));
    line.on_probe(0, None, t0 + ms(1000));
    assert_eq!(line.evaluate(t0 + ms(1999)), None);
    line.evaluate(t0 + ms(2000));
    assert_eq!(line.health(), Health::Down);
    assert!(!line.is_up());
}

#[test]
fn silence_for_down_after_takes_the_line_down_with_reason() {
    let t0 = Instant::now();
    let mut line = up_line(t0, 2);
    let last = t0 + ms(20);
    assert_eq!(line.next_deadline(), Some(last + ms(2000)));
    assert_eq!(line.evaluate(last + ms(1999)), None);
    let change = line.evaluate(last + ms(2000)).expect("down");
    assert!(!change.up);
    assert_eq!(change.reason, "no reply from 2/2 targets for 2000 ms");
}

#[test]
fn one_answering_target_is_enough_with_reliability_one() {
    let t0 = Instant::now();
    let mut line = up_line(t0, 2);
    for i in 1..=10 {
        let now = t0 + ms(500 * i);
        line.on_probe(0, None, now);
        assert_eq!(line.on_probe(1, Some(ms(10)), now), None);
    }
    assert!(line.is_up());
    assert_eq!(line.loss_pct(), Some(100.0 * 10.0 / 22.0));
}

#[test]
fn reliability_two_needs_both_targets() {
    let t0 = Instant::now();
    let mut line = LineState::new(&timing(2, 2), t0);
    line.on_link(link_ok(), t0);
    line.on_probe(0, Some(ms(5)), t0 + ms(10));
    assert!(!line.is_up());
    line.on_probe(1, Some(ms(5)), t0 + ms(20));
    assert!(line.is_up());
    // Target 0 silent: down when its last reply is down_after old.
    line.on_probe(1, Some(ms(5)), t0 + ms(1500));
    assert_eq!(line.next_deadline(), Some(t0 + ms(2010)));
    assert!(!line.evaluate(t0 + ms(2010)).expect("down").up);
}

#[test]
fn down_line_needs_up_after_of_good_probes_to_return() {
    let t0 = Instant::now();
    let mut line = up_line(t0, 1);
    line.evaluate(t0 + ms(5000));
    assert!(!line.is_up());
    let back = t0 + ms(6000);
    assert_eq!(line.on_probe(0, Some(ms(9)), back), None);
    // Keep answering every 500 ms: up exactly up_after after the first good reply.
    let mut now = back;
    while now < back + ms(9500) {
        now += ms(500);
        assert_eq!(line.on_probe(0, Some(ms(9)), now), None, "at {now:?}");
    }
    assert_eq!(line.next_deadline(), Some(back + ms(10_000)));
    let change = line.evaluate(back + ms(10_000)).expect("up");
    assert!(change.up);
    assert_eq!(change.reason, "1/1 targets answering for 10000 ms");
}

#[test]
fn a_gap_during_recovery_restarts_the_up_after_wait() {
    let t0 = Instant::now();
    let mut line = up_line(t0, 1);
    line.evaluate(t0 + ms(3000));
    let back = t0 + ms(4000);
    line.on_probe(0, Some(ms(9)), back);
    // Silent for down_after: the good period ends.
    line.evaluate(back + ms(2000));
    let again = back + ms(3000);
    line.on_probe(0, Some(ms(9)), again);
    line.on_probe(0, Some(ms(9)), again + ms(1500));
    line.on_probe(0, Some(ms(9)), again + ms(3000));
    line.on_probe(0, Some(ms(9)), again + ms(4500));
    line.on_probe(0, Some(ms(9)), again + ms(6000));
    line.on_probe(0, Some(ms(9)), again + ms(7500));
    line.on_probe(0, Some(ms(9)), again + ms(9000));
    assert!(!line.is_up(), "only 9 s good since the gap");
    assert!(line.evaluate(again + ms(10_000)).expect("up").up);
}

#[test]
fn carrier_loss_is_down_at_once_and_returns_only_after_up_after() {
    let t0 = Instant::now();
    let mut line = up_line(t0, 1);
    let lost = LinkFacts {
        carrier: false,
        ..link_ok().unwrap()
    };
    let change = line.on_link(Some(lost), t0 + ms(100)).expect("down");
    assert_eq!(change.reason, "link lost carrier");
    assert_eq!(line.next_deadline(), None);
    assert_eq!(line.on_link(link_ok(), t0 + ms(200)), None);
    for i in 0..20 {
        line.on_probe(0, Some(ms(3)), t0 + ms(250 + 500 * i));
        assert!(!line.is_up(), "a flapping link must not come straight back");
    }
    assert!(line.evaluate(t0 + ms(10_250)).expect("up").up);
}

#[test]
fn link_only_line_follows_the_link() {
    let t0 = Instant::now();
    let mut line = LineState::new(&timing(0, 1), t0);
    assert!(line.on_link(link_ok(), t0).expect("up").up);
    let admin_down = LinkFacts {
        admin_up: false,
        ..link_ok().unwrap()
    };
    let change = line.on_link(Some(admin_down), t0 + ms(1)).expect("down");
    assert_eq!(change.reason, "link administratively down");
    assert!(line.on_link(link_ok(), t0 + ms(2)).expect("up").up);
    let change = line.on_link(None, t0 + ms(3)).expect("down");
    assert_eq!(change.reason, "device not found");
}

#[test]
fn address_loss_takes_the_line_down() {
    let t0 = Instant::now();
    let mut line = up_line(t0, 1);
    let no_addr = LinkFacts {
        addrs: vec![],
        ..link_ok().unwrap()
    };
    let change = line.on_link(Some(no_addr), t0 + ms(50)).expect("down");
    assert_eq!(
        change.reason,
        "no address of the line's family on the device"
    );
    assert!(!line.link_usable());
}

#[test]
fn probe_for_unknown_target_is_ignored() {
    let t0 = Instant::now();
    let mut line = up_line(t0, 1);
    assert_eq!(line.on_probe(7, Some(ms(1)), t0 + ms(30)), None);
}

#[test]
fn an_unanswered_burst_takes_the_line_down_before_down_after() {
    let t0 = Instant::now();
    let mut line = up_line(t0, 2);
    let s = t0 + ms(300);
    assert!(line.suspect(s));
    assert!(!line.suspect(s + ms(10)), "one burst at a time");
    // Replies from before the burst do not answer it.
    assert_eq!(line.next_deadline(), Some(s + ms(220)));
    assert_eq!(line.evaluate(s + ms(219)), None);
    let down = line.evaluate(s + ms(220)).expect("down");
    assert!(!down.up);
    assert_eq!(
        down.reason,
        "no reply to a burst of probes within 220 ms, sent because the LAN's traffic went unanswered"
    );
    // Replies again: back after up_after, as after any failure.
    line.on_probe(0, Some(ms(10)), s + ms(1000));
    assert!(!line.is_up());
    line.on_probe(0, Some(ms(10)), s + ms(11_000));
    assert!(line.is_up());
}

#[test]
fn one_answered_probe_of_a_burst_keeps_the_line_up() {
    let t0 = Instant::now();
    let mut line = up_line(t0, 2);
    let s = t0 + ms(300);
    assert!(line.suspect(s));
    // Most of the burst lost, one reply from one target: enough at reliability 1.
    line.on_probe(0, None, s + ms(100));
    line.on_probe(1, Some(ms(10)), s + ms(30));
    assert_eq!(line.evaluate(s + ms(500)), None);
    assert!(line.is_up());
    assert!(
        line.suspect(s + ms(600)),
        "the burst is over: another may go"
    );
}

#[test]
fn a_line_that_is_not_up_is_not_burst_probed() {
    let t0 = Instant::now();
    let mut line = LineState::new(&timing(1, 1), t0);
    line.on_link(link_ok(), t0);
    assert!(!line.suspect(t0 + ms(10)), "pending");
}
