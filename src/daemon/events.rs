//! What the daemon does with the engine's notices besides logging them: hook events for
//! scripts, and connection-tracking flushes. The conversion is pure and tested here.

use std::time::{Instant, SystemTime};

use super::status::format_wall_at;
use crate::core::figures::TargetFigures;
use crate::core::flush::FlushRequest;
use crate::core::{Engine, Notice};
use crate::hooks::{HookEvent, HookKind};
use crate::system::conntrack::{delete_matching, ConntrackFilter};

/// The hook events that `notices` (just produced by `engine`) call for.
pub fn hook_events(engine: &Engine, notices: &[Notice]) -> Vec<HookEvent> {
    let mut events = Vec::new();
    for notice in notices {
        match notice {
            Notice::Line { name, transition } => {
                let kind = if transition.up {
                    HookKind::Up
                } else {
                    HookKind::Down
                };
                events.extend(event(engine, kind, name, &transition.reason));
            }
            Notice::Active { from, to, .. } => events.extend(active_changes(engine, from, to)),
            Notice::Policy { name, from, to } => {
                let line = to.clone();
                if let Some(mut e) = event(engine, HookKind::PolicyChange, &line, "policy moved")
                    .or_else(|| blank_event(HookKind::PolicyChange, &line))
                {
                    e.policy = Some(name.clone());
                    e.previous_active = vec![from.clone()];
                    e.active = vec![to.clone()];
                    events.push(e);
                }
            }
            Notice::Quality { name, change } => {
                let kind = if change.degraded {
                    HookKind::Degraded
                } else {
                    HookKind::Recovered
                };
                events.extend(event(engine, kind, name, &change.reason));
            }
            Notice::Damping { name, change } => {
                let kind = if change.suppressed {
                    HookKind::Suppressed
                } else {
                    HookKind::Unsuppressed
                };
                events.extend(event(engine, kind, name, &notice.to_string()));
            }
            Notice::Drain { .. } | Notice::SessionsMoved { .. } => {}
        }
    }
    events
}

/// Puts the wall-clock time into the "suppressed until" of `notices` (the core knows only
/// the monotonic clock); `now` and `wall` are the same moment on both clocks.
pub fn with_wall_times(notices: &mut [Notice], now: Instant, wall: SystemTime) {
    for notice in notices {
        if let Notice::Damping { change, .. } = notice {
            if let Some(until) = change.until {
                change.until_text = format_wall_at(until, now, wall);
            }
        }
    }
}

/// One `active` event per line that starts carrying traffic, one `inactive` per line
/// that stops.
fn active_changes(engine: &Engine, from: &[String], to: &[String]) -> Vec<HookEvent> {
    let started = to
        .iter()
        .filter(|n| !from.contains(n))
        .map(|n| (HookKind::Active, n));
    let stopped = from
        .iter()
        .filter(|n| !to.contains(n))
        .map(|n| (HookKind::Inactive, n));
    started
        .chain(stopped)
        .filter_map(|(kind, name)| {
            let mut e = event(engine, kind, name, "selection changed")?;
            e.previous_active = from.to_vec();
            e.active = to.to_vec();
            Some(e)
        })
        .collect()
}

fn event(engine: &Engine, kind: HookKind, name: &str, reason: &str) -> Option<HookEvent> {
    let index = engine
        .config()
        .uplinks
        .iter()
        .position(|u| u.name == name)?;
    let uplink = &engine.config().uplinks[index];
    let gateway = engine.gateway(index);
    let figures = engine.line(index).target_figures(std::time::Instant::now());
    let failing = failing(engine, index, &figures);
    Some(HookEvent {
        kind,
        line: uplink.name.clone(),
        device: uplink.device.clone(),
        interface: uplink.interface.clone(),
        family: uplink.family.as_str().into(),
        gateway: gateway.map(|g| g.to_string()),
        reason: reason.to_string(),
        previous_active: Vec::new(),
        active: Vec::new(),
        policy: None,
        failing,
    })
}

/// Line `index`'s targets that are not answering by `figures`, each as `KIND TARGET`:
/// what events and hooks say about which kinds of probe fail.
pub fn failing(engine: &Engine, index: usize, figures: &[TargetFigures]) -> Vec<String> {
    let targets = &engine.config().uplinks[index].probe.targets;
    targets
        .iter()
        .zip(figures)
        .filter(|(_, f)| !f.answering)
        .map(|(t, _)| format!("{} {t}", t.kind.as_str()))
        .collect()
}

/// A policy may move to "unreachable" or "the normal selection": no line to describe.
fn blank_event(kind: HookKind, what: &str) -> Option<HookEvent> {
    Some(HookEvent {
        kind,
        line: what.to_string(),
        device: String::new(),
        interface: None,
        family: String::new(),
        gateway: None,
        reason: "policy moved".into(),
        previous_active: Vec::new(),
        active: Vec::new(),
        policy: None,
        failing: Vec::new(),
    })
}

