//! End-to-end load sharing: two lines of equal metric with weights 3:1 share fresh
//! connections by weight; a connection keeps its line when the other line leaves and
//! rejoins the group, and moves when its own line fails.

#![cfg(feature = "lab")]

mod common;

use std::time::{Duration, Instant};

use common::{root, Scenario, RECOVERY};
use uplink::lab::{two_line_config, Fault, Flow, Line, ProbeProfile, Traffic, TrafficConfig};

/// The lab's two lines at equal metric, main with weight 3 and backup with weight 1.
fn shared_config(s: &Scenario, extra: &str) -> String {
    two_line_config(&s.daemon.socket(), ProbeProfile::Test)
        .replace("metric = 200", "metric = 100")
        .replace("name = \"main\"\n", "name = \"main\"\nweight = 3\n")
        + extra
}

/// Starts the daemon with `config` and waits until both lines are up and active.
fn start_shared(s: &mut Scenario, config: &str) {
    s.daemon.write_config(config).unwrap();
    s.start_daemon();
    s.wait_members(&["main", "backup"], RECOVERY);
}

/// Fresh flows every 10 ms (a new source port each), and the usual long-lived flow.
fn busy_traffic(s: &Scenario) -> Traffic {
    s.lab
        .start_traffic(TrafficConfig {
            fresh_interval: Duration::from_millis(10),
            ..TrafficConfig::default()
        })
        .unwrap()
}

/// Answered fresh flows sent after `since`, by line: (main, backup).
fn fresh_split(traffic: &Traffic, since: Instant) -> (usize, usize) {
    let log = traffic.snapshot();
    let count = |line| log.replies_via(Flow::Fresh, line, since);
    (count(Line::One), count(Line::Two))
}

/// Waits until at least `n` fresh flows sent after `since` were answered.
fn wait_fresh(s: &Scenario, traffic: &Traffic, since: Instant, n: usize) {
    s.wait_until(&format!("{n} answered fresh flows"), RECOVERY * 2, |_| {
        let (a, b) = fresh_split(traffic, since);
        a + b >= n
    });
}

/// The lines the long-lived flow's answered packets used after `since`.
fn long_lived_lines(traffic: &Traffic, since: Instant) -> Vec<Line> {
    let mut lines: Vec<Line> = Vec::new();
    for r in traffic.snapshot().long_lived.iter() {
        if let (true, Some(line)) = (r.sent_at >= since, r.line) {
            if lines.last() != Some(&line) {
                lines.push(line);
            }
        }
    }
    lines
}

#[test]
fn weights_three_to_one_split_fresh_flows_and_a_down_member_gets_none() {
    if !root("weights_three_to_one_split_fresh_flows_and_a_down_member_gets_none") {
        return;
    }
    let mut s = Scenario::new("shr", false);
    let _echo = s.lab.start_echo_server().unwrap();
    let config = shared_config(&s, "");
    start_shared(&mut s, &config);
    let traffic = busy_traffic(&s);
    let since = traffic.origin();
    wait_fresh(&s, &traffic, since, 400);
    let (main, backup) = fresh_split(&traffic, since);
    let share = main as f64 * 100.0 / (main + backup) as f64;
    println!("weights 3:1 -> {main} main / {backup} backup fresh flows = {share:.1}% main");
    assert!(
        (65.0..=85.0).contains(&share),
        "3:1 must give 75% +- 10 points, got {share:.1}% ({main}/{backup})"
    );

    s.lab.inject(Fault::Blackhole(Line::Two)).unwrap();
    s.wait_members(&["main"], RECOVERY);
    let out = Instant::now();
    wait_fresh(&s, &traffic, out, 100);
    let (main, backup) = fresh_split(&traffic, out);
    assert_eq!(
        backup, 0,
        "a down member gets no new flow ({main} via main)"
    );
}

#[test]
fn connections_keep_their_line_while_it_stays_and_move_when_it_fails() {
    if !root("connections_keep_their_line_while_it_stays_and_move_when_it_fails") {
        return;
    }
    let mut s = Scenario::new("stk", true);
    let _echo = s.lab.start_echo_server().unwrap();
    // No conntrack deletion: the move must come from routing alone (the dead line's
    // serving table empties; masquerade drops the entry when the output device changes).
    let config =
        shared_config(&s, "").replace("masquerade = true\n", "masquerade = true\nflush_on = []\n");
    start_shared(&mut s, &config);
    assert!(
        s.daemon.log().contains("rp_filter=1"),
        "strict rp_filter in the lab's router must be warned about:\n{}",
        s.daemon.log()
    );
    let traffic = s.lab.start_traffic(TrafficConfig::default()).unwrap();
    let start = traffic.origin();
    s.wait_until("long-lived flow answered", RECOVERY, |_| {
        !long_lived_lines(&traffic, start).is_empty()
    });
    let own = long_lived_lines(&traffic, start)[0];
    let other = if own == Line::One {
        Line::Two
    } else {
        Line::One
    };
    let other_name = if other == Line::One { "main" } else { "backup" };
    let own_name = if own == Line::One { "main" } else { "backup" };

    // The other line leaves the group and comes back: the flow is not remapped.
    let first_fault = Instant::now();
    s.lab.inject(Fault::Blackhole(other)).unwrap();
    s.wait_members(&[own_name], RECOVERY);
    s.lab.clear(Fault::Blackhole(other)).unwrap();
    s.wait_members(&["main", "backup"], RECOVERY);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        long_lived_lines(&traffic, start),
        vec![own],
        "the long-lived flow must stay on its line while {other_name} leaves and rejoins"
    );
    let log = traffic.snapshot();
    assert_eq!(
        log.outage_after(Flow::LongLived, first_fault),
        Some(Duration::ZERO),
        "and must not lose its replies meanwhile"
    );

    // Its own line fails: it moves to the other one.
    let fault_at = Instant::now();
    s.lab.inject(Fault::Blackhole(own)).unwrap();
    s.wait_until("long-lived flow moved", RECOVERY, |_| {
        traffic
            .snapshot()
            .recovered_via(Flow::LongLived, other, fault_at)
    });
}

#[test]
fn sticky_source_keeps_all_of_a_clients_connections_on_one_line() {
    if !root("sticky_source_keeps_all_of_a_clients_connections_on_one_line") {
        return;
    }
    let mut s = Scenario::new("src", false);
    let _echo = s.lab.start_echo_server().unwrap();
    let config = format!("sticky = \"source\"\n{}", shared_config(&s, ""));
    start_shared(&mut s, &config);
    let traffic = busy_traffic(&s);
    let since = traffic.origin();
    wait_fresh(&s, &traffic, since, 100);
    let (main, backup) = fresh_split(&traffic, since);
    assert!(
        main == 0 || backup == 0,
        "one client, one line: got {main} via main and {backup} via backup"
    );
}
