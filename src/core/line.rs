//! The state machine of one line: link facts from netlink plus probe evidence, with
//! time-based hysteresis, give `up` or `down`. Pure: time is always passed in.

use std::collections::VecDeque;
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::burst::Burst;
use super::damping::{Damping, DampingChange};
use super::quality::{Quality, QualityChange};
use crate::config::Probe;

/// How many recent probe outcomes per target feed the loss and rtt figures.
const HISTORY: usize = 20;

/// What the kernel tells about a line's device.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LinkFacts {
    pub ifindex: u32,
    /// `IFF_UP`: administratively up.
    pub admin_up: bool,
    /// `IFF_LOWER_UP`: carrier present (a veth whose peer is down has none).
    pub carrier: bool,
    /// Addresses on the device: as dumped, of both families; for a line, only those of
    /// its family (global ones for IPv6), see [`crate::core::gateway::facts_for`].
    pub addrs: Vec<IpAddr>,
    /// The device's addresses with their prefix lengths: the networks a gateway must be in
    /// for the kernel to accept a route via it (on-link).
    pub networks: Vec<(IpAddr, u8)>,
    /// `IFF_POINTOPOINT`: routes through it need no gateway.
    pub point_to_point: bool,
    /// The gateways of the system's own default routes on this device (lowest metric per
    /// family, any table but ours), as dumped.
    pub system_gateways: Vec<IpAddr>,
    /// For a `gateway = "auto"` line: the one of its family it follows.
    pub gateway: Option<IpAddr>,
    /// Set by the engine for a `gateway = "auto"` line on a device that is not
    /// point-to-point: without a learned gateway the link cannot carry a default route.
    pub needs_gateway: bool,
}

impl LinkFacts {
    /// Whether a default route via this device can carry traffic.
    pub fn usable(&self) -> bool {
        self.fault().is_none()
    }

    /// Why the link is not usable, for logs; `None` when it is.
    fn fault(&self) -> Option<&'static str> {
        match (self.admin_up, self.carrier, self.addrs.is_empty()) {
            (false, _, _) => Some("link administratively down"),
            (_, false, _) => Some("link lost carrier"),
            (_, _, true) => Some("no address of the line's family on the device"),
            _ if self.needs_gateway && self.gateway.is_none() => Some(
                "no default route on the device to learn the gateway from (gateway = \"auto\")",
            ),
            _ => None,
        }
    }
}

/// The probe verdict, separate from link state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Probing (re)started and no verdict yet.
    Pending,
    Up,
    Down,
}

/// A change of a line's public state, with the reason for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub up: bool,
    pub reason: String,
}

impl fmt::Display for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = if self.up { "up" } else { "down" };
        write!(f, "{word}: {}", self.reason)
    }
}

#[derive(Debug, Clone, Default)]
struct TargetStats {
    last_reply: Option<Instant>,
    /// Recent outcomes, newest last: `Some(rtt)` answered, `None` lost.
    history: VecDeque<Option<Duration>>,
}

/// One line's runtime state.
#[derive(Debug, Clone)]
pub struct LineState {
    timing: Probe,
    link: Option<LinkFacts>,
    /// The addresses the line had when last seen with any: still known after the address
    /// or the device is gone, which is when its connections must be cleaned up.
    known_addrs: Vec<IpAddr>,
    health: Health,
    probing_since: Instant,
    good_since: Option<Instant>,
    targets: Vec<TargetStats>,
    up: bool,
    since: Instant,
    reason: String,
    /// Latency and loss verdict, when the line has limits.
    quality: Option<Quality>,
    /// Why the kernel refused the line's own route (a gateway that is not on-link, say):
    /// such a line cannot carry traffic, whatever its link says.
    route_refused: Option<String>,
    /// Flap penalty and suppression, when the line has dampening.
    damping: Option<Damping>,
    /// A burst of probes sent because the LAN's traffic went unanswered.
    burst: Option<Burst>,
}

impl LineState {
    /// A new line, not yet seen by netlink, down until proven otherwise.
    pub fn new(timing: &Probe, now: Instant) -> Self {
        LineState {
            timing: timing.clone(),
            link: None,
            known_addrs: Vec::new(),
            health: Health::Pending,
            probing_since: now,
            good_since: None,
            targets: vec![TargetStats::default(); timing.targets.len()],
            up: false,
            since: now,
            reason: "starting".into(),
            quality: timing.quality.map(|limits| {
                let per_target = limits.window.as_millis() / timing.interval.as_millis().max(1);
                let expected = per_target as usize * timing.targets.len();
                Quality::new(limits, timing.up_after, expected)
            }),
            route_refused: None,
            damping: timing.dampening.map(|d| Damping::new(d, now)),
            burst: None,
        }
    }

