//! The daemon: one event loop owning the engine. Probes, the netlink and nftables
//! monitors, signals and the control socket only send it events; after each event it
//! brings the kernel in line with the engine's desired state. Driver errors are logged and
//! retried, never fatal.

mod apply;
pub mod control;
pub mod crash;
mod eventlog;
pub mod events;
pub mod history;
pub mod instance;
mod interfaces;
pub mod notify;
mod observer;
mod probes;
mod reconfigure;
mod sessions;
pub mod status;
pub mod status_table;
mod traffic;
mod warnings;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use futures::{FutureExt, Stream, StreamExt};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc;

use crate::config::{self, Config};
use crate::core::flush::{flush_plan, FlushRequest};
use crate::core::{Engine, Notice, Route, Rule, Ruleset};
use crate::hooks::{HookConfig, HookRunner};
use crate::probe::{ProbeEvent, ProbeOutcome};
use crate::reconcile::remove_all;
use crate::system::netifd::Resolver;
use crate::system::NftError;
use crate::system::{netlink_monitor, nft_monitor, KernelChange, Netlink, Nft};
use control::Pending;
use interfaces::Interfaces;
use observer::Observer;
use probes::Probes;
use warnings::warn_about_system;

/// How long to wait before retrying a failed kernel change.
const RETRY: Duration = Duration::from_secs(1);
/// How long a stop waits for an nft run under way (procd allows 5 s before SIGKILL).
const STOP_WAIT: Duration = Duration::from_secs(2);
/// nft announces one change per object; wait for the burst to end before checking.
const NFT_SETTLE: Duration = Duration::from_millis(100);

type KernelChanges = Pin<Box<dyn Stream<Item = KernelChange>>>;

/// Slow work done beside the event loop (nft runs, config files, ubus), reported back to it
/// when finished, so probing and failover never wait on it.
enum Done {
    /// An nft run ended: the driver comes back with the ruleset it was given.
    Firewall(Nft, Ruleset, Result<bool, NftError>),
    /// A reload's config was read, validated, its interfaces resolved and its nft table
    /// rendered (or not).
    Reload(Result<(Config, Arc<str>), config::ConfigError>),
    /// Devices looked up for interface lines whose device had gone.
    Followed(Vec<interfaces::Lookup>),
    /// The LAN's traffic through line `index` (named `name`) went unanswered for `quiet`.
    Suspect {
        index: usize,
        name: String,
        quiet: Duration,
    },
    /// Conntrack entries counted by mark.
    Connections(
        Result<HashMap<u32, u64>, crate::system::conntrack::CountError>,
        Duration,
    ),
}
type NftChanges = Pin<Box<dyn Stream<Item = ()>>>;

