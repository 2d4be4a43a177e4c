use super::*;
use crate::config::parse;
use crate::core::fixtures::{ms, two_links, TWO_LINES};
use crate::core::select::SelectionBasis;

/// Both lines' links up.
fn links() -> HashMap<String, LinkFacts> {
    two_links(true, true)
}

fn active_names(engine: &Engine) -> Vec<&str> {
    engine
        .selection()
        .members
        .iter()
        .map(|&(i, _)| engine.config().uplinks[i].name.as_str())
        .collect()
}

/// Both lines up, main active.
fn running(t0: Instant) -> Engine {
    let mut engine = Engine::new(parse(TWO_LINES).unwrap(), t0);
    let notices = engine.on_links(&links(), t0);
    // Links up but probes unproven: the best usable link carries traffic meanwhile.
    assert_eq!(active_names(&engine), ["main"]);
    assert_eq!(engine.selection().basis, SelectionBasis::LinkFallback);
    assert!(matches!(notices.last(), Some(Notice::Active { .. })));
    engine.on_probe(0, 0, Some(ms(5)), t0 + ms(10));
    engine.on_probe(1, 0, Some(ms(5)), t0 + ms(10));
    assert_eq!(engine.selection().basis, SelectionBasis::Healthy);
    engine
}

#[test]
fn blackholed_main_fails_over_to_backup_and_back() {
    let t0 = Instant::now();
    let mut engine = running(t0);
    // Backup keeps answering; main goes silent.
    let mut now = t0 + ms(10);
    while now < t0 + ms(2500) {
        now += ms(500);
        engine.on_probe(1, 0, Some(ms(5)), now);
    }
    let deadline = engine.next_deadline().unwrap();
    assert_eq!(deadline, t0 + ms(2010));
    let notices = engine.tick(deadline);
    assert_eq!(
        notices.iter().map(ToString::to_string).collect::<Vec<_>>(),
        [
            "uplink \"main\" down: no reply from 1/1 targets for 2000 ms",
            "active: main -> backup (best healthy line)",
        ]
    );
    let desired = engine.desired();
    let active = desired.routes.iter().find(|r| r.table == 7700).unwrap();
    assert_eq!(active.nexthops[0].ifindex, 3);
    // Main answers again: back after up_after.
    let back = deadline + ms(1000);
    for i in 0..=20 {
        engine.on_probe(0, 0, Some(ms(5)), back + ms(500 * i));
        engine.on_probe(1, 0, Some(ms(5)), back + ms(500 * i));
    }
    assert_eq!(active_names(&engine), ["main"]);
}

#[test]
fn carrier_loss_switches_at_once() {
    let t0 = Instant::now();
    let mut engine = running(t0);
    let mut facts = links();
    facts.get_mut("wan1").unwrap().carrier = false;
    let notices = engine.on_links(&facts, t0 + ms(100));
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert_eq!(active_names(&engine), ["backup"]);
    let desired = engine.desired();
    assert!(desired.routes.iter().all(|r| r.nexthops[0].ifindex == 3));
}

#[test]
fn both_blackholed_keeps_a_default_route_via_main() {
    let t0 = Instant::now();
    let mut engine = running(t0);
    engine.tick(t0 + ms(5000));
    assert_eq!(active_names(&engine), ["main"]);
    assert_eq!(engine.selection().basis, SelectionBasis::LinkFallback);
    assert!(engine.desired().routes.iter().any(|r| r.table == 7700));
}

#[test]
fn reload_keeps_state_of_unchanged_lines() {
    let t0 = Instant::now();
    let mut engine = running(t0);
    let changed = TWO_LINES.replace("metric = 200", "metric = 50");
    let notices = engine.reconfigure(parse(&changed).unwrap(), t0 + ms(20));
    assert!(
        engine.line(1).is_up(),
        "probe settings unchanged: state kept"
    );
    assert_eq!(active_names(&engine), ["backup"]);
    assert_eq!(notices.len(), 1);
}

#[test]
fn device_that_vanishes_goes_down() {
    let t0 = Instant::now();
    let mut engine = running(t0);
    let mut facts = links();
    facts.remove("wan2");
    let notices = engine.on_links(&facts, t0 + ms(50));
    assert_eq!(
        notices[0].to_string(),
        "uplink \"backup\" down: device not found"
    );
    assert_eq!(active_names(&engine), ["main"]);
}

const SPEAKER: &str = r#"
[[policy]]
name = "speaker"
from = ["198.18.1.50"]
uplinks = ["backup", "main"]
"#;

