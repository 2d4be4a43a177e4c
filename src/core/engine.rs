//! All lines together: feeds evidence to each line's state machine, keeps the selection
//! current, and says what changed. Pure: the daemon owns the I/O and the clock.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use super::desired::{desired_state, Desired};
use super::line::{LineState, LinkFacts, Transition};
use super::select::{select, Candidate, Selection, SelectionBasis};
use crate::config::{Config, Uplink};

/// Something worth a log line (and, later, a hook): a line changed state, or the set of
/// active lines changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Line {
        name: String,
        transition: Transition,
    },
    Active {
        from: Vec<String>,
        to: Vec<String>,
        basis: SelectionBasis,
    },
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::Line { name, transition } => write!(f, "uplink \"{name}\" {transition}"),
            Notice::Active { from, to, basis } => {
                let list = |v: &[String]| match v.join(", ") {
                    s if s.is_empty() => "none (main table decides)".to_string(),
                    s => s,
                };
                let why = match basis {
                    SelectionBasis::Healthy => "best healthy line",
                    SelectionBasis::LinkFallback => {
                        "no line passes its probes: keeping the best line whose link is up"
                    }
                    SelectionBasis::Nothing => "no line has a usable link",
                };
                write!(f, "active: {} -> {} ({why})", list(from), list(to))
            }
        }
    }
}

/// The daemon's view of every configured line.
pub struct Engine {
    config: Config,
    lines: Vec<LineState>,
    selection: Selection,
}

impl Engine {
    /// Every line starts down and unproven.
    pub fn new(config: Config, now: Instant) -> Self {
        let lines = config
            .uplinks
            .iter()
            .map(|u| LineState::new(&u.probe, now))
            .collect();
        let mut engine = Engine {
            config,
            lines,
            selection: select(&[]),
        };
        engine.selection = select(&engine.candidates());
        engine
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The state of line `index` (config order).
    pub fn line(&self, index: usize) -> &LineState {
        &self.lines[index]
    }

    pub fn selection(&self) -> &Selection {
        &self.selection
    }

    /// Takes a new config. A line keeps its state when its name, device and probe settings
    /// are unchanged, so a reload that touches one line does not disturb the others.
    pub fn reconfigure(&mut self, config: Config, now: Instant) -> Vec<Notice> {
        let mut old: HashMap<&str, (&Uplink, &LineState)> = self
            .config
            .uplinks
            .iter()
            .zip(&self.lines)
            .map(|(u, l)| (u.name.as_str(), (u, l)))
            .collect();
        let lines = config
            .uplinks
            .iter()
            .map(|u| match old.remove(u.name.as_str()) {
                Some((prev, state)) if prev.device == u.device && prev.probe == u.probe => {
                    state.clone()
                }
                _ => LineState::new(&u.probe, now),
            })
            .collect();
        self.lines = lines;
        self.config = config;
        self.reselect().into_iter().collect()
    }

    /// New link facts for every device (from a netlink dump); absent devices are gone.
    pub fn on_links(&mut self, links: &HashMap<String, LinkFacts>, now: Instant) -> Vec<Notice> {
        let mut notices = Vec::new();
        for (uplink, line) in self.config.uplinks.iter().zip(&mut self.lines) {
            let facts = links.get(&uplink.device).cloned();
            if line.link() != facts.as_ref() {
                notices.extend(line_notice(uplink, line.on_link(facts, now)));
            }
        }
        notices.extend(self.reselect());
        notices
    }

    /// A probe outcome for `target` of line `index`: `Some(rtt)` answered, `None` lost.
    pub fn on_probe(
        &mut self,
        index: usize,
        target: usize,
        rtt: Option<Duration>,
        now: Instant,
    ) -> Vec<Notice> {
        let (Some(uplink), Some(line)) =
            (self.config.uplinks.get(index), self.lines.get_mut(index))
        else {
            return Vec::new();
        };
        let mut notices: Vec<Notice> =
            line_notice(uplink, line.on_probe(target, rtt, now)).collect();
        notices.extend(self.reselect());
        notices
    }

    /// Re-evaluates every line at `now` (call at [`Engine::next_deadline`]).
    pub fn tick(&mut self, now: Instant) -> Vec<Notice> {
        let mut notices = Vec::new();
        for (uplink, line) in self.config.uplinks.iter().zip(&mut self.lines) {
            notices.extend(line_notice(uplink, line.evaluate(now)));
        }
        notices.extend(self.reselect());
        notices
    }

    /// The earliest time a line can change state without new evidence.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.lines.iter().filter_map(LineState::next_deadline).min()
    }

    /// What the kernel should hold now.
    pub fn desired(&self) -> Desired {
        let links: Vec<Option<&LinkFacts>> = self.lines.iter().map(LineState::link).collect();
        desired_state(&self.config.uplinks, &links, &self.selection)
    }

    fn candidates(&self) -> Vec<Candidate> {
        self.config
            .uplinks
            .iter()
            .zip(&self.lines)
            .map(|(u, l)| Candidate {
                metric: u.metric,
                weight: u.weight,
                up: l.is_up(),
                link_usable: l.link_usable(),
            })
            .collect()
    }

    fn reselect(&mut self) -> Option<Notice> {
        let next = select(&self.candidates());
        if next.members == self.selection.members {
            self.selection = next;
            return None;
        }
        let names = |s: &Selection| -> Vec<String> {
            s.members
                .iter()
                .map(|&(i, _)| self.config.uplinks[i].name.clone())
                .collect()
        };
        let notice = Notice::Active {
            from: names(&self.selection),
            to: names(&next),
            basis: next.basis,
        };
        self.selection = next;
        Some(notice)
    }
}

fn line_notice(uplink: &Uplink, transition: Option<Transition>) -> impl Iterator<Item = Notice> {
    let name = uplink.name.clone();
    transition
        .map(move |transition| Notice::Line { name, transition })
        .into_iter()
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
