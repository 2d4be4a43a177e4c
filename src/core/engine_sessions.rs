//! The engine's part in keeping connections on the line they left through: which lines
//! take new connections and which are up, fed to [`Sessions`] after every reselection.

use super::{Engine, Notice};
use crate::core::desired::PolicyChoice;
use crate::core::line::Health;
use crate::core::sessions::{LineView, MoveReason};

impl Engine {
    /// Which lines keep their existing connections now (see `core::sessions`): notices for
    /// those that stop, and whether any changed.
    pub(super) fn update_sessions(&mut self) -> (Vec<Notice>, bool) {
        let views: Vec<LineView> = (self.config.uplinks.iter().zip(&self.lines).enumerate())
            .map(|(i, (u, l))| LineView {
                name: &u.name,
                in_use: self.selection.contains(i)
                    || self.policies.contains(&PolicyChoice::Line(i)),
                up: l.is_up() && l.link_usable(),
                pending: l.health() == Health::Pending && l.link_usable(),
                keep: u.keep_sessions,
            })
            .collect();
        let (moved, changed) = self.sessions.update(&views, self.clock);
        let notices = moved
            .into_iter()
            .map(|(name, reason)| Notice::SessionsMoved { name, reason });
        (notices.collect(), changed)
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
