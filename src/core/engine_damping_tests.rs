//! The engine with flap dampening: a suppressed line is avoided while another line is up,
//! and used when it is the only one that works.

use super::*;
use crate::config::parse;
use crate::core::fixtures::{ms, two_links, TWO_LINES};

/// Runs the engine from `from` to `to` in 100 ms steps: each line answers its probe
/// every 500 ms while `answers(line, elapsed ms)` says so; returns the notices as text.
fn run(
    engine: &mut Engine,
    t0: Instant,
    span: (u64, u64),
    answers: impl Fn(usize, u64) -> bool,
) -> Vec<String> {
    let mut notices = Vec::new();
    for step in (span.0..span.1).step_by(100) {
        let now = t0 + ms(step);
        for line in 0..2 {
            if step % 500 == 0 && answers(line, step) {
                notices.extend(engine.on_probe(line, 0, Some(ms(5)), now));
            }
        }
        notices.extend(engine.tick(now));
    }
    notices.iter().map(ToString::to_string).collect()
}

fn active(engine: &Engine) -> Vec<&str> {
    let uplinks = &engine.config().uplinks;
    let members = &engine.selection().members;
    members
        .iter()
        .map(|&(i, _)| uplinks[i].name.as_str())
        .collect()
}

/// Both lines up and answering, main active, at t0 + 1 s.
fn running(t0: Instant) -> Engine {
    let mut engine = Engine::new(parse(TWO_LINES).unwrap(), t0);
    engine.on_links(&two_links(true, true), t0);
    run(&mut engine, t0, (0, 1000), |_, _| true);
    assert_eq!(active(&engine), ["main"]);
    engine
}

/// Main fails (silent 0..3 s), answers 3..4 s, fails again (4..7 s): two flaps.
fn main_flaps(line: usize, ms: u64) -> bool {
    line == 1 || !(1000..4000).contains(&ms) && !(4500..7500).contains(&ms)
}

#[test]
fn a_flapping_line_is_suppressed_and_traffic_stays_on_the_backup() {
    let t0 = Instant::now();
    let mut engine = running(t0);
    let log = run(&mut engine, t0, (1000, 8000), main_flaps);
    let suppressed: Vec<&String> = log.iter().filter(|n| n.contains("suppressed")).collect();
    assert_eq!(suppressed.len(), 1, "{log:#?}");
    assert!(
        suppressed[0].starts_with("uplink \"main\" suppressed until in 8"),
        "{log:#?}"
    );
    assert!(engine.line(0).is_suppressed());
    // Main answers cleanly from now on and is up again after up_after, but stays out of
    // service while suppressed.
    let log = run(&mut engine, t0, (8000, 30_000), |_, _| true);
    assert!(log
        .iter()
        .any(|n| n == "uplink \"main\" up: 1/1 targets answering for 10000 ms"));
    assert!(engine.line(0).is_up());
    assert_eq!(active(&engine), ["backup"], "{log:#?}");
    // The policy lists see it the same way.
    assert!(!log.iter().any(|n| n.starts_with("active")), "{log:#?}");
    // Until the penalty decays below reuse.
    let until = engine.line(0).suppressed_until().unwrap();
    let end = (until - t0).as_millis() as u64;
    let log = run(&mut engine, t0, (30_000, end + 200), |_, _| true);
    assert!(
        log.iter()
            .any(|n| n.starts_with("uplink \"main\" no longer suppressed (penalty")),
        "{log:#?}"
    );
    assert_eq!(active(&engine), ["main"]);
}

#[test]
fn suppression_never_takes_the_last_working_line() {
    let t0 = Instant::now();
    let mut engine = running(t0);
    run(&mut engine, t0, (1000, 8000), main_flaps);
    run(&mut engine, t0, (8000, 20_000), |_, _| true);
    assert!(engine.line(0).is_suppressed() && engine.line(0).is_up());
    assert_eq!(active(&engine), ["backup"]);
    // The backup dies: the suppressed main is still better than no line.
    let log = run(&mut engine, t0, (20_000, 24_000), |line, _| line == 0);
    assert!(
        log.iter().any(|n| n
            == "active: backup -> main (every line that is up is degraded or suppressed: best of them)"),
        "{log:#?}"
    );
    assert!(engine.line(0).is_suppressed());
}

#[test]
fn a_clean_recovery_after_one_failure_is_not_suppressed() {
    let t0 = Instant::now();
    let mut engine = running(t0);
    let log = run(&mut engine, t0, (1000, 20_000), |line, ms| {
        line == 1 || !(1000..5000).contains(&ms)
    });
    assert!(!log.iter().any(|n| n.contains("suppressed")), "{log:#?}");
    assert_eq!(active(&engine), ["main"], "back after up_after");
    assert_eq!(
        engine.line(0).flap_penalty(t0 + ms(20_000)).map(|p| p > 0),
        Some(true)
    );
}

#[test]
fn losses_of_probes_sent_during_the_outage_do_not_count_against_the_recovery() {
    // One outage (1..3 s) with every lost probe reported when it times out, 1 s after it
    // was sent: the last ones arrive after the replies are back, and are not flaps.
    let t0 = Instant::now();
    let mut engine = running(t0);
    let answers = |line: usize, ms: u64| line == 1 || !(1000..3000).contains(&ms);
    let mut log = Vec::new();
    for step in (1000..20_000u64).step_by(100) {
        let now = t0 + ms(step);
        for line in 0..2 {
            if step % 500 == 0 && answers(line, step) {
                log.extend(engine.on_probe(line, 0, Some(ms(5)), now));
            }
            if step % 500 == 0 && step >= 1000 && !answers(line, step - 1000) {
                log.extend(engine.on_probe(line, 0, None, now));
            }
        }
        log.extend(engine.tick(now));
        if step == 4000 {
            // The one flap, decayed a little; no charge for the outage's own losses.
            let penalty = engine.line(0).flap_penalty(now).unwrap();
            assert!((900..=1000).contains(&penalty), "penalty {penalty}");
        }
    }
    let log: Vec<String> = log.iter().map(ToString::to_string).collect();
    assert!(!log.iter().any(|n| n.contains("suppressed")), "{log:#?}");
    assert_eq!(active(&engine), ["main"], "back after up_after");
}
