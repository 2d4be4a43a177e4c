//! In-process prober: ICMP echo over one raw socket per line, and TCP, DNS and HTTP probes
//! over sockets of their own, all marked with the line's firewall mark and bound to its
//! device and address, so each probe leaves through the line it tests even while another
//! line carries the traffic. No `ping` is forked.
//!
//! [`start`] opens the ICMP socket (if any target is ICMP) and spawns a task that probes each
//! target every interval (targets staggered evenly) and sends a [`ProbeEvent`] per probe: a
//! reply with its round-trip time, a loss when no answer came within the timeout, or a
//! failure with its reason (an unexpected HTTP status, a name that does not resolve).
//! Socket probes and name lookups run as tasks of their own (see `jobs`), each bounded by
//! the timeout.

pub(crate) mod dns;
mod http;
mod jobs;
mod kinds;
mod names;
pub(crate) mod packet;
mod socket;
mod stamp;
mod tracker;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tracing::debug;

use crate::config::{HttpStatus, Target, TargetKind};
use jobs::{Job, Shared};
use names::{Address, Names};
use packet::Echo;
use socket::ProbeSocket;
use tracker::{Outstanding, Schedule};

/// What to probe for one line, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSpec {
    /// Copied into every event: the caller's name for this prober (the daemon uses a tag
    /// per prober, so that events of a replaced prober are recognised).
    pub line: usize,
    /// The line's network device; probes are sent and received only on it.
    pub device: String,
    /// The line's own address: the probes' source, and where replies must arrive. Its
    /// family is the probes' (ICMP or ICMPv6), and the targets' too.
    pub source: IpAddr,
    /// Firewall mark whose ip rule routes the probes through the line's own table.
    pub mark: u32,
    /// ICMP identifier, distinct per prober so probers never take each other's replies.
    pub ident: u16,
    /// Hosts beyond the gateway to probe, each with its kind; events name them by index
    /// into this list.
    pub targets: Vec<Target>,
    /// The netifd interface of the line, whose DNS servers resolve its names on OpenWrt.
    pub interface: Option<String>,
    /// Resolvers for host-name targets; empty: the system's (see [`names`]).
    pub resolvers: Vec<IpAddr>,
    /// The name `dns://` probes ask for.
    pub dns_name: String,
    /// The status `http://` probes expect.
    pub http_status: HttpStatus,
    /// How often each target is probed.
    pub interval: Duration,
    /// How long a probe may go unanswered before it counts as lost.
    pub timeout: Duration,
}

/// The result of one probe.
#[derive(Debug, Clone, PartialEq)]
pub enum ProbeOutcome {
    /// The target answered within the timeout.
    Reply {
        /// Time from sending the request to reading the reply.
        rtt: Duration,
    },
    /// No answer within the timeout, or the request could not be sent.
    Lost,
    /// A definite failure, with its reason: an unexpected HTTP status, a refused HTTP
    /// connection, a DNS error, a name that does not resolve.
    Failed(String),
}

/// One probe's result, as sent to the daemon.
#[derive(Debug, Clone)]
pub struct ProbeEvent {
    /// [`ProbeSpec::line`] of the prober.
    pub line: usize,
    /// Index into [`ProbeSpec::targets`].
    pub target: usize,
    /// Reply or loss.
    pub outcome: ProbeOutcome,
    /// When the outcome became known.
    pub at: Instant,
}

/// Why a prober could not start. The OS error is part of the message (and not a separate
/// `source`) so that a plain `{}` already tells the operator what went wrong.
#[derive(Debug, Error)]
pub enum ProbeError {
    /// A socket call failed, e.g.
    /// `probe socket for device "wan1": bind to 192.0.2.2: Cannot assign requested address`.
    #[error("probe socket for device {device:?}: {action}: {error}")]
    Socket {
        /// The line's device.
        device: String,
        /// The step that failed.
        action: String,
        /// The OS error.
        error: std::io::Error,
    },
    /// The spec cannot be probed as given.
    #[error("probe for device {device:?}: {reason}")]
    InvalidSpec {
        /// The line's device.
        device: String,
        /// What is wrong with the spec.
        reason: &'static str,
    },
    /// [`start`] was called outside a tokio runtime.
    #[error("probe for device {device:?}: start must be called within a tokio runtime")]
    NoRuntime {
        /// The line's device.
        device: String,
    },
}

/// A running prober. Dropping it stops the probing.
#[derive(Debug)]
pub struct Prober {
    task: JoinHandle<()>,
    burst: Arc<Notify>,
}

