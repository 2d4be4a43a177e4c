//! Analysis on synthetic logs. A pattern has one character per packet, sent every
//! `interval`: `1`/`2` answered 1 ms later via that line, `?` answered by an unknown
//! source, `.` never answered.

use std::time::{Duration, Instant};

use super::{Flow, Gap, Line, PacketRecord, TrafficLog};

const MS: Duration = Duration::from_millis(1);
const TICK: Duration = Duration::from_millis(10);

fn records(t0: Instant, pattern: &str, interval: Duration) -> Vec<PacketRecord> {
    let record = |(i, c): (usize, char)| {
        let sent_at = t0 + interval * i as u32;
        let line = match c {
            '1' => Some(Line::One),
            '2' => Some(Line::Two),
            _ => None,
        };
        PacketRecord {
            seq: i as u64,
            sent_at,
            reply_at: (c != '.').then_some(sent_at + MS),
            line,
            seen_from: line.map(|l| std::net::SocketAddrV4::new(l.addr(), 1024)),
        }
    };
    pattern.chars().enumerate().map(record).collect()
}

/// A long-lived flow following `pattern`, every packet settled (taken after the last).
fn synth(pattern: &str) -> (Instant, TrafficLog) {
    let t0 = Instant::now();
    let long_lived = records(t0, pattern, TICK);
    let log = TrafficLog {
        origin: t0,
        taken_at: t0 + TICK * pattern.len() as u32,
        pending_window: Duration::ZERO,
        long_lived,
        fresh: Vec::new(),
    };
    (t0, log)
}

fn at(t0: Instant, packet: u32) -> Instant {
    t0 + TICK * packet
}

#[test]
fn outage_runs_from_fault_to_first_reply_of_final_run() {
    let (t0, log) = synth("1111....2222");
    // Fault just before packet 4; packet 8 (sent at 80 ms) is answered at 81 ms.
    let outage = log.outage_after(Flow::LongLived, at(t0, 4) - MS);
    assert_eq!(outage, Some(TICK * 4 + MS * 2));
}

#[test]
fn fault_that_interrupts_nothing_is_a_zero_outage() {
    let (t0, log) = synth("11111111");
    assert_eq!(
        log.outage_after(Flow::LongLived, at(t0, 3)),
        Some(Duration::ZERO)
    );
}

#[test]
fn flow_dead_at_the_end_never_recovered() {
    let (t0, log) = synth("1111......");
    assert_eq!(log.outage_after(Flow::LongLived, at(t0, 4)), None);
    let (t0, silent) = synth("....");
    assert_eq!(silent.outage_after(Flow::LongLived, t0), None);
}

#[test]
fn nothing_sent_after_the_fault_tells_nothing() {
    let (t0, log) = synth("1111");
    assert_eq!(log.outage_after(Flow::LongLived, at(t0, 10)), None);
}

#[test]
fn single_losses_after_recovery_are_forgiven_by_default_only() {
    let (t0, log) = synth("1111....22.222.22");
    let fault = at(t0, 4);
    assert_eq!(
        log.outage_after(Flow::LongLived, fault),
        Some(TICK * 4 + MS)
    );
    let strict = log.outage_after_with(Flow::LongLived, fault, 0);
    assert_eq!(strict, Some(TICK * 11 + MS));
}

#[test]
fn a_second_outage_after_recovery_extends_the_first() {
    let (t0, log) = synth("11....22..2222");
    assert_eq!(
        log.outage_after(Flow::LongLived, at(t0, 2)),
        Some(TICK * 8 + MS)
    );
}

#[test]
fn a_trailing_single_loss_does_not_end_the_run() {
    let (t0, log) = synth("11..222.");
    assert_eq!(
        log.outage_after(Flow::LongLived, at(t0, 2)),
        Some(TICK * 2 + MS)
    );
    assert_eq!(log.outage_after_with(Flow::LongLived, at(t0, 2), 0), None);
}

