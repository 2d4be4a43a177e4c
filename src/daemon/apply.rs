//! Bringing the kernel in line with the engine: routes and rules over netlink, each change
//! on its own; the nft table beside the loop; link facts re-read after netlink events.

use std::time::Instant;

use super::{events, Daemon, Done, RETRY};
use crate::config::{Config, Gateway};
use crate::core::{Desired, Route, Rule, Ruleset};
use crate::reconcile::{reconcile_firewall, reconcile_routing, Change, Outcome, Routing};
use crate::system::{NetlinkError, Nft, NftError};

impl Daemon {
    /// The first apply: a missing nft binary or missing permission is an installation
    /// problem, so the daemon refuses to start (before any route is touched) instead of
    /// retrying forever; anything else is retried like later failures.
    pub(super) async fn apply_firewall_or_fail(&mut self) -> anyhow::Result<()> {
        let ruleset = self.engine.desired().nft;
        let mut nft = self.nft.take().expect("no nft run before the loop");
        let result = reconcile_firewall(&mut nft, &ruleset).await;
        self.nft = Some(nft);
        match result {
            Err(e) if e.is_fatal() => Err(anyhow::anyhow!(
                "{e}: uplink needs the nft program and root (or CAP_NET_ADMIN and CAP_NET_RAW)"
            )),
            Err(e) => {
                self.warn_retry("nft", e.to_string());
                self.nft_check_at = Some(Instant::now() + RETRY);
                Ok(())
            }
            Ok(_) => {
                self.last_nft = Some(ruleset.clone());
                self.nft_applied = Some(ruleset);
                Ok(())
            }
        }
    }

    /// Our active table survives a restart (SIGKILL, a crash, an upgrade): the lines its
    /// default routes go through carried traffic last, so they keep it until probes judge.
    pub(super) async fn adopt_kernel_selection(&mut self) {
        let (routes, links) = match (
            self.netlink.owned_routes().await,
            self.netlink.links(false).await,
        ) {
            (Ok(routes), Ok(links)) => (routes, links),
            _ => return,
        };
        let names = adopted_lines(self.engine.config(), &routes, &links);
        if !names.is_empty() {
            tracing::info!(
                "found traffic on {} (left by an earlier run): keeping it there until probes judge",
                names.join(", ")
            );
            self.engine.adopt_active(&names);
        }
    }

    /// After each event: re-read links if they changed, keep probers in step, and apply
    /// whatever the desired state now differs in. A refused route can change the
    /// selection, so a few passes may follow each other.
    pub(super) async fn settle(&mut self) {
        if self.links_dirty {
            self.refresh_links().await;
        }
        for _ in 0..3 {
            if !self.settle_once().await {
                break;
            }
        }
        if !self.flushes_held {
            self.start_flushes();
        }
    }

    /// One pass; whether it changed the engine's revision (another pass is due).
    async fn settle_once(&mut self) -> bool {
        let nft_due =
            self.nft.is_some() && self.nft_check_at.is_some_and(|at| at <= Instant::now());
        // Most events are probe replies that change nothing: then there is nothing to
        // rebuild, compare or apply.
        let revision = self.engine.revision();
        // An nft run under way counts as in line: its end forces a new comparison.
        let nft_in_line = self.nft_applied.is_some() || self.nft.is_none();
        let in_line = self.routing_applied.is_some() && nft_in_line;
        if in_line && !nft_due && self.settled_revision == Some(revision) {
            return false;
        }
        self.settled_revision = Some(revision);
        self.probes.sync(&self.engine);
        self.traffic.sync(&self.engine);
        let desired = self.engine.desired();
        let routing = (desired.routes, desired.rules);
        // What the kernel just refused is tried again at the retry, not at every event.
        let refused_before = self.routing_failed.as_ref() == Some(&routing);
        if self.routing_applied.as_ref() != Some(&routing) && !refused_before {
            self.apply_routing(routing).await;
        }
        let unchanged = self
            .nft_applied
            .as_ref()
            .is_some_and(|a| a.same_as(&desired.nft));
        // After a failed run the next one waits for the retry time, whatever changed: a
        // failure that repeats (a missing kernel module, a set too large for memory) must
        // not become an nft run after every event.
        let failed_recently = self.nft_applied.is_none() && self.nft_check_at.is_some();
        if nft_due || (!unchanged && !failed_recently) {
            self.start_firewall(desired.nft);
        }
        self.engine.revision() != revision
    }

