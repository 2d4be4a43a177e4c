//! Footprint: binary size, and the daemon's RSS and CPU time over 60 s with 4 lines × 3
//! probe targets, at default and at fast probe settings, read from /proc.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::lab::interrupt;
use crate::lab::{LabDaemon, LabError, ProbeProfile};
use crate::netns::{unique_prefix, Netns};

const LINES: u8 = 4;
const TARGETS: u8 = 3;
const MEASURE: Duration = Duration::from_secs(60);

/// What one profile cost.
#[derive(Debug, Clone)]
pub struct Usage {
    pub profile: &'static str,
    pub cpu: Duration,
    pub rss_kib: u64,
    pub peak_rss_kib: u64,
}

/// The footprint section of the report.
#[derive(Debug, Clone)]
pub struct Footprint {
    pub binary: String,
    pub binary_bytes: u64,
    pub usage: Vec<Usage>,
    /// Time to apply uplink's nft table with a 100,000-entry policy set (`nft -f` and the
    /// check that follows).
    pub set_load: Duration,
}

impl Footprint {
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "## Footprint\n\nBinary `{}`: {:.2} MB ({} bytes).\n\nDaemon with {LINES} lines × {TARGETS} targets, over {} s:\n\n| profile | CPU seconds | CPU % of one core | RSS | peak RSS |\n|---|---|---|---|---|\n",
            self.binary,
            self.binary_bytes as f64 / 1e6,
            self.binary_bytes,
            MEASURE.as_secs()
        );
        for u in &self.usage {
            let pct = 100.0 * u.cpu.as_secs_f64() / MEASURE.as_secs_f64();
            writeln!(
                out,
                "| {} | {:.3} | {pct:.2} % | {:.1} MB | {:.1} MB |",
                u.profile,
                u.cpu.as_secs_f64(),
                u.rss_kib as f64 / 1024.0,
                u.peak_rss_kib as f64 / 1024.0
            )
            .unwrap();
        }
        out +=
            "\n(*observed*: `http_listen`, `metrics_file` and an `events_file` read back at start \
                with a full history of 1,000 events, /metrics scraped every 5 s and the status \
                page open: status and events every 2 s, series every 10 s.)\n";
        out
    }
}

/// Measures both profiles; `exe` is the binary that is measured (build it with --release).
pub fn measure(exe: &Path) -> Result<Footprint, LabError> {
    let binary_bytes = std::fs::metadata(exe)
        .map_err(LabError::io("stat binary"))?
        .len();
    let mut usage = Vec::new();
    for (name, profile, observed) in [
        ("default", ProbeProfile::Default, false),
        ("fast", ProbeProfile::Fast, false),
        ("default, observed", ProbeProfile::Default, true),
    ] {
        usage.push(measure_profile(exe, name, profile, observed)?);
    }
    Ok(Footprint {
        binary: exe.display().to_string(),
        binary_bytes,
        usage,
        set_load: set_load()?,
    })
}

/// Applies a ruleset with a 100,000-address set in a fresh namespace, timed.
fn set_load() -> Result<Duration, LabError> {
    use crate::config::{parse, PrefixSet};
    use crate::reconcile::Firewall;
    let config = parse("[[uplink]]\nname = \"main\"\ndevice = \"wan1\"\n[[set]]\nname = \"big\"\nprefixes = [\"198.18.16.0\"]\n[[policy]]\nname = \"p\"\nset = \"big\"\nuplinks = [\"main\"]\n")
        .map_err(|e| LabError::Timeout(e.to_string()))?;
    let start = u32::from(std::net::Ipv4Addr::new(198, 18, 16, 0));
    let set = PrefixSet {
        name: "big".into(),
        prefixes: (0..100_000u32)
            .map(|i| crate::config::Prefix::host((start + i).into()))
            .collect(),
    };
    let policies: Vec<&crate::config::Policy> = config.policies.iter().collect();
    let ruleset = crate::core::Ruleset {
        table: crate::core::desired::nft_ruleset(&config.uplinks, &policies, &[set]).into(),
        share: String::new(),
    };
    let ns = Netns::create(&unique_prefix("set"))?;
    ns.run_in(move || {
        let mut nft = crate::system::Nft::default();
        let begin = Instant::now();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| LabError::Timeout(format!("runtime: {e}")))?;
        let applied = runtime.block_on(nft.apply(&ruleset));
        applied
            .map(|()| begin.elapsed())
            .map_err(|e| LabError::Timeout(e.to_string()))
    })?
    .map_err(|e| LabError::Timeout(format!("set load: {e}")))
}

/// A router with four lines to one peer that answers for all twelve targets.
fn four_lines() -> Result<(Netns, Netns), LabError> {
    let prefix = unique_prefix("fp");
    let router = Netns::create(&format!("{prefix}-r"))?;
    let peer = Netns::create(&format!("{prefix}-p"))?;
    for n in 1..=LINES {
        let (wan, isp) = (format!("wan{n}"), format!("isp{n}"));
        router.ip(&[
            "link",
            "add",
            &wan,
            "type",
            "veth",
            "peer",
            "name",
            &isp,
            "netns",
            peer.name(),
        ])?;
        router.ip(&[
            "addr",
            "add",
            &format!("198.18.{}.2/24", 20 + n),
            "dev",
            &wan,
        ])?;
        router.ip(&["link", "set", &wan, "up"])?;
        peer.ip(&[
            "addr",
            "add",
            &format!("198.18.{}.1/24", 20 + n),
            "dev",
            &isp,
        ])?;
        peer.ip(&["link", "set", &isp, "up"])?;
    }
    for t in 1..=LINES * TARGETS {
        peer.ip(&["addr", "add", &format!("203.0.113.{t}/32"), "dev", "lo"])?;
    }
    Ok((router, peer))
}

