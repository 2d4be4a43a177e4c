//! One benchmark case on a fresh lab: build, start the contender and the traffic, inject
//! the fault, measure as DESIGN.md says (outage = from the fault to the first reply of the
//! run of replies that lasts to the end).

use std::path::Path;
use std::time::{Duration, Instant};

use super::report::Timeline;
use super::{BenchOptions, Case, Contender, Sample};
use crate::lab::interrupt;
use crate::lab::{
    probe_kinds_config, two_line_config, EchoServer, Fault, Flow, Lab, LabDaemon, LabError,
    LabOptions, Line, NetResponders, ProbeProfile, Responder, Traffic, TrafficConfig,
};

const POLL: Duration = Duration::from_millis(20);
/// How long a fault may take to be recovered from before it counts as "never".
const WINDOW: Duration = Duration::from_secs(15);
/// How long the ICMP filter is held.
const ICMP_FILTER_HOLD: Duration = Duration::from_secs(10);

/// A lab with the contender running and traffic flowing via main.
struct Rig {
    daemon: Option<LabDaemon>,
    traffic: Traffic,
    _echo: EchoServer,
    /// The web and DNS responders of the cases that probe by kind.
    _responders: Option<NetResponders>,
    lab: Lab,
}

fn rig(exe: &Path, contender: Contender, case: Case) -> Result<Rig, LabError> {
    let lab = Lab::build(LabOptions {
        label: "bench".into(),
        rp_filter: true,
        static_routes: contender == Contender::Static,
    })?;
    let echo = lab.start_echo_server()?;
    let responders = case
        .probes_kinds()
        .then(|| lab.start_net_responders())
        .transpose()?;
    let daemon = match contender {
        Contender::Static => None,
        Contender::Default => Some(start_daemon(exe, &lab, ProbeProfile::Default, case)?),
        Contender::Fast => Some(start_daemon(exe, &lab, ProbeProfile::Fast, case)?),
    };
    let traffic = lab.start_traffic(TrafficConfig::default())?;
    let rig = Rig {
        daemon,
        traffic,
        _echo: echo,
        _responders: responders,
        lab,
    };
    let origin = rig.traffic.origin();
    poll(WINDOW, "traffic via wan1", || {
        rig.traffic.snapshot().all_recovered_via(Line::One, origin)
    })?;
    Ok(rig)
}

fn start_daemon(
    exe: &Path,
    lab: &Lab,
    profile: ProbeProfile,
    case: Case,
) -> Result<LabDaemon, LabError> {
    let mut daemon = LabDaemon::new(exe, profile)?;
    if case.probes_kinds() {
        daemon.write_config(&probe_kinds_config(&daemon.socket(), profile))?;
    }
    if !case.probe_keys().is_empty() {
        let table = "[uplink.probe]\n";
        let config = two_line_config(&daemon.socket(), profile)
            .replace(table, &format!("{table}{}", case.probe_keys()));
        daemon.write_config(&config)?;
    }
    daemon.start(lab)?;
    poll(WINDOW, "main active", || {
        daemon.active().is_some_and(|a| a == ["main"])
    })?;
    Ok(daemon)
}

fn poll(within: Duration, what: &str, done: impl FnMut() -> bool) -> Result<(), LabError> {
    interrupt::poll(within, POLL, &format!("bench: {what}"), done)
}

/// Runs `case` for `contender` on a fresh lab; the default contender's blackhole also
/// yields the timeline picture.
pub fn measure(
    exe: &Path,
    contender: Contender,
    case: Case,
    run: usize,
    opts: &BenchOptions,
) -> Result<(Sample, Option<Timeline>), LabError> {
    let rig = rig(exe, contender, case)?;
    let mut sample = Sample::failed(contender, case, run);
    sample.ended_right = None;
    let mut timeline = None;
    match case {
        Case::IfDown => {
            failover(&rig, Fault::IfDown(Line::One), &mut sample)?;
        }
        Case::Carrier => {
            failover(&rig, Fault::Carrier(Line::One), &mut sample)?;
        }
        Case::BlackholeProbesOnly => {
            failover(&rig, Fault::Blackhole(Line::One), &mut sample)?;
        }
        Case::Blackhole => {
            let picture = failover(&rig, Fault::Blackhole(Line::One), &mut sample)?;
            timeline = (contender == Contender::Default).then_some(picture);
        }
        Case::Loss(pct) => {
            let fault = Fault::Loss(Line::One, pct);
            hold(&rig, fault, opts.loss_hold, &mut sample)?;
        }
        Case::Recovery => failback(&rig, &mut sample)?,
        Case::Flap => flap(&rig, &mut sample)?,
        // A line judged by HTTP and DNS must not switch.
        Case::IcmpFiltered => {
            let fault = Fault::IcmpFilter(Line::One);
            hold(&rig, fault, ICMP_FILTER_HOLD, &mut sample)?;
        }
        Case::Portal => {
            let _portal: Responder = rig.lab.start_portal(Line::One)?;
            failover(&rig, Fault::Portal(Line::One), &mut sample)?;
        }
    }
    Ok((sample, timeline))
}

