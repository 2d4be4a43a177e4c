//! End-to-end harness: a namespace lab with the real daemon in its router namespace
//! (both from `uplink::lab`, shared with `uplink lab`), plus waiting helpers.
#![allow(dead_code)]

use std::path::Path;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use uplink::daemon::status::Status;
use uplink::lab::{
    two_line_config, EchoServer, Flow, Lab, LabDaemon, LabOptions, Line, ProbeProfile, Role,
    Traffic, PROBE_TARGETS6,
};

/// The IPv6 twin of one lab line, as uplink config.
pub fn line6(name: &str, line: Line) -> String {
    format!(
        "[[uplink]]\nname = \"{name}\"\ndevice = \"{}\"\ngateway = \"{}\"\nmetric = {}\n\
         masquerade = true\n[uplink.probe]\ntargets = [\"{}\", \"{}\"]\n{}\n",
        line.device(),
        line.gateway6(),
        line.static_metric(),
        PROBE_TARGETS6[0],
        PROBE_TARGETS6[1],
        ProbeProfile::Test.keys()
    )
}

/// Generous bound for "recovers": tests prove behaviour, benchmarks measure time.
pub const RECOVERY: Duration = Duration::from_secs(15);

/// A lab plus a daemon prepared with the two-line config (test probe timing).
pub struct Scenario {
    pub daemon: LabDaemon,
    pub lab: Lab,
}

impl Scenario {
    pub fn new(label: &str, rp_filter: bool) -> Self {
        let lab = Lab::build(LabOptions {
            label: label.into(),
            rp_filter,
            static_routes: false,
        })
        .expect("lab");
        let exe = Path::new(env!("CARGO_BIN_EXE_uplink"));
        let daemon = LabDaemon::new(exe, ProbeProfile::Test).expect("daemon dir");
        Scenario { daemon, lab }
    }

    /// Starts the echo server and the daemon with the two-line config followed by `extra`
    /// (policies, sets...), and waits until main is the active line.
    pub fn start(&mut self, extra: &str) -> EchoServer {
        let echo = self.lab.start_echo_server().expect("echo server");
        let base = two_line_config(&self.daemon.socket(), ProbeProfile::Test);
        self.daemon
            .write_config(&format!("{base}{extra}"))
            .expect("config");
        self.start_daemon();
        self.wait_active("main", RECOVERY);
        echo
    }

    pub fn start_daemon(&mut self) {
        self.daemon.start(&self.lab).expect("start daemon");
    }

    pub fn stop_daemon(&mut self) -> ExitStatus {
        self.daemon
            .stop(Duration::from_secs(10))
            .expect("daemon was running")
    }

    pub fn status(&self) -> Option<Status> {
        self.daemon.status()
    }

    /// Runs `uplink ARGS` in the router namespace to completion.
    pub fn run_uplink(&self, args: &[&str]) -> std::process::Output {
        self.daemon.run_once(&self.lab, args).unwrap()
    }

    /// Waits until `name` is up and the only active line.
    pub fn wait_active(&self, name: &str, within: Duration) {
        self.wait_members(&[name], within);
    }

    /// Waits until exactly `names` are active, each of them up.
    pub fn wait_members(&self, names: &[&str], within: Duration) {
        self.wait_until(&format!("active: {names:?}"), within, |s| {
            s.status().is_some_and(|st| {
                st.uplinks.iter().all(|l| {
                    let member = names.contains(&l.name.as_str());
                    l.active == member && (!member || l.state == "up")
                })
            })
        });
    }

    /// Our routes in the router, as `ip [-6] route show table all proto 197` prints them;
    /// `family` is `[]` or `["-6"]`.
    pub fn owned_routes(&self, family: &[&str]) -> String {
        let args = [family, &["route", "show", "table", "all", "proto", "197"]].concat();
        self.lab.ns(Role::Router).ip(&args).unwrap()
    }

    /// Polls `check` every 50 ms; panics with the daemon's log when it stays false.
    pub fn wait_until(&self, what: &str, within: Duration, mut check: impl FnMut(&Self) -> bool) {
        let start = Instant::now();
        while start.elapsed() < within {
            if check(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "{what}: not within {within:?}\n--- daemon log ---\n{}",
            self.daemon.log()
        );
    }

    /// Waits until both flows have recovered via `line` after `since`.
    pub fn wait_traffic_via(
        &self,
        traffic: &Traffic,
        line: Line,
        since: Instant,
        within: Duration,
    ) {
        self.wait_until(&format!("both flows via {line}"), within, |_| {
            traffic.snapshot().all_recovered_via(line, since)
        });
    }

    /// Waits until `flow` alone has recovered via `line` after `since` (the other may stay
    /// where it is: a session keeps its line).
    pub fn wait_flow_via(&self, traffic: &Traffic, flow: Flow, line: Line, since: Instant) {
        self.wait_until(&format!("{flow} via {line}"), RECOVERY, |_| {
            traffic.snapshot().recovered_via(flow, line, since)
        });
    }

    /// Waits until fresh flows (new connections) have recovered via `line` after `since`
    /// and the long-lived flow is alive on either line (it keeps the line it was opened on
    /// while that line works).
    pub fn wait_fresh_via(&self, traffic: &Traffic, line: Line, since: Instant) {
        let what = format!("fresh flows via {line}, the long-lived flow alive");
        self.wait_until(&what, RECOVERY, |_| {
            let log = traffic.snapshot();
            log.recovered_via(Flow::Fresh, line, since)
                && [Line::One, Line::Two]
                    .iter()
                    .any(|&l| log.recovered_via(Flow::LongLived, l, since))
        });
    }

    /// The router's rules, all routes and the nft ruleset, for before/after comparisons.
    pub fn kernel_state(&self) -> String {
        let router = self.lab.ns(Role::Router);
        format!(
            "{}\n{}\n{}",
            router.ip(&["rule"]).unwrap(),
            router.ip(&["route", "show", "table", "all"]).unwrap(),
            router.exec(&["nft", "list", "ruleset"]).unwrap()
        )
    }

    /// Writes `config`, sends SIGHUP and waits until the daemon has taken a new config.
    pub fn reload(&self, config: &str) {
        let taken = |s: &Self| s.daemon.log().matches("reload: new config").count();
        let before = taken(self);
        self.daemon.write_config(config).unwrap();
        self.daemon.signal(libc::SIGHUP);
        self.wait_until("reload taken", RECOVERY, |s| taken(s) > before);
    }

    /// Our rules in the router, as `ip rule` prints them.
    pub fn owned_rules(&self) -> Vec<String> {
        let rules = self.lab.ns(Role::Router).ip(&["rule"]).unwrap();
        rules
            .lines()
            .filter(|l| l.contains("proto 197"))
            .map(String::from)
            .collect()
    }
}

/// Skips locally without root; fails in CI (see `uplink::netns::require_root`).
pub fn root(test: &str) -> bool {
    uplink::netns::require_root(test)
}

/// A set file: `extra` plus `count` consecutive /32s from 198.18.16.0 (benchmark range).
pub fn big_set_file(path: &Path, count: u32, extra: &str) {
    let start = u32::from(std::net::Ipv4Addr::new(198, 18, 16, 0));
    let mut text = format!("{extra}\n");
    for i in 0..count {
        text += &format!("{}\n", std::net::Ipv4Addr::from(start + i));
    }
    std::fs::write(path, text).unwrap();
}

/// Writes an executable (mode 0755) script at `path`.
pub fn write_executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}
