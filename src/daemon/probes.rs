//! Keeps one prober running per line that has probe targets and a usable link, restarting
//! it when its device, address or settings change. A reload that leaves a line as it was
//! leaves its prober running: its probes in flight and its queued replies still count.

use std::net::IpAddr;

use tokio::sync::mpsc::UnboundedSender;

use crate::config::{HttpStatus, Target};
use crate::core::owned::line_mark;
use crate::core::Engine;
use crate::probe::{self, ProbeEvent, ProbeSpec, Prober};

/// What a running prober was started with; a different key means restart.
#[derive(Debug, Clone, PartialEq)]
struct Key {
    /// By name too: a reload that reorders lines gives an index another line.
    name: String,
    device: String,
    source: IpAddr,
    targets: Vec<Target>,
    interface: Option<String>,
    resolvers: Vec<IpAddr>,
    dns_name: String,
    http_status: HttpStatus,
    interval_ms: u128,
    timeout_ms: u128,
}

enum Slot {
    Idle,
    /// The prober runs until dropped.
    Running {
        key: Key,
        /// Copied into the prober's events as their `line`, so that an event of a prober
        /// that has since been replaced is recognised and dropped.
        tag: usize,
        prober: Prober,
    },
    /// Start failed for this key; retried on the next sync without repeating the warning.
    Failed(Key),
}

/// The probers of all lines.
pub struct Probes {
    slots: Vec<Slot>,
    events: UnboundedSender<ProbeEvent>,
    ident_base: u16,
    next_tag: usize,
}

impl Probes {
    /// ICMP identifiers are derived from the pid so that two daemons (e.g. in tests on one
    /// machine) never take each other's replies.
    pub fn new(events: UnboundedSender<ProbeEvent>) -> Self {
        Probes {
            slots: Vec::new(),
            events,
            ident_base: (std::process::id() as u16).wrapping_mul(64),
            next_tag: 0,
        }
    }

    /// Stops every prober.
    pub fn clear(&mut self) {
        self.slots.clear();
    }

    /// The line (index) whose current prober sent an event tagged `tag`; `None` for an
    /// event of a prober that has been stopped or replaced since.
    pub fn line_of(&self, tag: usize) -> Option<usize> {
        self.slots
            .iter()
            .position(|slot| matches!(slot, Slot::Running { tag: t, .. } if *t == tag))
    }

    /// Has line `index`'s prober send a burst now (see [`Prober::burst`]); false when the
    /// line has no prober running.
    pub fn burst(&self, index: usize) -> bool {
        match self.slots.get(index) {
            Some(Slot::Running { prober, .. }) => {
                prober.burst();
                true
            }
            _ => false,
        }
    }

    /// Starts, restarts or stops probers to match the engine's lines.
    pub fn sync(&mut self, engine: &Engine) {
        let lines = engine.config().uplinks.len();
        self.slots.resize_with(lines, || Slot::Idle);
        for index in 0..lines {
            let wanted = wanted_key(engine, index);
            let current = match &self.slots[index] {
                Slot::Running { key, .. } => Some(key),
                Slot::Idle | Slot::Failed(_) => None,
            };
            if current == wanted.as_ref() {
                continue;
            }
            self.slots[index] = match wanted {
                None => Slot::Idle,
                Some(key) => self.start(index, key),
            };
        }
    }

    fn start(&mut self, index: usize, key: Key) -> Slot {
        let already_failed = matches!(&self.slots[index], Slot::Failed(k) if *k == key);
        let tag = self.next_tag;
        self.next_tag = self.next_tag.wrapping_add(1);
        let spec = ProbeSpec {
            line: tag,
            device: key.device.clone(),
            source: key.source,
            mark: line_mark(index),
            ident: self.ident_base.wrapping_add(index as u16),
            targets: key.targets.clone(),
            interface: key.interface.clone(),
            resolvers: key.resolvers.clone(),
            dns_name: key.dns_name.clone(),
            http_status: key.http_status,
            interval: std::time::Duration::from_millis(key.interval_ms as u64),
            timeout: std::time::Duration::from_millis(key.timeout_ms as u64),
        };
        match probe::start(spec, self.events.clone()) {
            Ok(prober) => Slot::Running { key, tag, prober },
            Err(e) => {
                if !already_failed {
                    tracing::warn!("cannot start probing: {e}");
                }
                Slot::Failed(key)
            }
        }
    }
}

fn wanted_key(engine: &Engine, index: usize) -> Option<Key> {
    let uplink = &engine.config().uplinks[index];
    let link = engine.line(index).link()?;
    if uplink.probe.targets.is_empty() || !link.usable() {
        return None;
    }
    Some(Key {
        name: uplink.name.clone(),
        device: uplink.device.clone(),
        source: *link.addrs.first()?,
        targets: uplink.probe.targets.clone(),
        interface: uplink.interface.clone(),
        resolvers: uplink.probe.resolvers.clone(),
        dns_name: uplink.probe.dns_name.clone(),
        http_status: uplink.probe.http_status,
        interval_ms: uplink.probe.interval.as_millis(),
        timeout_ms: uplink.probe.timeout.as_millis(),
    })
}
