//! `uplink lab`: the live demonstration. Builds the lab, runs the real daemon in the
//! router with the shipped example config, and plays a failure and a recovery while the
//! LAN host's traffic flows, printing a live timeline and the outage the LAN host saw.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::interrupt::{catch_interrupts, interrupted};
use super::{Fault, Flow, Lab, LabDaemon, LabError, LabOptions, Line, ProbeProfile, Traffic};
use super::{TrafficConfig, TrafficLog};

/// The config the demo's daemon runs with (socket path replaced at run time).
pub const EXAMPLE_CONFIG: &str = include_str!("../../examples/lab.toml");

/// Which failure to play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoFault {
    /// The main ISP drops everything beyond its gateway; the link stays up.
    Blackhole,
    /// The main link loses carrier (the ISP's end goes down).
    Carrier,
    /// The router's main interface is taken down.
    IfDown,
    /// 80 % random loss on the main line: heavy enough that probes fail.
    Loss,
}

impl DemoFault {
    fn fault(self) -> Fault {
        match self {
            DemoFault::Blackhole => Fault::Blackhole(Line::One),
            DemoFault::Carrier => Fault::Carrier(Line::One),
            DemoFault::IfDown => Fault::IfDown(Line::One),
            DemoFault::Loss => Fault::Loss(Line::One, 80),
        }
    }

    fn story(self) -> &'static str {
        match self {
            DemoFault::Blackhole => "isp1 now drops all traffic beyond its gateway; main's link stays up (static metrics never notice this)",
            DemoFault::Carrier => "main's link lost carrier (the ISP's end went down)",
            DemoFault::IfDown => "the router's main interface (wan1) was taken down",
            DemoFault::Loss => "isp1 now drops 80% of packets at random",
        }
    }
}

/// What the demo measured.
#[derive(Debug, Clone, Default)]
pub struct DemoResult {
    /// Outage of the long-lived and the fresh flows on failover (`None`: no recovery).
    pub failover: [Option<Duration>; 2],
    /// From clearing the fault to traffic back on main (`None`: it never came back).
    pub failback: Option<Duration>,
    /// When the daemon declared main down, after the fault.
    pub detected: Option<Duration>,
}

impl DemoResult {
    /// Failover and failback both happened.
    pub fn success(&self) -> bool {
        self.failover.iter().all(Option::is_some) && self.failback.is_some()
    }
}

/// Terminal output: colour only on a TTY.
struct Out {
    start: Instant,
    colour: bool,
}

impl Out {
    fn say(&self, colour: &str, text: &str) {
        let t = self.start.elapsed().as_secs_f64();
        if self.colour {
            println!("\x1b[2m{t:6.2} s\x1b[0m  \x1b[{colour}m{text}\x1b[0m");
        } else {
            println!("{t:6.2} s  {text}");
        }
    }
}

const GREEN: &str = "32";
const RED: &str = "31";
const YELLOW: &str = "33";
const BOLD: &str = "1";

/// Runs the whole story; returns the figures. With `keep`, the lab and the daemon stay up
/// and the commands to explore and remove them are printed.
pub fn run(exe: &Path, fault: DemoFault, keep: bool) -> Result<DemoResult, LabError> {
    crate::netns::delete_all_on_panic();
    catch_interrupts();
    let out = Out {
        start: Instant::now(),
        colour: std::io::stdout().is_terminal(),
    };
    out.say(
        BOLD,
        "building the lab: lan -- router --(wan1)-- isp1 / --(wan2)-- isp2 -- internet",
    );
    let lab = Lab::build(LabOptions {
        label: "demo".into(),
        rp_filter: true,
        static_routes: false,
    })?;
    let _echo = lab.start_echo_server()?;
    let mut daemon = LabDaemon::new(exe, ProbeProfile::Default)?;
    daemon.write_config(&demo_config(&daemon.socket()))?;
    daemon.start(&lab)?;
    out.say(
        BOLD,
        "uplink started in the router with examples/lab.toml (default probe settings)",
    );
    let result = play(&out, &lab, &daemon, fault);
    if let Ok(r) = &result {
        summary(&out, r);
    } else if let Err(e) = &result {
        out.say(RED, &format!("stopped: {e}"));
        print_log_tail(&daemon);
    }
    if keep {
        print_keep(lab, daemon);
    } else {
        daemon.stop(Duration::from_secs(5));
        drop(lab);
        out.say(BOLD, "lab torn down: no namespace, veth or process left");
    }
    result
}