    /// Starts an nft run beside the loop to make our table hold `ruleset`, unless one is
    /// under way: when it ends, the next pass compares again and starts another if needed.
    fn start_firewall(&mut self, ruleset: Ruleset) {
        let Some(mut nft) = self.nft.take() else {
            return;
        };
        self.nft_check_at = None;
        let done = self.done.clone();
        self.firewall_task = Some(tokio::spawn(async move {
            let result = reconcile_firewall(&mut nft, &ruleset).await;
            let _ = done.send(Done::Firewall(nft, ruleset, result));
        }));
    }

    pub(super) fn on_firewall(
        &mut self,
        nft: Nft,
        ruleset: Ruleset,
        result: Result<bool, NftError>,
    ) {
        self.nft = Some(nft);
        self.firewall_task = None;
        // The desired table may have changed while nft ran: the next pass compares again.
        self.settled_revision = None;
        match result {
            Ok(applied) => {
                // The same table applied again: someone changed or removed ours.
                if applied && self.last_nft.as_ref() == Some(&ruleset) {
                    let message = "repaired: nft table inet uplink was changed or removed by \
                                   someone else; restored";
                    tracing::warn!("{message}");
                    self.observer.event("repair", None, message.into());
                }
                self.last_nft = Some(ruleset.clone());
                self.nft_applied = Some(ruleset);
            }
            Err(e) => {
                self.nft_applied = None;
                self.last_nft = None;
                self.nft_check_at = Some(Instant::now() + RETRY);
                self.warn_retry("nft", e.to_string());
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
                self.start_following(&links, now);
                if let Some(at) = self.interfaces.held_back() {
                    self.retry_at = Some(self.retry_at.map_or(at, |r| r.min(at)));
                }
                self.refresh_strict_rp();
                let notices = self.engine.on_links(&links, now);
                self.handle(notices);
            }
            Err(e) => {
                self.warn_retry("netlink", e.to_string());
                self.retry_at = Some(Instant::now() + RETRY);
            }
        }
    }

    /// Looks up, beside the loop, the devices of interface lines whose device is gone;
    /// [`Done::Followed`] brings the answers back. One lookup at a time.
    fn start_following(
        &mut self,
        links: &std::collections::HashMap<String, crate::core::LinkFacts>,
        now: Instant,
    ) {
        if self.following {
            return;
        }
        let due = self.interfaces.due(self.engine.config(), links, now);
        if due.is_empty() {
            return;
        }
        self.following = true;
        let resolver = self.interfaces.resolver().clone();
        let done = self.done.clone();
        tokio::task::spawn_blocking(move || {
            let found = super::interfaces::lookup(&resolver, due);
            let _ = done.send(Done::Followed(found));
        });
    }

    /// Applies routes and rules, each change on its own; a line whose own route the kernel
    /// refuses is out of service until the kernel takes it (tried again every [`RETRY`]).
    async fn apply_routing(&mut self, (routes, rules): (Vec<Route>, Vec<Rule>)) {
        let desired = Desired {
            routes,
            rules,
            nft: Ruleset::default(),
        };
        let dev = events::device_namer(self.device_names());
        let describe = |change: &Change| change.describe(&dev);
        let routing = (desired.routes.clone(), desired.rules.clone());
        self.routing_failed = None;
        match reconcile_routing(&mut self.netlink, &desired, describe).await {
            Ok(outcome) => {
                self.judge_line_routes(&outcome);
                // Flushes wait while traffic may still be routed the old way: a change
                // of the active, a policy's or a serving table failed.
                self.flushes_held = outcome
                    .failed
                    .iter()
                    .any(|(change, _)| !is_line_route(change));
                if outcome.complete() {
                    self.note_repair(&routing, outcome.applied.len());
                    self.routing_applied = Some(routing);
                    self.last_warning = None;
                } else {
                    let errors: Vec<String> = outcome
                        .failed
                        .iter()
                        .map(|(change, e)| format!("{}: {}", change.describe(&dev), e.detail))
                        .collect();
                    self.warn_retry("routing", errors.join("; "));
                    self.routing_applied = None;
                    self.last_routing = None;
                    self.routing_failed = Some(routing);
                    self.retry_at = Some(Instant::now() + RETRY);
                }
            }
            Err(e) => {
                self.warn_retry("routing", e.to_string());
                self.routing_applied = None;
                self.last_routing = None;
                self.routing_failed = Some(routing);
                self.retry_at = Some(Instant::now() + RETRY);
            }
        }
    }

