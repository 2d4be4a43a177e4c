//! Figures of uplink's own features, with no contender to compare against: how evenly load
//! sharing splits connections by weight, how fast a lossy line is avoided and taken back
//! (line quality), and what a DHCP renewal that moves the gateway costs a running flow
//! (`gateway = "auto"`). Default probe settings throughout, as a user would run it.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::lab::interrupt;
use crate::lab::{
    two_line_config, Fault, Flow, Lab, LabDaemon, LabError, LabOptions, Line, ProbeProfile,
    Traffic, TrafficConfig,
};

const POLL: Duration = Duration::from_millis(20);
const WINDOW: Duration = Duration::from_secs(60);
/// Fresh flows measured for the load-sharing split.
const SHARE_FLOWS: usize = 1000;

/// The features section of the report.
#[derive(Debug, Clone, Default)]
pub struct Features {
    /// Fresh flows via main and via backup, weights 3:1.
    pub split: (usize, usize),
    /// From 40 % loss on main (limit 20 %) until traffic flows via backup.
    pub avoid_lossy: Duration,
    /// From the loss stopping until traffic flows via main again.
    pub take_back: Duration,
    /// Longest gap of the long-lived flow across a gateway-moving DHCP renewal.
    pub renewal_gap: Duration,
}

impl Features {
    pub fn markdown(&self) -> String {
        let (main, backup) = self.split;
        let share = 100.0 * main as f64 / (main + backup).max(1) as f64;
        let mut out = String::from("## Features (uplink only, default probe settings)\n\n");
        out += "| what | figure |\n|---|---|\n";
        let rows = [
            (
                format!("load sharing, weights 3:1, {} fresh flows", main + backup),
                format!("{main} main / {backup} backup = {share:.1} % main (ideal 75 %)"),
            ),
            (
                "40 % loss on main, `max_loss_pct = 20`: fault to traffic via backup".into(),
                format!("{} ms", self.avoid_lossy.as_millis()),
            ),
            (
                "loss stops: to traffic via main again".into(),
                format!("{} ms", self.take_back.as_millis()),
            ),
            (
                "DHCP renewal moving the gateway (`gateway = \"auto\"`): long-lived flow gap"
                    .into(),
                format!("{} ms", self.renewal_gap.as_millis()),
            ),
        ];
        for (what, figure) in rows {
            writeln!(out, "| {what} | {figure} |").unwrap();
        }
        out
    }
}

/// Measures every feature once.
pub fn measure(exe: &Path) -> Result<Features, LabError> {
    let split = share_split(exe)?;
    let (avoid_lossy, take_back) = lossy_line(exe)?;
    let renewal_gap = renewal(exe)?;
    Ok(Features {
        split,
        avoid_lossy,
        take_back,
        renewal_gap,
    })
}

fn lab() -> Result<Lab, LabError> {
    Lab::build(LabOptions {
        label: "feat".into(),
        rp_filter: true,
        static_routes: true,
    })
}

fn start(exe: &Path, lab: &Lab, edit: impl Fn(String) -> String) -> Result<LabDaemon, LabError> {
    let mut daemon = LabDaemon::new(exe, ProbeProfile::Default)?;
    daemon.write_config(&edit(two_line_config(
        &daemon.socket(),
        ProbeProfile::Default,
    )))?;
    daemon.start(lab)?;
    Ok(daemon)
}

fn poll(what: &str, done: impl FnMut() -> bool) -> Result<(), LabError> {
    interrupt::poll(WINDOW, POLL, &format!("bench features: {what}"), done)
}

fn fresh_via(traffic: &Traffic, since: Instant) -> (usize, usize) {
    let log = traffic.snapshot();
    let count = |line| log.replies_via(Flow::Fresh, line, since);
    (count(Line::One), count(Line::Two))
}

fn share_split(exe: &Path) -> Result<(usize, usize), LabError> {
    let lab = lab()?;
    let _echo = lab.start_echo_server()?;
    let daemon = start(exe, &lab, |c| {
        c.replace("metric = 200", "metric = 100")
            .replace("name = \"main\"\n", "name = \"main\"\nweight = 3\n")
    })?;
    poll("both lines active", || {
        daemon.active().is_some_and(|a| a.len() == 2)
    })?;
    let traffic = lab.start_traffic(TrafficConfig {
        fresh_interval: Duration::from_millis(5),
        ..TrafficConfig::default()
    })?;
    let since = traffic.origin();
    poll("fresh flows", || {
        let (a, b) = fresh_via(&traffic, since);
        a + b >= SHARE_FLOWS
    })?;
    Ok(fresh_via(&traffic, since))
}

fn lossy_line(exe: &Path) -> Result<(Duration, Duration), LabError> {
    let lab = lab()?;
    let _echo = lab.start_echo_server()?;
    let daemon = start(exe, &lab, |c| {
        c.replacen("[uplink.probe]\n", "[uplink.probe]\nmax_loss_pct = 20\n", 1)
    })?;
    poll("main active", || {
        daemon.active().is_some_and(|a| a == ["main"])
    })?;
    let traffic = lab.start_traffic(TrafficConfig::default())?;
    // A full quality window of clean probes first, as on a line that has been running.
    interrupt::sleep(Duration::from_secs(11))?;
    let fault = Instant::now();
    lab.inject(Fault::Loss(Line::One, 40))?;
    poll("traffic via backup", || {
        traffic
            .snapshot()
            .recovered_via(Flow::Fresh, Line::Two, fault)
    })?;
    let avoided = fault.elapsed();
    let cleared = Instant::now();
    lab.clear(Fault::Loss(Line::One, 40))?;
    poll("traffic via main", || {
        traffic
            .snapshot()
            .recovered_via(Flow::Fresh, Line::One, cleared)
    })?;
    Ok((avoided, cleared.elapsed()))
}

fn renewal(exe: &Path) -> Result<Duration, LabError> {
    let lab = lab()?;
    let _echo = lab.start_echo_server()?;
    let daemon = start(exe, &lab, |c| {
        c.replacen(
            &format!("gateway = \"{}\"", Line::One.gateway()),
            "gateway = \"auto\"",
            1,
        )
    })?;
    poll("main active", || {
        daemon.active().is_some_and(|a| a == ["main"])
    })?;
    let traffic = lab.start_traffic(TrafficConfig::default())?;
    poll("traffic via main", || {
        traffic
            .snapshot()
            .recovered_via(Flow::LongLived, Line::One, traffic.origin())
    })?;
    let renewed = Instant::now();
    lab.renew_gateway(
        Line::One,
        Line::One.gateway(),
        Ipv4Addr::new(192, 0, 2, 254),
    )?;
    interrupt::sleep(Duration::from_secs(3))?;
    let log = traffic.snapshot();
    Ok(log
        .gaps(Flow::LongLived, renewed)
        .iter()
        .filter_map(|g| g.duration())
        .max()
        .unwrap_or(Duration::ZERO))
}