/// What clients ask the event loop: the control socket's requests, the HTTP listener's.
struct Requests {
    control: mpsc::Receiver<Pending>,
    web: mpsc::Receiver<crate::observe::http::Pending>,
}

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
    /// `None` while an nft run is under way beside the loop.
    nft: Option<Nft>,
    /// Where background work reports back.
    done: mpsc::UnboundedSender<Done>,
    /// A reload is being read; another SIGHUP meanwhile asks for one more.
    reload_running: bool,
    reload_again: bool,
    /// Devices of interface lines are being looked up.
    following: bool,
    probes: Probes,
    /// Watches the active lines' packet counters (traffic-aware detection).
    traffic: traffic::Sampler,
    /// Routes and rules last applied successfully; `None` forces a reconcile.
    routing_applied: Option<(Vec<Route>, Vec<Rule>)>,
    /// The nft ruleset last applied or verified; `None` forces a check.
    nft_applied: Option<Ruleset>,
    /// What was last brought fully in place, kept when a kernel change forces a check: the
    /// same state applied again is a repair of someone else's change.
    last_routing: Option<(Vec<Route>, Vec<Rule>)>,
    last_nft: Option<Ruleset>,
    /// The engine revision the kernel was last brought in line with.
    settled_revision: Option<u32>,
    links_dirty: bool,
    nft_check_at: Option<Instant>,
    retry_at: Option<Instant>,
    /// The routes and rules of the last attempt the kernel did not fully take; the same
    /// state is tried again at `retry_at`, not after every event.
    routing_failed: Option<(Vec<Route>, Vec<Rule>)>,
    /// A change of a table that carries traffic failed: conntrack flushes wait, or their
    /// connections would be re-created through the line being left.
    flushes_held: bool,
    /// The nft run under way, to end it at stop.
    firewall_task: Option<tokio::task::JoinHandle<()>>,
    /// Conntrack flushes waiting for the routing change that makes them useful.
    pending_flushes: Vec<FlushRequest>,
    /// The connection counts shown by status and metrics.
    counting: sessions::Counting,
    hooks: HookRunner,
    /// systemd's notify socket, if any.
    notifier: notify::Notifier,
    /// READY=1 goes out once, after the first reconcile.
    ready_sent: bool,
    /// Event history, counters, metrics and the HTTP listener.
    observer: Observer,
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
    // Switched off, or no line left enabled: leave the system as it is.
    if let Some(off) = config.off() {
        return Err(off.into());
    }
    crate::log::set_level(config.log_level);
    let mut interfaces = Interfaces::new(Resolver::from_env());
    interfaces.resolve_all(&mut config, Instant::now());
    let socket = socket.unwrap_or_else(|| config.socket.clone());
    let hooks = config.hooks.clone();
    let observe = config.observe.clone();
    let (web_tx, web_rx) = mpsc::channel(16);
    let listener = control::bind(&socket).await?;
    // Subscribe before the first dump so no change slips between the two.
    let kernel: KernelChanges = Box::pin(netlink_monitor()?);
    let nft_changes: NftChanges = Box::pin(nft_monitor().context("nft monitor")?);
    let (probe_tx, probe_rx) = mpsc::unbounded_channel();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let mut daemon = Daemon {
        config_path: config_path.to_path_buf(),
        config_format: format,
        engine: Engine::new(config, Instant::now()),
        interfaces,
        netlink: Netlink::connect()?,
        nft: Some(Nft::default()),
        done: done_tx.clone(),
        reload_running: false,
        reload_again: false,
        following: false,
        probes: Probes::new(probe_tx),
        traffic: traffic::Sampler::start(done_tx.clone()),
        routing_applied: None,
        nft_applied: None,
        last_routing: None,
        last_nft: None,
        settled_revision: None,
        links_dirty: true,
        nft_check_at: None,
        retry_at: None,
        routing_failed: None,
        flushes_held: false,
        firewall_task: None,
        pending_flushes: Vec::new(),
        counting: sessions::Counting::default(),
        hooks: HookRunner::new(HookConfig::new(
            hooks.dir,
            hooks.timeout,
            hooks.hotplug_iface,
        )),
        notifier: notify::Notifier::from_env(),
        ready_sent: false,
        last_warning: None,
        observer: Observer::new(&observe, web_tx),
    };
    // A missing nft binary is an installation problem: refuse to start, before any route
    // is touched, instead of retrying forever.
    daemon.apply_firewall_or_fail().await?;
    daemon.adopt_kernel_selection().await;
    warn_about_system(daemon.engine.config());
    let (control_tx, control_rx) = mpsc::channel(16);
    let followers = daemon.observer.subscribe();
    let server = tokio::spawn(control::serve(listener, control_tx, followers));
    tracing::info!(
        "started with {} uplinks, control socket {}",
        daemon.engine.config().uplinks.len(),
        socket.display()
    );
    let requests = Requests {
        control: control_rx,
        web: web_rx,
    };
    let result = daemon
        .event_loop(
            signals,
            kernel,
            nft_changes,
            probe_rx,
            requests,
            &mut done_rx,
        )
        .await;
    server.abort();
    let _ = std::fs::remove_file(&socket);
    daemon.shutdown(&mut done_rx).await;
    result
}

