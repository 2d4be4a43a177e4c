//! `uplink soak`: the daemon under a long storm of faults, reloads and status requests in
//! the lab, watched for what a router owner would only notice after weeks: memory or file
//! descriptors that grow, a status that disagrees with the kernel, a crash.
//!
//! Every second: a status request, compared with our active table in the kernel. In turn,
//! every few seconds: a carrier flap, a blackhole, 30 % loss, a reload storm (valid and
//! invalid configs, a 10k-entry set that changes), on either line. Every 10 s: the daemon's
//! RSS and open descriptors.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{two_line_config, Fault, Lab, LabDaemon, LabError, LabOptions, Line, ProbeProfile};
use super::{Role, TrafficConfig};

/// (seconds since start, RSS in KiB, open descriptors).
pub type Sample = (u64, u64, usize);

/// How a soak went.
#[derive(Debug, Clone, Default)]
pub struct SoakReport {
    /// (seconds since start, RSS in KiB, open descriptors), every 10 s.
    pub samples: Vec<Sample>,
    /// Taken in the same state at both ends (no fault, both lines up, warmed up), so that
    /// what the faults open for a while (probe sockets come and go with links, an nft run
    /// holds pipes) does not count.
    pub baseline: Option<Sample>,
    pub end: Option<Sample>,
    /// Status answers compared with the kernel, and how many disagreed.
    pub compared: usize,
    pub mismatches: Vec<String>,
    /// Status requests the daemon did not answer.
    pub unanswered: usize,
    /// Faults and reloads done.
    pub actions: usize,
    /// Whether the daemon was still running at the end.
    pub alive: bool,
}

impl SoakReport {
    /// Growth of RSS from the baseline to the end, in KiB.
    pub fn rss_growth_kib(&self) -> i64 {
        self.growth(|s| s.1 as i64)
    }

    /// Growth of open descriptors from the baseline to the end.
    pub fn fd_growth(&self) -> i64 {
        self.growth(|s| s.2 as i64)
    }

    fn growth(&self, value: impl Fn(&Sample) -> i64) -> i64 {
        match (&self.baseline, &self.end) {
            (Some(first), Some(last)) => value(last) - value(first),
            _ => 0,
        }
    }

    /// The report as text, one line per sample and a verdict.
    pub fn render(&self) -> String {
        let mut out = String::from("   s  RSS KiB  fds\n");
        for (secs, rss, fds) in &self.samples {
            out += &format!("{secs:>4}  {rss:>7}  {fds:>3}\n");
        }
        let show = |s: &Option<Sample>| {
            s.map_or("-".to_string(), |(t, rss, fds)| {
                format!("{rss} KiB, {fds} fds at {t} s")
            })
        };
        out += &format!(
            "baseline {}; end {}\n",
            show(&self.baseline),
            show(&self.end)
        );
        out += &format!(
            "actions {}, status compared {} times, {} mismatches, {} unanswered, RSS {:+} KiB, fds {:+}, daemon {}\n",
            self.actions,
            self.compared,
            self.mismatches.len(),
            self.unanswered,
            self.rss_growth_kib(),
            self.fd_growth(),
            if self.alive { "alive" } else { "DEAD" }
        );
        for m in self.mismatches.iter().take(5) {
            out += &format!("mismatch: {m}\n");
        }
        out
    }
}

/// Runs the soak for `length` with the daemon `exe`; `progress` gets a line per sample.
/// The baseline is taken after a fifth of the time (at most a minute) of storm, so that
/// the allocator's warm-up and the first set loads do not count as growth.
pub fn run(
    exe: &Path,
    length: Duration,
    mut progress: impl FnMut(&str),
) -> Result<SoakReport, LabError> {
    let lab = Lab::build(LabOptions {
        label: "soak".into(),
        ..LabOptions::default()
    })?;
    let _echo = lab.start_echo_server()?;
    let mut daemon = LabDaemon::new(exe, ProbeProfile::Test)?;
    let set_file = daemon.config().with_file_name("set.txt");
    write_set(&set_file, 0)?;
    daemon.write_config(&config(&daemon.socket(), &set_file, 0))?;
    daemon.start(&lab)?;
    let _traffic = lab.start_traffic(TrafficConfig::default())?;
    let mut soak = Soak {
        lab: &lab,
        daemon: &daemon,
        set_file,
        start: Instant::now(),
        step: 0,
        report: SoakReport::default(),
    };
    let warm_up = (length / 5).min(Duration::from_secs(60));
    soak.storm_until(warm_up, &mut progress)?;
    settled(&lab, &daemon)?;
    soak.report.baseline = sample(&daemon, soak.start.elapsed());
    soak.storm_until(length, &mut progress)?;
    let Soak {
        start, mut report, ..
    } = soak;
    report.alive = !daemon.exited();
    if report.alive {
        settled(&lab, &daemon)?;
        report.end = sample(&daemon, start.elapsed());
    }
    Ok(report)
}

/// A soak under way.
struct Soak<'a> {
    lab: &'a Lab,
    daemon: &'a LabDaemon,
    set_file: std::path::PathBuf,
    start: Instant,
    /// Seconds of storm so far: an action every 4, a sample every 10.
    step: u32,
    report: SoakReport,
}

