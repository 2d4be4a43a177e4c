use std::time::Instant;

use super::*;
use crate::config::parse;
use crate::core::fixtures::{ms, two_links, TWO_LINES};

fn engine(flush: &str, backup: bool) -> (Engine, Instant) {
    let t0 = Instant::now();
    let lines = TWO_LINES.replacen("metric = 100\n", &format!("metric = 100\n{flush}\n"), 1);
    let mut engine = Engine::new(parse(&lines).unwrap(), t0);
    engine.on_links(&two_links(true, backup), t0);
    engine.on_probe(0, 0, Some(ms(5)), t0 + ms(10));
    engine.on_probe(1, 0, Some(ms(5)), t0 + ms(10));
    (engine, t0)
}

#[test]
fn line_down_flushes_its_entries_by_address_and_mark() {
    let (mut engine, t0) = engine("", true);
    let notices = engine.on_links(&two_links(false, true), t0 + ms(20));
    let plan = flush_plan(&engine, &notices);
    assert_eq!(
        plan,
        [FlushRequest {
            line: "main".into(),
            addrs: vec![std::net::Ipv4Addr::new(192, 0, 2, 2).into()],
            marks: vec![0x10000, 0x800000, 0xa00000],
            reason: "line down",
        }]
    );
}

#[test]
fn no_flush_without_another_line_to_go_to() {
    let (mut engine, t0) = engine("", false);
    let notices = engine.on_links(&two_links(false, false), t0 + ms(20));
    assert!(!notices.is_empty());
    assert!(flush_plan(&engine, &notices).is_empty());
}

#[test]
fn flush_on_empty_disables_it() {
    let (mut engine, t0) = engine("flush_on = []", true);
    let notices = engine.on_links(&two_links(false, true), t0 + ms(20));
    assert!(flush_plan(&engine, &notices).is_empty());
}

#[test]
fn flush_on_up_moves_the_backup_flows_back() {
    let (mut engine, t0) = engine("flush_on = [\"down\", \"up\"]", true);
    engine.on_links(&two_links(false, true), t0 + ms(20));
    engine.on_links(&two_links(true, true), t0 + ms(30));
    let mut notices = Vec::new();
    for i in 0..=20 {
        let at = t0 + ms(100 + 500 * i);
        notices.extend(engine.on_probe(0, 0, Some(ms(5)), at));
        notices.extend(engine.on_probe(1, 0, Some(ms(5)), at));
    }
    let plan = flush_plan(&engine, &notices);
    assert_eq!(plan.len(), 1, "{notices:?}");
    assert_eq!(plan[0].line, "backup");
    assert_eq!(plan[0].reason, "traffic moved back");
}

#[test]
fn addresses_are_remembered_after_they_are_gone() {
    let (mut engine, t0) = engine("", true);
    let mut gone = two_links(true, true);
    gone.get_mut("wan1").unwrap().addrs.clear();
    let notices = engine.on_links(&gone, t0 + ms(20));
    let plan = flush_plan(&engine, &notices);
    assert_eq!(
        plan[0].addrs,
        [IpAddr::from(std::net::Ipv4Addr::new(192, 0, 2, 2))]
    );
}
