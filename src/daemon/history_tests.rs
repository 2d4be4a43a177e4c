use std::time::{Duration, Instant, SystemTime};

use super::*;
use crate::core::Transition;

fn line(name: &str, up: bool) -> Notice {
    Notice::Line {
        name: name.into(),
        transition: Transition {
            up,
            reason: "because".into(),
        },
    }
}

#[test]
fn the_ring_keeps_the_newest_events_in_order() {
    let mut history = History::new(3);
    let wall = SystemTime::UNIX_EPOCH;
    for i in 0..5 {
        history.record("reload", None, format!("reload {i}"), wall);
    }
    let recent = history.recent(10);
    let seqs: Vec<u64> = recent.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [3, 4, 5]);
    assert_eq!(recent[2].message, "reload 4");
    assert_eq!(recent[0].time, "1970-01-01T00:00:00Z");
    assert_eq!(history.recent(1)[0].seq, 5);
    assert!(history.recent(0).is_empty());
}

#[test]
fn notices_are_classified_with_their_line() {
    let mut history = History::new(10);
    let now = Instant::now();
    let notices = [
        line("main", false),
        Notice::Drain {
            name: "backup".into(),
            drained: true,
        },
        Notice::Active {
            family: crate::config::Family::V4,
            from: vec!["main".into()],
            to: vec!["backup".into()],
            basis: crate::core::SelectionBasis::Healthy,
        },
    ];
    history.notices(&notices, now, SystemTime::now(), |_| None);
    let kinds: Vec<(String, Option<String>)> = history
        .recent(10)
        .into_iter()
        .map(|e| (e.kind, e.line))
        .collect();
    assert_eq!(
        kinds,
        [
            ("down".into(), Some("main".into())),
            ("drained".into(), Some("backup".into())),
            ("active".into(), Some("backup".into())),
        ]
    );
    assert!(history.recent(1)[0].message.contains("main -> backup"));
}

#[test]
fn tallies_count_transitions_and_downtime() {
    let mut history = History::new(10);
    let t0 = Instant::now();
    let wall = SystemTime::now();
    // Coming up at start is a transition but no downtime.
    history.notices(&[line("main", true)], t0, wall, |_| None);
    history.notices(
        &[line("main", false)],
        t0 + Duration::from_secs(10),
        wall,
        |_| None,
    );
    history.notices(
        &[line("main", true)],
        t0 + Duration::from_secs(14),
        wall,
        |_| None,
    );
    history.notices(
        &[line("main", false)],
        t0 + Duration::from_secs(20),
        wall,
        |_| None,
    );
    let tally = history.tally_of("main");
    assert_eq!(tally.transitions, 4);
    assert_eq!(
        tally.downtime(t0 + Duration::from_secs(21)),
        Duration::from_secs(5)
    );
    assert_eq!(history.tally_of("other"), Tally::default());
}

#[test]
fn events_since_a_time_are_the_newest_at_or_after_it() {
    let mut history = History::new(10);
    for secs in [0, 60, 120, 30] {
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        history.record("reload", None, format!("{secs}"), wall);
    }
    let messages = |events: Vec<Event>| events.into_iter().map(|e| e.message).collect::<Vec<_>>();
    assert_eq!(
        messages(history.recent_since(10, Some("1970-01-01T00:01:00Z"))),
        ["60", "120"]
    );
    assert_eq!(
        messages(history.recent_since(1, Some("1970-01-01T00:00:30Z"))),
        ["30"]
    );
    assert_eq!(messages(history.recent_since(2, None)), ["120", "30"]);
}

#[test]
fn a_resumed_history_numbers_on_and_keeps_its_capacity() {
    let mut old = History::new(10);
    for i in 0..4 {
        old.record("reload", None, format!("{i}"), SystemTime::UNIX_EPOCH);
    }
    let mut history = History::resume(3, old.recent(10));
    let seqs: Vec<u64> = history.recent(10).iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [2, 3, 4]);
    let next = history.record("start", None, "started".into(), SystemTime::UNIX_EPOCH);
    assert_eq!(next.seq, 5);
    assert_eq!(history.after(3).len(), 2);
    history.set_capacity(1);
    assert_eq!(history.recent(10).len(), 1);
}