#[test]
fn policy_follows_its_preference_and_falls_back() {
    let t0 = Instant::now();
    let mut engine = Engine::new(parse(&format!("{TWO_LINES}{SPEAKER}")).unwrap(), t0);
    engine.on_links(&links(), t0);
    engine.on_probe(0, 0, Some(ms(5)), t0 + ms(10));
    let notices = engine.on_probe(1, 0, Some(ms(5)), t0 + ms(10));
    assert!(
        notices
            .iter()
            .any(|n| n.to_string() == "policy \"speaker\": main -> backup"),
        "{notices:?}"
    );
    let policy_route = |e: &Engine| e.desired().routes.into_iter().find(|r| r.table == 7740);
    assert_eq!(policy_route(&engine).unwrap().nexthops[0].ifindex, 3);
    // Backup loses carrier: the speaker moves to main, main's other traffic is untouched.
    let mut facts = links();
    facts.get_mut("wan2").unwrap().carrier = false;
    let notices = engine.on_links(&facts, t0 + ms(20));
    let shown: Vec<String> = notices.iter().map(ToString::to_string).collect();
    assert!(
        shown.contains(&"policy \"speaker\": backup -> main".to_string()),
        "{shown:?}"
    );
    assert!(!shown.iter().any(|n| n.starts_with("active:")), "{shown:?}");
    assert_eq!(policy_route(&engine).unwrap().nexthops[0].ifindex, 2);
}

#[test]
fn unreachable_fallback_never_leaks() {
    let t0 = Instant::now();
    let strict = SPEAKER.replace(
        "uplinks = [\"backup\", \"main\"]",
        "uplinks = [\"backup\"]\nfallback = \"unreachable\"",
    );
    let mut engine = Engine::new(parse(&format!("{TWO_LINES}{strict}")).unwrap(), t0);
    engine.on_links(&links(), t0);
    engine.on_probe(0, 0, Some(ms(5)), t0 + ms(10));
    let route = engine
        .desired()
        .routes
        .into_iter()
        .find(|r| r.table == 7740)
        .unwrap();
    assert!(
        route.nexthops.is_empty(),
        "backup not proven yet: unreachable, not main"
    );
}

#[test]
fn drain_moves_traffic_off_a_line_and_undrain_returns_it() {
    let t0 = Instant::now();
    let mut engine = running(t0);
    let notices = engine.set_drained("main", true).unwrap();
    assert_eq!(
        notices[0].to_string(),
        "uplink \"main\" drained: no new connections until undrained (still probed)"
    );
    assert_eq!(active_names(&engine), ["backup"]);
    assert!(engine.line(0).is_up(), "still probed and healthy");
    assert!(
        engine.desired().routes.iter().any(|r| r.table == 7701),
        "probes keep their route"
    );
    assert!(
        engine.set_drained("main", true).unwrap().is_empty(),
        "idempotent"
    );
    engine.set_drained("main", false).unwrap();
    assert_eq!(active_names(&engine), ["main"]);
    assert_eq!(
        engine.set_drained("lte", true).unwrap_err(),
        "unknown uplink \"lte\""
    );
}

#[test]
fn reload_reports_only_policies_that_really_move() {
    let t0 = Instant::now();
    let mut engine = Engine::new(parse(&format!("{TWO_LINES}{SPEAKER}")).unwrap(), t0);
    engine.on_links(&links(), t0);
    engine.on_probe(0, 0, Some(ms(5)), t0 + ms(10));
    engine.on_probe(1, 0, Some(ms(5)), t0 + ms(10));
    let same = engine.reconfigure(
        parse(&format!("{TWO_LINES}{SPEAKER}")).unwrap(),
        t0 + ms(20),
    );
    assert!(same.is_empty(), "{same:?}");
    let moved = SPEAKER.replace("[\"backup\", \"main\"]", "[\"main\", \"backup\"]");
    let notices = engine.reconfigure(parse(&format!("{TWO_LINES}{moved}")).unwrap(), t0 + ms(30));
    let shown: Vec<String> = notices.iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["policy \"speaker\": backup -> main"]);
}

/// Main with a 20% loss limit over 2 s; probes every 500 ms (one target).
fn lossy_main_config() -> Config {
    let text = TWO_LINES.replacen(
        "targets = [\"203.0.113.100\"]",
        "targets = [\"203.0.113.100\"]\nmax_loss_pct = 20\nquality_window_ms = 2000\nup_after_ms = 3000",
        1,
    );
    parse(&text).unwrap()
}

