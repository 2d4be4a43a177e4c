//! The daemon: one event loop owning the engine. Probes, the netlink and nftables
//! monitors, signals and the control socket only send it events; after each event it
//! brings the kernel in line with the engine's desired state. Driver errors are logged and
//! retried, never fatal.

pub mod control;
pub mod events;
pub mod instance;
mod interfaces;
pub mod notify;
mod probes;
pub mod status;
mod warnings;

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use futures::{FutureExt, Stream, StreamExt};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc;

use crate::config::{self, Config, Gateway};
use crate::core::flush::{flush_plan, FlushRequest};
use crate::core::{Desired, Engine, Notice, Route, Rule, Ruleset};
use crate::hooks::{HookConfig, HookRunner};
use crate::probe::{ProbeEvent, ProbeOutcome};
use crate::reconcile::{reconcile_firewall, reconcile_routing, remove_all, Change};
use crate::system::netifd::Resolver;
use crate::system::{netlink_monitor, nft_monitor, KernelChange, Netlink, Nft};
use control::{Pending, Request};
use interfaces::Interfaces;
use probes::Probes;
use warnings::warn_about_system;

/// How long to wait before retrying a failed kernel change.
const RETRY: Duration = Duration::from_secs(1);
/// nft announces one change per object; wait for the burst to end before checking.
const NFT_SETTLE: Duration = Duration::from_millis(100);

type KernelChanges = Pin<Box<dyn Stream<Item = KernelChange>>>;
type NftChanges = Pin<Box<dyn Stream<Item = ()>>>;

/// The signals the daemon acts on: stop (TERM, INT) and reload (HUP).
struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }
}

struct Daemon {
    config_path: PathBuf,
    /// The config's syntax as given on the command line; `None`: told by content.
    config_format: Option<config::Format>,
    engine: Engine,
    /// Devices of lines given by netifd interface.
    interfaces: Interfaces,
    netlink: Netlink,
    nft: Nft,
    probes: Probes,
    /// Routes and rules last applied successfully; `None` forces a reconcile.
    routing_applied: Option<(Vec<Route>, Vec<Rule>)>,
    /// The nft ruleset last applied or verified; `None` forces a check.
    nft_applied: Option<Ruleset>,
    /// The engine revision the kernel was last brought in line with.
    settled_revision: Option<u32>,
    links_dirty: bool,
    nft_check_at: Option<Instant>,
    retry_at: Option<Instant>,
    /// Conntrack flushes waiting for the routing change that makes them useful.
    pending_flushes: Vec<FlushRequest>,
    hooks: HookRunner,
    /// Set by a reload: probe events still queued came from the old probers, whose line
    /// numbers may now mean other lines, so they are dropped.
    stale_probe_events: bool,
    /// systemd's notify socket, if any.
    notifier: notify::Notifier,
    /// READY=1 goes out once, after the first reconcile.
    ready_sent: bool,
    /// The last driver error logged at warn level; repeats go to debug so a persistent
    /// problem (a gateway that is not on-link, say) does not flood the log every second.
    last_warning: Option<String>,
}

