//! Traffic-aware detection, the sampling side: a task beside the event loop reads the
//! packet counters of the active lines' devices (one small rtnetlink request each, see
//! [`crate::system::stats`]) and tells the loop when a line's LAN traffic goes unanswered
//! ([`crate::core::traffic`] decides). The loop then has that line's prober send a burst.
//!
//! Counters are not announced by netlink, so they are sampled; only the devices of lines
//! carrying traffic, every [`BUSY_PERIOD`] while packets leave them and every
//! [`IDLE_PERIOD`] while they are silent.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::{Daemon, Done};
use crate::core::traffic::TrafficWatch;
use crate::core::Engine;
use crate::system::Netlink;

/// Sampling period while packets leave a watched device.
pub const BUSY_PERIOD: Duration = Duration::from_millis(100);
/// Sampling period while every watched device is silent.
pub const IDLE_PERIOD: Duration = Duration::from_millis(500);

/// One active line's device, as the sampler watches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    /// The line, by index and by name (an index may name another line after a reload).
    pub index: usize,
    pub name: String,
    pub ifindex: u32,
    pub quiet: Duration,
    /// Packets the line's prober sends within `quiet` (see [`TrafficWatch::own_packets`]).
    pub own_packets: u64,
}

/// The lines whose traffic is watched: active, with traffic-aware detection, and a device.
pub fn watched(engine: &Engine) -> Vec<Watched> {
    let uplinks = &engine.config().uplinks;
    engine
        .selection()
        .members
        .iter()
        .filter_map(|&(index, _)| {
            let probe = &uplinks[index].probe;
            let quiet = probe.traffic_quiet?;
            let ifindex = engine.line(index).link()?.ifindex;
            let own_packets = TrafficWatch::own_packets(probe.targets.len(), probe.interval, quiet);
            Some(Watched {
                index,
                name: uplinks[index].name.clone(),
                ifindex,
                quiet,
                own_packets,
            })
        })
        .collect()
}

/// The sampling task and what it watches; the task ends when this is dropped.
pub struct Sampler {
    watched: watch::Sender<Vec<Watched>>,
    task: JoinHandle<()>,
}

impl Sampler {
    /// Starts the task; it reports suspect lines to `done` as [`Done::Suspect`].
    pub fn start(done: mpsc::UnboundedSender<Done>) -> Self {
        let (watched, receiver) = watch::channel(Vec::new());
        let task = tokio::spawn(sample(receiver, done));
        Sampler { watched, task }
    }

    /// Watches the lines that carry traffic now.
    pub fn sync(&self, engine: &Engine) {
        let next = watched(engine);
        self.watched.send_if_modified(|current| {
            let changed = *current != next;
            if changed {
                *current = next;
            }
            changed
        });
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn sample(mut watched: watch::Receiver<Vec<Watched>>, done: mpsc::UnboundedSender<Done>) {
    let mut netlink = match Netlink::connect() {
        Ok(netlink) => netlink,
        Err(e) => {
            tracing::warn!("traffic-aware detection off: {e}");
            return;
        }
    };
    let mut watches: HashMap<(String, u32), TrafficWatch> = HashMap::new();
    loop {
        let list = watched.borrow_and_update().clone();
        watches.retain(|(name, ifindex), _| {
            list.iter()
                .any(|w| &w.name == name && w.ifindex == *ifindex)
        });
        let mut busy = false;
        for w in &list {
            let counters = match netlink.counters(w.ifindex).await {
                Ok(counters) => counters,
                // The device went away: the link monitor tells the loop.
                Err(e) => {
                    tracing::debug!("uplink \"{}\": {e}", w.name);
                    continue;
                }
            };
            let key = (w.name.clone(), w.ifindex);
            let watch = watches
                .entry(key)
                .or_insert_with(|| TrafficWatch::new(w.quiet, w.own_packets));
            if watch.sample(Instant::now(), counters) {
                let suspect = Done::Suspect {
                    index: w.index,
                    name: w.name.clone(),
                    quiet: w.quiet,
                };
                if done.send(suspect).is_err() {
                    return;
                }
            }
            busy |= watch.busy();
        }
        let period = if busy { BUSY_PERIOD } else { IDLE_PERIOD };
        tokio::select! {
            () = tokio::time::sleep(period) => {}
            changed = watched.changed() => if changed.is_err() { return },
        }
    }
}

impl Daemon {
    /// Line `index`'s LAN traffic went unanswered for `quiet`: a burst of probes now, if
    /// the line still carries traffic and passes its probes (its verdict comes from the
    /// replies, through the engine as any probe's).
    pub(super) fn on_suspect(&mut self, index: usize, name: &str, quiet: Duration) {
        let same_line = self
            .engine
            .config()
            .uplinks
            .get(index)
            .is_some_and(|u| u.name == name);
        if !same_line || !self.engine.suspect(index, Instant::now()) {
            return;
        }
        if self.probes.burst(index) {
            tracing::info!(
                "uplink \"{name}\": the LAN's traffic got no answer for {} ms: probing it now",
                quiet.as_millis()
            );
        }
    }
}