#[test]
fn a_lossy_line_is_avoided_then_used_again() {
    let t0 = Instant::now();
    let mut engine = Engine::new(lossy_main_config(), t0);
    engine.on_links(&links(), t0);
    let mut t = t0;
    let mut notices = Vec::new();
    // 40% loss on main, backup clean, for 5 s.
    for i in 0..10 {
        t += ms(500);
        let answer = (i % 5 >= 2).then_some(ms(5));
        notices.extend(engine.on_probe(0, 0, answer, t));
        notices.extend(engine.on_probe(1, 0, Some(ms(5)), t));
    }
    assert_eq!(active_names(&engine), ["backup"]);
    assert!(
        notices.iter().any(
            |n| matches!(n, Notice::Quality { name, change } if name == "main" && change.degraded)
        ),
        "{notices:?}"
    );
    assert!(engine.line(0).is_up(), "degraded is not down");
    // Loss stops: main returns after the window clears and up_after passes.
    for _ in 0..20 {
        t += ms(500);
        engine.on_probe(0, 0, Some(ms(5)), t);
        engine.on_probe(1, 0, Some(ms(5)), t);
    }
    assert_eq!(active_names(&engine), ["main"]);
    assert!(engine.line(0).degraded().is_none());
}

#[test]
fn a_degraded_line_still_carries_traffic_when_it_is_the_only_one_up() {
    let t0 = Instant::now();
    let mut engine = Engine::new(lossy_main_config(), t0);
    let mut only_main = links();
    only_main.remove("wan2");
    engine.on_links(&only_main, t0);
    let mut t = t0;
    for i in 0..10 {
        t += ms(500);
        engine.on_probe(0, 0, (i % 5 >= 2).then_some(ms(5)), t);
    }
    assert!(engine.line(0).degraded().is_some());
    assert_eq!(active_names(&engine), ["main"]);
    assert_eq!(engine.selection().basis, SelectionBasis::Degraded);
}

#[test]
fn revision_moves_only_when_the_desired_state_may_change() {
    let t0 = Instant::now();
    let mut engine = running(t0);
    let steady = engine.revision();
    engine.on_probe(0, 0, Some(ms(5)), t0 + ms(500));
    engine.on_links(&links(), t0 + ms(600));
    assert_eq!(
        engine.revision(),
        steady,
        "a reply and the same links change nothing"
    );
    let mut gone = links();
    gone.remove("wan1");
    engine.on_links(&gone, t0 + ms(700));
    assert_ne!(engine.revision(), steady, "main's link went away");
}

/// Main dead by probe and backup carrying traffic, when backup's replies stop for a moment.
fn main_dead_backup_active(t0: Instant) -> (Engine, Instant) {
    let mut engine = running(t0);
    let mut now = t0 + ms(10);
    while now < t0 + ms(3000) {
        now += ms(500);
        engine.on_probe(1, 0, Some(ms(5)), now);
        engine.tick(now);
    }
    assert_eq!(active_names(&engine), ["backup"]);
    (engine, now)
}

#[test]
fn a_blip_on_the_backup_while_main_is_dead_keeps_traffic_on_the_backup() {
    let t0 = Instant::now();
    let (mut engine, last_reply) = main_dead_backup_active(t0);
    let silent = last_reply + ms(2000);
    let notices = engine.tick(silent);
    assert!(
        notices
            .iter()
            .any(|n| n.to_string().starts_with("uplink \"backup\" down")),
        "{notices:?}"
    );
    assert_eq!(
        active_names(&engine),
        ["backup"],
        "not back to the dead main line"
    );
    assert_eq!(engine.selection().basis, SelectionBasis::LinkFallback);
    assert!(
        crate::core::flush::flush_plan(&engine, &notices).is_empty(),
        "the backup's connections are kept: traffic stays there"
    );
}

#[test]
fn a_refused_route_takes_the_line_out_and_acceptance_brings_it_back() {
    let t0 = Instant::now();
    let mut engine = running(t0);
    let now = t0 + ms(100);
    let why = "Network is unreachable (gateway 192.0.2.1 is not on-link)";
    let notices = engine.on_routes(vec![Some(why.into()), None], now);
    let text: Vec<String> = notices.iter().map(ToString::to_string).collect();
    assert_eq!(
        text[0],
        format!("uplink \"main\" down: the kernel refused its route: {why}")
    );
    assert_eq!(active_names(&engine), ["backup"]);
    // Even when backup fails its probes too, main is no candidate.
    engine.tick(now + ms(5000));
    assert_eq!(active_names(&engine), ["backup"]);
    // The route goes in: main is probed again and returns once good for up_after.
    engine.on_routes(vec![None, None], now + ms(6000));
    assert!(!engine.line(0).is_up());
    for i in 0..=25 {
        let at = now + ms(6000 + 500 * i);
        engine.on_probe(0, 0, Some(ms(5)), at);
        engine.on_probe(1, 0, Some(ms(5)), at);
    }
    assert_eq!(active_names(&engine), ["main"]);
}