/// Runs the daemon until SIGTERM or SIGINT, then removes everything it created.
/// `format` forces the config's syntax (else it is told by content, also on reload);
/// `socket` overrides the config's control socket path.
pub async fn run(
    config_path: &Path,
    format: Option<config::Format>,
    socket: Option<PathBuf>,
) -> anyhow::Result<()> {
    // Installed first, so a stop request at any point after this goes through shutdown.
    let signals = Signals::install()?;
    // Before anything touches the kernel: a second daemon here would fight the first.
    let _instance = instance::acquire()?;
    let mut config = config::load_as(config_path, format)?;
    let mut interfaces = Interfaces::new(Resolver::from_env());
    interfaces.resolve_all(&mut config, Instant::now());
    let socket = socket.unwrap_or_else(|| config.socket.clone());
    let hooks = config.hooks.clone();
    let listener = control::bind(&socket).await?;
    // Subscribe before the first dump so no change slips between the two.
    let kernel: KernelChanges = Box::pin(netlink_monitor()?);
    let nft_changes: NftChanges = Box::pin(nft_monitor().context("nft monitor")?);
    let (probe_tx, probe_rx) = mpsc::unbounded_channel();
    let mut daemon = Daemon {
        config_path: config_path.to_path_buf(),
        config_format: format,
        engine: Engine::new(config, Instant::now()),
        interfaces,
        netlink: Netlink::connect()?,
        nft: Nft::default(),
        probes: Probes::new(probe_tx),
        routing_applied: None,
        nft_applied: None,
        settled_revision: None,
        links_dirty: true,
        nft_check_at: None,
        retry_at: None,
        stale_probe_events: false,
        pending_flushes: Vec::new(),
        hooks: HookRunner::new(HookConfig::new(hooks.dir, hooks.timeout)),
        notifier: notify::Notifier::from_env(),
        ready_sent: false,
        last_warning: None,
    };
    // A missing nft binary is an installation problem: refuse to start, before any route
    // is touched, instead of retrying forever.
    daemon.apply_firewall_or_fail()?;
    warn_about_system(daemon.engine.config());
    let (control_tx, control_rx) = mpsc::channel(16);
    let server = tokio::spawn(control::serve(listener, control_tx));
    tracing::info!(
        "started with {} uplinks, control socket {}",
        daemon.engine.config().uplinks.len(),
        socket.display()
    );
    let result = daemon
        .event_loop(signals, kernel, nft_changes, probe_rx, control_rx)
        .await;
    server.abort();
    let _ = std::fs::remove_file(&socket);
    daemon.shutdown().await;
    result
}

impl Daemon {
    /// The first apply: a missing nft binary or missing permission is an installation
    /// problem, so the daemon refuses to start (before any route is touched) instead of
    /// retrying forever; anything else is retried like later failures.
    fn apply_firewall_or_fail(&mut self) -> anyhow::Result<()> {
        let ruleset = self.engine.desired().nft;
        match self.apply_firewall(ruleset) {
            Err(e @ crate::system::NftError::Spawn { .. }) => Err(e.into()),
            Err(e) if e.to_string().contains("Operation not permitted") => Err(anyhow::anyhow!(
                "{e}: uplink needs root (or CAP_NET_ADMIN and CAP_NET_RAW)"
            )),
            Err(e) => {
                self.warn_retry(e.to_string());
                Ok(())
            }
            Ok(()) => Ok(()),
        }
    }

    async fn event_loop(
        &mut self,
        mut signals: Signals,
        mut kernel: KernelChanges,
        mut nft_changes: NftChanges,
        mut probe_rx: mpsc::UnboundedReceiver<ProbeEvent>,
        mut control_rx: mpsc::Receiver<Pending>,
    ) -> anyhow::Result<()> {
        let mut watchdog = self.notifier.watchdog_period().map(tokio::time::interval);
        loop {
            if std::mem::take(&mut self.stale_probe_events) {
                while probe_rx.try_recv().is_ok() {}
            }
            self.settle().await;
            self.announce_ready();
            let wake = self.next_wake();
            tokio::select! {
                _ = signals.term.recv() => return log_stop("SIGTERM"),
                _ = signals.int.recv() => return log_stop("SIGINT"),
                _ = signals.hup.recv() => self.reload(),
                Some(event) = probe_rx.recv() => self.on_probe(event),
                change = kernel.next() => self.on_kernel(change, &mut kernel),
                change = nft_changes.next() => self.on_nft(change, &mut nft_changes),
                Some((request, reply)) = control_rx.recv() => {
                    let _ = reply.send(self.answer(request));
                }
                _ = sleep_until(wake) => self.on_timer(),
                _ = tick(&mut watchdog) => self.notifier.send("WATCHDOG=1"),
            }
        }
    }

    /// Tells systemd (Type=notify) that start-up or a reload is done: the first reconcile
    /// has run, whatever its outcome (failures are retried while running).
    fn announce_ready(&mut self) {
        if !self.ready_sent {
            self.ready_sent = true;
            let lines = self.engine.config().uplinks.len();
            self.notifier
                .send(&format!("READY=1\nSTATUS=watching {lines} lines"));
        }
    }

