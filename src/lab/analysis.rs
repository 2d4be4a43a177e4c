//! What a traffic log says: outages, which line carries a flow, timelines. Pure functions
//! of a [`TrafficLog`], so they are tested on synthetic logs.
//!
//! A packet counts once it is *settled*: answered, or unanswered while a packet of the same
//! flow sent after it was answered, or unanswered for longer than the log's `pending_window`
//! (the reply timeout) before the log was taken. The unanswered packets at the end of a flow
//! that are younger than that may still be in flight and are ignored, so a snapshot taken
//! while traffic runs does not report the last few milliseconds as an outage.

use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use super::{Flow, Line};

/// How many of the last replies [`TrafficLog::line_at_end`] looks at.
pub const LINE_AT_END_REPLIES: usize = 10;
/// Consecutive lost packets [`TrafficLog::outage_after`] forgives once a flow is back: a
/// single random loss after recovery (e.g. with [`super::Fault::Loss`] on the surviving
/// line) does not push the end of the outage to that loss.
pub const DEFAULT_FORGIVE: usize = 1;

/// One measured packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketRecord {
    /// Position in its flow, from 0.
    pub seq: u64,
    /// When it was handed to the kernel.
    pub sent_at: Instant,
    /// When its first reply was received.
    pub reply_at: Option<Instant>,
    /// The line the echo server's answer says the packet went through.
    pub line: Option<Line>,
    /// The source the echo server saw (the router's masquerade address and port).
    pub seen_from: Option<SocketAddrV4>,
}

impl PacketRecord {
    /// The round-trip time, if answered.
    pub fn rtt(&self) -> Option<Duration> {
        Some(self.reply_at?.saturating_duration_since(self.sent_at))
    }
}

/// The record of both flows up to `taken_at`.
#[derive(Debug, Clone)]
pub struct TrafficLog {
    /// When the traffic started.
    pub origin: Instant,
    /// When this log was taken (a snapshot, or when the traffic stopped).
    pub taken_at: Instant,
    /// Unanswered packets sent less than this before `taken_at` are still in flight.
    pub pending_window: Duration,
    /// The long-lived flow's packets, in sending order.
    pub long_lived: Vec<PacketRecord>,
    /// The fresh flows' packets, in sending order.
    pub fresh: Vec<PacketRecord>,
}

/// A run of consecutive lost packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// When the first lost packet was sent.
    pub first_sent: Instant,
    /// When the last lost packet was sent.
    pub last_sent: Instant,
    /// How many packets were lost in a row.
    pub lost: usize,
    /// When the reply to the next answered packet arrived; `None` if the gap lasts to
    /// the end of the log.
    pub resumed_at: Option<Instant>,
}

impl Gap {
    fn starting(sent_at: Instant) -> Gap {
        Gap {
            first_sent: sent_at,
            last_sent: sent_at,
            lost: 1,
            resumed_at: None,
        }
    }

    /// From the first lost packet to the reply that ended the gap, if it ended.
    pub fn duration(&self) -> Option<Duration> {
        Some(self.resumed_at?.saturating_duration_since(self.first_sent))
    }
}

/// What the packets sent within one timeline bin show.
#[derive(Clone, Copy)]
enum Bin {
    /// No settled packet was sent in the bin.
    Empty,
    /// Packets were sent and none was answered.
    Lost,
    /// The last answered packet of the bin, and the line it used.
    Via(Option<Line>),
}

impl TrafficLog {
    /// The packets of `flow`, in sending order.
    pub fn records(&self, flow: Flow) -> &[PacketRecord] {
        match flow {
            Flow::LongLived => &self.long_lived,
            Flow::Fresh => &self.fresh,
        }
    }

    /// The settled packets of `flow`: all but the unanswered tail that may still be
    /// answered (see the module docs).
    pub fn settled(&self, flow: Flow) -> &[PacketRecord] {
        let records = self.records(flow);
        let after_last_reply = records
            .iter()
            .rposition(|r| r.reply_at.is_some())
            .map_or(0, |i| i + 1);
        // Records are in sending order, so the young ones form a suffix.
        let young = records.partition_point(|r| {
            self.taken_at.saturating_duration_since(r.sent_at) >= self.pending_window
        });
        &records[..after_last_reply.max(young)]
    }

    /// The outage of `flow` caused by a fault at `fault_at`, with [`DEFAULT_FORGIVE`]:
    /// see [`TrafficLog::outage_after_with`].
    pub fn outage_after(&self, flow: Flow, fault_at: Instant) -> Option<Duration> {
        self.outage_after_with(flow, fault_at, DEFAULT_FORGIVE)
    }

    /// From `fault_at` to the first reply of the final run, 0 if that run began before the
    /// fault (the fault did not interrupt the flow).
    ///
    /// The *final run* starts at the earliest answered packet after which, up to the end of
    /// the log, no more than `forgive` settled packets in a row went unanswered (`forgive =
    /// 0` is the strict reading: not a single loss until the end). `None` when the flow is
    /// not back at the end (more than `forgive` losses in a row end the log, or no reply at
    /// all) or when no settled packet was sent at or after `fault_at` (nothing to tell).
    /// The resolution is the flow's send interval (10 ms long-lived, 100 ms fresh).
    pub fn outage_after_with(
        &self,
        flow: Flow,
        fault_at: Instant,
        forgive: usize,
    ) -> Option<Duration> {
        let settled = self.settled(flow);
        if !settled.iter().any(|r| r.sent_at >= fault_at) {
            return None;
        }
        let mut run_start = None;
        let mut lost_in_row = 0;
        for record in settled.iter().rev() {
            match record.reply_at {
                Some(reply_at) => {
                    run_start = Some(reply_at);
                    lost_in_row = 0;
                }
                None if lost_in_row == forgive => break,
                None => lost_in_row += 1,
            }
        }
        Some(run_start?.saturating_duration_since(fault_at))
    }