    /// This line under new probe settings (a reload), on the same device. With the same
    /// targets the evidence still holds: only the timing (and quality limits) change, so
    /// the line keeps its state. With other targets it is probed afresh, but keeps what
    /// the kernel said of its link, so it does not look gone until the next link dump.
    pub fn reconfigured(&self, timing: &Probe, now: Instant) -> LineState {
        let mut fresh = LineState::new(timing, now);
        if timing.targets == self.timing.targets {
            let quality = if timing.quality == self.timing.quality {
                self.quality.clone()
            } else {
                fresh.quality
            };
            // The flaps seen stay on the line's record under new dampening settings.
            let damping = match (&self.damping, timing.dampening) {
                (Some(old), Some(new)) => Some(old.with_settings(new)),
                _ => fresh.damping,
            };
            return LineState {
                timing: timing.clone(),
                quality,
                damping,
                ..self.clone()
            };
        }
        fresh.link = self.link.clone();
        fresh.known_addrs = self.known_addrs.clone();
        fresh.route_refused = self.route_refused.clone();
        fresh
    }

    /// Why the line is degraded (too slow or too lossy), or `None` when it is not.
    pub fn degraded(&self) -> Option<&str> {
        self.quality.as_ref()?.degraded()
    }

    /// The LAN's traffic through this line went unanswered at `now`: true when a burst of
    /// probes should go out at once (the line is up by its probes and no burst is
    /// already out). If too few targets answer it within a short wait the line is down
    /// without waiting for `down_after`.
    pub fn suspect(&mut self, now: Instant) -> bool {
        if self.health != Health::Up || self.burst.is_some() || !self.link_usable() {
            return false;
        }
        let slowest = self.outcomes().flatten().max();
        self.burst = Some(Burst::new(now, slowest, self.timing.timeout));
        true
    }

    /// When the line's suppression for flapping ends (absent new flaps), while it is
    /// suppressed: see [`crate::config::Dampening`].
    pub fn suppressed_until(&self) -> Option<Instant> {
        self.damping.as_ref()?.until()
    }

    /// Whether the line is suppressed for flapping.
    pub fn is_suppressed(&self) -> bool {
        self.damping.as_ref().is_some_and(Damping::is_suppressed)
    }

    /// The flap penalty at `now`, rounded; `None` without dampening.
    pub fn flap_penalty(&self, now: Instant) -> Option<u32> {
        Some(self.damping.as_ref()?.penalty(now).round() as u32)
    }

    /// Ends a suppression whose time has come; the change of suppression since the last
    /// call, if any (a flap seen by [`LineState::evaluate`] may have started one).
    pub fn evaluate_damping(&mut self, now: Instant) -> Option<DampingChange> {
        self.damping.as_mut()?.evaluate(now)
    }

    /// Judges latency and loss at `now`; the change of verdict, if any.
    pub fn evaluate_quality(&mut self, now: Instant) -> Option<QualityChange> {
        self.quality.as_mut()?.evaluate(now)
    }

    /// Public state: usable link and (no targets, or probes good).
    pub fn is_up(&self) -> bool {
        self.up
    }

    /// When the public state last changed, and why.
    pub fn since(&self) -> (Instant, &str) {
        (self.since, &self.reason)
    }

    pub fn health(&self) -> Health {
        self.health
    }

    pub fn link(&self) -> Option<&LinkFacts> {
        self.link.as_ref()
    }

    /// The line's IPv4 addresses, as last seen (empty if it never had one).
    pub fn known_addrs(&self) -> &[IpAddr] {
        &self.known_addrs
    }

    /// Whether the link can carry a default route (the fallback when probes fail
    /// everywhere): usable by what netlink says, and its route accepted by the kernel.
    pub fn link_usable(&self) -> bool {
        self.link.as_ref().is_some_and(LinkFacts::usable) && self.route_refused.is_none()
    }

    /// Why the kernel refused the line's route, if it did.
    pub fn route_refused(&self) -> Option<&str> {
        self.route_refused.as_deref()
    }

    /// New facts from netlink (`None`: the device is gone). Losing the link is acted on at
    /// once; regaining it restarts probing, so the line returns only once probes are good.
    pub fn on_link(&mut self, facts: Option<LinkFacts>, now: Instant) -> Option<Transition> {
        let was_usable = self.link_usable();
        if let Some(addrs) = facts.as_ref().map(|f| &f.addrs).filter(|a| !a.is_empty()) {
            self.known_addrs.clone_from(addrs);
        }
        self.link = facts;
        self.usability_changed(was_usable, now)
    }

