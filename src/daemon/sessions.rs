//! The daemon's part in keeping sessions on their line: which lines' devices filter
//! reverse paths strictly (read, never changed), the conntrack flushes that move
//! connections, and the per-line connection counts shown by status and metrics.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use super::{events, Daemon, Done};
use crate::config::{Config, Family};
use crate::core::owned::{line_of_mark, MARK_MASK};
use crate::system::conntrack::{count_by_mark, CountError};

/// Connections are counted only when status or metrics ask, and at most this often for a
/// status asked on the control socket (`uplink status`, ubus, LuCI: someone is looking).
pub const ASKED_PERIOD: Duration = Duration::from_secs(5);
/// At most this often for the HTTP listener and the metrics textfile, which machines poll
/// every few seconds whether or not anyone looks. A count dumps the whole conntrack table:
/// the kernel walks every hash bucket (262,144 on the 24 GB test machine: 6 ms a count)
/// and sends every entry (thousands on a busy router), so counting every 5 s for a status
/// page doubled the daemon's CPU time.
pub const WATCHED_PERIOD: Duration = Duration::from_secs(30);
/// The period is also at least this many times the last count's duration, so counting
/// never takes more than 1 % of a core, however large the table or slow the CPU.
const COST_FACTOR: u32 = 100;
/// A count reads at most this many conntrack entries (nf_conntrack_max is far below on
/// routers; the bound holds whatever the table holds).
const COUNT_LIMIT: usize = 1 << 20;

/// The state of the connection counts.
#[derive(Debug, Default)]
pub struct Counting {
    /// A count runs beside the loop.
    running: bool,
    /// When the last count started.
    at: Option<Instant>,
    /// How long the last count took.
    took: Duration,
}

impl Counting {
    /// Whether a count may start at `now` for an asker content with counts `period` old:
    /// none runs, and the last began at least `period` ago, or 100 times its duration.
    fn due(&self, now: Instant, period: Duration) -> bool {
        let period = period.max(self.took * COST_FACTOR);
        !self.running && self.at.is_none_or(|at| now >= at + period)
    }
}

/// The IPv4 lines whose device filters reverse paths strictly: max(all, device) = 1
/// (IPv6 has no such sysctl). Read from /proc: a few small reads per line.
pub fn strict_rp_lines(config: &Config) -> BTreeSet<String> {
    (config.uplinks.iter())
        .filter(|u| u.family == Family::V4)
        .filter(|u| crate::system::sysctl::rp_filter(&u.device) == Some(1))
        .map(|u| u.name.clone())
        .collect()
}

/// The counts by conntrack mark, as counts by line name: every line gets one (zero when
/// none of its marks is seen).
pub fn counts_by_line(config: &Config, by_mark: &HashMap<u32, u64>) -> HashMap<String, u64> {
    let mut counts: HashMap<String, u64> = (config.uplinks.iter())
        .map(|u| (u.name.clone(), 0))
        .collect();
    for (&mark, &n) in by_mark {
        let name = line_of_mark(mark).and_then(|i| config.uplinks.get(i));
        if let Some(uplink) = name {
            *counts.entry(uplink.name.clone()).or_insert(0) += n;
        }
    }
    counts
}

impl Daemon {
    /// Reads again which lines' devices filter reverse paths strictly; a line that became
    /// strict while keeping connections it no longer takes moves them now.
    pub(super) fn refresh_strict_rp(&mut self) {
        let strict = strict_rp_lines(self.engine.config());
        let notices = self.engine.set_strict_rp_filter(strict);
        self.handle(notices);
    }

    /// Runs the queued flushes beside the event loop, once the routes have been brought in
    /// line. A flush no longer applies when traffic has returned to its line meanwhile (the
    /// line the router falls back to when every line fails): its connections stay.
    pub(super) fn start_flushes(&mut self) {
        for request in self.pending_flushes.drain(..) {
            let uplinks = &self.engine.config().uplinks;
            let carrying = self
                .engine
                .selection()
                .members
                .iter()
                .any(|&(i, _)| uplinks.get(i).is_some_and(|u| u.name == request.line));
            if carrying {
                tracing::info!(
                    "uplink \"{}\": not deleting its connections: it carries traffic again",
                    request.line
                );
                continue;
            }
            tokio::spawn(events::flush(request));
        }
    }

    /// Status or metrics were asked for: counts the connections again beside the loop
    /// unless a count runs or the last one is younger than `period` ([`ASKED_PERIOD`] or
    /// [`WATCHED_PERIOD`]; longer when counts are costly). The answer given now holds the
    /// last count; [`Done::Connections`] brings the new one.
    pub(super) fn want_connections(&mut self, now: Instant, period: Duration) {
        if !self.counting.due(now, period) {
            return;
        }
        self.counting.running = true;
        self.counting.at = Some(now);
        let done = self.done.clone();
        tokio::task::spawn_blocking(move || {
            let start = Instant::now();
            let counts = count_by_mark(MARK_MASK, COUNT_LIMIT);
            let _ = done.send(Done::Connections(counts, start.elapsed()));
        });
    }

    /// A count ended.
    pub(super) fn on_connections(
        &mut self,
        result: Result<HashMap<u32, u64>, CountError>,
        took: Duration,
    ) {
        self.counting.running = false;
        self.counting.took = took;
        match result {
            Ok(by_mark) => {
                let counts = counts_by_line(self.engine.config(), &by_mark);
                self.observer.set_connections(Some(counts));
            }
            Err(e) => {
                tracing::debug!("{e}");
                self.observer.set_connections(None);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::owned::{line_mark, share_mark, sticky_mark};

    #[test]
    fn counts_add_up_every_mark_of_a_line_and_ignore_the_rest() {
        let config = crate::config::parse(
            "[[uplink]]\nname = \"main\"\ndevice = \"wan1\"\n\
             [[uplink]]\nname = \"backup\"\ndevice = \"wan2\"\n",
        )
        .unwrap();
        let by_mark = HashMap::from([
            (sticky_mark(1), 7),
            (line_mark(1), 2),
            (share_mark(1), 1),
            (sticky_mark(0), 3),
            (0, 50),
            (line_mark(5), 4),
        ]);
        let counts = counts_by_line(&config, &by_mark);
        assert_eq!(counts.get("main"), Some(&3));
        assert_eq!(counts.get("backup"), Some(&10));
        assert_eq!(counts.len(), 2);
    }

    #[test]
    fn a_count_is_due_per_asker_and_never_while_one_runs() {
        let start = Instant::now();
        let mut counting = Counting::default();
        assert!(counting.due(start, ASKED_PERIOD), "never counted");
        counting.at = Some(start);
        counting.running = true;
        assert!(
            !counting.due(start + WATCHED_PERIOD * 2, ASKED_PERIOD),
            "one runs"
        );
        counting.running = false;
        counting.took = Duration::from_millis(6);
        let later = start + Duration::from_secs(10);
        assert!(
            counting.due(later, ASKED_PERIOD),
            "asked: 5 s old is enough"
        );
        assert!(
            !counting.due(later, WATCHED_PERIOD),
            "watched: waits for 30 s"
        );
        assert!(counting.due(start + WATCHED_PERIOD, WATCHED_PERIOD));
    }

    #[test]
    fn a_costly_count_stretches_the_period_to_100_times_its_duration() {
        let start = Instant::now();
        let counting = Counting {
            running: false,
            at: Some(start),
            took: Duration::from_millis(800),
        };
        assert!(!counting.due(start + Duration::from_secs(60), ASKED_PERIOD));
        assert!(counting.due(start + Duration::from_secs(80), ASKED_PERIOD));
    }
}
