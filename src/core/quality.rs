//! Line quality: a line that answers its probes but is too slow or too lossy over a sliding
//! window counts as degraded (as pfSense's dpinger and mwan3's check_quality offer). Pure:
//! time is passed in.
//!
//! Hysteresis: a line is degraded as soon as the window's figures cross a limit, and is
//! good again only once they have stayed within the limits for `recover_after` (the line's
//! `up_after_ms`), so a line hovering at a limit does not flap.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::config::QualityLimits;

/// A change of the degraded verdict, with the reason for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QualityChange {
    pub degraded: bool,
    pub reason: String,
}

/// The figures of one window.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Figures {
    loss_pct: f64,
    mean_rtt: Option<Duration>,
}

/// The quality verdict of one line.
#[derive(Debug, Clone)]
pub struct Quality {
    limits: QualityLimits,
    recover_after: Duration,
    /// Fewer samples than this in the window: no judgement (just started, or restarted).
    min_samples: usize,
    /// Probe outcomes, oldest first: `Some(rtt)` answered, `None` lost.
    samples: VecDeque<(Instant, Option<Duration>)>,
    /// The reason, while degraded.
    degraded: Option<String>,
    good_since: Option<Instant>,
}

impl Quality {
    /// `expected` is how many probe outcomes a full window holds (targets × window /
    /// interval); judging starts once half of them are in.
    pub fn new(limits: QualityLimits, recover_after: Duration, expected: usize) -> Self {
        Quality {
            limits,
            recover_after,
            min_samples: (expected / 2).max(2),
            samples: VecDeque::new(),
            degraded: None,
            good_since: None,
        }
    }

    /// Why the line is degraded, or `None` when it is not.
    pub fn degraded(&self) -> Option<&str> {
        self.degraded.as_deref()
    }

    /// One probe outcome.
    pub fn record(&mut self, now: Instant, rtt: Option<Duration>) {
        self.samples.push_back((now, rtt));
    }

    /// Forgets the samples (the link came back: old figures say nothing about it now). A
    /// degraded line stays degraded until new samples clear it.
    pub fn restart(&mut self) {
        self.samples.clear();
        self.good_since = None;
    }

    /// Judges the window ending at `now`; returns the change, if any.
    pub fn evaluate(&mut self, now: Instant) -> Option<QualityChange> {
        while let Some(&(at, _)) = self.samples.front() {
            if now.saturating_duration_since(at) <= self.limits.window {
                break;
            }
            self.samples.pop_front();
        }
        if self.samples.len() < self.min_samples {
            self.good_since = None;
            return None;
        }
        let figures = self.figures();
        match self.breach(figures) {
            Some(reason) => {
                self.good_since = None;
                if self.degraded.is_some() {
                    return None;
                }
                self.degraded = Some(reason.clone());
                Some(QualityChange {
                    degraded: true,
                    reason,
                })
            }
            None => self.recover(now, figures),
        }
    }

    fn recover(&mut self, now: Instant, figures: Figures) -> Option<QualityChange> {
        let since = *self.good_since.get_or_insert(now);
        if self.degraded.is_none() || now.saturating_duration_since(since) < self.recover_after {
            return None;
        }
        self.degraded = None;
        Some(QualityChange {
            degraded: false,
            reason: format!(
                "{} within limits for {} ms",
                describe(figures),
                self.recover_after.as_millis()
            ),
        })
    }

    /// When a degraded line can recover without a new sample.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.degraded.as_ref()?;
        Some(self.good_since? + self.recover_after)
    }

    fn figures(&self) -> Figures {
        let lost = self.samples.iter().filter(|(_, rtt)| rtt.is_none()).count();
        let rtts: Vec<Duration> = self.samples.iter().filter_map(|(_, rtt)| *rtt).collect();
        let mean_rtt = u32::try_from(rtts.len())
            .ok()
            .filter(|&n| n > 0)
            .map(|n| rtts.iter().sum::<Duration>() / n);
        Figures {
            loss_pct: 100.0 * lost as f64 / self.samples.len() as f64,
            mean_rtt,
        }
    }

    /// Which limit the figures cross, as a reason; `None` within limits.
    fn breach(&self, figures: Figures) -> Option<String> {
        let window = self.limits.window.as_millis();
        if let Some(max) = self.limits.max_loss_pct {
            if figures.loss_pct > f64::from(max) {
                let loss = figures.loss_pct;
                return Some(format!("loss {loss:.0}% > {max}% over {window} ms"));
            }
        }
        let (Some(max), Some(rtt)) = (self.limits.max_rtt, figures.mean_rtt) else {
            return None;
        };
        (rtt > max).then(|| {
            format!(
                "mean rtt {} ms > {} ms over {window} ms",
                rtt.as_millis(),
                max.as_millis()
            )
        })
    }
}

fn describe(figures: Figures) -> String {
    let rtt = figures
        .mean_rtt
        .map(|r| format!(", mean rtt {} ms", r.as_millis()))
        .unwrap_or_default();
    format!("loss {:.0}%{rtt}", figures.loss_pct)
}

#[cfg(test)]
#[path = "quality_tests.rs"]
mod tests;