impl Daemon {
    async fn event_loop(
        &mut self,
        mut signals: Signals,
        mut kernel: KernelChanges,
        mut nft_changes: NftChanges,
        mut probe_rx: mpsc::UnboundedReceiver<ProbeEvent>,
        mut requests: Requests,
        done_rx: &mut mpsc::UnboundedReceiver<Done>,
    ) -> anyhow::Result<()> {
        let mut watchdog = self.notifier.watchdog_period().map(tokio::time::interval);
        loop {
            self.settle().await;
            self.announce_ready();
            let wake = self.next_wake();
            tokio::select! {
                _ = signals.term.recv() => return log_stop("SIGTERM"),
                _ = signals.int.recv() => return log_stop("SIGINT"),
                _ = signals.hup.recv() => self.reload(),
                Some(done) = done_rx.recv() => self.on_done(done),
                Some(event) = probe_rx.recv() => self.on_probe(event),
                change = kernel.next() => self.on_kernel(change, &mut kernel),
                change = nft_changes.next() => self.on_nft(change, &mut nft_changes),
                Some((request, reply)) = requests.control.recv() => {
                    let _ = reply.send(self.answer(request));
                }
                Some((query, reply)) = requests.web.recv() => {
                    self.want_connections(Instant::now(), sessions::WATCHED_PERIOD);
                    let _ = reply.send(self.observer.answer(query, &self.engine));
                }
                _ = sleep_until(wake) => {
                    // Replies that came while the loop was busy are evidence: judge them
                    // before letting time declare a line down.
                    while let Ok(event) = probe_rx.try_recv() {
                        self.on_probe(event);
                    }
                    self.on_timer();
                }
                _ = tick(&mut watchdog) => self.notifier.send("WATCHDOG=1"),
            }
        }
    }

    /// Tells systemd (Type=notify) that start-up or a reload is done: the first reconcile
    /// has run, whatever its outcome (failures are retried while running).
    fn announce_ready(&mut self) {
        if !self.ready_sent && !self.reload_running {
            self.ready_sent = true;
            let lines = self.engine.config().uplinks.len();
            self.notifier
                .send(&format!("READY=1\nSTATUS=watching {lines} lines"));
        }
    }