fn demo_config(socket: &Path) -> String {
    EXAMPLE_CONFIG.replace(
        "socket = \"/run/uplink-lab.sock\"",
        &format!("socket = \"{}\"", socket.display()),
    )
}

fn play(
    out: &Out,
    lab: &Lab,
    daemon: &LabDaemon,
    fault: DemoFault,
) -> Result<DemoResult, LabError> {
    wait(
        out,
        daemon,
        None,
        Duration::from_secs(15),
        "main active",
        |_, d| d.active().is_some_and(|a| a == ["main"]),
    )?;
    let traffic = lab.start_traffic(TrafficConfig::default())?;
    out.say(
        GREEN,
        "LAN host sends a long-lived UDP flow (every 10 ms) and fresh flows (every 100 ms)",
    );
    let origin = traffic.origin();
    watch(out, daemon, &traffic, Duration::from_secs(3))?;

    let fault_at = Instant::now();
    lab.inject(fault.fault())?;
    out.say(RED, &format!("FAULT: {}", fault.story()));
    let mut result = DemoResult::default();
    wait(
        out,
        daemon,
        Some(&traffic),
        Duration::from_secs(30),
        "traffic on wan2",
        |t, d| {
            let down = d.status().is_some_and(|s| s.uplinks[0].state == "down");
            if down && result.detected.is_none() {
                result.detected = Some(fault_at.elapsed());
            }
            t.is_some_and(|t| t.snapshot().all_recovered_via(Line::Two, fault_at))
        },
    )?;
    let log = traffic.snapshot();
    result.failover = Flow::ALL.map(|f| log.outage_after(f, fault_at));
    out.say(
        GREEN,
        &format!(
            "traffic now via wan2; the LAN host saw {}",
            outages(&result.failover)
        ),
    );
    watch(out, daemon, &traffic, Duration::from_secs(2))?;

    let cleared = Instant::now();
    lab.clear(fault.fault())?;
    out.say(
        YELLOW,
        "isp1 recovered; uplink waits up_after_ms (10 s) of good probes before moving back",
    );
    wait(
        out,
        daemon,
        Some(&traffic),
        Duration::from_secs(40),
        "traffic back on wan1",
        |t, _| t.is_some_and(|t| t.snapshot().all_recovered_via(Line::One, cleared)),
    )?;
    let log = traffic.stop();
    result.failback = log
        .first_reply_via(Flow::LongLived, Line::One, cleared)
        .map(|at| at - cleared);
    out.say(GREEN, "traffic back on main");
    print_timeline(&log, origin, fault_at);
    Ok(result)
}

/// The line of the newest long-lived reply, if it came within the last 300 ms.
fn latest_line(log: &TrafficLog) -> Option<Line> {
    let newest = log
        .records(Flow::LongLived)
        .iter()
        .rev()
        .find(|r| r.reply_at.is_some())?;
    let fresh = newest.reply_at?.elapsed() < Duration::from_millis(300);
    fresh.then_some(newest.line).flatten()
}

fn outages(failover: &[Option<Duration>; 2]) -> String {
    let ms =
        |d: Option<Duration>| d.map_or("no recovery".into(), |d| format!("{} ms", d.as_millis()));
    format!(
        "an outage of {} (long-lived flow) and {} (fresh flows)",
        ms(failover[0]),
        ms(failover[1])
    )
}

/// Prints a status line every 500 ms for `how_long`, plus the daemon's state changes.
fn watch(
    out: &Out,
    daemon: &LabDaemon,
    traffic: &Traffic,
    how_long: Duration,
) -> Result<(), LabError> {
    let end = Instant::now() + how_long;
    while Instant::now() < end {
        interrupted()?;
        std::thread::sleep(Duration::from_millis(500));
        out.say("0", &live_line(daemon, Some(traffic)));
    }
    Ok(())
}

