//! One daemon per network namespace: a second `uplink run` beside a running one refuses to
//! start, names the first one's pid and changes nothing; one in another namespace runs.

#![cfg(feature = "lab")]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{root, Scenario, RECOVERY};
use uplink::lab::{LabDaemon, ProbeProfile};
use uplink::netns::{unique_prefix, Netns};

/// Waits until `check` holds; panics with `what` after `within`.
fn wait(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < within, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_second_daemon_in_the_namespace_refuses_and_one_in_another_namespace_runs() {
    if !root("a_second_daemon_in_the_namespace_refuses_and_one_in_another_namespace_runs") {
        return;
    }
    let exe = Path::new(env!("CARGO_BIN_EXE_uplink"));
    let mut s = Scenario::new("twice", false);
    let _echo = s.start("");
    let first = s.daemon.pid().unwrap();
    let rules = s.owned_rules();
    let routes = s.owned_routes(&[]);
    let nft = s
        .lab
        .ns(uplink::lab::Role::Router)
        .exec(&["nft", "list", "ruleset"])
        .unwrap();

    // Its own directory, config and control socket: only the namespace is shared.
    let mut second = LabDaemon::new(exe, ProbeProfile::Test).unwrap();
    second.start(&s.lab).unwrap();
    let status = second
        .wait_exit(Duration::from_secs(10))
        .expect("the second daemon kept running");
    assert!(!status.success(), "{}", second.log());
    let log = second.log();
    assert!(
        log.contains(&format!(
            "another uplink daemon is already running in this network namespace (pid {first})"
        )),
        "{log}"
    );
    assert!(!second.socket().exists(), "the second one made no socket");
    assert_eq!(s.owned_rules(), rules);
    assert_eq!(s.owned_routes(&[]), routes);
    let nft_now = s
        .lab
        .ns(uplink::lab::Role::Router)
        .exec(&["nft", "list", "ruleset"])
        .unwrap();
    assert_eq!(nft_now, nft);
    assert!(!s.daemon.exited(), "the first one keeps running");
    s.wait_active("main", RECOVERY);

    // Another namespace is another lock.
    let other = Netns::create(&unique_prefix("twice-other")).unwrap();
    let mut third = LabDaemon::new(exe, ProbeProfile::Test).unwrap();
    third.start_in(&other).unwrap();
    wait(
        "the daemon in another namespace to answer",
        RECOVERY,
        || {
            assert!(!third.exited(), "{}", third.log());
            third.status().is_some()
        },
    );
    assert!(
        third.stop(Duration::from_secs(10)).unwrap().success(),
        "{}",
        third.log()
    );
    assert!(s.stop_daemon().success(), "{}", s.daemon.log());
}
