//! Flap dampening of one line (RFC 2439 route-flap damping): every flap adds a penalty
//! that decays exponentially; above a threshold the line is suppressed (not chosen while
//! another line is up) until the penalty decays below a lower one. Pure: time passed in.

use std::time::{Duration, Instant};

use crate::config::{Dampening, FLAP_PENALTY};

/// The penalty of a probe lost while the line is on its way back: a tenth of a flap.
pub const RECOVERY_LOSS_PENALTY: u32 = FLAP_PENALTY / 10;

/// A change of a line's suppression, for the log, events and hooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DampingChange {
    pub suppressed: bool,
    /// When the suppression ends absent new flaps (for a suppression).
    pub until: Option<Instant>,
    /// The penalty when the change happened.
    pub penalty: u32,
    /// The threshold crossed: `suppress` for a suppression, `reuse` for its end.
    pub threshold: u32,
    /// How `until` reads: "in 85 s" from the core; the daemon puts the wall-clock time.
    pub until_text: String,
}

/// The penalty a line can accumulate: one that decays from it to `reuse` in exactly
/// `max_suppress` (RFC 2439's ceiling), so no line stays suppressed longer than that
/// after its last flap.
pub fn ceiling(settings: &Dampening) -> f64 {
    // Capped: 2^60 is far beyond any threshold, and keeps the figure finite.
    let halvings = (settings.max_suppress.as_secs_f64() / half_life_secs(settings)).min(60.0);
    f64::from(settings.reuse) * halvings.exp2()
}

fn half_life_secs(settings: &Dampening) -> f64 {
    settings.half_life.as_secs_f64().max(0.001)
}

/// One line's penalty and suppression.
#[derive(Debug, Clone)]
pub struct Damping {
    settings: Dampening,
    /// The penalty as of `at`.
    penalty: f64,
    at: Instant,
    suppressed: bool,
    /// The suppression last reported by [`Damping::evaluate`].
    announced: bool,
}

impl Damping {
    /// No penalty, not suppressed.
    pub fn new(settings: Dampening, now: Instant) -> Self {
        Damping {
            settings,
            penalty: 0.0,
            at: now,
            suppressed: false,
            announced: false,
        }
    }

    /// The same state under new settings (a reload): the penalty stays, clamped to the
    /// new ceiling; suppression is judged again at the next [`Damping::evaluate`].
    pub fn with_settings(&self, settings: Dampening) -> Self {
        let penalty = self.penalty.min(ceiling(&settings));
        Damping {
            settings,
            penalty,
            suppressed: self.suppressed || penalty >= f64::from(settings.suppress),
            ..self.clone()
        }
    }

    pub fn settings(&self) -> &Dampening {
        &self.settings
    }

    /// The penalty at `now`, decayed.
    pub fn penalty(&self, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.penalty * (-elapsed / half_life_secs(&self.settings)).exp2()
    }

    /// The line flapped at `now`: adds the penalty, suppresses at the threshold.
    pub fn flap(&mut self, now: Instant) {
        self.charge(FLAP_PENALTY, now);
    }

    /// A probe was lost while the line was on its way back (down, with good evidence):
    /// a small flap. A line that recovers cleanly (a blackhole lifted) pays nothing; one
    /// whose recovery is riddled with losses is suppressed before it can take traffic
    /// back and lose it again.
    pub fn lost_in_recovery(&mut self, now: Instant) {
        self.charge(RECOVERY_LOSS_PENALTY, now);
    }

    fn charge(&mut self, amount: u32, now: Instant) {
        // Probe outcomes may arrive stamped a little before the last evaluation.
        let now = now.max(self.at);
        let penalty = self.penalty(now) + f64::from(amount);
        self.penalty = penalty.min(ceiling(&self.settings));
        self.at = now;
        if self.penalty >= f64::from(self.settings.suppress) {
            self.suppressed = true;
        }
    }

    /// Whether the line is suppressed (as last evaluated).
    pub fn is_suppressed(&self) -> bool {
        self.suppressed
    }

    /// When the suppression ends absent new flaps: when the penalty decays to `reuse`.
    pub fn until(&self) -> Option<Instant> {
        if !self.suppressed {
            return None;
        }
        let reuse = f64::from(self.settings.reuse);
        let halvings = (self.penalty / reuse).log2().max(0.0);
        let wait = Duration::from_secs_f64(halvings * half_life_secs(&self.settings));
        Some(self.at + wait.min(self.settings.max_suppress))
    }

    /// Ends a suppression whose time has come; the change since the last call, if any.
    pub fn evaluate(&mut self, now: Instant) -> Option<DampingChange> {
        if self.until().is_some_and(|until| now >= until) {
            self.suppressed = false;
        }
        if self.suppressed == self.announced {
            return None;
        }
        self.announced = self.suppressed;
        let until = self.until();
        let threshold = if self.suppressed {
            self.settings.suppress
        } else {
            self.settings.reuse
        };
        let until_text = until.map_or_else(String::new, |at| {
            format!("in {} s", at.saturating_duration_since(now).as_secs())
        });
        Some(DampingChange {
            suppressed: self.suppressed,
            until,
            penalty: self.penalty(now).round() as u32,
            threshold,
            until_text,
        })
    }

    /// When [`Damping::evaluate`] next has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.until()
    }
}

#[cfg(test)]
#[path = "damping_tests.rs"]
mod tests;