impl Prober {
    /// Sends a burst now: [`crate::core::burst::PROBES`] probes to every target,
    /// [`crate::core::burst::SPACING`] apart, reported as any probe is. A burst asked for
    /// while one is going out is not repeated.
    pub fn burst(&self) {
        self.burst.notify_one();
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Opens the line's probe socket (errors are returned here, synchronously) and spawns the
/// probing task on the current tokio runtime, which must have I/O and time enabled. The task
/// ends when the returned [`Prober`] is dropped or when `events` is closed; with no targets
/// it ends at once (the line is then judged by link state alone).
pub fn start(spec: ProbeSpec, events: UnboundedSender<ProbeEvent>) -> Result<Prober, ProbeError> {
    validate(&spec)?;
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| ProbeError::NoRuntime {
        device: spec.device.clone(),
    })?;
    let icmp = spec.targets.iter().any(|t| t.kind == TargetKind::Icmp);
    let socket = icmp.then(|| ProbeSocket::open(&spec)).transpose()?;
    debug!(line = spec.line, device = %spec.device, ident = spec.ident, "probing started");
    let burst = Arc::new(Notify::new());
    let task = Task::new(spec, socket, events, Arc::clone(&burst));
    let task = runtime.spawn(task.run());
    Ok(Prober { task, burst })
}

/// Rejects specs the task could not honour (a zero interval would spin).
fn validate(spec: &ProbeSpec) -> Result<(), ProbeError> {
    let reason = if spec.interval.is_zero() {
        "interval must be greater than zero"
    } else if spec.timeout.is_zero() {
        "timeout must be greater than zero"
    } else {
        return Ok(());
    };
    Err(ProbeError::InvalidSpec {
        device: spec.device.clone(),
        reason,
    })
}

/// The receiver of events is gone: nobody listens, so the task stops.
struct Closed;

/// The probing task's state: everything it owns, nothing shared.
struct Task {
    spec: ProbeSpec,
    /// The raw ICMP socket, when some target is ICMP.
    socket: Option<ProbeSocket>,
    events: UnboundedSender<ProbeEvent>,
    token: u32,
    next_seq: u16,
    outstanding: Outstanding,
    /// Rung by [`Prober::burst`].
    burst: Arc<Notify>,
    /// Rounds of a burst still to send, and when the next is due.
    burst_left: usize,
    burst_next: Instant,
    /// What the socket probes and lookups beside the loop share with it.
    shared: std::sync::Arc<Shared>,
}

impl Task {
    fn new(
        spec: ProbeSpec,
        socket: Option<ProbeSocket>,
        events: UnboundedSender<ProbeEvent>,
        burst: Arc<Notify>,
    ) -> Self {
        let random = random_u64();
        let settings = kinds::Settings {
            path: kinds::Path {
                device: spec.device.clone(),
                source: spec.source,
                mark: spec.mark,
            },
            dns_name: spec.dns_name.clone(),
            http_status: spec.http_status,
        };
        let shared = Shared {
            line: spec.line,
            targets: spec.targets.clone(),
            settings,
            timeout: spec.timeout,
            resolvers: spec.resolvers.clone(),
            interface: spec.interface.clone(),
            events: events.clone(),
            names: std::sync::Mutex::new(Names::new(&spec.targets, Instant::now())),
            in_flight: Default::default(),
        };
        Task {
            burst,
            burst_left: 0,
            burst_next: Instant::now(),
            outstanding: Outstanding::new(spec.timeout),
            shared: std::sync::Arc::new(shared),
            spec,
            socket,
            events,
            token: random as u32,
            next_seq: (random >> 32) as u16,
        }
    }

    /// Sends, receives and expires probes until the prober is dropped or events close.
    async fn run(mut self) {
        if self.spec.targets.is_empty() {
            return;
        }
        let mut schedule =
            Schedule::new(Instant::now(), self.spec.interval, self.spec.targets.len());
        let mut replies = Vec::new();
        loop {
            let wake = self.next_wake(&schedule);
            tokio::select! {
                result = recv_icmp(self.socket.as_ref(), &mut replies) => {
                    if let Err(error) = result {
                        debug!(device = %self.spec.device, %error, "probe socket not readable");
                    }
                }
                () = tokio::time::sleep_until(wake.into()) => {}
                () = self.burst.notified(), if self.burst_left == 0 => {
                    self.burst_left = crate::core::burst::PROBES;
                    self.burst_next = Instant::now();
                }
            }
            if self.step(&mut replies, &mut schedule).is_err() {
                return;
            }
        }
    }

    /// The earlier of the next send and the next timeout.
    fn next_wake(&self, schedule: &Schedule) -> Instant {
        let mut due = schedule.next_due();
        if self.burst_left > 0 {
            due = due.min(self.burst_next);
        }
        self.outstanding.next_deadline().map_or(due, |d| d.min(due))
    }

    /// Handles replies first, so one read just before its deadline still counts, then
    /// reports timed-out probes, then sends what is due.
    fn step(
        &mut self,
        replies: &mut Vec<(Echo, Instant)>,
        schedule: &mut Schedule,
    ) -> Result<(), Closed> {
        // The timer may have won the race against a readable socket, or the task may not
        // have run for a while: read what is queued before anything is declared lost.
        if let Some(socket) = &self.socket {
            socket.drain_now(replies);
        }
        for (echo, received) in replies.drain(..) {
            self.on_reply(echo, received)?;
        }
        let now = Instant::now();
        for target in self.outstanding.expire(now) {
            self.emit(target, ProbeOutcome::Lost, now)?;
        }
        while let Some(target) = schedule.take_due(now) {
            self.send_probe(target, now)?;
        }
        if self.burst_left > 0 && now >= self.burst_next {
            for target in 0..self.spec.targets.len() {
                self.send_probe(target, now)?;
            }
            self.burst_left -= 1;
            self.burst_next = now + crate::core::burst::SPACING;
        }
        Ok(())
    }

