//! The engine's part in keeping connections on the line they left through: which lines
//! take new connections and which are up, fed to [`Sessions`] after every reselection.

use std::collections::BTreeSet;

use super::{Engine, Notice};
use crate::core::desired::PolicyChoice;
use crate::core::line::Health;
use crate::core::sessions::{LineView, MoveReason};

impl Engine {
    /// Which lines keep their existing connections now (see `core::sessions`): notices for
    /// those that stop, and whether any changed.
    pub(super) fn update_sessions(&mut self) -> (Vec<Notice>, bool) {
        let views: Vec<LineView> = (self.config.uplinks.iter().zip(&self.lines).enumerate())
            .map(|(i, (u, l))| {
                let strict_rp = self.strict_rp.contains(&u.name);
                // With strict filtering, only the active lines' replies pass (a policy's
                // own traffic is routed by its rule, not by the serving table).
                let chosen = !strict_rp && self.policies.contains(&PolicyChoice::Line(i));
                LineView {
                    name: &u.name,
                    in_use: self.selection.contains(i) || chosen,
                    // A degraded or suppressed line is up but poor: its connections
                    // follow the traffic to the lines in use, as they did before 0.3.
                    up: l.is_up()
                        && l.link_usable()
                        && l.degraded().is_none()
                        && !l.is_suppressed(),
                    pending: l.health() == Health::Pending && l.link_usable(),
                    keep: u.keep_sessions,
                    strict_rp,
                }
            })
            .collect();
        let (moved, changed) = self.sessions.update(&views, self.clock);
        let notices = moved
            .into_iter()
            .map(|(name, reason)| Notice::SessionsMoved { name, reason });
        (notices.collect(), changed)
    }

    /// The lines (by name) whose device filters reverse paths strictly (rp_filter=1), read
    /// by the daemon: they keep no connections once not active. Notices for those that
    /// stop keeping some now.
    pub fn set_strict_rp_filter(&mut self, names: BTreeSet<String>) -> Vec<Notice> {
        if names == self.strict_rp {
            return Vec::new();
        }
        self.strict_rp = names;
        self.touch();
        self.update_sessions().0
    }

    /// Moves the remaining connections of drained line `name` off it now (`drain --now`):
    /// a notice when it kept any.
    pub fn move_sessions(&mut self, name: &str) -> Vec<Notice> {
        if !self.sessions.move_now(name) {
            return Vec::new();
        }
        self.touch();
        let reason = MoveReason::DrainNow;
        vec![Notice::SessionsMoved {
            name: name.to_string(),
            reason,
        }]
    }

    /// Whether line `name` keeps (or takes) connections: its serving table holds its route.
    pub fn keeps_sessions(&self, name: &str) -> bool {
        self.sessions.holds(name)
    }
}