fn config(socket: &Path, profile: ProbeProfile) -> String {
    let mut text = format!("socket = \"{}\"\n", socket.display());
    for n in 1..=LINES {
        let targets: Vec<String> = (1..=TARGETS)
            .map(|t| format!("\"203.0.113.{}\"", (n - 1) * TARGETS + t))
            .collect();
        write!(text, "\n[[uplink]]\nname = \"line{n}\"\ndevice = \"wan{n}\"\ngateway = \"198.18.{}.1\"\nmetric = {}\n[uplink.probe]\ntargets = [{}]\n{}", 20 + n, 100 * n as u32, targets.join(", "), profile.keys()).unwrap();
    }
    text
}

/// Where the observed profile's listener is, in the router namespace.
const LISTEN: &str = "127.0.0.1:9101";

/// The observability keys: the listener, the textfile, and an events file already holding
/// a full history (1,000 events), which the daemon reads back at start.
fn observed(daemon: &LabDaemon) -> Result<String, LabError> {
    let dir = daemon.config().with_file_name("");
    let events = dir.join("events.jsonl");
    let mut lines = String::new();
    for seq in 1..=1000 {
        let line = if seq % 2 == 0 { "line1" } else { "line2" };
        writeln!(lines, "{{\"seq\":{seq},\"time\":\"2026-12-01T00:00:00Z\",\"kind\":\"down\",\"line\":\"{line}\",\"message\":\"uplink \\\"{line}\\\" down: no reply from 3/3 targets for 2000 ms\"}}").unwrap();
    }
    std::fs::write(&events, lines).map_err(LabError::io("write events file"))?;
    Ok(format!(
        "http_listen = \"{LISTEN}\"\nmetrics_file = \"{}\"\nevents_file = \"{}\"\n",
        dir.join("uplink.prom").display(),
        events.display()
    ))
}

/// Prometheus scraping /metrics every 5 s and the status page open (status and events
/// every 2 s, series every 10 s), until `stop` is set; run inside the router's namespace.
/// Returns how many requests were answered.
fn poll_listener(stop: Arc<AtomicBool>) -> u32 {
    let mut answered = 0;
    let mut tick = 0u32;
    while !stop.load(Ordering::Relaxed) {
        let due = [
            ("/api/status", 2),
            ("/api/events", 2),
            ("/api/series", 10),
            ("/metrics", 5),
        ];
        for (path, _) in due.iter().filter(|(_, every)| tick % every == 0) {
            answered += u32::from(http_get(path));
        }
        tick += 1;
        std::thread::sleep(Duration::from_secs(1));
    }
    answered
}

fn http_get(path: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(LISTEN) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET {path} HTTP/1.1\r\nHost: router\r\n\r\n");
    let mut answer = String::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_string(&mut answer).is_ok()
        && answer.starts_with("HTTP/1.1 200")
}

fn measure_profile(
    exe: &Path,
    name: &'static str,
    profile: ProbeProfile,
    observe: bool,
) -> Result<Usage, LabError> {
    let (router, _peer) = four_lines()?;
    let mut daemon = LabDaemon::new(exe, profile)?;
    let top = if observe {
        observed(&daemon)?
    } else {
        String::new()
    };
    daemon.write_config(&format!("{top}{}", config(&daemon.socket(), profile)))?;
    daemon.start_in(&router)?;
    let all_up = || {
        daemon
            .status()
            .is_some_and(|s| s.uplinks.iter().all(|l| l.state == "up"))
    };
    interrupt::poll(
        Duration::from_secs(20),
        Duration::from_millis(100),
        "footprint: lines up",
        all_up,
    )
    .map_err(|e| match e {
        LabError::Timeout(what) => LabError::Timeout(format!("{what}\n{}", daemon.log())),
        other => other,
    })?;
    let pid = daemon
        .pid()
        .ok_or_else(|| LabError::Timeout("footprint: daemon pid".into()))?;
    let stop = Arc::new(AtomicBool::new(false));
    let (cpu, answered) = std::thread::scope(|scope| {
        let clients = observe.then(|| {
            let stop = stop.clone();
            let router = &router;
            scope.spawn(move || router.run_in(move || poll_listener(stop)).unwrap_or(0))
        });
        let cpu_before = cpu_time(pid)?;
        let slept = crate::lab::interrupt::sleep(MEASURE);
        stop.store(true, Ordering::Relaxed);
        let answered = clients.map(|c| c.join().unwrap_or(0));
        slept?;
        Ok::<_, LabError>((cpu_time(pid)? - cpu_before, answered))
    })?;
    if let Some(answered) = answered {
        if answered == 0 {
            return Err(LabError::Timeout(format!(
                "footprint: the listener answered nothing\n{}",
                daemon.log()
            )));
        }
    }
    let (rss_kib, peak_rss_kib) = rss(pid)?;
    daemon.stop(Duration::from_secs(5));
    Ok(Usage {
        profile: name,
        cpu,
        rss_kib,
        peak_rss_kib,
    })
}

/// utime + stime from /proc/PID/stat (proc(5), fields 14 and 15, in clock ticks).
fn cpu_time(pid: u32) -> Result<Duration, LabError> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(LabError::io("read /proc stat"))?;
    // The command name may contain spaces; fields are counted after its closing paren.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Ok(Duration::from_millis(ticks * 1000 / hz))
}

/// (VmRSS, VmHWM) in KiB from /proc/PID/status.
fn rss(pid: u32) -> Result<(u64, u64), LabError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(LabError::io("read /proc status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok((field("VmRSS:"), field("VmHWM:")))
}
