//! A burst of probes sent on suspicion (see [`super::traffic`]): the line is judged on
//! whether enough targets answer within a short wait, instead of after `down_after`.
//! Pure: time passed in.

use std::time::{Duration, Instant};

/// The shortest wait for a burst's replies: a line's round trips on a quiet day are well
/// below it, so only a line that has stopped answering misses it.
pub const MIN_WAIT: Duration = Duration::from_millis(200);
/// Probes per target in a burst: several, so that random loss does not make a working
/// line look dead (at 10 % loss, 3 probes to each of 2 targets are all lost once in a
/// million bursts).
pub const PROBES: usize = 3;
/// Between the probes of a burst: apart enough that one lost packet burst does not take
/// them all.
pub const SPACING: Duration = Duration::from_millis(10);

/// A burst in flight, or one that went unanswered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Burst {
    /// When the burst was sent: replies received from then on answer it.
    pub since: Instant,
    /// How long its replies may take.
    pub wait: Duration,
    /// The wait passed without enough replies: the line counts as failing until replies
    /// come back.
    pub failed: bool,
}

impl Burst {
    /// A burst sent at `now`, waiting three times the slowest recent round trip (the
    /// spacing of its last probe included), at least [`MIN_WAIT`], at most `timeout`.
    pub fn new(now: Instant, slowest_rtt: Option<Duration>, timeout: Duration) -> Self {
        let spread = SPACING * (PROBES as u32 - 1);
        let wait = slowest_rtt.map_or(MIN_WAIT, |rtt| (rtt * 3).max(MIN_WAIT)) + spread;
        Burst {
            since: now,
            wait: wait.min(timeout),
            failed: false,
        }
    }

    /// When the wait ends.
    pub fn deadline(&self) -> Instant {
        self.since + self.wait
    }

    /// Judges the burst at `now` given each target's last reply: `None` when answered
    /// by `needed` targets (the burst is over), else the burst, failed once its wait
    /// has passed.
    pub fn judge(
        mut self,
        now: Instant,
        last_replies: impl Iterator<Item = Option<Instant>>,
        needed: usize,
    ) -> Option<Burst> {
        let answered = last_replies
            .filter(|at| at.is_some_and(|at| at >= self.since))
            .count();
        if answered >= needed {
            return None;
        }
        self.failed |= now >= self.deadline();
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_wait_follows_the_slowest_round_trip_within_bounds() {
        let t0 = Instant::now();
        assert_eq!(Burst::new(t0, None, ms(1000)).wait, ms(220));
        assert_eq!(Burst::new(t0, Some(ms(5)), ms(1000)).wait, ms(220));
        assert_eq!(Burst::new(t0, Some(ms(150)), ms(1000)).wait, ms(470));
        assert_eq!(Burst::new(t0, Some(ms(900)), ms(1000)).wait, ms(1000));
    }

    #[test]
    fn enough_replies_end_the_burst_too_few_fail_it_after_the_wait() {
        let t0 = Instant::now();
        let burst = Burst::new(t0, None, ms(1000));
        let before = Some(t0 - ms(1));
        let after = Some(t0 + ms(3));
        assert_eq!(burst.judge(t0 + ms(5), [after, None].into_iter(), 1), None);
        let open = burst.judge(t0 + ms(5), [before, after].into_iter(), 2);
        assert_eq!(open.map(|b| b.failed), Some(false), "one of two needed");
        let late = burst.judge(t0 + ms(220), [before, None].into_iter(), 1);
        assert_eq!(late.map(|b| b.failed), Some(true));
        assert_eq!(
            late.unwrap().judge(t0 + ms(900), [after].into_iter(), 1),
            None,
            "a reply after a failed burst ends it"
        );
    }
}