    /// `count` changes were needed to bring the kernel back to `routing`: when that is
    /// what was already applied, our routes or rules had gone or changed meanwhile.
    fn note_repair(&mut self, routing: &(Vec<Route>, Vec<Rule>), count: usize) {
        if count > 0 && self.last_routing.as_ref() == Some(routing) {
            // Not necessarily someone's doing: the kernel drops routes with their device.
            let message = format!(
                "repaired: {count} of uplink's routes or rules had gone (removed by hand, by \
                 another program, or with their device); restored"
            );
            tracing::info!("{message}");
            self.observer.event("repair", None, message);
        }
        self.last_routing = Some(routing.clone());
    }

    /// Tells the engine which lines' own routes the kernel refused in this pass. A line
    /// whose route was not attempted (already in place, or not wanted) keeps no refusal;
    /// one that failed for a passing reason (memory, a full socket buffer) keeps what it had.
    fn judge_line_routes(&mut self, outcome: &Outcome<NetlinkError>) {
        let refused: Vec<Option<String>> = (0..self.engine.config().uplinks.len())
            .map(|i| {
                let table = crate::core::owned::line_table(i);
                let failure = outcome.failed.iter().find_map(|(change, e)| match change {
                    Change::PutRoute(r) if r.table == table => Some((r, e)),
                    _ => None,
                });
                match failure {
                    None => None,
                    Some((_, e)) if is_transient(e) => {
                        self.engine.line(i).route_refused().map(String::from)
                    }
                    Some((route, e)) => Some(refusal(route, e)),
                }
            })
            .collect();
        let notices = self.engine.on_routes(refused, Instant::now());
        self.handle(notices);
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
}

/// Whether a failed change is the route in a line's own table (its failure is the line's,
/// and costs no other traffic).
fn is_line_route(change: &Change) -> bool {
    let lines = crate::core::owned::LINE_TABLES;
    matches!(change, Change::PutRoute(r) | Change::DeleteRoute(r) if lines.contains(&r.table))
}

/// A failure that says nothing about the route itself: retried, never held against the line.
fn is_transient(error: &NetlinkError) -> bool {
    match error.errno {
        None => true,
        Some(errno) => [
            libc::ENOMEM,
            libc::ENOBUFS,
            libc::EAGAIN,
            libc::EBUSY,
            libc::EINTR,
        ]
        .contains(&errno),
    }
}

/// Why the kernel refused a line's own route, for its state and the log.
fn refusal(route: &Route, error: &NetlinkError) -> String {
    let hint = match (error.errno, route.nexthops.first().and_then(|h| h.gateway)) {
        (Some(libc::ENETUNREACH), Some(gw)) => {
            format!(" (gateway {gw} is not on-link: no address of the device covers it)")
        }
        _ => String::new(),
    };
    format!("{}{hint}", error.detail)
}

/// The lines (by name) whose devices our active table's default routes go through.
fn adopted_lines(
    config: &Config,
    routes: &[Route],
    links: &std::collections::HashMap<String, crate::core::LinkFacts>,
) -> Vec<String> {
    let active = routes
        .iter()
        .filter(|r| r.table == crate::core::owned::TABLE_ACTIVE);
    let mut names = Vec::new();
    for route in active {
        for hop in &route.nexthops {
            let line = config.uplinks.iter().find(|u| {
                u.family == route.family
                    && links
                        .get(&u.device)
                        .is_some_and(|l| l.ifindex == hop.ifindex)
            });
            names.extend(line.map(|u| u.name.clone()));
        }
    }
    names
}
