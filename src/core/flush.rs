//! Which lines' connection-tracking entries to delete after a change, so that long-lived
//! flows (games, VoIP, WireGuard) move at once. Only the entries of the lines concerned,
//! never a global flush, and never when no other line can take the traffic.

use std::net::IpAddr;

use super::engine::{Engine, Notice};
use super::owned::{line_mark, share_mark, sticky_mark};

/// Delete the entries of one line: those masqueraded (source-NATed) to one of `addrs`,
/// and those pinned to it by one of its conntrack `marks` (inbound, load sharing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlushRequest {
    pub line: String,
    pub addrs: Vec<IpAddr>,
    pub marks: Vec<u32>,
    /// For the log: why.
    pub reason: &'static str,
}

/// The flushes that `notices` (just produced by `engine`) call for.
pub fn flush_plan(engine: &Engine, notices: &[Notice]) -> Vec<FlushRequest> {
    let mut plan: Vec<FlushRequest> = Vec::new();
    for notice in notices {
        let requests = match notice {
            Notice::Line { name, transition } if !transition.up => on_down(engine, name),
            Notice::Active { from, to, .. } => on_takeover(engine, from, to),
            Notice::SessionsMoved { name, .. } => sessions_moved(engine, name),
            _ => Vec::new(),
        };
        for request in requests {
            if !plan.iter().any(|r| r.line == request.line) {
                plan.push(request);
            }
        }
    }
    plan
}

fn request(engine: &Engine, name: &str, reason: &'static str) -> Option<FlushRequest> {
    let index = engine
        .config()
        .uplinks
        .iter()
        .position(|u| u.name == name)?;
    Some(FlushRequest {
        line: name.to_string(),
        addrs: engine.line(index).known_addrs().to_vec(),
        marks: vec![line_mark(index), share_mark(index), sticky_mark(index)],
        reason,
    })
}

/// A line that is up stops keeping the connections that left through it (its bound
/// passed, `drain --now`): only those, by their marks. Its inbound connections (line mark)
/// and the router's own from its address still belong to it.
fn sessions_moved(engine: &Engine, name: &str) -> Vec<FlushRequest> {
    let Some(index) = engine.config().uplinks.iter().position(|u| u.name == name) else {
        return Vec::new();
    };
    vec![FlushRequest {
        line: name.to_string(),
        addrs: Vec::new(),
        marks: vec![share_mark(index), sticky_mark(index)],
        reason: "its remaining connections moved",
    }]
}

/// A line went down: its flows must move, if another line carries traffic now.
fn on_down(engine: &Engine, name: &str) -> Vec<FlushRequest> {
    let uplink = engine.config().uplinks.iter().find(|u| u.name == name);
    let wanted = uplink.is_some_and(|u| u.flush.down);
    let other_line = engine
        .selection()
        .members
        .iter()
        .any(|&(i, _)| engine.config().uplinks[i].name != name);
    if !(wanted && other_line) {
        return Vec::new();
    }
    request(engine, name, "line down").into_iter().collect()
}

/// Lines in `to` that take over from lines in `from`: with `flush_on` "up", the flows of
/// the lines they replace move to them.
fn on_takeover(engine: &Engine, from: &[String], to: &[String]) -> Vec<FlushRequest> {
    let uplinks = &engine.config().uplinks;
    let takes_over = to
        .iter()
        .filter(|n| !from.contains(n))
        .any(|n| uplinks.iter().any(|u| &u.name == n && u.flush.up));
    if !takes_over {
        return Vec::new();
    }
    // A drained line keeps its connections until `drain --now` or its bound.
    from.iter()
        .filter(|n| !to.contains(n))
        .filter(|n| !is_drained(engine, n))
        .filter_map(|n| request(engine, n, "traffic moved back"))
        .collect()
}

fn is_drained(engine: &Engine, name: &str) -> bool {
    let uplinks = &engine.config().uplinks;
    (uplinks.iter().position(|u| u.name == name)).is_some_and(|i| engine.is_drained(i))
}

#[cfg(test)]
#[path = "flush_tests.rs"]
mod tests;