impl Soak<'_> {
    /// Storms until `until` after the start.
    fn storm_until(
        &mut self,
        until: Duration,
        progress: &mut impl FnMut(&str),
    ) -> Result<(), LabError> {
        while self.start.elapsed() < until {
            super::interrupt::interrupted()?;
            if self.step % 4 == 0 {
                let socket = self.daemon.socket();
                let good = |version: u32| config(&socket, &self.set_file, version);
                act(self.lab, self.daemon, &self.set_file, self.step / 4, &good)?;
                self.report.actions += 1;
            }
            compare(self.lab, self.daemon, &mut self.report);
            if self.step % 10 == 0 {
                if let Some(sample) = sample(self.daemon, self.start.elapsed()) {
                    let (secs, rss, fds) = sample;
                    progress(&format!("{secs:>4} s: RSS {rss} KiB, {fds} fds"));
                    self.report.samples.push(sample);
                }
            }
            self.step += 1;
            std::thread::sleep(Duration::from_secs(1));
        }
        Ok(())
    }
}

/// The faults the soak plays on `line`, in turn.
fn faults_on(line: Line) -> [Fault; 3] {
    [
        Fault::Carrier(line),
        Fault::Blackhole(line),
        Fault::Loss(line, 30),
    ]
}

fn clear_faults(lab: &Lab, line: Line) -> Result<(), LabError> {
    faults_on(line)
        .into_iter()
        .try_for_each(|fault| lab.clear(fault))
}

/// Clears every fault and waits until both lines are up, then a moment more.
fn settled(lab: &Lab, daemon: &LabDaemon) -> Result<(), LabError> {
    for line in Line::ALL {
        clear_faults(lab, line)?;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let up = daemon
            .status()
            .is_some_and(|s| s.uplinks.iter().all(|l| l.state == "up"));
        if up {
            std::thread::sleep(Duration::from_secs(2));
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(LabError::Timeout("both lines up after the faults".into()))
}

/// The two-line config plus a policy by a set read from `set_file` (version in a comment,
/// so each reload is a new config).
fn config(socket: &Path, set_file: &Path, version: u32) -> String {
    format!(
        "# version {version}\n{}\n[[set]]\nname = \"big\"\nfile = \"{}\"\n\n[[policy]]\nname = \"media\"\nset = \"big\"\nuplinks = [\"backup\", \"main\"]\n",
        two_line_config(socket, ProbeProfile::Test),
        set_file.display()
    )
}

/// 10,000 addresses from the benchmarking range, shifted by `version`.
fn write_set(path: &Path, version: u32) -> Result<(), LabError> {
    let start = u32::from(std::net::Ipv4Addr::new(198, 18, 64, 0)) + version * 16;
    let text: String = (0..10_000u32)
        .map(|i| format!("{}\n", std::net::Ipv4Addr::from(start + i)))
        .collect();
    fs::write(path, text).map_err(LabError::io("write the soak's set file"))
}

/// The `round`th action: faults on alternating lines, cleared in the next round, and a
/// reload storm every fourth round.
fn act(
    lab: &Lab,
    daemon: &LabDaemon,
    set_file: &Path,
    round: u32,
    good: &dyn Fn(u32) -> String,
) -> Result<(), LabError> {
    let line = if round % 2 == 0 { Line::One } else { Line::Two };
    clear_faults(lab, line)?;
    match round % 4 {
        kind @ 0..=2 => lab.inject(faults_on(line)[kind as usize]),
        _ => {
            for version in 0..5 {
                let text = if version % 2 == 0 {
                    good(round * 5 + version)
                } else {
                    "[[uplink]]\nname = \"broken\n".to_string()
                };
                daemon.write_config(&text)?;
                daemon.signal(libc::SIGHUP);
                std::thread::sleep(Duration::from_millis(50));
            }
            write_set(set_file, round)?;
            daemon.write_config(&good(round * 5 + 5))?;
            daemon.signal(libc::SIGHUP);
            Ok(())
        }
    }
}

/// Compares the status's active lines with our active table's devices, when the kernel
/// read before and after the status agree (not in the middle of a switch).
fn compare(lab: &Lab, daemon: &LabDaemon, report: &mut SoakReport) {
    let before = kernel_active(lab);
    let Some(active) = daemon.active() else {
        report.unanswered += 1;
        return;
    };
    let after = kernel_active(lab);
    if before != after {
        return;
    }
    report.compared += 1;
    let mut said: Vec<String> = active
        .iter()
        .map(|name| if name == "main" { "wan1" } else { "wan2" }.to_string())
        .collect();
    said.sort();
    if said != after {
        report.mismatches.push(format!(
            "status says {active:?}, kernel routes via {after:?}"
        ));
    }
}

/// The devices of table 7700's IPv4 default route, sorted.
fn kernel_active(lab: &Lab) -> Vec<String> {
    let shown = lab
        .ns(Role::Router)
        .ip(&["route", "show", "table", "7700"])
        .unwrap_or_default();
    let mut devices: Vec<String> = shown
        .split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[0] == "dev")
        .map(|w| w[1].to_string())
        .collect();
    devices.sort();
    devices.dedup();
    devices
}

/// (seconds, RSS KiB, open fds) of the daemon now.
fn sample(daemon: &LabDaemon, elapsed: Duration) -> Option<Sample> {
    let pid = daemon.pid()?;
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let fds = fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    Some((elapsed.as_secs(), rss, fds))
}