#[test]
fn lines_found_active_at_start_keep_traffic_until_probes_judge() {
    let t0 = Instant::now();
    let mut engine = Engine::new(parse(TWO_LINES).unwrap(), t0);
    engine.adopt_active(&["backup".to_string()]);
    engine.on_links(&links(), t0);
    assert_eq!(active_names(&engine), ["backup"], "main is unproven");
    engine.on_probe(0, 0, Some(ms(5)), t0 + ms(10));
    assert_eq!(active_names(&engine), ["main"], "main proven up");
}

#[test]
fn a_reload_that_changes_probe_timing_does_not_move_traffic() {
    let t0 = Instant::now();
    let mut engine = running(t0);
    let faster = TWO_LINES.replace(
        "targets = [\"203.0.113.100\"]",
        "targets = [\"203.0.113.100\"]\ninterval_ms = 200",
    );
    let now = t0 + ms(100);
    let notices = engine.reconfigure(parse(&faster).unwrap(), now);
    assert!(
        !notices.iter().any(|n| matches!(n, Notice::Active { .. })),
        "{notices:?}"
    );
    assert_eq!(active_names(&engine), ["main"]);
    let notices = engine.on_probe(0, 0, Some(ms(5)), now + ms(50));
    assert!(
        !notices.iter().any(|n| matches!(n, Notice::Active { .. })),
        "{notices:?}"
    );
    assert_eq!(active_names(&engine), ["main"]);
}

#[test]
fn a_reload_that_changes_probe_targets_keeps_traffic_until_the_new_ones_judge() {
    let t0 = Instant::now();
    let mut engine = running(t0);
    let other = TWO_LINES.replacen("203.0.113.100", "203.0.113.101", 1);
    let now = t0 + ms(100);
    let notices = engine.reconfigure(parse(&other).unwrap(), now);
    assert!(notices.is_empty(), "{notices:?}");
    assert_eq!(
        active_names(&engine),
        ["main"],
        "main is probed afresh, still active"
    );
    assert!(engine.line(0).link_usable());
}

/// Main dead by probe, backup carrying traffic; the backup's link drops for a moment (a
/// PPPoE reconnect). Meanwhile main, the only link, carries the fallback; when the backup's
/// link is back, traffic returns to it at once, not after up_after: main standing in while
/// dead by probe earns it nothing.
#[test]
fn a_link_blip_on_the_backup_while_main_is_dead_returns_to_the_backup_at_once() {
    let t0 = Instant::now();
    let (mut engine, last_reply) = main_dead_backup_active(t0);
    let gone = last_reply + ms(100);
    engine.on_links(&two_links(true, false), gone);
    assert_eq!(active_names(&engine), ["main"], "the only link left");
    let back = gone + ms(2000);
    engine.on_links(&links(), back);
    assert_eq!(active_names(&engine), ["backup"]);
    assert_eq!(engine.selection().basis, SelectionBasis::LinkFallback);
}

#[test]
fn a_strict_rp_filter_line_keeps_no_sessions_once_it_is_not_active() {
    let t0 = Instant::now();
    for strict in [false, true] {
        // As the daemon does: read before the first links, so nothing is said at start.
        let mut engine = Engine::new(parse(TWO_LINES).unwrap(), t0);
        let names = if strict {
            vec!["backup".to_string()]
        } else {
            vec![]
        };
        let notices = engine.set_strict_rp_filter(names.into_iter().collect());
        assert!(notices.is_empty(), "{notices:?}");
        engine.on_links(&links(), t0);
        engine.on_probe(0, 0, Some(ms(5)), t0 + ms(10));
        engine.on_probe(1, 0, Some(ms(5)), t0 + ms(10));
        assert_eq!(engine.keeps_sessions("backup"), !strict);
        engine.set_drained("main", true).unwrap();
        assert_eq!(active_names(&engine), ["backup"]);
        let notices = engine.set_drained("main", false).unwrap();
        assert_eq!(active_names(&engine), ["main"]);
        let moved: Vec<String> = (notices.iter())
            .filter(|n| matches!(n, Notice::SessionsMoved { .. }))
            .map(ToString::to_string)
            .collect();
        let serving = engine.desired().routes.iter().any(|r| r.table == 7791);
        if strict {
            assert_eq!(moved.len(), 1, "{notices:?}");
            assert!(
                moved[0].contains("strict reverse-path filtering"),
                "{moved:?}"
            );
            assert!(!engine.keeps_sessions("backup") && !serving);
        } else {
            assert!(moved.is_empty(), "{notices:?}");
            assert!(engine.keeps_sessions("backup") && serving);
        }
    }
}
