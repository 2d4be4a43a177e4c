//! What the daemon tells about itself besides the log: the event history (with its file
//! and its followers), the counters and round-trip series behind the metrics, the
//! read-only HTTP listener and the node_exporter textfile. Owned by the event loop; all
//! writing and serving happens beside it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{broadcast, mpsc};

use super::eventlog::{self, EventLog};
use super::history::{Event, Evidence, History};
use super::status::{status, Status};
use crate::config::Observe;
use crate::core::{Engine, Notice};
use crate::observe::http::{self, Query};
use crate::observe::metrics::{self, Counters};
use crate::observe::per_target::PerTarget;
use crate::observe::series::Series;

/// How often the metrics textfile is rewritten.
pub const METRICS_PERIOD: Duration = Duration::from_secs(5);
/// Events a follower may fall behind by before it is told so and dropped.
const FOLLOW_BACKLOG: usize = 256;
/// Events the status page and `/api/events` show.
const PAGE_EVENTS: usize = 200;

/// The event loop's observability state.
pub struct Observer {
    pub history: History,
    pub counters: Counters,
    series: Series,
    /// The last failure of each (line, target), until it answers again.
    target_errors: PerTarget<Option<String>>,
    follow: broadcast::Sender<Event>,
    log: Option<EventLog>,
    config: Observe,
    web: mpsc::Sender<http::Pending>,
    listener: Option<(SocketAddr, tokio::task::JoinHandle<()>)>,
    metrics_at: Option<Instant>,
    /// A textfile write is under way beside the loop; the next waits for it.
    metrics_writing: Arc<AtomicBool>,
    /// The last textfile write failed: the next failure is not logged again (every 5 s).
    metrics_failing: Arc<AtomicBool>,
    /// Connections per line by the last count; `None` before one, or after one failed.
    connections: Option<HashMap<String, u64>>,
}

impl Observer {
    /// Starts from the events file, if one is configured and readable, and records the
    /// start. `web` is where the HTTP listener's queries go.
    pub fn new(config: &Observe, web: mpsc::Sender<http::Pending>) -> Self {
        let earlier = match &config.events_file {
            Some(path) => eventlog::load(path, config.history_size).unwrap_or_else(|e| {
                tracing::warn!("events file: starting a new history: {e}");
                Vec::new()
            }),
            None => Vec::new(),
        };
        let mut observer = Observer {
            history: History::resume(config.history_size, earlier),
            counters: Counters::default(),
            series: Series::default(),
            target_errors: Default::default(),
            follow: broadcast::channel(FOLLOW_BACKLOG).0,
            log: None,
            config: Observe {
                http_listen: None,
                ..config.clone()
            },
            web,
            listener: None,
            metrics_at: None,
            metrics_writing: Arc::default(),
            metrics_failing: Arc::default(),
            connections: None,
        };
        observer.reconfigure(config);
        let version = env!("CARGO_PKG_VERSION");
        observer.event("start", None, format!("uplink {version} started"));
        observer
    }

    /// Takes new settings (a reload): history size, events file, listener, textfile.
    pub fn reconfigure(&mut self, config: &Observe) {
        self.history.set_capacity(config.history_size);
        if config.events_file.is_some() && self.log.is_none() {
            self.log = EventLog::start()
                .map_err(|e| tracing::warn!("events file: no writer thread: {e}"))
                .ok();
        }
        if config.http_listen != self.listener.as_ref().map(|(addr, _)| *addr) {
            self.listen(config.http_listen);
        }
        self.metrics_at = config.metrics_file.as_ref().map(|_| Instant::now());
        self.config = config.clone();
    }

    /// (Re)binds the HTTP listener. A listener that cannot be bound is logged, never
    /// fatal: routing matters more than metrics.
    fn listen(&mut self, addr: Option<SocketAddr>) {
        if let Some((_, task)) = self.listener.take() {
            task.abort();
        }
        let Some(addr) = addr else { return };
        let bound = std::net::TcpListener::bind(addr).and_then(|l| {
            l.set_nonblocking(true)?;
            tokio::net::TcpListener::from_std(l)
        });
        match bound {
            Ok(listener) => {
                tracing::info!("http: status page and metrics on http://{addr}/");
                let task = tokio::spawn(http::serve(listener, self.web.clone()));
                self.listener = Some((addr, task));
            }
            Err(e) => tracing::error!("http_listen {addr}: cannot listen: {e}"),
        }
    }

    /// Records an event, hands it to followers and to the events file.
    pub fn event(&mut self, kind: &str, line: Option<&str>, message: String) {
        let event = self.history.record(kind, line, message, SystemTime::now());
        self.publish(&event);
    }

    fn publish(&mut self, event: &Event) {
        let _ = self.follow.send(event.clone());
        if let (Some(log), Some(path)) = (&mut self.log, &self.config.events_file) {
            log.write(path, self.config.history_size, event);
        }
    }

