//! All lines together: feeds evidence to each line's state machine, keeps the selection
//! current, and says what changed. Pure: the daemon owns the I/O and the clock.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::desired::{desired_with_ruleset, nft_ruleset, Desired, PolicyChoice};
use super::gateway::{facts_for, resolve};
use super::line::{Health, LineState, LinkFacts};
pub use super::notice::Notice;
use super::notice::{damping_notice, line_notice, quality_notice};
use super::select::{merged, select, select_each_family, Candidate, Selection};
use super::sessions::{Keeping, Sessions};
use crate::config::{Config, Family, Policy, Uplink};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The daemon's view of every configured line.
pub struct Engine {
    config: Config,
    lines: Vec<LineState>,
    /// The selected lines of every family.
    selection: Selection,
    /// The active lines of each family as last announced, by name.
    announced: Vec<(Family, Vec<String>)>,
    /// Set by a new config (and at start): the next selection is judged by name.
    rejudge: bool,
    policies: Vec<PolicyChoice>,
    /// Each policy's choice as text (a line's name...), by policy name: what changes are
    /// judged against.
    policy_moves: HashMap<String, String>,
    /// Lines taken out of service by hand, by name (kept across reloads).
    drained: BTreeSet<String>,
    /// The nft ruleset, which depends on the config only (see [`nft_ruleset`]).
    nft: Arc<str>,
    /// Changes whenever [`Engine::desired`] may have changed.
    revision: u32,
    /// The latest time the engine was told of.
    clock: Instant,
    /// When each line (by name) was last seen carrying traffic while passing its probes;
    /// see [`Candidate::recency`].
    last_good: HashMap<String, Instant>,
    /// Which lines keep their existing connections.
    sessions: Sessions,
    /// Lines (by name) whose device filters reverse paths strictly (rp_filter=1), as the
    /// daemon last read it: they keep connections only while active.
    strict_rp: BTreeSet<String>,
}

