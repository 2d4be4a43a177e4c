//! Traffic-aware detection: the LAN's own packets are evidence. When packets leave through
//! an active line and nothing comes back for a short while, the line is suspect and its
//! prober sends a burst at once instead of waiting for the next interval. Pure: the
//! daemon samples the device's packet counters and passes them in with the time.

use std::time::{Duration, Instant};

/// After a suspicion, the next one waits this long unless something came back meanwhile:
/// a line that stays silent (the only line left, say) is burst-probed once a second at
/// most.
pub const REARM_AFTER: Duration = Duration::from_secs(1);

/// One device's packet counters, as sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    pub rx_packets: u64,
    pub tx_packets: u64,
}

/// The suspicion logic of one active line.
#[derive(Debug, Clone)]
pub struct TrafficWatch {
    /// How long sent packets may go unanswered before the line is suspect.
    quiet: Duration,
    /// Packets the line's own prober sends in `quiet`: sending no more than that is not
    /// LAN traffic (an idle LAN's line is judged by its probes alone).
    own_packets: u64,
    /// The previous sample and when it was taken.
    last: Option<(Instant, Counters)>,
    /// Since when packets left and nothing came back, and how many left since.
    unanswered: Option<(Instant, u64)>,
    /// When the last suspicion was raised, until something comes back.
    raised: Option<Instant>,
    /// Packets sent between the last two samples.
    last_sent: u64,
}

impl TrafficWatch {
    /// A watch with `quiet` of silence allowed and `own_packets` sent by the prober in it.
    pub fn new(quiet: Duration, own_packets: u64) -> Self {
        TrafficWatch {
            quiet,
            own_packets,
            last: None,
            unanswered: None,
            raised: None,
            last_sent: 0,
        }
    }

    /// Packets the prober of a line sends within `quiet`: one per target per interval,
    /// rounded up, plus one for a probe straddling the edge.
    pub fn own_packets(targets: usize, interval: Duration, quiet: Duration) -> u64 {
        let interval = interval.as_micros().max(1);
        let per_target = quiet.as_micros().div_ceil(interval) as u64;
        per_target * targets as u64 + 1
    }

    /// Takes a sample; true when the line just became suspect (burst-probe it now).
    pub fn sample(&mut self, now: Instant, counters: Counters) -> bool {
        let Some((last_at, last)) = self.last.replace((now, counters)) else {
            // Nothing to compare with yet: counts as busy, so the next sample comes soon.
            self.last_sent = 1;
            return false;
        };
        self.last_sent = counters.tx_packets.saturating_sub(last.tx_packets);
        // A counter that went back (device re-created, counters reset): start over.
        if counters.rx_packets < last.rx_packets || counters.tx_packets < last.tx_packets {
            self.unanswered = None;
            return false;
        }
        let sent = counters.tx_packets - last.tx_packets;
        // Answers: a fair share of what was sent. A packet or two arriving beside a stream
        // going out is the link's own chatter (ARP, neighbour discovery, a router
        // advertisement), which a dead upstream does not stop.
        let received = counters.rx_packets - last.rx_packets;
        if received > 0 && received * 4 >= sent {
            self.unanswered = None;
            self.raised = None;
            return false;
        }
        // Nothing has come back since the previous sample: the silence began then at the
        // latest. After a long gap (the device was idle, sampled seldom) the packets may
        // have left only just now, so the silence is counted from now.
        let start = if now.saturating_duration_since(last_at) <= self.quiet / 2 {
            last_at
        } else {
            now
        };
        let (since, count) = match self.unanswered {
            None if sent == 0 => return false,
            None => (start, sent),
            Some((since, count)) => (since, count + sent),
        };
        self.unanswered = Some((since, count));
        let rearmed = self.raised.is_none_or(|at| now >= at + REARM_AFTER);
        let suspect = now >= since + self.quiet && count > self.own_packets && rearmed;
        if suspect {
            self.raised = Some(now);
        }
        suspect
    }

    /// Whether packets left the device between the last two samples (the sampler samples
    /// often only then).
    pub fn busy(&self) -> bool {
        self.last_sent > 0
    }
}

#[cfg(test)]
#[path = "traffic_tests.rs"]
mod tests;
