//! What the engine reports: a line changed state, the active lines changed, a policy
//! moved... each with the text the log, the events and the hooks carry.

use std::fmt;

use super::damping::DampingChange;
use super::line::Transition;
use super::quality::QualityChange;
use super::select::SelectionBasis;
use super::sessions::MoveReason;
use crate::config::{Family, Uplink};

/// Something worth a log line (and, later, a hook): a line changed state, or the set of
/// active lines changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Line {
        name: String,
        transition: Transition,
    },
    /// The lines carrying the default route of `family` changed.
    Active {
        family: Family,
        from: Vec<String>,
        to: Vec<String>,
        basis: SelectionBasis,
    },
    /// A policy's traffic moved (`from`/`to` describe the choice: a line name,
    /// "unreachable", or "the normal selection").
    Policy {
        name: String,
        from: String,
        to: String,
    },
    /// A line was drained or undrained by hand.
    Drain { name: String, drained: bool },
    /// A line became degraded (too slow or too lossy) or good again.
    Quality { name: String, change: QualityChange },
    /// A line was suppressed for flapping, or its suppression ended.
    Damping { name: String, change: DampingChange },
    /// A line that is up but takes no new connections stops keeping its existing ones:
    /// they move to the lines in use (see `core::sessions`).
    SessionsMoved { name: String, reason: MoveReason },
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::Line { name, transition } => write!(f, "uplink \"{name}\" {transition}"),
            Notice::Active {
                family,
                from,
                to,
                basis,
            } => {
                let list = |v: &[String]| match v.join(", ") {
                    s if s.is_empty() => "none (main table decides)".to_string(),
                    s => s,
                };
                let why = match basis {
                    SelectionBasis::Healthy => "best healthy line",
                    SelectionBasis::Degraded => {
                        "every line that is up is degraded or suppressed: best of them"
                    }
                    SelectionBasis::LinkFallback => {
                        "no line passes its probes: keeping the best line whose link is up"
                    }
                    SelectionBasis::Nothing => "no line has a usable link",
                };
                let six = if *family == Family::V6 { " (ipv6)" } else { "" };
                write!(f, "active{six}: {} -> {} ({why})", list(from), list(to))
            }
            Notice::Policy { name, from, to } => write!(f, "policy \"{name}\": {from} -> {to}"),
            Notice::Quality { name, change } => {
                let word = if change.degraded {
                    "degraded"
                } else {
                    "no longer degraded"
                };
                write!(f, "uplink \"{name}\" {word}: {}", change.reason)
            }
            Notice::Damping { name, change } if change.suppressed => write!(
                f,
                "uplink \"{name}\" suppressed until {}: flapping (penalty {} reached {}); \
                 not chosen while another line is up (still probed)",
                change.until_text, change.penalty, change.threshold
            ),
            Notice::Damping { name, change } => write!(
                f,
                "uplink \"{name}\" no longer suppressed (penalty {} below {})",
                change.penalty, change.threshold
            ),
            Notice::Drain {
                name,
                drained: true,
            } => {
                write!(
                    f,
                    "uplink \"{name}\" drained: no new connections until undrained (still probed)"
                )
            }
            Notice::Drain {
                name,
                drained: false,
            } => write!(f, "uplink \"{name}\" undrained"),
            Notice::SessionsMoved { name, reason } => write!(
                f,
                "uplink \"{name}\": its remaining connections move to the lines in use ({reason})"
            ),
        }
    }
}

pub(super) fn quality_notice(
    uplink: &Uplink,
    change: Option<QualityChange>,
) -> impl Iterator<Item = Notice> {
    let name = uplink.name.clone();
    change
        .map(move |change| Notice::Quality { name, change })
        .into_iter()
}

pub(super) fn damping_notice(
    uplink: &Uplink,
    change: Option<DampingChange>,
) -> impl Iterator<Item = Notice> {
    let name = uplink.name.clone();
    change
        .map(move |change| Notice::Damping { name, change })
        .into_iter()
}

pub(super) fn line_notice(
    uplink: &Uplink,
    transition: Option<Transition>,
) -> impl Iterator<Item = Notice> {
    let name = uplink.name.clone();
    transition
        .map(move |transition| Notice::Line { name, transition })
        .into_iter()
}