impl Engine {
    /// Every line starts down and unproven.
    pub fn new(config: Config, now: Instant) -> Self {
        let lines = config
            .uplinks
            .iter()
            .map(|u| LineState::new(&u.probe, now))
            .collect();
        let nft = nft_table_of(&config);
        let mut engine = Engine {
            config,
            lines,
            selection: select(&[]),
            announced: Vec::new(),
            rejudge: true,
            policies: Vec::new(),
            policy_moves: HashMap::new(),
            drained: BTreeSet::new(),
            nft,
            revision: 0,
            clock: now,
            last_good: HashMap::new(),
            sessions: Sessions::default(),
            strict_rp: BTreeSet::new(),
        };
        engine.reselect_default();
        engine.repolicy();
        engine
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The state of line `index` (config order).
    pub fn line(&self, index: usize) -> &LineState {
        &self.lines[index]
    }

    pub fn selection(&self) -> &Selection {
        &self.selection
    }

    /// Takes a new config. A line keeps its state when its name, device and probe settings
    /// are unchanged, so a reload that touches one line does not disturb the others; when
    /// only its probe settings changed, see [`LineState::reconfigured`].
    pub fn reconfigure(&mut self, config: Config, now: Instant) -> Vec<Notice> {
        let table = nft_table_of(&config);
        self.reconfigure_rendered(config, table, now)
    }

    /// [`Engine::reconfigure`] with the config's nft table already rendered by
    /// [`nft_table_of`] (a large set takes a while: the daemon renders it beside its loop).
    pub fn reconfigure_rendered(
        &mut self,
        config: Config,
        table: Arc<str>,
        now: Instant,
    ) -> Vec<Notice> {
        self.advance(now);
        let mut old: HashMap<&str, (&Uplink, &LineState)> = self
            .config
            .uplinks
            .iter()
            .zip(&self.lines)
            .map(|(u, l)| (u.name.as_str(), (u, l)))
            .collect();
        let lines = config
            .uplinks
            .iter()
            .map(|u| match old.remove(u.name.as_str()) {
                Some((prev, state)) if prev.device == u.device && prev.probe == u.probe => {
                    state.clone()
                }
                Some((prev, state)) if prev.device == u.device && prev.family == u.family => {
                    state.reconfigured(&u.probe, now)
                }
                _ => LineState::new(&u.probe, now),
            })
            .collect();
        self.lines = lines;
        let known = |name: &String| config.uplinks.iter().any(|u| &u.name == name);
        self.drained.retain(known);
        self.last_good.retain(|name, _| known(name));
        self.nft = table;
        self.config = config;
        // Indices may now name other lines: judge the next selection by name.
        self.rejudge = true;
        self.touch();
        self.reselect()
    }

    /// Lines found carrying traffic when the daemon started (our active table survives a
    /// restart): until probes say otherwise they count as the lines that carried traffic
    /// last, so a restart during a failover does not send traffic back to the dead line.
    pub fn adopt_active(&mut self, names: &[String]) {
        for name in names {
            self.last_good.insert(name.clone(), self.clock);
        }
        self.touch();
        self.reselect();
    }

    /// Whether the kernel accepted each line's own route (`None`) or refused it (`Some(why)`),
    /// in config order; a line whose route is refused cannot carry traffic.
    pub fn on_routes(&mut self, refused: Vec<Option<String>>, now: Instant) -> Vec<Notice> {
        self.advance(now);
        let mut notices = Vec::new();
        let mut changed = false;
        let lines = self.config.uplinks.iter().zip(&mut self.lines);
        for ((uplink, line), refused) in lines.zip(refused) {
            if line.route_refused() != refused.as_deref() {
                notices.extend(line_notice(uplink, line.on_route(refused, now)));
                changed = true;
            }
        }
        if changed {
            self.touch();
        }
        notices.extend(self.reselect());
        notices
    }

    /// New link facts for every device (from a netlink dump); absent devices are gone.
    pub fn on_links(&mut self, links: &HashMap<String, LinkFacts>, now: Instant) -> Vec<Notice> {
        self.advance(now);
        let mut notices = Vec::new();
        let mut changed = false;
        for (uplink, line) in self.config.uplinks.iter().zip(&mut self.lines) {
            let facts = facts_for(
                uplink.family,
                uplink.gateway,
                links.get(&uplink.device),
                line.link(),
            );
            if line.link() != facts.as_ref() {
                notices.extend(line_notice(uplink, line.on_link(facts, now)));
                changed = true;
            }
        }
        if changed {
            self.touch();
        }
        notices.extend(self.reselect());
        notices
    }

    /// A probe outcome for `target` of line `index`: `Some(rtt)` answered, `None` lost.
    pub fn on_probe(
        &mut self,
        index: usize,
        target: usize,
        rtt: Option<Duration>,
        now: Instant,
    ) -> Vec<Notice> {
        self.advance(now);
        let (Some(uplink), Some(line)) =
            (self.config.uplinks.get(index), self.lines.get_mut(index))
        else {
            return Vec::new();
        };
        let mut notices: Vec<Notice> =
            line_notice(uplink, line.on_probe(target, rtt, now)).collect();
        notices.extend(quality_notice(uplink, line.evaluate_quality(now)));
        notices.extend(damping_notice(uplink, line.evaluate_damping(now)));
        notices.extend(self.reselect());
        notices
    }

    /// The LAN's traffic through line `index` went unanswered at `now`: true when its
    /// prober should send a burst at once (see [`LineState::suspect`]). Only a line that
    /// carries traffic can be suspected.
    pub fn suspect(&mut self, index: usize, now: Instant) -> bool {
        self.advance(now);
        self.selection.contains(index) && self.lines.get_mut(index).is_some_and(|l| l.suspect(now))
    }

    /// Re-evaluates every line at `now` (call at [`Engine::next_deadline`]).
    pub fn tick(&mut self, now: Instant) -> Vec<Notice> {
        self.advance(now);
        let mut notices = Vec::new();
        for (uplink, line) in self.config.uplinks.iter().zip(&mut self.lines) {
            notices.extend(line_notice(uplink, line.evaluate(now)));
            notices.extend(quality_notice(uplink, line.evaluate_quality(now)));
            notices.extend(damping_notice(uplink, line.evaluate_damping(now)));
        }
        notices.extend(self.reselect());
        notices
    }

    /// The earliest time a line can change state without new evidence.
    pub fn next_deadline(&self) -> Option<Instant> {
        let keep = |name: &str| {
            let uplinks = &self.config.uplinks;
            uplinks.iter().find(|u| u.name == name)?.keep_sessions
        };
        let lines = self.lines.iter().filter_map(LineState::next_deadline);
        lines.chain(self.sessions.next_deadline(keep)).min()
    }

    /// A number that changes whenever [`Engine::desired`] (and the probers' settings) may
    /// have changed, so the daemon need not rebuild and compare the desired state after
    /// every probe reply that changes nothing.
    pub fn revision(&self) -> u32 {
        self.revision
    }

    /// What the kernel should hold now.
    pub fn desired(&self) -> Desired {
        let links: Vec<Option<&LinkFacts>> = self.lines.iter().map(LineState::link).collect();
        let policies: Vec<(&Policy, PolicyChoice)> = self
            .config
            .policies
            .iter()
            .zip(self.policies.iter().copied())
            .collect();
        let nft = Arc::clone(&self.nft);
        let keeping: Vec<Keeping> = (self.config.uplinks.iter())
            .map(|u| Keeping {
                holds: self.sessions.holds(&u.name),
                strict_rp: self.strict_rp.contains(&u.name),
            })
            .collect();
        desired_with_ruleset(
            &self.config.uplinks,
            &links,
            &self.selection,
            &policies,
            nft,
            self.config.sticky,
            &keeping,
        )
    }

    /// The next hop of line `index` now: its fixed gateway, the learned one for
    /// `gateway = "auto"`, or none.
    pub fn gateway(&self, index: usize) -> Option<std::net::IpAddr> {
        let gateway = self.config.uplinks[index].gateway;
        match self.lines[index].link() {
            Some(link) => resolve(gateway, link),
            None => gateway.fixed(),
        }
    }

    /// Whether line `index` is drained.
    pub fn is_drained(&self, index: usize) -> bool {
        self.drained.contains(&self.config.uplinks[index].name)
    }

    /// Takes line `name` out of service (`drained`) or back; errors name unknown lines.
    pub fn set_drained(&mut self, name: &str, drained: bool) -> Result<Vec<Notice>, String> {
        if !self.config.uplinks.iter().any(|u| u.name == name) {
            return Err(format!("unknown uplink \"{name}\""));
        }
        let changed = if drained {
            self.drained.insert(name.to_string())
        } else {
            self.drained.remove(name)
        };
        let mut notices = Vec::new();
        if changed {
            notices.push(Notice::Drain {
                name: name.to_string(),
                drained,
            });
            notices.extend(self.reselect());
        }
        Ok(notices)
    }

    /// Whether every line is drained (then the system's own routes carry the traffic).
    pub fn all_drained(&self) -> bool {
        self.config
            .uplinks
            .iter()
            .all(|u| self.drained.contains(&u.name))
    }

    /// Whether line `index` may carry traffic: up by its own evidence and not drained.
    fn serves(&self, index: usize) -> bool {
        self.lines[index].is_up() && !self.is_drained(index)
    }

    fn candidates(&self) -> Vec<Candidate> {
        self.config
            .uplinks
            .iter()
            .zip(&self.lines)
            .map(|(u, l)| {
                let drained = self.drained.contains(&u.name);
                Candidate {
                    family: u.family,
                    metric: u.metric,
                    weight: u.weight,
                    up: l.is_up() && !drained,
                    degraded: l.degraded().is_some(),
                    suppressed: l.is_suppressed(),
                    pending: l.health() == Health::Pending && l.link_usable() && !drained,
                    link_usable: l.link_usable() && !drained,
                    recency: self.recency(u),
                }
            })
            .collect()
    }

    /// See [`Candidate::recency`]: judged by name, so it survives a reload.
    fn recency(&self, uplink: &Uplink) -> Option<Instant> {
        self.last_good.get(&uplink.name).copied()
    }

    /// Notes the time for every active line that passes its probes now. A line kept only
    /// as a fallback (dead by probe) gains nothing: it must not outrank the line it stood
    /// in for when that line's link comes back.
    fn note_good_service(&mut self) {
        for (family, names) in &self.announced {
            for name in names {
                let Some(i) = self.config.uplinks.iter().position(|u| &u.name == name) else {
                    continue;
                };
                if self.config.uplinks[i].family != *family || !self.serves(i) {
                    continue;
                }
                // Runs after every probe reply: update in place, allocate only the first time.
                match self.last_good.get_mut(name) {
                    Some(at) => *at = self.clock,
                    None => {
                        self.last_good.insert(name.clone(), self.clock);
                    }
                }
            }
        }
    }

    /// Moves the engine's clock forward to `now` (never back: probe events carry the time
    /// their reply arrived, which may precede the last tick).
    fn advance(&mut self, now: Instant) {
        self.clock = self.clock.max(now);
    }

    /// Recomputes the selection and the policy choices; says what changed.
    fn reselect(&mut self) -> Vec<Notice> {
        self.note_good_service();
        let members = self.selection.members.clone();
        let policies = self.policies.clone();
        let mut notices = self.reselect_default();
        notices.extend(self.repolicy());
        let (moved, keeping_changed) = self.update_sessions();
        notices.extend(moved);
        if members != self.selection.members || policies != self.policies || keeping_changed {
            self.touch();
        }
        notices
    }

    /// Marks the desired state as possibly changed (see [`Engine::revision`]).
    fn touch(&mut self) {
        self.revision = self.revision.wrapping_add(1);
    }

    /// Selects in each family; one notice per family whose active lines changed (judged by
    /// name, so a reload that reorders lines reports only real changes).
    fn reselect_default(&mut self) -> Vec<Notice> {
        let next = select_each_family(&self.candidates());
        // The common case, after most probe replies: same lines as before, same config.
        let members: Vec<(usize, u32)> = next.iter().flat_map(|(_, s)| s.members.clone()).collect();
        if members == self.selection.members && !self.rejudge {
            self.selection = merged(next);
            return Vec::new();
        }
        let mut notices = Vec::new();
        let mut announced = Vec::new();
        for (family, selection) in &next {
            let to: Vec<String> = selection
                .members
                .iter()
                .map(|&(i, _)| self.config.uplinks[i].name.clone())
                .collect();
            let from = self
                .announced
                .iter()
                .find(|(f, _)| f == family)
                .map(|(_, names)| names.clone())
                .unwrap_or_default();
            if from != to {
                notices.push(Notice::Active {
                    family: *family,
                    from,
                    to: to.clone(),
                    basis: selection.basis,
                });
            }
            announced.push((*family, to));
        }
        self.announced = announced;
        self.selection = merged(next);
        self.rejudge = false;
        notices
    }
}

/// The nft table of `config` (it depends on the config only).
pub fn nft_table_of(config: &Config) -> Arc<str> {
    let policies: Vec<&Policy> = config.policies.iter().collect();
    nft_ruleset(&config.uplinks, &policies, &config.sets).into()
}

/// The engine's part in keeping sessions on their line.
#[path = "engine_sessions.rs"]
mod engine_sessions;

/// Where each policy's traffic goes.
#[path = "engine_policy.rs"]
mod engine_policy;

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "engine_damping_tests.rs"]
mod damping_tests;