    /// The runs of lost packets among those sent at or after `since`, oldest first.
    pub fn gaps(&self, flow: Flow, since: Instant) -> Vec<Gap> {
        let mut gaps: Vec<Gap> = Vec::new();
        let mut open: Option<Gap> = None;
        for record in self.settled(flow).iter().filter(|r| r.sent_at >= since) {
            match (record.reply_at, open.as_mut()) {
                (None, Some(gap)) => {
                    gap.last_sent = record.sent_at;
                    gap.lost += 1;
                }
                (None, None) => open = Some(Gap::starting(record.sent_at)),
                (Some(reply_at), _) => {
                    if let Some(gap) = open.take() {
                        gaps.push(Gap {
                            resumed_at: Some(reply_at),
                            ..gap
                        });
                    }
                }
            }
        }
        gaps.extend(open);
        gaps
    }

    /// The most recent run of lost packets sent at or after `since`.
    pub fn last_gap(&self, flow: Flow, since: Instant) -> Option<Gap> {
        self.gaps(flow, since).pop()
    }

    /// The line that carried the last [`LINE_AT_END_REPLIES`] replies (or all of them if
    /// there are fewer), if they all agree; `None` when they are mixed or there are none.
    /// It looks at replies only: check [`TrafficLog::outage_after`] for whether the flow is
    /// still alive.
    pub fn line_at_end(&self, flow: Flow) -> Option<Line> {
        let mut last = self
            .records(flow)
            .iter()
            .rev()
            .filter(|r| r.reply_at.is_some())
            .take(LINE_AT_END_REPLIES)
            .map(|r| r.line);
        let first = last.next()??;
        last.all(|line| line == Some(first)).then_some(first)
    }

    /// When the first packet sent at or after `since` and answered via `line` was sent.
    pub fn first_reply_via(&self, flow: Flow, line: Line, since: Instant) -> Option<Instant> {
        self.records(flow)
            .iter()
            .find(|r| r.sent_at >= since && r.reply_at.is_some() && r.line == Some(line))
            .map(|r| r.sent_at)
    }

    /// How many packets sent at or after `since` were answered via `line`.
    pub fn replies_via(&self, flow: Flow, line: Line, since: Instant) -> usize {
        self.records(flow)
            .iter()
            .filter(|r| r.sent_at >= since && r.reply_at.is_some() && r.line == Some(line))
            .count()
    }

    /// Whether both flows have recovered via `line` since `since` (see
    /// [`TrafficLog::recovered_via`]).
    pub fn all_recovered_via(&self, line: Line, since: Instant) -> bool {
        Flow::ALL
            .iter()
            .all(|&flow| self.recovered_via(flow, line, since))
    }

    /// Whether `flow` is alive at the end of the log and on `line`: it has replies via
    /// `line` since `since`, its last replies all came via `line` ([`TrafficLog::line_at_end`])
    /// and it has recovered from anything that happened since `since`
    /// ([`TrafficLog::outage_after`]).
    pub fn recovered_via(&self, flow: Flow, line: Line, since: Instant) -> bool {
        self.replies_via(flow, line, since) > 0
            && self.line_at_end(flow) == Some(line)
            && self.outage_after(flow, since).is_some()
    }

    /// Which line carried `flow` in each `bin`-long slice of time from `from` to the end of
    /// the log, by the packets *sent* in the slice: the line of the last answered one, or
    /// `None` if all were lost. A slice without settled packets (between two fresh flows,
    /// or still in flight) repeats the slice before it (at `from`: the last packet before),
    /// so the picture shows what the flow was doing rather than gaps in sampling. Empty for
    /// a zero `bin`.
    pub fn timeline(&self, flow: Flow, from: Instant, bin: Duration) -> Vec<Option<Line>> {
        let bins = self.bins(flow, from, bin);
        // Until the first packet in range, the flow is in the state of the last one before.
        let before = self.settled(flow).iter().rev().find(|r| r.sent_at < from);
        let mut held = before.and_then(|r| r.reply_at.and(r.line));
        bins.into_iter()
            .map(|b| {
                match b {
                    Bin::Empty => {}
                    Bin::Lost => held = None,
                    Bin::Via(line) => held = line,
                }
                held
            })
            .collect()
    }

    /// [`TrafficLog::timeline`] drawn as text: `1` / `2` for the line, `.` for no reply.
    pub fn timeline_string(&self, flow: Flow, from: Instant, bin: Duration) -> String {
        self.timeline(flow, from, bin)
            .into_iter()
            .map(|line| match line {
                Some(Line::One) => '1',
                Some(Line::Two) => '2',
                None => '.',
            })
            .collect()
    }

    fn bins(&self, flow: Flow, from: Instant, bin: Duration) -> Vec<Bin> {
        if bin.is_zero() || self.taken_at <= from {
            return Vec::new();
        }
        let span = self.taken_at.duration_since(from).as_nanos();
        let count = span.div_ceil(bin.as_nanos()) as usize;
        let mut bins = vec![Bin::Empty; count];
        for record in self.settled(flow).iter().filter(|r| r.sent_at >= from) {
            let index = (record.sent_at.duration_since(from).as_nanos() / bin.as_nanos()) as usize;
            let Some(slot) = bins.get_mut(index) else {
                continue;
            };
            *slot = match (record.reply_at, *slot) {
                (Some(_), _) => Bin::Via(record.line),
                (None, Bin::Via(line)) => Bin::Via(line),
                (None, _) => Bin::Lost,
            };
        }
        bins
    }
}