#[test]
fn packets_still_in_flight_are_not_losses() {
    let (t0, mut log) = synth("11..222...");
    // Taken 5 ms after the last packet, with a 1 s window: the last three are in flight.
    log.taken_at = at(t0, 9) + MS * 5;
    log.pending_window = Duration::from_secs(1);
    // Packets 2 and 3 are settled (lost) because packet 4 was answered after them.
    assert_eq!(log.settled(Flow::LongLived).len(), 7);
    assert_eq!(
        log.outage_after(Flow::LongLived, at(t0, 2)),
        Some(TICK * 2 + MS)
    );
    assert_eq!(log.gaps(Flow::LongLived, t0).len(), 1);
}

#[test]
fn line_at_end_needs_agreeing_last_replies() {
    assert_eq!(
        synth("111122222222222").1.line_at_end(Flow::LongLived),
        Some(Line::Two)
    );
    assert_eq!(
        synth("....22").1.line_at_end(Flow::LongLived),
        Some(Line::Two)
    );
    // Fewer replies than LINE_AT_END_REPLIES: all of them must agree.
    assert_eq!(synth("1....22").1.line_at_end(Flow::LongLived), None);
    assert_eq!(synth("2222222221").1.line_at_end(Flow::LongLived), None);
    assert_eq!(synth("2222?").1.line_at_end(Flow::LongLived), None);
    assert_eq!(synth("....").1.line_at_end(Flow::LongLived), None);
    assert_eq!(synth("1111").1.line_at_end(Flow::Fresh), None);
}

#[test]
fn replies_via_counts_since() {
    let (t0, log) = synth("1111..22.2");
    assert_eq!(log.replies_via(Flow::LongLived, Line::One, t0), 4);
    assert_eq!(log.replies_via(Flow::LongLived, Line::One, at(t0, 2)), 2);
    assert_eq!(log.replies_via(Flow::LongLived, Line::Two, t0), 3);
}

#[test]
fn recovered_via_wants_replies_line_and_life_at_the_end() {
    let (t0, back) = synth("1111....2222222222222");
    assert!(back.recovered_via(Flow::LongLived, Line::Two, at(t0, 4)));
    assert!(!back.recovered_via(Flow::LongLived, Line::One, at(t0, 4)));
    let (t0, dead_again) = synth("1111....22222222222.....");
    assert!(!dead_again.recovered_via(Flow::LongLived, Line::Two, at(t0, 4)));
}

#[test]
fn gaps_list_runs_of_losses() {
    let (t0, log) = synth("11..1...2.");
    let gaps = log.gaps(Flow::LongLived, t0);
    let expected = [
        Gap {
            first_sent: at(t0, 2),
            last_sent: at(t0, 3),
            lost: 2,
            resumed_at: Some(at(t0, 4) + MS),
        },
        Gap {
            first_sent: at(t0, 5),
            last_sent: at(t0, 7),
            lost: 3,
            resumed_at: Some(at(t0, 8) + MS),
        },
        Gap {
            first_sent: at(t0, 9),
            last_sent: at(t0, 9),
            lost: 1,
            resumed_at: None,
        },
    ];
    assert_eq!(gaps, expected);
    assert_eq!(gaps[1].duration(), Some(TICK * 3 + MS));
    assert_eq!(log.last_gap(Flow::LongLived, at(t0, 4)), Some(expected[2]));
}

#[test]
fn timeline_holds_between_sparse_packets() {
    let t0 = Instant::now();
    let fresh = records(t0, "1.2", TICK * 10);
    let log = TrafficLog {
        origin: t0,
        taken_at: t0 + TICK * 30,
        pending_window: Duration::ZERO,
        long_lived: Vec::new(),
        fresh,
    };
    let expected = format!("{}{}{}", "1".repeat(10), ".".repeat(10), "2".repeat(10));
    assert_eq!(log.timeline_string(Flow::Fresh, t0, TICK), expected);
    let timeline = log.timeline(Flow::Fresh, t0 + TICK * 25, TICK);
    assert_eq!(timeline, vec![Some(Line::Two); 5]);
    assert!(log.timeline(Flow::Fresh, t0, Duration::ZERO).is_empty());
}

#[test]
fn timeline_bins_take_the_last_answer() {
    let (t0, log) = synth("1.12..2");
    let bins = log.timeline(Flow::LongLived, t0, TICK * 2);
    assert_eq!(
        bins,
        vec![Some(Line::One), Some(Line::Two), None, Some(Line::Two)]
    );
}