    /// Records what the engine said, with the probe figures of the lines concerned.
    pub fn notices(&mut self, notices: &[Notice], engine: &Engine) {
        for notice in notices {
            match notice {
                Notice::Line { name, transition } => self.counters.transition(name, transition.up),
                Notice::Active { family, .. } => self.counters.switch(family.as_str()),
                _ => {}
            }
        }
        let now = Instant::now();
        let evidence = |name: &str| evidence_of(engine, name, now);
        for event in self
            .history
            .notices(notices, now, SystemTime::now(), evidence)
        {
            self.publish(&event);
        }
    }

    /// A probe of `target` on `line` was answered after `rtt` or lost.
    /// Records one probe's outcome: its round trip, or why it failed (kept for status until
    /// the target answers again).
    pub fn probe(&mut self, line: &str, target: &str, rtt: Option<Duration>, error: Option<&str>) {
        if let Some(rtt) = rtt {
            self.counters.rtt(line, target, rtt);
        }
        // A lost probe repeats the same reason: stored (allocated) only when it changes.
        let last = self.target_errors.entry(line, target);
        if last.as_deref() != error {
            *last = error.map(str::to_owned);
        }
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        self.series.record(line, target, rtt, wall.as_secs());
    }

    /// Forgets the figures of targets `engine`'s config no longer has.
    pub fn forget_old_targets(&mut self, engine: &Engine) {
        let configured = |line: &str, target: &str| {
            engine
                .config()
                .uplinks
                .iter()
                .any(|u| u.name == line && u.probe.targets.iter().any(|t| t.text == target))
        };
        self.counters.retain_targets(configured);
        self.series.retain(configured);
        self.target_errors.retain(configured);
    }

    /// A new follower: the events after it subscribed.
    pub fn subscribe(&self) -> broadcast::Sender<Event> {
        self.follow.clone()
    }

    /// The status report now, with the connections of the last count.
    pub fn status(&self, engine: &Engine) -> Status {
        let mut report = status(engine, &self.history, Instant::now(), SystemTime::now());
        for line in &mut report.uplinks {
            for target in &mut line.targets {
                target.error =
                    (self.target_errors.get(&line.name, &target.target)).and_then(Clone::clone);
            }
        }
        if let Some(counts) = &self.connections {
            for line in &mut report.uplinks {
                line.connections = counts.get(&line.name).copied();
            }
        }
        report
    }

    /// The connections per line of a new count (`None`: it failed).
    pub fn set_connections(&mut self, counts: Option<HashMap<String, u64>>) {
        self.connections = counts;
    }

    /// The body the HTTP listener asked for.
    pub fn answer(&self, query: Query, engine: &Engine) -> String {
        match query {
            Query::Metrics => metrics::render(&self.status(engine), &self.counters),
            Query::Status => json(&self.status(engine)),
            Query::Events => {
                json(&serde_json::json!({ "events": self.history.recent(PAGE_EVENTS) }))
            }
            Query::Series => json(&serde_json::json!({ "series": self.series.export() })),
        }
    }

    /// When the textfile is due next.
    pub fn next_due(&self) -> Option<Instant> {
        self.metrics_at
    }

    /// Writes the textfile beside the loop when it is due.
    pub fn on_timer(&mut self, engine: &Engine, now: Instant) {
        let (Some(at), Some(path)) = (self.metrics_at, &self.config.metrics_file) else {
            return;
        };
        if now < at {
            return;
        }
        self.metrics_at = Some(now + METRICS_PERIOD);
        if self.metrics_writing.swap(true, Ordering::AcqRel) {
            return;
        }
        let text = metrics::render(&self.status(engine), &self.counters);
        let (path, writing) = (path.clone(), Arc::clone(&self.metrics_writing));
        let failing = Arc::clone(&self.metrics_failing);
        tokio::task::spawn_blocking(move || {
            let written = crate::files::write_atomically(&path, text.as_bytes());
            match (written, failing.swap(false, Ordering::AcqRel)) {
                (Err(e), false) => {
                    tracing::warn!("metrics_file {}: {e}; retrying every 5 s", path.display());
                    failing.store(true, Ordering::Release);
                }
                (Err(_), true) => failing.store(true, Ordering::Release),
                (Ok(()), true) => tracing::info!("metrics_file {}: written again", path.display()),
                (Ok(()), false) => {}
            }
            writing.store(false, Ordering::Release);
        });
    }
}

/// The probe figures of line `name` at `now`; none for a line without probe targets.
fn evidence_of(engine: &Engine, name: &str, now: Instant) -> Option<Evidence> {
    let i = engine
        .config()
        .uplinks
        .iter()
        .position(|u| u.name == name)?;
    let line = engine.line(i);
    let figures = line.target_figures(now);
    if figures.is_empty() {
        return None;
    }
    let failing = super::events::failing(engine, i, &figures);
    let round = |x: f64| (x * 10.0).round() / 10.0;
    Some(Evidence {
        failing,
        answering: figures.iter().filter(|f| f.answering).count(),
        targets: figures.len(),
        rtt_ms: line.rtt().map(|d| round(d.as_secs_f64() * 1000.0)),
        loss_pct: line.loss_pct().map(round),
    })
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