/// Deletes one line's conntrack entries: by each of its addresses (masquerade) and by its
/// marks (inbound connections, load sharing). Errors are logged; nothing is retried, as entries of a dead
/// line also time out by themselves.
pub async fn flush(request: FlushRequest) {
    let mut filters: Vec<ConntrackFilter> = request
        .addrs
        .iter()
        .map(|a| ConntrackFilter::NatAddress(*a))
        .collect();
    filters.extend(request.marks.iter().map(|&value| ConntrackFilter::Mark {
        value,
        mask: crate::core::owned::MARK_MASK,
    }));
    let mut deleted = 0;
    for filter in filters {
        match delete_matching(filter).await {
            Ok(n) => deleted += n,
            Err(e) => tracing::warn!("uplink \"{}\": {e}", request.line),
        }
    }
    tracing::info!(
        "uplink \"{}\": deleted {deleted} conntrack entries ({})",
        request.line,
        request.reason
    );
}

/// Names an ifindex "dev NAME" when it is one of our lines' devices (`names`), for
/// readable logs; others keep their number.
pub fn device_namer(names: Vec<(u32, String)>) -> impl Fn(u32) -> String {
    move |ifindex| match names.iter().find(|(i, _)| *i == ifindex) {
        Some((_, name)) => format!("dev {name}"),
        None => crate::core::desired::ifindex_name(ifindex),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::net::Ipv4Addr;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::config::parse;
    use crate::core::LinkFacts;

    const CONFIG: &str = "[[uplink]]\nname = \"main\"\ndevice = \"wan1\"\ngateway = \"192.0.2.1\"\n[[uplink]]\nname = \"backup\"\ndevice = \"wan2\"\nmetric = 200\n[[policy]]\nname = \"speaker\"\nfrom = [\"198.18.1.50\"]\nuplinks = [\"backup\", \"main\"]\n";

    fn links(main: bool) -> HashMap<String, LinkFacts> {
        let facts = |ifindex, carrier| LinkFacts {
            ifindex,
            admin_up: true,
            carrier,
            addrs: vec![Ipv4Addr::new(192, 0, 2, ifindex as u8).into()],
            ..LinkFacts::default()
        };
        HashMap::from([
            ("wan1".into(), facts(2, main)),
            ("wan2".into(), facts(3, true)),
        ])
    }

    #[test]
    fn failover_gives_down_active_inactive_and_policy_events() {
        let t0 = Instant::now();
        let mut engine = Engine::new(parse(CONFIG).unwrap(), t0);
        engine.on_links(&links(true), t0);
        let notices = engine.on_links(&links(false), t0 + Duration::from_millis(5));
        let events = hook_events(&engine, &notices);
        let kinds: Vec<(HookKind, &str)> =
            events.iter().map(|e| (e.kind, e.line.as_str())).collect();
        assert_eq!(
            kinds,
            [
                (HookKind::Down, "main"),
                (HookKind::Active, "backup"),
                (HookKind::Inactive, "main"),
            ]
        );
        let down = &events[0];
        assert_eq!(down.device, "wan1");
        assert_eq!(down.gateway.as_deref(), Some("192.0.2.1"));
        assert_eq!(down.reason, "link lost carrier");
        assert_eq!(events[1].previous_active, ["main"]);
        assert_eq!(events[1].active, ["backup"]);
    }

    #[test]
    fn policy_change_names_the_policy() {
        let t0 = Instant::now();
        let mut engine = Engine::new(parse(CONFIG).unwrap(), t0);
        let notices = engine.on_links(&links(true), t0);
        let events = hook_events(&engine, &notices);
        let policy = events
            .iter()
            .find(|e| e.kind == HookKind::PolicyChange)
            .unwrap();
        assert_eq!(policy.policy.as_deref(), Some("speaker"));
        assert_eq!(policy.line, "backup");
        assert_eq!(policy.previous_active, ["the normal selection"]);
    }

    #[test]
    fn device_names_replace_ifindexes() {
        use crate::core::{NextHop, Route};
        use crate::reconcile::Change;
        let names = vec![(3, "wan1".to_string()), (31, "wan2".to_string())];
        let hop = |ifindex, gateway: Option<Ipv4Addr>, weight| NextHop {
            ifindex,
            gateway: gateway.map(Into::into),
            weight,
        };
        let change = Change::PutRoute(Route {
            family: crate::config::Family::V4,
            table: 7700,
            nexthops: vec![
                hop(3, Some(Ipv4Addr::new(192, 0, 2, 1)), 1),
                hop(31, None, 2),
                hop(9, None, 1),
            ],
        });
        assert_eq!(
            change.describe(&device_namer(names)),
            "route replace default table 7700 proto 197 nexthop via 192.0.2.1 dev wan1 weight 1 nexthop dev wan2 weight 2 nexthop ifindex 9 weight 1"
        );
    }

    #[test]
    fn suppression_notices_say_until_when_on_the_wall_clock() {
        use crate::core::damping::DampingChange;
        let now = Instant::now();
        let wall = std::time::UNIX_EPOCH + Duration::from_secs(1_764_590_000);
        let change = DampingChange {
            suppressed: true,
            until: Some(now + Duration::from_secs(85)),
            penalty: 1891,
            threshold: 1500,
            until_text: "in 85 s".into(),
        };
        let mut notices = vec![Notice::Damping {
            name: "main".into(),
            change,
        }];
        with_wall_times(&mut notices, now, wall);
        assert_eq!(
            notices[0].to_string(),
            "uplink \"main\" suppressed until 2025-12-01T11:54:45Z: flapping (penalty 1891 \
             reached 1500); not chosen while another line is up (still probed)"
        );
    }
}
