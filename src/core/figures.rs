//! Per-target figures for status: whether a target answers now, its last round trip, and
//! mean, deviation (jitter) and loss over its recent probes, as dpinger reports per gateway.

use std::time::{Duration, Instant};

/// One probe target's recent record, as status shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetFigures {
    /// A reply came within the line's `down_after` (the target counts towards
    /// `reliability`).
    pub answering: bool,
    /// Round trip of the newest answered probe among the recent ones.
    pub last_rtt: Option<Duration>,
    /// Mean round trip of the recent answered probes.
    pub mean_rtt: Option<Duration>,
    /// Population standard deviation of those round trips.
    pub jitter: Option<Duration>,
    /// Share of the recent probes lost, in percent; `None` before the first probe.
    pub loss_pct: Option<f64>,
}

/// Figures of a target whose recent outcomes are `history` (oldest first; `None` lost)
/// and that last answered at `last_reply`, judged at `now` against `down_after`.
pub fn target_figures<'a>(
    history: impl Iterator<Item = &'a Option<Duration>> + Clone,
    last_reply: Option<Instant>,
    now: Instant,
    down_after: Duration,
) -> TargetFigures {
    let rtts: Vec<f64> = history
        .clone()
        .flatten()
        .map(Duration::as_secs_f64)
        .collect();
    let total = history.clone().count();
    let lost = history.clone().filter(|o| o.is_none()).count();
    let mean = (!rtts.is_empty()).then(|| rtts.iter().sum::<f64>() / rtts.len() as f64);
    let jitter = mean.map(|m| {
        let variance = rtts.iter().map(|r| (r - m).powi(2)).sum::<f64>() / rtts.len() as f64;
        variance.sqrt()
    });
    TargetFigures {
        answering: last_reply.is_some_and(|at| now.saturating_duration_since(at) < down_after),
        last_rtt: history.flatten().last().copied(),
        mean_rtt: mean.map(Duration::from_secs_f64),
        jitter: jitter.map(Duration::from_secs_f64),
        loss_pct: (total > 0).then(|| 100.0 * lost as f64 / total as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn figures_of_a_mixed_record() {
        let now = Instant::now();
        let history = [Some(ms(10)), None, Some(ms(30)), None];
        let f = target_figures(history.iter(), Some(now - ms(500)), now, ms(2000));
        assert!(f.answering);
        assert_eq!(f.last_rtt, Some(ms(30)));
        assert_eq!(f.mean_rtt, Some(ms(20)));
        assert_eq!(f.jitter, Some(ms(10)));
        assert_eq!(f.loss_pct, Some(50.0));
    }

    #[test]
    fn a_silent_target_has_no_figures_and_does_not_answer() {
        let now = Instant::now();
        let history = [None, None];
        let f = target_figures(history.iter(), Some(now - ms(3000)), now, ms(2000));
        assert!(!f.answering);
        assert_eq!((f.last_rtt, f.mean_rtt, f.jitter), (None, None, None));
        assert_eq!(f.loss_pct, Some(100.0));
        let never = target_figures([].iter(), None, now, ms(2000));
        assert_eq!(never.loss_pct, None);
        assert!(!never.answering);
    }
}