    /// Reports a reply if it answers one of this prober's outstanding probes; anything
    /// else (another prober's reply, a duplicate, a late one) is ignored.
    fn on_reply(&mut self, echo: Echo, received: Instant) -> Result<(), Closed> {
        if echo.ident != self.spec.ident || echo.token != self.token {
            return Ok(());
        }
        match self.outstanding.take_reply(echo.seq, received) {
            Some((target, rtt)) => self.emit(target, ProbeOutcome::Reply { rtt }, received),
            None => Ok(()),
        }
    }

    /// Sends the probe due for `target`: an echo request on the ICMP socket, or a socket
    /// probe as a task of its own. A name without an address fails the probe at once.
    fn send_probe(&mut self, target: usize, now: Instant) -> Result<(), Closed> {
        // An address target needs no lookup: the lock is taken only for host names.
        let (address, lookup) = match self.spec.targets[target].addr() {
            Some(addr) => (Address::Use(addr), false),
            None => self.shared.names().address(target, now),
        };
        if lookup && !jobs::spawn(&self.shared, Job::Lookup(target)) {
            // Not started: let the next probe of this name try again.
            self.shared
                .names()
                .looked_up(target, Err("too many probes in flight".into()), now);
        }
        let address = match address {
            Address::Use(address) => address,
            Address::Wait => return Ok(()),
            Address::Failed(why) => return self.emit(target, ProbeOutcome::Failed(why), now),
        };
        if self.spec.targets[target].kind != TargetKind::Icmp {
            if jobs::spawn(&self.shared, Job::Probe(target, address)) {
                return Ok(());
            }
            return self.emit(target, ProbeOutcome::Lost, now);
        }
        let Some(socket) = &self.socket else {
            return self.emit(target, ProbeOutcome::Lost, now);
        };
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        let request = socket.request(Echo {
            ident: self.spec.ident,
            seq,
            token: self.token,
        });
        match socket.send(address, &request) {
            Ok(()) => {
                self.outstanding.insert(seq, target, now);
                Ok(())
            }
            Err(error) => {
                // Expected while a line is down, once per probe: debug, not warn.
                debug!(device = %self.spec.device, %address, %error, "probe send failed, counted as lost");
                self.emit(target, ProbeOutcome::Lost, now)
            }
        }
    }

    fn emit(&self, target: usize, outcome: ProbeOutcome, at: Instant) -> Result<(), Closed> {
        let event = ProbeEvent {
            line: self.spec.line,
            target,
            outcome,
            at,
        };
        self.events.send(event).map_err(|_| Closed)
    }
}

/// Waits for echo replies on the ICMP socket; without one, never.
async fn recv_icmp(
    socket: Option<&ProbeSocket>,
    out: &mut Vec<(Echo, Instant)>,
) -> std::io::Result<()> {
    match socket {
        Some(socket) => socket.recv_replies(out).await,
        None => std::future::pending().await,
    }
}

/// A random value without a random-number crate: std seeds every `RandomState` from the OS.
fn random_u64() -> u64 {
    RandomState::new().build_hasher().finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ProbeSpec {
        ProbeSpec {
            line: 0,
            device: "wan1".into(),
            source: std::net::Ipv4Addr::new(192, 0, 2, 2).into(),
            mark: 0x10000,
            ident: 1,
            targets: vec![std::net::Ipv4Addr::new(203, 0, 113, 100).into()],
            interface: None,
            resolvers: Vec::new(),
            dns_name: ".".into(),
            http_status: HttpStatus::Class(2),
            interval: Duration::from_millis(500),
            timeout: Duration::from_millis(1000),
        }
    }

    #[test]
    fn zero_interval_or_timeout_is_rejected() {
        let zero_interval = ProbeSpec {
            interval: Duration::ZERO,
            ..spec()
        };
        let err = validate(&zero_interval).unwrap_err().to_string();
        assert_eq!(
            err,
            "probe for device \"wan1\": interval must be greater than zero"
        );
        let zero_timeout = ProbeSpec {
            timeout: Duration::ZERO,
            ..spec()
        };
        assert!(validate(&zero_timeout).is_err());
        assert!(validate(&spec()).is_ok());
    }

    #[test]
    fn start_outside_a_runtime_is_an_error() {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let err = start(spec(), tx).unwrap_err();
        assert!(matches!(err, ProbeError::NoRuntime { .. }), "{err}");
    }

    #[test]
    fn socket_error_names_device_step_and_cause() {
        let err = ProbeError::Socket {
            device: "wan1".into(),
            action: "bind to 192.0.2.2".into(),
            error: std::io::Error::from_raw_os_error(libc::EADDRNOTAVAIL),
        };
        let text = err.to_string();
        assert!(text.starts_with("probe socket for device \"wan1\": bind to 192.0.2.2: Cannot assign requested address"), "{text}");
    }
}