/// Injects `fault` and measures the outage of both flows; returns the timeline picture.
fn failover(rig: &Rig, fault: Fault, sample: &mut Sample) -> Result<Timeline, LabError> {
    let fault_at = Instant::now();
    rig.lab.inject(fault)?;
    let mut detected = None;
    let start = Instant::now();
    while start.elapsed() < WINDOW {
        if detected.is_none() && main_down(rig) {
            detected = Some(fault_at.elapsed());
        }
        if rig
            .traffic
            .snapshot()
            .all_recovered_via(Line::Two, fault_at)
        {
            break;
        }
        interrupt::sleep(POLL)?;
    }
    // Let the final run of replies show it lasts.
    std::thread::sleep(Duration::from_millis(500));
    let log = rig.traffic.snapshot();
    if log.all_recovered_via(Line::Two, fault_at) {
        sample.long_lived = log.outage_after(Flow::LongLived, fault_at);
        sample.fresh = log.outage_after(Flow::Fresh, fault_at);
    }
    Ok(Timeline::from_log(&log, fault_at, detected))
}

fn main_down(rig: &Rig) -> bool {
    rig.daemon
        .as_ref()
        .and_then(LabDaemon::status)
        .is_some_and(|s| s.uplinks[0].state == "down")
}

fn switches(rig: &Rig) -> u32 {
    let log = rig.daemon.as_ref().map(LabDaemon::log).unwrap_or_default();
    log.lines().filter(|l| l.contains(" active: ")).count() as u32
}

/// Holds `fault` for `hold` (random loss, an ICMP filter on main); counts line switches
/// and the worst gap of each flow: what staying or switching cost the LAN.
fn hold(rig: &Rig, fault: Fault, hold: Duration, sample: &mut Sample) -> Result<(), LabError> {
    let before = switches(rig);
    let start = Instant::now();
    rig.lab.inject(fault)?;
    interrupt::sleep(hold)?;
    let log = rig.traffic.snapshot();
    rig.lab.clear(fault)?;
    let worst = |flow| {
        log.gaps(flow, start)
            .iter()
            .filter_map(|g| g.duration())
            .max()
            .or(Some(Duration::ZERO))
    };
    sample.long_lived = worst(Flow::LongLived);
    sample.fresh = worst(Flow::Fresh);
    sample.switches = rig.daemon.as_ref().map(|_| switches(rig) - before);
    Ok(())
}

/// Blackhole, wait for failover (if any), clear: time until traffic is back on main.
fn failback(rig: &Rig, sample: &mut Sample) -> Result<(), LabError> {
    let fault_at = Instant::now();
    rig.lab.inject(Fault::Blackhole(Line::One))?;
    let _ = poll(WINDOW, "failover", || {
        rig.traffic
            .snapshot()
            .all_recovered_via(Line::Two, fault_at)
    });
    std::thread::sleep(Duration::from_secs(1));
    let cleared = Instant::now();
    rig.lab.clear(Fault::Blackhole(Line::One))?;
    let _ = poll(Duration::from_secs(40), "failback", || {
        rig.traffic.snapshot().all_recovered_via(Line::One, cleared)
    });
    let log = rig.traffic.snapshot();
    if log.all_recovered_via(Line::One, cleared) {
        let back = |flow| {
            log.first_reply_via(flow, Line::One, cleared)
                .map(|at| at - cleared)
        };
        sample.long_lived = back(Flow::LongLived);
        sample.fresh = back(Flow::Fresh);
    }
    Ok(())
}

/// Bounces main's carrier every 100 ms for 5 s, then checks the contender settles on main.
fn flap(rig: &Rig, sample: &mut Sample) -> Result<(), LabError> {
    let before = switches(rig);
    let fault = Fault::Carrier(Line::One);
    for _ in 0..25 {
        rig.lab.inject(fault)?;
        std::thread::sleep(Duration::from_millis(100));
        rig.lab.clear(fault)?;
        std::thread::sleep(Duration::from_millis(100));
    }
    let settled = Instant::now();
    let on_main = || match &rig.daemon {
        Some(d) => d.active().is_some_and(|a| a == ["main"]),
        None => true,
    };
    let ok = poll(Duration::from_secs(30), "settle on main", on_main).is_ok()
        && poll(WINDOW, "traffic on main", || {
            rig.traffic.snapshot().all_recovered_via(Line::One, settled)
        })
        .is_ok();
    sample.ended_right = Some(ok);
    sample.switches = rig.daemon.as_ref().map(|_| switches(rig) - before);
    Ok(())
}
