//! `uplink bench`: the failover benchmark. Runs a fault matrix N times for three
//! contenders in the same run, each case on a fresh lab: the classic two static routes,
//! uplink with default settings, and uplink with the fast profile.

mod cases;
mod features;
mod footprint;
mod report;
mod sessions;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::LabError;
pub use footprint::Footprint;

/// Who is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Contender {
    /// Two default routes (metric 100 / 200) plus masquerade; no daemon.
    Static,
    /// uplink with default probe settings.
    Default,
    /// uplink with the fast profile.
    Fast,
}

impl Contender {
    pub const ALL: [Contender; 3] = [Contender::Static, Contender::Default, Contender::Fast];
}

impl fmt::Display for Contender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Contender::Static => "static metrics",
            Contender::Default => "uplink default",
            Contender::Fast => "uplink fast",
        })
    }
}

/// What is done to the main line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Case {
    IfDown,
    Carrier,
    Blackhole,
    /// The same blackhole judged by probes alone (`traffic_aware = false`): what the
    /// LAN's traffic as evidence gains.
    BlackholeProbesOnly,
    /// Random loss in percent, held for the configured time.
    Loss(u8),
    /// Blackhole, then the ISP recovers: time until traffic is back on main.
    Recovery,
    /// Carrier bounced several times a second for 5 s.
    Flap,
    /// The ISP drops ICMP for 10 s while the web works; uplink probes by HTTP and DNS
    /// (`probe_kinds_config`): no switch is right.
    IcmpFiltered,
    /// The ISP's captive portal takes port 80 (ICMP still passes); uplink probes by HTTP
    /// and DNS: time until traffic leaves the captive line.
    Portal,
}

impl Case {
    pub const ALL: [Case; 12] = [
        Case::IfDown,
        Case::Carrier,
        Case::Blackhole,
        Case::BlackholeProbesOnly,
        Case::Loss(10),
        Case::Loss(30),
        Case::Loss(60),
        Case::Loss(80),
        Case::Recovery,
        Case::Flap,
        Case::IcmpFiltered,
        Case::Portal,
    ];

    /// Whether only the daemon is measured (a setting of its own: static routes are the
    /// same as in the case it varies).
    pub fn daemon_only(self) -> bool {
        self == Case::BlackholeProbesOnly
    }

    /// Probe keys the case adds to both lines' probe tables.
    pub fn probe_keys(self) -> &'static str {
        match self {
            Case::BlackholeProbesOnly => "traffic_aware = false\n",
            _ => "",
        }
    }

    /// Whether the contender probes by HTTP and DNS in this case rather than by ICMP.
    pub fn probes_kinds(self) -> bool {
        matches!(self, Case::IcmpFiltered | Case::Portal)
    }
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Case::IfDown => f.write_str("interface down"),
            Case::Carrier => f.write_str("carrier loss"),
            Case::Blackhole => f.write_str("upstream blackhole"),
            Case::BlackholeProbesOnly => f.write_str("upstream blackhole, probes only"),
            Case::Loss(pct) => write!(f, "{pct}% loss"),
            Case::Recovery => f.write_str("ISP recovers (failback)"),
            Case::Flap => f.write_str("link flapping"),
            Case::IcmpFiltered => f.write_str("ICMP filtered (http+dns probes)"),
            Case::Portal => f.write_str("captive portal (http+dns probes)"),
        }
    }
}

/// One measurement of one case for one contender.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub contender: Contender,
    pub case: Case,
    pub run: usize,
    /// Outage (or failback time) of the long-lived flow; `None`: never recovered.
    pub long_lived: Option<Duration>,
    /// The same for fresh flows.
    pub fresh: Option<Duration>,
    /// Line switches the daemon made (loss and flapping cases).
    pub switches: Option<u32>,
    /// Whether the contender ended on the right line (flapping case).
    pub ended_right: Option<bool>,
}

impl Sample {
    /// A case that could not be measured: counts as "never recovered".
    pub fn failed(contender: Contender, case: Case, run: usize) -> Self {
        Sample {
            contender,
            case,
            run,
            long_lived: None,
            fresh: None,
            switches: None,
            ended_right: Some(false).filter(|_| case == Case::Flap),
        }
    }
}

/// How to run the benchmark.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub runs: usize,
    /// How long each loss level is held.
    pub loss_hold: Duration,
    /// Where the results folder is created.
    pub out: PathBuf,
    /// Skip the 2 × 60 s footprint measurement.
    pub skip_footprint: bool,
    /// Run only the cases whose name contains this (e.g. "10% loss", "blackhole",
    /// "features", "sessions").
    pub only: Option<String>,
}

/// Runs everything and writes the report; returns the report folder.
pub fn run(exe: &Path, opts: &BenchOptions) -> Result<PathBuf, LabError> {
    crate::netns::delete_all_on_panic();
    super::interrupt::catch_interrupts();
    let mut samples = Vec::new();
    let mut timeline = None;
    for run in 1..=opts.runs {
        let cases = Case::ALL.into_iter().filter(|c| {
            opts.only
                .as_ref()
                .is_none_or(|only| c.to_string().contains(only.as_str()))
        });
        for case in cases {
            for contender in Contender::ALL {
                if case.daemon_only() && contender == Contender::Static {
                    continue;
                }
                let (sample, picture) = match cases::measure(exe, contender, case, run, opts) {
                    Ok(measured) => measured,
                    Err(LabError::Interrupted) => return Err(LabError::Interrupted),
                    // One broken case must not throw away an hour of measurements.
                    Err(e) => {
                        eprintln!("run {run} | {contender} | {case}: failed: {e}");
                        (Sample::failed(contender, case, run), None)
                    }
                };
                eprintln!("{}", report::sample_line(&sample));
                if picture.is_some() && timeline.is_none() {
                    timeline = picture;
                }
                samples.push(sample);
            }
        }
    }
    let footprint = if opts.skip_footprint {
        None
    } else {
        Some(footprint::measure(exe)?)
    };
    let wanted = |name: &str| {
        opts.only
            .as_ref()
            .is_none_or(|only| name.contains(only.as_str()))
    };
    let features = if wanted("features") {
        Some(features::measure(exe)?)
    } else {
        None
    };
    let sessions = if wanted("sessions") {
        Some(sessions::measure(exe)?)
    } else {
        None
    };
    report::write(
        &opts.out,
        opts,
        &samples,
        timeline.as_ref(),
        footprint.as_ref(),
        features.as_ref(),
        sessions.as_ref(),
    )
}
