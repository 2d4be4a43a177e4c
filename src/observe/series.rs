//! Per-target round-trip and loss series over the last hour, in 10-second steps, for the
//! status page's charts. Bounded: at most [`KEEP`] steps per target, whatever the clock does.

use std::collections::VecDeque;
use std::time::Duration;

use serde::Serialize;

use super::per_target::PerTarget;

/// Seconds per step.
pub const STEP: u64 = 10;
/// Steps kept per target: one hour.
pub const KEEP: usize = 360;

/// One step of one target.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Step {
    /// Wall-clock seconds at the start of the step.
    start: u64,
    sent: u32,
    answered: u32,
    rtt_sum: Duration,
}

/// Every target's steps, by line and target.
#[derive(Debug, Default)]
pub struct Series {
    steps: PerTarget<VecDeque<Step>>,
}

/// One target's series as the page reads it: `[start, mean rtt in ms or null, loss %]`
/// per step, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetSeries {
    pub line: String,
    pub target: String,
    pub points: Vec<(u64, Option<f64>, f64)>,
}

impl Series {
    /// A probe of `target` on `line` at wall-clock second `wall` was answered after `rtt`
    /// (`Some`) or lost.
    pub fn record(&mut self, line: &str, target: &str, rtt: Option<Duration>, wall: u64) {
        let steps = self.steps.entry(line, target);
        let start = wall - wall % STEP;
        if steps.back().is_none_or(|s| s.start != start) {
            if steps.len() == KEEP {
                steps.pop_front();
            }
            steps.push_back(Step {
                start,
                sent: 0,
                answered: 0,
                rtt_sum: Duration::ZERO,
            });
        }
        let step = steps.back_mut().expect("a step was just ensured");
        step.sent += 1;
        if let Some(rtt) = rtt {
            step.answered += 1;
            step.rtt_sum += rtt;
        }
    }

    /// Forgets targets no longer configured.
    pub fn retain(&mut self, keep: impl Fn(&str, &str) -> bool) {
        self.steps.retain(keep);
    }

    /// Every target's points, sorted by line and target.
    pub fn export(&self) -> Vec<TargetSeries> {
        let mut all: Vec<TargetSeries> = self
            .steps
            .iter()
            .map(|(line, target, steps)| TargetSeries {
                line: line.to_owned(),
                target: target.to_owned(),
                points: steps.iter().map(point).collect(),
            })
            .collect();
        crate::sort::stable_by(&mut all, |a, b| {
            (&a.line, &a.target).cmp(&(&b.line, &b.target))
        });
        all
    }
}

fn point(step: &Step) -> (u64, Option<f64>, f64) {
    let mean = (step.answered > 0).then(|| {
        let ms = step.rtt_sum.as_secs_f64() * 1000.0 / f64::from(step.answered);
        (ms * 10.0).round() / 10.0
    });
    let lost = step.sent - step.answered;
    let loss = (1000.0 * f64::from(lost) / f64::from(step.sent.max(1))).round() / 10.0;
    (step.start, mean, loss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_fall_into_ten_second_steps() {
        let mut series = Series::default();
        let ms = Duration::from_millis;
        series.record("main", "192.0.2.1", Some(ms(10)), 1000);
        series.record("main", "192.0.2.1", Some(ms(30)), 1009);
        series.record("main", "192.0.2.1", None, 1005);
        series.record("main", "192.0.2.1", None, 1010);
        let all = series.export();
        assert_eq!(all.len(), 1);
        assert_eq!(
            all[0].points,
            [(1000, Some(20.0), 33.3), (1010, None, 100.0)]
        );
    }

    #[test]
    fn an_hour_is_kept_at_most() {
        let mut series = Series::default();
        for i in 0..(KEEP as u64 + 50) {
            series.record("main", "t", None, i * STEP);
        }
        let points = &series.export()[0].points;
        assert_eq!(points.len(), KEEP);
        assert_eq!(points[0].0, 50 * STEP);
        series.retain(|_, target| target != "t");
        assert!(series.export().is_empty());
    }
}
