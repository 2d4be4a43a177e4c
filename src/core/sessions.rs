//! Which lines keep their existing connections.
//!
//! Every connection is marked with the line it left through (nft, after routing) and keeps
//! using that line's serving table while the line keeps its sessions; new connections
//! follow the selection and the policies. A line keeps its sessions:
//! - while it takes new connections (selected, or chosen by a policy);
//! - after it stops taking them (a better line came back, it was drained) while it is up,
//!   for at most its `keep_sessions_s` (none: until they end);
//! - never once it is down: a dead line's connections move at once, as before;
//! - never once it is not active, when its device filters reverse paths strictly
//!   (rp_filter=1): the kernel would drop the replies of the connections kept on it (the
//!   reverse-path lookup of a reply sees neither its connection's mark nor the masquerade)
//!   and they would hang; moved at once, they are reset cleanly, as before 0.2.
//!
//! Pure: time is passed in. Judged by name, so a reload keeps the state of its lines.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// What one line is doing with its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// It takes new connections.
    InUse,
    /// It takes no new ones and keeps the existing ones, since then.
    Kept(Instant),
    /// It keeps none: it went down, its bound passed or they were moved by hand.
    Moved,
}

/// One line as the sessions see it.
#[derive(Debug, Clone, Copy)]
pub struct LineView<'a> {
    pub name: &'a str,
    /// Selected or chosen by a policy: it takes new connections.
    pub in_use: bool,
    /// Up by its own evidence with a usable link (drained or not).
    pub up: bool,
    /// Probing has no verdict yet (start, new probe settings): neither up nor dead, so
    /// connections from before a restart stay where they are until it is judged.
    pub pending: bool,
    /// `keep_sessions_s`: how long it keeps them after it stops taking new ones.
    pub keep: Option<Duration>,
    /// Its device filters reverse paths strictly (IPv4 rp_filter=1): it keeps connections
    /// only while it takes new ones; `in_use` must then mean active (selected).
    pub strict_rp: bool,
}

/// What the routing needs to know of one line's sessions (see `core::share`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Keeping {
    /// The line keeps (or takes) connections: its serving table holds its route.
    pub holds: bool,
    /// Its device filters reverse paths strictly: its sticky rule comes after the
    /// policies' rules ([`crate::core::owned::PRIO_STICKY_STRICT`]).
    pub strict_rp: bool,
}

/// Why a line's remaining connections are moved off it while it is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveReason {
    /// `keep_sessions_s` passed since it stopped taking new connections.
    Bound(Duration),
    /// `uplink drain --now`.
    DrainNow,
    /// Strict reverse-path filtering on its device would drop their replies.
    StrictRpFilter,
}

impl std::fmt::Display for MoveReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MoveReason::Bound(d) => write!(
                f,
                "kept {} s after it stopped taking new connections (keep_sessions_s)",
                d.as_secs()
            ),
            MoveReason::DrainNow => f.write_str("drained with --now"),
            MoveReason::StrictRpFilter => f.write_str(
                "strict reverse-path filtering (rp_filter=1) on its device would drop their \
                 replies now that it is not active; set rp_filter=2 (loose) to keep them",
            ),
        }
    }
}

/// The state of every line, by name.
#[derive(Debug, Default)]
pub struct Sessions {
    lines: HashMap<String, Keep>,
}

impl Sessions {
    /// Brings every line's state up to `now`; returns the lines whose bound passed (their
    /// connections must move: conntrack entries deleted) and whether any line's keeping
    /// changed. A line not seen before may carry connections from before (a restart): it
    /// starts as kept.
    pub fn update(
        &mut self,
        lines: &[LineView],
        now: Instant,
    ) -> (Vec<(String, MoveReason)>, bool) {
        let mut moved = Vec::new();
        let mut changed = false;
        self.lines
            .retain(|name, _| lines.iter().any(|l| l.name == name));
        for line in lines {
            let before = self.lines.get(line.name).copied();
            let was = before.unwrap_or(Keep::Kept(now));
            let next = match (line.in_use, line.up, line.pending, was) {
                (true, _, _, _) => Keep::InUse,
                (false, false, false, _) => Keep::Moved,
                (false, _, _, _) if line.strict_rp => {
                    // Only what it was seen holding is announced (and flushed): a line
                    // first seen at start has nothing of ours to move yet.
                    if before.is_some_and(holds) {
                        moved.push((line.name.to_string(), MoveReason::StrictRpFilter));
                    }
                    Keep::Moved
                }
                (false, _, _, Keep::InUse) => Keep::Kept(now),
                (false, _, _, keep) => keep,
            };
            let next = match (next, line.keep) {
                (Keep::Kept(since), Some(bound)) if now >= since + bound => {
                    moved.push((line.name.to_string(), MoveReason::Bound(bound)));
                    Keep::Moved
                }
                (next, _) => next,
            };
            if before.map(holds) != Some(holds(next)) {
                changed = true;
            }
            // Allocates only for a line seen the first time: this runs on every probe reply.
            match self.lines.get_mut(line.name) {
                Some(kept) => *kept = next,
                None => {
                    self.lines.insert(line.name.to_string(), next);
                }
            }
        }
        (moved, changed)
    }

    /// Moves the remaining connections of `name` off it now (`drain --now`), unless it
    /// takes new ones. Returns whether it kept any.
    pub fn move_now(&mut self, name: &str) -> bool {
        match self.lines.get_mut(name) {
            Some(keep @ Keep::Kept(_)) => {
                *keep = Keep::Moved;
                true
            }
            _ => false,
        }
    }

