use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::*;
use crate::config::parse;
use crate::core::LinkFacts;

const LINES: &str = r#"
[[uplink]]
name = "main"
device = "wan1"
gateway = "192.0.2.1"
metric = 100
FLUSH
[uplink.probe]
targets = ["203.0.113.100"]

[[uplink]]
name = "backup"
device = "wan2"
gateway = "198.51.100.1"
metric = 200
[uplink.probe]
targets = ["203.0.113.100"]
"#;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn links(main_carrier: bool, backup: bool) -> HashMap<String, LinkFacts> {
    let facts = |ifindex, addr: [u8; 4], carrier| LinkFacts {
        ifindex,
        admin_up: true,
        carrier,
        addrs: vec![Ipv4Addr::from(addr).into()],
        ..LinkFacts::default()
    };
    let mut map = HashMap::from([("wan1".to_string(), facts(2, [192, 0, 2, 2], main_carrier))]);
    if backup {
        map.insert("wan2".to_string(), facts(3, [198, 51, 100, 2], true));
    }
    map
}

fn engine(flush: &str, backup: bool) -> (Engine, Instant) {
    let t0 = Instant::now();
    let mut engine = Engine::new(parse(&LINES.replace("FLUSH", flush)).unwrap(), t0);
    engine.on_links(&links(true, backup), t0);
    engine.on_probe(0, 0, Some(ms(5)), t0 + ms(10));
    engine.on_probe(1, 0, Some(ms(5)), t0 + ms(10));
    (engine, t0)
}

#[test]
fn line_down_flushes_its_entries_by_address_and_mark() {
    let (mut engine, t0) = engine("", true);
    let notices = engine.on_links(&links(false, true), t0 + ms(20));
    let plan = flush_plan(&engine, &notices);
    assert_eq!(
        plan,
        [FlushRequest {
            line: "main".into(),
            addrs: vec![Ipv4Addr::new(192, 0, 2, 2)],
            marks: vec![0x10000, 0x800000],
            reason: "line down",
        }]
    );
}

#[test]
fn no_flush_without_another_line_to_go_to() {
    let (mut engine, t0) = engine("", false);
    let notices = engine.on_links(&links(false, false), t0 + ms(20));
    assert!(!notices.is_empty());
    assert!(flush_plan(&engine, &notices).is_empty());
}

#[test]
fn flush_on_empty_disables_it() {
    let (mut engine, t0) = engine("flush_on = []", true);
    let notices = engine.on_links(&links(false, true), t0 + ms(20));
    assert!(flush_plan(&engine, &notices).is_empty());
}

#[test]
fn flush_on_up_moves_the_backup_flows_back() {
    let (mut engine, t0) = engine("flush_on = [\"down\", \"up\"]", true);
    engine.on_links(&links(false, true), t0 + ms(20));
    engine.on_links(&links(true, true), t0 + ms(30));
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
    let mut gone = links(true, true);
    gone.get_mut("wan1").unwrap().addrs.clear();
    let notices = engine.on_links(&gone, t0 + ms(20));
    let plan = flush_plan(&engine, &notices);
    assert_eq!(plan[0].addrs, [Ipv4Addr::new(192, 0, 2, 2)]);
}