    /// The kernel refused the line's own route (`Some(why)`), or holds it (`None`). A
    /// refusal takes the line out of service at once, as a lost link does; acceptance
    /// restarts probing.
    pub fn on_route(&mut self, refused: Option<String>, now: Instant) -> Option<Transition> {
        if self.route_refused == refused {
            return None;
        }
        let was_usable = self.link_usable();
        self.route_refused = refused;
        let transition = self.usability_changed(was_usable, now);
        if transition.is_some() || self.route_refused.is_none() {
            return transition;
        }
        // Already down (starting, say): still a new reason worth a log line and a hook,
        // once (a refused line whose link flaps is refused again with the same reason).
        let (_, reason) = self.verdict(now);
        if reason == self.reason {
            return None;
        }
        self.since = now;
        self.reason = reason.clone();
        Some(Transition { up: false, reason })
    }

    /// Why the line is in its state now (the reason of the last transition may be stale:
    /// "starting", or "1/2 targets answering" while both answer).
    pub fn reason_now(&self, now: Instant) -> String {
        self.verdict(now).1
    }

    fn usability_changed(&mut self, was_usable: bool, now: Instant) -> Option<Transition> {
        if was_usable && !self.link_usable() {
            self.health = Health::Down;
            self.good_since = None;
        } else if !was_usable && self.link_usable() {
            self.restart_probing(now);
        }
        self.evaluate(now)
    }

    fn restart_probing(&mut self, now: Instant) {
        self.probing_since = now;
        self.good_since = None;
        self.burst = None;
        for t in &mut self.targets {
            t.last_reply = None;
        }
        if let Some(quality) = &mut self.quality {
            quality.restart();
        }
        if self.health != Health::Down {
            self.health = Health::Pending;
        }
    }

    /// A probe to target `target` was answered after `rtt` (`Some`) or lost (`None`).
    pub fn on_probe(
        &mut self,
        target: usize,
        rtt: Option<Duration>,
        now: Instant,
    ) -> Option<Transition> {
        let stats = self.targets.get_mut(target)?;
        if rtt.is_some() {
            stats.last_reply = Some(now);
        }
        if stats.history.len() == HISTORY {
            stats.history.pop_front();
        }
        stats.history.push_back(rtt);
        // A loss is reported when its probe times out: only probes sent after the
        // recovery began count against it, not those lost to the outage itself.
        let sent = now.checked_sub(self.timing.timeout);
        let recovering = self.health == Health::Down
            && self
                .good_since
                .is_some_and(|good| sent.is_some_and(|sent| sent >= good));
        if let (None, true, Some(damping)) = (rtt, recovering, &mut self.damping) {
            damping.lost_in_recovery(now);
        }
        if let Some(quality) = &mut self.quality {
            quality.record(now, rtt);
        }
        self.evaluate(now)
    }

    /// Re-evaluates the state at `now` (call at [`LineState::next_deadline`]).
    pub fn evaluate(&mut self, now: Instant) -> Option<Transition> {
        self.update_health(now);
        let (up, reason) = self.verdict(now);
        if up == self.up {
            return None;
        }
        self.up = up;
        self.since = now;
        self.reason = reason.clone();
        Some(Transition { up, reason })
    }

    fn update_health(&mut self, now: Instant) {
        if self.timing.targets.is_empty() || !self.link_usable() {
            return;
        }
        let replies = self.targets.iter().map(|t| t.last_reply);
        self.burst = self
            .burst
            .and_then(|b| b.judge(now, replies, self.timing.reliability));
        let burst_failed = self.burst.is_some_and(|b| b.failed);
        let good = self.answering(now) >= self.timing.reliability && !burst_failed;
        if !good {
            // A flap: good evidence lost, whether the line was up (it fails) or on its way
            // back (the recovery is cut short). Link losses do not count: they act at once
            // and the line returns only after `up_after` of good probes anyway.
            if let (Some(_), Some(damping)) = (self.good_since, &mut self.damping) {
                damping.flap(now);
            }
            self.good_since = None;
        } else if self.good_since.is_none() {
            self.good_since = Some(now);
        }
        self.health = match self.health {
            Health::Pending if good => Health::Up,
            Health::Pending if now >= self.probing_since + self.timing.down_after => Health::Down,
            Health::Up if !good => Health::Down,
            Health::Down if self.good_for(now) >= self.timing.up_after => Health::Up,
            unchanged => unchanged,
        };
    }