    fn next_wake(&self) -> Option<Instant> {
        // While nft runs, a check it asked for (its own changes announce themselves) waits
        // for its end, which wakes the loop anyway: a due check must not spin the loop.
        let nft_check = self.nft_check_at.filter(|_| self.nft.is_some());
        let metrics = self.observer.next_due();
        [
            self.engine.next_deadline(),
            nft_check,
            self.retry_at,
            metrics,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Logs what changed, queues the conntrack flushes it calls for (run once the new
    /// routes are in place) and hands events to the hooks (which never delay us).
    fn handle(&mut self, mut notices: Vec<Notice>) {
        events::with_wall_times(&mut notices, Instant::now(), SystemTime::now());
        for notice in &notices {
            tracing::info!("{notice}");
        }
        self.observer.notices(&notices, &self.engine);
        self.pending_flushes
            .extend(flush_plan(&self.engine, &notices));
        for event in events::hook_events(&self.engine, &notices) {
            self.hooks.emit(event);
        }
        // A line that stops being active now: whether its device filters reverse paths
        // strictly is read again (a sysctl may have changed), before it keeps connections.
        if notices.iter().any(|n| matches!(n, Notice::Active { .. })) {
            self.refresh_strict_rp();
        }
    }

    fn on_probe(&mut self, event: ProbeEvent) {
        // Events of a prober replaced since (a reload, a new address) are stale.
        let Some(line) = self.probes.line_of(event.line) else {
            return;
        };
        let (rtt, error) = match &event.outcome {
            ProbeOutcome::Reply { rtt } => (Some(*rtt), None),
            ProbeOutcome::Lost => (None, Some("no answer within the timeout")),
            ProbeOutcome::Failed(why) => (None, Some(why.as_str())),
        };
        let uplink = &self.engine.config().uplinks[line];
        if let Some(target) = uplink.probe.targets.get(event.target) {
            // Disjoint fields: the engine's config is only read while the observer writes.
            self.observer.probe(&uplink.name, &target.text, rtt, error);
        }
        let notices = self.engine.on_probe(line, event.target, rtt, event.at);
        self.handle(notices);
    }

    fn on_kernel(&mut self, change: Option<KernelChange>, kernel: &mut KernelChanges) {
        let mut next = change;
        loop {
            match next {
                Some(KernelChange::Link) => self.links_dirty = true,
                Some(KernelChange::Owned) => {
                    self.routing_applied = None;
                    self.routing_failed = None;
                }
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
        *kernel = match netlink_monitor() {
            Ok(stream) => Box::pin(stream),
            Err(e) => {
                tracing::warn!("{e}; trying again in {} ms", RETRY.as_millis());
                ended_after(RETRY)
            }
        };
        self.links_dirty = true;
        self.routing_applied = None;
        self.retry_at = Some(Instant::now() + RETRY);
    }

    fn on_nft(&mut self, change: Option<()>, nft_changes: &mut NftChanges) {
        if change.is_none() {
            *nft_changes = match nft_monitor() {
                Ok(stream) => Box::pin(stream),
                Err(e) => {
                    tracing::warn!("nft monitor: {e}; trying again in {} ms", RETRY.as_millis());
                    ended_after(RETRY)
                }
            };
        }
        self.nft_check_at.get_or_insert(Instant::now() + NFT_SETTLE);
    }

    fn on_timer(&mut self) {
        let now = Instant::now();
        // The metrics textfile (when configured) asks for the counts too.
        if self.observer.next_due().is_some_and(|at| at <= now) {
            self.want_connections(now, sessions::WATCHED_PERIOD);
        }
        self.observer.on_timer(&self.engine, now);
        if self.retry_at.is_some_and(|at| at <= now) {
            self.retry_at = None;
            self.routing_applied = None;
            self.routing_failed = None;
            self.links_dirty = true;
        }
        let notices = self.engine.tick(now);
        self.handle(notices);
    }

    /// Logs a failed driver operation of `kind` (`routing`, `nft`, `netlink`) that will be
    /// retried: a new error at warn level and as an event, a repeat at debug level.
    fn warn_retry(&mut self, kind: &'static str, error: String) {
        self.observer.counters.driver_error(kind);
        if self.last_warning.as_ref() == Some(&error) {
            tracing::debug!("{error}; retrying");
        } else {
            tracing::warn!("{error}; retrying every {} ms", RETRY.as_millis());
            self.observer
                .event("error", None, format!("{kind}: {error}"));
            self.last_warning = Some(error);
        }
    }

    /// Removes everything we own, after any nft run still under way has ended (it is
    /// bounded in time), so the table it writes is removed too.
    async fn shutdown(&mut self, done_rx: &mut mpsc::UnboundedReceiver<Done>) {
        self.notifier.send("STOPPING=1");
        self.probes.clear();
        // An nft run under way may still write our table: let it end (init systems allow a
        // few seconds for a stop), else end it; its transaction is whole or nothing.
        let deadline = tokio::time::Instant::now() + STOP_WAIT;
        while self.nft.is_none() {
            match tokio::time::timeout_at(deadline, done_rx.recv()).await {
                Ok(Some(Done::Firewall(nft, ..))) => self.nft = Some(nft),
                Ok(Some(
                    Done::Reload(_)
                    | Done::Followed(_)
                    | Done::Suspect { .. }
                    | Done::Connections(..),
                )) => {}
                Ok(None) | Err(_) => break,
            }
        }
        if let Some(task) = self.firewall_task.take() {
            task.abort();
        }
        let mut nft = self.nft.take().unwrap_or_default();
        match remove_all(&mut self.netlink, &mut nft).await {
            Ok(n) => tracing::info!("stopped: removed {n} routes and rules and the nft table"),
            Err(errors) => {
                for e in errors {
                    tracing::error!("stop: could not remove: {e}");
                }
            }
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

/// A stream that ends after `delay`: stands in for a monitor that could not subscribe, so
/// the loop tries again then. An ended monitor stream is never polled again (a finished
/// `unfold` panics when polled).
fn ended_after<T: 'static>(delay: Duration) -> Pin<Box<dyn Stream<Item = T>>> {
    Box::pin(futures::stream::once(tokio::time::sleep(delay)).filter_map(|()| async { None }))
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
