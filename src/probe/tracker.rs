//! The prober's bookkeeping, free of I/O so it can be tested with made-up times: when each
//! target is due, and which probes are still waiting for an answer.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Round-robin send slots: with `n` targets, one probe every `interval / n`, so each target
/// is probed once per interval and packets never go out in bursts.
#[derive(Debug)]
pub(crate) struct Schedule {
    slot: Duration,
    next: Instant,
    next_target: usize,
    targets: usize,
}

impl Schedule {
    /// The first probe (to target 0) is due at `start`. `targets` must not be zero.
    pub(crate) fn new(start: Instant, interval: Duration, targets: usize) -> Self {
        assert!(targets > 0, "a schedule needs at least one target");
        let divisor = u32::try_from(targets).unwrap_or(u32::MAX);
        Schedule {
            slot: (interval / divisor).max(Duration::from_micros(1)),
            next: start,
            next_target: 0,
            targets,
        }
    }

    /// When the next probe is due.
    pub(crate) fn next_due(&self) -> Instant {
        self.next
    }

    /// The target to probe now, if one is due, moving on to the next slot.
    pub(crate) fn take_due(&mut self, now: Instant) -> Option<usize> {
        if now < self.next {
            return None;
        }
        let target = self.next_target;
        self.next_target = (self.next_target + 1) % self.targets;
        self.next += self.slot;
        // After a stall (a suspended router, a blocked runtime) start afresh instead of
        // sending every missed probe at once.
        if self.next < now {
            self.next = now + self.slot;
        }
        Some(target)
    }
}

/// One probe waiting for its reply.
#[derive(Debug, Clone, Copy)]
struct Pending {
    seq: u16,
    target: usize,
    sent: Instant,
}

/// Probes sent and not yet answered or expired, oldest first. Every probe has the same
/// timeout, so the oldest always expires first and expiry only looks at the front.
#[derive(Debug)]
pub(crate) struct Outstanding {
    timeout: Duration,
    pending: VecDeque<Pending>,
}

impl Outstanding {
    /// An empty set whose probes are lost once `timeout` has passed since sending.
    pub(crate) fn new(timeout: Duration) -> Self {
        Outstanding {
            timeout,
            pending: VecDeque::new(),
        }
    }

    /// Records a probe with sequence number `seq` sent to `target` at `sent`.
    pub(crate) fn insert(&mut self, seq: u16, target: usize, sent: Instant) {
        self.pending.push_back(Pending { seq, target, sent });
    }

    /// When the oldest outstanding probe times out, if any is outstanding.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.pending.front().map(|p| p.sent + self.timeout)
    }

    /// Removes and returns the targets of probes whose timeout has passed at `now`.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<usize> {
        let mut lost = Vec::new();
        while let Some(front) = self.pending.front() {
            if now < front.sent + self.timeout {
                break;
            }
            lost.push(front.target);
            self.pending.pop_front();
        }
        lost
    }

    /// Matches a reply with sequence number `seq` received at `received`: the target and
    /// round-trip time, or `None` for a sequence number not outstanding or a reply that came
    /// too late (a late reply stays a loss, left for [`Outstanding::expire`] to report).
    pub(crate) fn take_reply(&mut self, seq: u16, received: Instant) -> Option<(usize, Duration)> {
        let index = self.pending.iter().position(|p| p.seq == seq)?;
        let probe = self.pending[index];
        let rtt = received.saturating_duration_since(probe.sent);
        if rtt >= self.timeout {
            return None;
        }
        self.pending.remove(index);
        Some((probe.target, rtt))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn targets_are_staggered_across_the_interval() {
        let t0 = Instant::now();
        let mut schedule = Schedule::new(t0, ms(900), 3);
        let mut sends = Vec::new();
        for step in 0..=18 {
            let now = t0 + ms(step * 100);
            while let Some(target) = schedule.take_due(now) {
                sends.push((step * 100, target));
            }
        }
        let expected = [
            (0, 0),
            (300, 1),
            (600, 2),
            (900, 0),
            (1200, 1),
            (1500, 2),
            (1800, 0),
        ];
        assert_eq!(sends, expected);
    }

    #[test]
    fn nothing_is_due_before_the_slot() {
        let t0 = Instant::now();
        let mut schedule = Schedule::new(t0 + ms(5), ms(100), 1);
        assert_eq!(schedule.take_due(t0), None);
        assert_eq!(schedule.next_due(), t0 + ms(5));
    }

    #[test]
    fn a_stall_does_not_cause_a_burst() {
        let t0 = Instant::now();
        let mut schedule = Schedule::new(t0, ms(100), 2);
        let late = t0 + ms(10_000);
        assert_eq!(schedule.take_due(late), Some(0));
        assert_eq!(schedule.take_due(late), None);
        assert_eq!(schedule.next_due(), late + ms(50));
    }

    #[test]
    fn reply_in_time_yields_target_and_rtt() {
        let t0 = Instant::now();
        let mut pending = Outstanding::new(ms(1000));
        pending.insert(7, 2, t0);
        assert_eq!(pending.take_reply(7, t0 + ms(40)), Some((2, ms(40))));
        assert_eq!(pending.next_deadline(), None);
    }

    #[test]
    fn duplicate_or_unknown_replies_are_ignored() {
        let t0 = Instant::now();
        let mut pending = Outstanding::new(ms(1000));
        pending.insert(7, 0, t0);
        assert_eq!(pending.take_reply(8, t0 + ms(10)), None);
        assert!(pending.take_reply(7, t0 + ms(10)).is_some());
        assert_eq!(pending.take_reply(7, t0 + ms(20)), None);
    }

    #[test]
    fn late_reply_is_a_loss_not_a_reply() {
        let t0 = Instant::now();
        let mut pending = Outstanding::new(ms(1000));
        pending.insert(1, 0, t0);
        assert_eq!(pending.take_reply(1, t0 + ms(1000)), None);
        assert_eq!(pending.expire(t0 + ms(1000)), vec![0]);
    }

    #[test]
    fn expiry_takes_only_timed_out_probes_in_order() {
        let t0 = Instant::now();
        let mut pending = Outstanding::new(ms(1000));
        pending.insert(1, 0, t0);
        pending.insert(2, 1, t0 + ms(300));
        pending.insert(3, 0, t0 + ms(600));
        assert_eq!(pending.expire(t0 + ms(999)), Vec::<usize>::new());
        assert_eq!(pending.expire(t0 + ms(1300)), vec![0, 1]);
        assert_eq!(pending.next_deadline(), Some(t0 + ms(1600)));
    }
}