fn live_line(daemon: &LabDaemon, traffic: Option<&Traffic>) -> String {
    let via = traffic
        .and_then(|t| latest_line(&t.snapshot()))
        .map_or("no replies".into(), |l| format!("via {l}"));
    let lines = daemon.status().map_or("daemon not answering".into(), |s| {
        s.uplinks
            .iter()
            .map(|l| {
                format!(
                    "{} {}{}",
                    l.name,
                    l.state,
                    if l.active { " (active)" } else { "" }
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    });
    format!("flow {via:<12} | {lines}")
}

/// Polls `done` every 100 ms, printing a status line every 500 ms and daemon changes.
fn wait(
    out: &Out,
    daemon: &LabDaemon,
    traffic: Option<&Traffic>,
    within: Duration,
    what: &str,
    mut done: impl FnMut(Option<&Traffic>, &LabDaemon) -> bool,
) -> Result<(), LabError> {
    let start = Instant::now();
    let mut last_print = Instant::now();
    let mut last_state = String::new();
    while start.elapsed() < within {
        interrupted()?;
        if done(traffic, daemon) {
            return Ok(());
        }
        let line = live_line(daemon, traffic);
        let state = line.split('|').nth(1).unwrap_or_default().to_string();
        if state != last_state || last_print.elapsed() >= Duration::from_millis(500) {
            let colour = if state != last_state && !last_state.is_empty() {
                YELLOW
            } else {
                "0"
            };
            out.say(colour, &line);
            last_print = Instant::now();
            last_state = state;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(LabError::Timeout(format!(
        "{what}: not within {} s",
        within.as_secs()
    )))
}

fn print_timeline(log: &TrafficLog, origin: Instant, fault_at: Instant) {
    let from = fault_at
        .checked_sub(Duration::from_secs(1))
        .unwrap_or(origin);
    let bins = log.timeline_string(Flow::LongLived, from, Duration::from_millis(100));
    let shown: String = bins.chars().take(80).collect();
    println!("\nlong-lived flow, 100 ms per character from 1 s before the fault (1 = wan1, 2 = wan2, . = no reply):");
    println!("  {shown}");
}

fn summary(out: &Out, r: &DemoResult) {
    let ms = |d: Option<Duration>| d.map_or("-".into(), |d| format!("{} ms", d.as_millis()));
    println!();
    out.say(BOLD, "summary");
    println!(
        "  daemon declared main down after the fault: {}",
        ms(r.detected)
    );
    println!(
        "  outage on failover, long-lived UDP flow:   {}",
        ms(r.failover[0])
    );
    println!(
        "  outage on failover, fresh flows:           {}",
        ms(r.failover[1])
    );
    println!(
        "  time to failback after the ISP recovered:  {}",
        ms(r.failback)
    );
    let verdict = if r.success() {
        "failover and failback both happened"
    } else {
        "FAILED"
    };
    println!("  result: {verdict}\n");
}

fn print_log_tail(daemon: &LabDaemon) {
    let log = daemon.log();
    let tail: Vec<&str> = log.lines().rev().take(15).collect();
    eprintln!("--- last lines of the daemon log ---");
    for line in tail.into_iter().rev() {
        eprintln!("{line}");
    }
}

fn print_keep(lab: Lab, daemon: LabDaemon) {
    let names = lab.keep();
    let dir: PathBuf = daemon.keep();
    println!("\nThe lab stays up. Look around:");
    for name in &names {
        println!("  ip netns exec {name} bash");
    }
    println!(
        "  uplink status --socket {}",
        dir.join("uplink.sock").display()
    );
    println!("Daemon log: {}", dir.join("daemon.log").display());
    println!("Tear it down:");
    let del: Vec<String> = names
        .iter()
        .map(|n| format!("ip netns pids {n} | xargs -r kill; ip netns del {n}"))
        .collect();
    println!("  {}; rm -r {}", del.join("; "), dir.display());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_is_valid_and_names_the_lab_lines() {
        let config = crate::config::parse(&demo_config(Path::new("/tmp/x.sock"))).unwrap();
        assert_eq!(config.socket, Path::new("/tmp/x.sock"));
        let devices: Vec<&str> = config.uplinks.iter().map(|u| u.device.as_str()).collect();
        assert_eq!(devices, ["wan1", "wan2"]);
        let targets: Vec<_> = config.uplinks[0]
            .probe
            .targets
            .iter()
            .map(|t| t.addr())
            .collect();
        let lab = super::super::PROBE_TARGETS.map(|a| Some(a.into()));
        assert_eq!(targets, lab);
    }
}
