//! Work done beside the prober's loop: TCP, DNS and HTTP probes, and name lookups. Every job
//! is the same future type, spawned on its own and bounded by the probe timeout (a lookup
//! by the timeout per resolver), so the router binary carries one task type for all of
//! them. A probe reports straight to the daemon; a lookup leaves its outcome in the shared
//! [`Names`]. A job outlives its prober by at most those bounds; the daemon drops the
//! events of a replaced prober by their tag.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;
use tracing::debug;

use super::kinds;
use super::names::{self, Names};
use super::{ProbeEvent, ProbeOutcome};
use crate::config::{Family, Host, Target};

/// Jobs of one prober in flight at most: each holds a socket until it ends, so a short
/// interval with a long timeout must not exhaust the daemon's file descriptors.
const MAX_IN_FLIGHT: usize = 64;

/// What every job of one prober needs.
pub(crate) struct Shared {
    pub line: usize,
    pub targets: Vec<Target>,
    pub settings: kinds::Settings,
    pub timeout: Duration,
    pub resolvers: Vec<IpAddr>,
    pub interface: Option<String>,
    pub events: UnboundedSender<ProbeEvent>,
    pub names: Mutex<Names>,
    /// Jobs started and not yet ended.
    pub in_flight: AtomicUsize,
}

impl Shared {
    /// The targets' addresses. Nothing panics while holding the lock (and release builds
    /// abort on panic), so a poisoned lock is still consistent.
    pub(crate) fn names(&self) -> MutexGuard<'_, Names> {
        self.names.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One piece of work.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Job {
    /// Probe target `.0` (TCP, DNS or HTTP) at address `.1`.
    Probe(usize, IpAddr),
    /// Look target `.0`'s name up through the line.
    Lookup(usize),
}

/// Starts `job` as a task of its own; false (and nothing started) when too many are in
/// flight already, which the caller counts as a lost probe.
pub(crate) fn spawn(shared: &Arc<Shared>, job: Job) -> bool {
    if shared.in_flight.fetch_add(1, Ordering::Relaxed) >= MAX_IN_FLIGHT {
        shared.in_flight.fetch_sub(1, Ordering::Relaxed);
        return false;
    }
    tokio::spawn(run(Arc::clone(shared), job));
    true
}

async fn run(shared: Arc<Shared>, job: Job) {
    work(&shared, job).await;
    shared.in_flight.fetch_sub(1, Ordering::Relaxed);
}

async fn work(shared: &Shared, job: Job) {
    match job {
        Job::Probe(index, address) => {
            let target = &shared.targets[index];
            let probe = kinds::probe(&shared.settings, target, address);
            let outcome = match tokio::time::timeout(shared.timeout, probe).await {
                Ok(Ok(rtt)) if rtt < shared.timeout => ProbeOutcome::Reply { rtt },
                Ok(Ok(_)) | Err(_) => ProbeOutcome::Lost,
                Ok(Err(why)) => ProbeOutcome::Failed(why),
            };
            // The receiver is gone only when the daemon stops: nothing left to tell.
            let _ = shared.events.send(ProbeEvent {
                line: shared.line,
                target: index,
                outcome,
                at: Instant::now(),
            });
        }
        Job::Lookup(index) => {
            let Host::Name(name) = &shared.targets[index].host else {
                return;
            };
            let outcome = lookup(shared, name).await;
            if let Err(why) = &outcome {
                debug!(device = %shared.settings.path.device, %name, %why, "lookup failed");
            }
            shared.names().looked_up(index, outcome, Instant::now());
        }
    }
}

/// Resolves `name` with the configured resolvers, else the system's for the line (read
/// off the loop: they are files).
async fn lookup(shared: &Shared, name: &str) -> Result<(IpAddr, Duration), String> {
    let path = &shared.settings.path;
    let resolvers = if shared.resolvers.is_empty() {
        let (interface, family) = (shared.interface.clone(), Family::of(&path.source));
        tokio::task::spawn_blocking(move || names::system_resolvers(interface.as_deref(), family))
            .await
            .unwrap_or_default()
    } else {
        shared.resolvers.clone()
    };
    kinds::resolve(path, &resolvers, name, shared.timeout).await
}