    fn next_wake(&self) -> Option<Instant> {
        [
            self.engine.next_deadline(),
            self.nft_check_at,
            self.retry_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Logs what changed, queues the conntrack flushes it calls for (run once the new
    /// routes are in place) and hands events to the hooks (which never delay us).
    fn handle(&mut self, notices: Vec<Notice>) {
        for notice in &notices {
            tracing::info!("{notice}");
        }
        self.pending_flushes
            .extend(flush_plan(&self.engine, &notices));
        for event in events::hook_events(&self.engine, &notices) {
            self.hooks.emit(event);
        }
    }

    /// Runs the queued flushes beside the event loop.
    fn start_flushes(&mut self) {
        for request in self.pending_flushes.drain(..) {
            tokio::spawn(events::flush(request));
        }
    }

    fn on_probe(&mut self, event: ProbeEvent) {
        let rtt = match event.outcome {
            ProbeOutcome::Reply { rtt } => Some(rtt),
            ProbeOutcome::Lost => None,
        };
        let notices = self
            .engine
            .on_probe(event.line, event.target, rtt, event.at);
        self.handle(notices);
    }

    fn on_kernel(&mut self, change: Option<KernelChange>, kernel: &mut KernelChanges) {
        let mut next = change;
        loop {
            match next {
                Some(KernelChange::Link) => self.links_dirty = true,
                Some(KernelChange::Owned) => self.routing_applied = None,
                None => return self.resubscribe_kernel(kernel),
            }
            // Changes come in bursts (a link going down takes its addresses and routes
            // with it): take everything already queued before acting once.
            match kernel.next().now_or_never() {
                Some(change) => next = change,
                None => return,
            }
        }
    }

    /// The kernel drops notifications when its socket buffer overflows (ENOBUFS); then the
    /// only safe course is a new subscription and a full re-read.
    fn resubscribe_kernel(&mut self, kernel: &mut KernelChanges) {
        tracing::warn!("netlink monitor ended; resubscribing and re-reading everything");
        match netlink_monitor() {
            Ok(stream) => *kernel = Box::pin(stream),
            Err(e) => tracing::warn!("{e}"),
        }
        self.links_dirty = true;
        self.routing_applied = None;
        self.retry_at = Some(Instant::now() + RETRY);
    }

    fn on_nft(&mut self, change: Option<()>, nft_changes: &mut NftChanges) {
        if change.is_none() {
            match nft_monitor() {
                Ok(stream) => *nft_changes = Box::pin(stream),
                Err(e) => tracing::warn!("nft monitor: {e}"),
            }
        }
        self.nft_check_at.get_or_insert(Instant::now() + NFT_SETTLE);
    }

    fn on_timer(&mut self) {
        let now = Instant::now();
        if self.retry_at.is_some_and(|at| at <= now) {
            self.retry_at = None;
            self.routing_applied = None;
            self.links_dirty = true;
        }
        let notices = self.engine.tick(now);
        self.handle(notices);
    }

    fn answer(&mut self, request: Request) -> serde_json::Value {
        let (line, drained) = match request {
            Request::Status => {
                let report = status::status(&self.engine, Instant::now(), SystemTime::now());
                return serde_json::to_value(report).expect("status serializes");
            }
            Request::Drain { line } => (line, true),
            Request::Undrain { line } => (line, false),
        };
        match self.engine.set_drained(&line, drained) {
            Ok(notices) => {
                self.handle(notices);
                serde_json::json!({ "ok": true })
            }
            Err(e) => serde_json::json!({ "error": e }),
        }
    }

    fn reload(&mut self) {
        self.notifier.send("RELOADING=1");
        // The next pass of the loop sends READY=1 again, old config or new.
        self.ready_sent = false;
        match config::load_as(&self.config_path, self.config_format) {
            Ok(config) => self.take_config(config),
            Err(e) => tracing::warn!("reload: keeping the running config: {e}"),
        }
    }

    fn take_config(&mut self, mut config: Config) {
        tracing::info!("reload: new config from {}", self.config_path.display());
        self.interfaces.resolve_all(&mut config, Instant::now());
        self.adopt(config);
    }

    /// Runs `config` from now on; lines whose settings did not change keep their state.
    fn adopt(&mut self, config: Config) {
        self.probes.clear();
        self.stale_probe_events = true;
        warn_about_system(&config);
        let notices = self.engine.reconfigure(config, Instant::now());
        self.handle(notices);
        self.links_dirty = true;
        self.routing_applied = None;
    }

    /// After each event: re-read links if they changed, keep probers in step, and apply
    /// whatever the desired state now differs in.
    async fn settle(&mut self) {
        if self.links_dirty {
            self.refresh_links().await;
        }
        let nft_due = self.nft_check_at.is_some_and(|at| at <= Instant::now());
        // Most events are probe replies that change nothing: then there is nothing to
        // rebuild, compare or apply.
        let revision = self.engine.revision();
        let in_line = self.routing_applied.is_some() && self.nft_applied.is_some();
        if in_line && !nft_due && self.settled_revision == Some(revision) {
            return;
        }
        self.settled_revision = Some(revision);
        self.probes.sync(&self.engine);
        let desired = self.engine.desired();
        let routing = (desired.routes, desired.rules);
        if self.routing_applied.as_ref() != Some(&routing) {
            self.apply_routing(routing).await;
        }
        let unchanged = self
            .nft_applied
            .as_ref()
            .is_some_and(|a| a.same_as(&desired.nft));
        if nft_due || !unchanged {
            if let Err(e) = self.apply_firewall(desired.nft) {
                self.warn_retry(e.to_string());
            }
        }
    }

    /// Makes our nft table hold `ruleset`; on failure schedules a retry and says why.
    fn apply_firewall(&mut self, ruleset: Ruleset) -> Result<(), crate::system::NftError> {
        self.nft_check_at = None;
        match reconcile_firewall(&mut self.nft, &ruleset) {
            Ok(_) => {
                self.nft_applied = Some(ruleset);
                Ok(())
            }
            Err(e) => {
                self.nft_applied = None;
                self.nft_check_at = Some(Instant::now() + RETRY);
                Err(e)
            }
        }
    }

    async fn refresh_links(&mut self) {
        let auto = self
            .engine
            .config()
            .uplinks
            .iter()
            .any(|u| u.gateway == Gateway::Auto);
        match self.netlink.links(auto).await {
            Ok(links) => {
                self.links_dirty = false;
                let now = Instant::now();
                if let Some(config) = self.interfaces.follow(self.engine.config(), &links, now) {
                    self.adopt(config);
                }
                if let Some(at) = self.interfaces.held_back() {
                    self.retry_at = Some(self.retry_at.map_or(at, |r| r.min(at)));
                }
                let notices = self.engine.on_links(&links, now);
                self.handle(notices);
            }
            Err(e) => {
                self.warn_retry(e.to_string());
                self.retry_at = Some(Instant::now() + RETRY);
            }
        }
    }

    async fn apply_routing(&mut self, (routes, rules): (Vec<Route>, Vec<Rule>)) {
        let desired = Desired {
            routes,
            rules,
            nft: Ruleset::default(),
        };
        let dev = events::device_namer(self.device_names());
        let describe = |change: &Change| change.describe(&dev);
        match reconcile_routing(&mut self.netlink, &desired, describe).await {
            Ok(_) => {
                self.routing_applied = Some((desired.routes, desired.rules));
                self.last_warning = None;
                // Deleting entries before the routes moved would let the next packet
                // recreate them through the dead line.
                self.start_flushes();
            }
            Err(e) => {
                self.warn_retry(e.to_string());
                self.routing_applied = None;
                self.retry_at = Some(Instant::now() + RETRY);
            }
        }
    }

    /// Device names by ifindex, for readable logs.
    fn device_names(&self) -> Vec<(u32, String)> {
        let uplinks = &self.engine.config().uplinks;
        (0..uplinks.len())
            .filter_map(|i| {
                Some((
                    self.engine.line(i).link()?.ifindex,
                    uplinks[i].device.clone(),
                ))
            })
            .collect()
    }

    fn warn_retry(&mut self, error: String) {
        if self.last_warning.as_ref() == Some(&error) {
            tracing::debug!("{error}; retrying");
        } else {
            tracing::warn!("{error}; retrying every {} ms", RETRY.as_millis());
            self.last_warning = Some(error);
        }
    }

    async fn shutdown(&mut self) {
        self.notifier.send("STOPPING=1");
        self.probes.clear();
        match remove_all(&mut self.netlink, &mut self.nft).await {
            Ok(n) => tracing::info!("stopped: removed {n} routes and rules and the nft table"),
            Err(e) => tracing::error!("stop: could not remove everything: {e}"),
        }
    }
}

fn log_stop(signal: &str) -> anyhow::Result<()> {
    tracing::info!("{signal}: stopping");
    Ok(())
}

/// The next watchdog tick, or never without a watchdog.
async fn tick(watchdog: &mut Option<tokio::time::Interval>) {
    match watchdog {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