    /// Whether line `name` keeps (or takes) connections.
    pub fn holds(&self, name: &str) -> bool {
        self.lines.get(name).is_some_and(|k| holds(*k))
    }

    /// When the next kept line's bound passes.
    pub fn next_deadline(&self, keep: impl Fn(&str) -> Option<Duration>) -> Option<Instant> {
        self.lines
            .iter()
            .filter_map(|(name, k)| match k {
                Keep::Kept(since) => keep(name).map(|b| *since + b),
                _ => None,
            })
            .min()
    }
}

fn holds(keep: Keep) -> bool {
    !matches!(keep, Keep::Moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(name: &str, in_use: bool, up: bool, keep: Option<u64>) -> LineView<'_> {
        LineView {
            name,
            in_use,
            up,
            pending: false,
            keep: keep.map(Duration::from_secs),
            strict_rp: false,
        }
    }

    #[test]
    fn failback_keeps_the_old_line_until_its_bound() {
        let t0 = Instant::now();
        let mut s = Sessions::default();
        s.update(
            &[
                view("main", false, false, None),
                view("backup", true, true, Some(60)),
            ],
            t0,
        );
        assert!(s.holds("backup") && !s.holds("main"));
        // Main returns and takes new connections: backup keeps its own.
        let t1 = t0 + Duration::from_secs(100);
        let (moved, _) = s.update(
            &[
                view("main", true, true, None),
                view("backup", false, true, Some(60)),
            ],
            t1,
        );
        assert!(moved.is_empty() && s.holds("backup") && s.holds("main"));
        assert_eq!(
            s.next_deadline(|n| (n == "backup").then(|| Duration::from_secs(60))),
            Some(t1 + Duration::from_secs(60))
        );
        let (moved, changed) = s.update(
            &[
                view("main", true, true, None),
                view("backup", false, true, Some(60)),
            ],
            t1 + Duration::from_secs(60),
        );
        assert_eq!(
            moved,
            vec![(
                "backup".to_string(),
                MoveReason::Bound(Duration::from_secs(60))
            )]
        );
        assert!(changed && !s.holds("backup"));
    }

    #[test]
    fn without_a_bound_sessions_stay_and_a_dead_line_keeps_none() {
        let t0 = Instant::now();
        let mut s = Sessions::default();
        s.update(&[view("backup", true, true, None)], t0);
        let (moved, _) = s.update(
            &[view("backup", false, true, None)],
            t0 + Duration::from_secs(86400),
        );
        assert!(moved.is_empty() && s.holds("backup"));
        assert_eq!(s.next_deadline(|_| None), None);
        let (moved, changed) = s.update(&[view("backup", false, false, None)], t0);
        assert!(moved.is_empty() && changed && !s.holds("backup"));
        // Back up but not in use: nothing was left on it to keep.
        s.update(&[view("backup", false, true, None)], t0);
        assert!(!s.holds("backup"));
    }

    #[test]
    fn zero_moves_at_once_and_drain_now_moves_kept_sessions() {
        let t0 = Instant::now();
        let mut s = Sessions::default();
        s.update(
            &[view("a", true, true, Some(0)), view("b", true, true, None)],
            t0,
        );
        let (moved, _) = s.update(
            &[
                view("a", false, true, Some(0)),
                view("b", false, true, None),
            ],
            t0,
        );
        assert_eq!(moved.len(), 1);
        assert!(!s.holds("a") && s.holds("b"));
        assert!(s.move_now("b") && !s.holds("b"));
        assert!(!s.move_now("b"), "nothing left to move");
        // Taking new connections again starts over.
        s.update(&[view("b", true, true, None)], t0);
        assert!(s.holds("b") && !s.move_now("b"));
    }

    #[test]
    fn a_line_not_judged_yet_may_carry_connections_from_before_a_restart() {
        let mut s = Sessions::default();
        let pending = LineView {
            pending: true,
            ..view("backup", false, false, None)
        };
        s.update(&[pending], Instant::now());
        assert!(s.holds("backup"));
        s.update(&[view("backup", false, true, None)], Instant::now());
        assert!(s.holds("backup"));
    }

    #[test]
    fn strict_reverse_path_filtering_moves_sessions_as_soon_as_the_line_is_not_active() {
        let t0 = Instant::now();
        let strict = |in_use| LineView {
            strict_rp: true,
            ..view("backup", in_use, true, None)
        };
        let mut s = Sessions::default();
        // First seen not active (a start): nothing of ours to move, nothing said.
        let (moved, _) = s.update(&[strict(false)], t0);
        assert!(moved.is_empty() && !s.holds("backup"));
        s.update(&[strict(true)], t0);
        assert!(s.holds("backup"));
        // Failback: moved at once, said why, although it is up and has no bound.
        let (moved, changed) = s.update(&[strict(false)], t0 + Duration::from_secs(1));
        assert_eq!(
            moved,
            vec![("backup".to_string(), MoveReason::StrictRpFilter)]
        );
        assert!(changed && !s.holds("backup"));
        assert_eq!(s.next_deadline(|_| None), None);
        // Said once: it keeps nothing since.
        let (moved, changed) = s.update(&[strict(false)], t0 + Duration::from_secs(2));
        assert!(moved.is_empty() && !changed);
        // Kept sessions (loose filtering until now) move when filtering turns strict.
        s.update(&[strict(true)], t0);
        s.update(&[view("backup", false, true, None)], t0);
        assert!(s.holds("backup"));
        let (moved, _) = s.update(&[strict(false)], t0);
        assert_eq!(moved.len(), 1);
        assert!(!s.holds("backup"));
    }
}