    fn good_for(&self, now: Instant) -> Duration {
        self.good_since
            .map_or(Duration::ZERO, |since| now.saturating_duration_since(since))
    }

    /// Targets that answered within the last `down_after`.
    fn answering(&self, now: Instant) -> usize {
        self.targets
            .iter()
            .filter(|t| {
                t.last_reply
                    .is_some_and(|at| now < at + self.timing.down_after)
            })
            .count()
    }

    fn verdict(&self, now: Instant) -> (bool, String) {
        let Some(link) = &self.link else {
            return (false, "device not found".into());
        };
        if let Some(fault) = link.fault() {
            return (false, fault.into());
        }
        if let Some(why) = &self.route_refused {
            return (false, format!("the kernel refused its route: {why}"));
        }
        if self.timing.targets.is_empty() {
            return (
                true,
                "link up (no probe targets: following link state)".into(),
            );
        }
        let total = self.timing.targets.len();
        let answering = self.answering(now);
        let ms = |d: Duration| d.as_millis();
        match self.health {
            Health::Up => {
                let good_for = self.good_for(now);
                let mut reason = format!("{answering}/{total} targets answering");
                if !good_for.is_zero() {
                    reason += &format!(" for {} ms", ms(good_for));
                }
                (true, reason)
            }
            Health::Down if self.burst.is_some_and(|b| b.failed) => (
                false,
                format!(
                    "no reply to a burst of probes within {} ms, sent because the LAN's \
                     traffic went unanswered",
                    self.burst.map_or(0, |b| ms(b.wait))
                ),
            ),
            Health::Down => (
                false,
                format!(
                    "no reply from {}/{total} targets for {} ms",
                    total - answering,
                    ms(self.timing.down_after)
                ),
            ),
            Health::Pending => (false, "waiting for the first probe replies".into()),
        }
    }

    /// The next time at which the state can change without new evidence.
    pub fn next_deadline(&self) -> Option<Instant> {
        let quality = self.quality.as_ref().and_then(Quality::next_deadline);
        let damping = self.damping.as_ref().and_then(Damping::next_deadline);
        [self.health_deadline(), quality, damping]
            .into_iter()
            .flatten()
            .min()
    }

    fn health_deadline(&self) -> Option<Instant> {
        if self.timing.targets.is_empty() || !self.link_usable() {
            return None;
        }
        let lapse = self.lapse_time();
        let burst = self.burst.filter(|b| !b.failed).map(|b| b.deadline());
        match self.health {
            Health::Pending => Some(self.probing_since + self.timing.down_after),
            Health::Up => [lapse, burst].into_iter().flatten().min(),
            Health::Down => {
                let up_at = self.good_since.map(|s| s + self.timing.up_after);
                [lapse, up_at].into_iter().flatten().min()
            }
        }
    }

    /// When the number of answering targets falls below `reliability`, absent new replies.
    fn lapse_time(&self) -> Option<Instant> {
        let mut replies: Vec<Instant> = self.targets.iter().filter_map(|t| t.last_reply).collect();
        replies.sort_unstable_by(|a, b| b.cmp(a));
        let nth = replies.get(self.timing.reliability.checked_sub(1)?)?;
        Some(*nth + self.timing.down_after)
    }

    /// Mean round-trip time over recent answered probes.
    pub fn rtt(&self) -> Option<Duration> {
        let rtts: Vec<Duration> = self.outcomes().flatten().collect();
        let count = u32::try_from(rtts.len()).ok().filter(|&n| n > 0)?;
        Some(rtts.iter().sum::<Duration>() / count)
    }

    /// Share of recent probes lost, in percent.
    pub fn loss_pct(&self) -> Option<f64> {
        let total = self.outcomes().count();
        let lost = self.outcomes().filter(Option::is_none).count();
        (total > 0).then(|| 100.0 * lost as f64 / total as f64)
    }

    /// Each target's figures at `now`, in the order of the line's targets.
    pub fn target_figures(&self, now: Instant) -> Vec<super::figures::TargetFigures> {
        let down_after = self.timing.down_after;
        self.targets
            .iter()
            .map(|t| {
                super::figures::target_figures(t.history.iter(), t.last_reply, now, down_after)
            })
            .collect()
    }

    fn outcomes(&self) -> impl Iterator<Item = Option<Duration>> + '_ {
        self.targets.iter().flat_map(|t| t.history.iter().copied())
    }
}

#[cfg(test)]
#[path = "line_tests.rs"]
mod tests;
