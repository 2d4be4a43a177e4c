//! The event history: what happened to the lines and the config, kept in a bounded ring
//! for `uplink events` and the ubus `events` method, plus per-line tallies (transitions,
//! downtime) for status.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use super::status::format_wall;
use crate::core::Notice;

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Increases by one per event since the daemon started.
    pub seq: u64,
    /// Wall time (RFC 3339, UTC).
    pub time: String,
    /// `start`, `up`, `down`, `degraded`, `recovered`, `suppressed`, `unsuppressed`,
    /// `drained`, `undrained`, `active`,
    /// `policy`, `reload`, `reload-refused`, `error` or `repair`.
    pub kind: String,
    /// The line concerned, if one is.
    pub line: Option<String>,
    /// What the log says about it.
    pub message: String,
    /// What the line's probes showed at that moment (line events of a probed line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
}

/// A line's probe figures when an event about it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Targets that answered within `down_after`.
    pub answering: usize,
    pub targets: usize,
    /// Mean round trip over the recent probes.
    pub rtt_ms: Option<f64>,
    /// Share of the recent probes lost.
    pub loss_pct: Option<f64>,
    /// The targets not answering, each as `KIND TARGET` (`http http://x/generate_204`,
    /// `icmp 192.0.2.1`), so an event says which kinds of probe failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failing: Vec<String>,
}

/// Transitions and downtime of one line since the daemon started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub transitions: u32,
    downtime: Duration,
    down_since: Option<Instant>,
}

impl Tally {
    /// Total time down after a transition to down, up to `now`.
    pub fn downtime(&self, now: Instant) -> Duration {
        let open = self.down_since.map(|s| now.saturating_duration_since(s));
        self.downtime + open.unwrap_or_default()
    }
}

/// The ring of recent events and the per-line tallies.
#[derive(Debug)]
pub struct History {
    events: VecDeque<Event>,
    capacity: usize,
    next_seq: u64,
    tallies: HashMap<String, Tally>,
}

impl History {
    /// An empty history that keeps at most `capacity` events (at least one).
    pub fn new(capacity: usize) -> Self {
        History {
            events: VecDeque::new(),
            capacity: capacity.max(1),
            next_seq: 1,
            tallies: HashMap::new(),
        }
    }

    /// A history that continues `earlier` (read back from the events file): their events
    /// are kept (the newest `capacity`) and numbering goes on after the last one.
    pub fn resume(capacity: usize, earlier: Vec<Event>) -> Self {
        let mut history = History::new(capacity);
        history.next_seq = earlier.last().map_or(1, |e| e.seq + 1);
        for event in earlier {
            history.push(event);
        }
        history
    }

    /// Keeps at most `capacity` events from now on (a reload may change it).
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity.max(1);
        while self.events.len() > self.capacity {
            self.events.pop_front();
        }
    }

    fn push(&mut self, event: Event) {
        if self.events.len() == self.capacity {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    /// Records one event at `wall` and returns it.
    pub fn record(
        &mut self,
        kind: &str,
        line: Option<&str>,
        message: String,
        wall: SystemTime,
    ) -> Event {
        let event = Event {
            seq: self.next_seq,
            time: format_wall(wall),
            kind: kind.to_owned(),
            line: line.map(str::to_owned),
            message,
            evidence: None,
        };
        self.next_seq += 1;
        self.push(event.clone());
        event
    }

    /// Records what the engine said at `now` (`wall` on the wall clock), with `evidence`'s
    /// figures for the line of a line or quality event; returns the events.
    pub fn notices(
        &mut self,
        notices: &[Notice],
        now: Instant,
        wall: SystemTime,
        evidence: impl Fn(&str) -> Option<Evidence>,
    ) -> Vec<Event> {
        let mut recorded = Vec::with_capacity(notices.len());
        for notice in notices {
            let (kind, line) = classify(notice);
            let figures = match notice {
                Notice::Line { name, transition } => {
                    self.tally(name, transition.up, now);
                    evidence(name)
                }
                Notice::Quality { name, .. } | Notice::Damping { name, .. } => evidence(name),
                _ => None,
            };
            let mut event = self.record(kind, line, notice.to_string(), wall);
            if figures.is_some() {
                event.evidence = figures;
                if let Some(kept) = self.events.back_mut() {
                    kept.evidence = event.evidence.clone();
                }
            }
            recorded.push(event);
        }
        recorded
    }

    fn tally(&mut self, line: &str, up: bool, now: Instant) {
        let tally = self.tallies.entry(line.to_owned()).or_default();
        tally.transitions += 1;
        match (up, tally.down_since) {
            (true, Some(since)) => {
                tally.downtime += now.saturating_duration_since(since);
                tally.down_since = None;
            }
            (false, None) => tally.down_since = Some(now),
            _ => {}
        }
    }

    /// The tally of `line` (zero for a line that never changed state).
    pub fn tally_of(&self, line: &str) -> Tally {
        self.tallies.get(line).copied().unwrap_or_default()
    }

    /// The events after number `seq`, oldest first.
    pub fn after(&self, seq: u64) -> Vec<Event> {
        self.events
            .iter()
            .filter(|e| e.seq > seq)
            .cloned()
            .collect()
    }

    /// The newest `limit` events at or after `since` (an RFC 3339 UTC time as events write
    /// it: such times compare as text), oldest first.
    pub fn recent_since(&self, limit: usize, since: Option<&str>) -> Vec<Event> {
        let Some(since) = since else {
            return self.recent(limit);
        };
        // Filtered, not searched: a stepped clock can leave the times out of order.
        let after: Vec<&Event> = self
            .events
            .iter()
            .filter(|e| e.time.as_str() >= since)
            .collect();
        let skip = after.len().saturating_sub(limit);
        after.into_iter().skip(skip).cloned().collect()
    }

    /// The newest `limit` events, oldest first.
    pub fn recent(&self, limit: usize) -> Vec<Event> {
        let skip = self.events.len().saturating_sub(limit);
        self.events.iter().skip(skip).cloned().collect()
    }
}

/// The event kind of `notice` and the line it concerns.
fn classify(notice: &Notice) -> (&'static str, Option<&str>) {
    match notice {
        Notice::Line { name, transition } => {
            (if transition.up { "up" } else { "down" }, Some(name))
        }
        Notice::Quality { name, change } => (
            if change.degraded {
                "degraded"
            } else {
                "recovered"
            },
            Some(name),
        ),
        Notice::Damping { name, change } => (
            if change.suppressed {
                "suppressed"
            } else {
                "unsuppressed"
            },
            Some(name),
        ),
        Notice::Drain { name, drained } => {
            (if *drained { "drained" } else { "undrained" }, Some(name))
        }
        Notice::Active { from, to, .. } => {
            let started = to.iter().find(|n| !from.contains(n)).or(to.first());
            ("active", started.map(String::as_str))
        }
        Notice::Policy { to, .. } => ("policy", Some(to)),
        Notice::SessionsMoved { name, .. } => ("sessions moved", Some(name)),
    }
}

#[cfg(test)]
#[path = "history_tests.rs"]
mod tests;
