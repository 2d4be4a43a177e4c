//! Which line(s) carry the default route.

use std::time::Instant;

use crate::config::Family;

/// What selection needs to know about one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// Lines compete only with lines of their own family.
    pub family: Family,
    pub metric: u32,
    pub weight: u32,
    /// Link usable and probes good.
    pub up: bool,
    /// Up, but too slow or too lossy: used only when every line that is up is degraded
    /// or suppressed.
    pub degraded: bool,
    /// Suppressed for flapping: as degraded, a line that is up but used only when every
    /// line that is up is degraded or suppressed, so that suppression never leaves the
    /// router without a working line.
    pub suppressed: bool,
    /// Link usable and its first probes still out (start-up, a new line): it is not up
    /// yet, but a worse line must not take over in the meantime, or every start would
    /// switch to whichever line answered first and back a moment later.
    pub pending: bool,
    /// Link usable, whatever the probes say.
    pub link_usable: bool,
    /// When the line was last seen carrying traffic while passing its probes (`None`:
    /// never, or not since start-up): later is more recent.
    pub recency: Option<Instant>,
}

/// Why the selection is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectionBasis {
    /// The lowest metric among lines that are up and not degraded.
    Healthy,
    /// Every line that is up is degraded or suppressed: the lowest metric among them.
    Degraded,
    /// No line is up by probe: the best line whose link is up, so that the router keeps a
    /// default route even when every probe fails (the probe targets may be what is broken).
    LinkFallback,
    /// No usable link at all: the active table is emptied and `main` takes over.
    Nothing,
}

/// The selected lines, as indices into the candidate list, with their weights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub members: Vec<(usize, u32)>,
    pub basis: SelectionBasis,
}

impl Selection {
    /// Whether line `index` carries traffic.
    pub fn contains(&self, index: usize) -> bool {
        self.members.iter().any(|&(i, _)| i == index)
    }
}

/// [`select`] in each family with lines, on its own: a line can be up for IPv4 while its
/// IPv6 twin is down. Indices refer to `candidates`.
pub fn select_each_family(candidates: &[Candidate]) -> Vec<(Family, Selection)> {
    Family::ALL
        .into_iter()
        .filter_map(|family| {
            let indices: Vec<usize> = (0..candidates.len())
                .filter(|&i| candidates[i].family == family)
                .collect();
            if indices.is_empty() {
                return None;
            }
            let subset: Vec<Candidate> = indices.iter().map(|&i| candidates[i]).collect();
            let mut selection = select(&subset);
            for member in &mut selection.members {
                member.0 = indices[member.0];
            }
            Some((family, selection))
        })
        .collect()
}

/// Every family's members in one selection (the basis of the first family).
pub fn merged(per_family: Vec<(Family, Selection)>) -> Selection {
    let basis = per_family
        .first()
        .map_or(SelectionBasis::Nothing, |(_, s)| s.basis);
    let members = per_family
        .into_iter()
        .flat_map(|(_, s)| s.members)
        .collect();
    Selection { members, basis }
}

/// Lowest metric wins; equal metrics share by weight. The candidates are of one family.
///
/// When no line passes its probes, the line that carried traffic most recently stays (or
/// comes back): it failed last, so it is the likeliest to work again first, and a blip on
/// the backup while the main line is dead must not send traffic to the dead main line.
/// For the same reason a line still waiting for its first replies holds off a worse line
/// only when no line carried traffic more recently than it did (start-up, not a reload that
/// adds a line, nor a restart that found traffic on the backup).
pub fn select(candidates: &[Candidate]) -> Selection {
    let newest = candidates
        .iter()
        .filter(|c| c.link_usable)
        .map(|c| c.recency)
        .max();
    let latest = |c: &Candidate| c.link_usable && Some(c.recency) == newest;
    let healthy =
        |c: &Candidate| !c.suppressed && ((c.up && !c.degraded) || (c.pending && latest(c)));
    if let Some(members) = lowest_metric_group(candidates, healthy) {
        let proven = members.iter().all(|&(i, _)| candidates[i].up);
        let basis = if proven {
            SelectionBasis::Healthy
        } else {
            SelectionBasis::LinkFallback
        };
        return Selection { members, basis };
    }
    if let Some(members) = lowest_metric_group(candidates, |c| c.up) {
        return Selection {
            members,
            basis: SelectionBasis::Degraded,
        };
    }
    if let Some(members) = lowest_metric_group(candidates, latest) {
        return Selection {
            members,
            basis: SelectionBasis::LinkFallback,
        };
    }
    Selection {
        members: Vec::new(),
        basis: SelectionBasis::Nothing,
    }
}

fn lowest_metric_group(
    candidates: &[Candidate],
    eligible: impl Fn(&Candidate) -> bool,
) -> Option<Vec<(usize, u32)>> {
    let best = candidates
        .iter()
        .filter(|c| eligible(c))
        .map(|c| c.metric)
        .min()?;
    let members = candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| eligible(c) && c.metric == best)
        .map(|(i, c)| (i, c.weight))
        .collect();
    Some(members)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn cand(metric: u32, up: bool, link_usable: bool) -> Candidate {
        Candidate {
            family: Family::V4,
            metric,
            weight: 1,
            up,
            degraded: false,
            suppressed: false,
            pending: false,
            link_usable,
            recency: None,
        }
    }

    #[test]
    fn all_down_by_probe_keeps_the_line_that_carried_traffic_last() {
        let t0 = Instant::now();
        let mut main = cand(100, false, true);
        main.recency = Some(t0 + Duration::from_secs(3));
        let mut backup = cand(200, false, true);
        backup.recency = Some(t0 + Duration::from_secs(9));
        let s = select(&[main, backup]);
        assert_eq!(
            s.members,
            vec![(1, 1)],
            "not back to the main line that died"
        );
        assert_eq!(s.basis, SelectionBasis::LinkFallback);
        backup.recency = Some(t0 + Duration::from_secs(2));
        let s = select(&[main, backup]);
        assert_eq!(
            s.members,
            vec![(0, 1)],
            "main carried traffic more recently"
        );
    }

    #[test]
    fn a_pending_line_does_not_hold_off_the_line_carrying_traffic() {
        let mut main = cand(100, false, true);
        main.pending = true;
        let mut backup = cand(200, true, true);
        backup.recency = Some(Instant::now());
        let s = select(&[main, backup]);
        assert_eq!(
            s.members,
            vec![(1, 1)],
            "adopted backup stays until main is proven"
        );
        main.up = true;
        main.pending = false;
        let s = select(&[main, backup]);
        assert_eq!(s.members, vec![(0, 1)]);
    }

    #[test]
    fn a_worse_line_does_not_take_over_while_the_better_one_is_still_pending() {
        let mut main = cand(100, false, true);
        main.pending = true;
        let s = select(&[main, cand(200, true, true)]);
        assert_eq!(s.members, vec![(0, 1)]);
        assert_eq!(s.basis, SelectionBasis::LinkFallback);
        main.pending = false;
        let s = select(&[main, cand(200, true, true)]);
        assert_eq!(
            s.members,
            vec![(1, 1)],
            "once main is known down, backup takes over"
        );
    }

    #[test]
    fn each_family_selects_on_its_own() {
        let mut v6_main = cand(100, false, true);
        v6_main.family = Family::V6;
        let mut v6_backup = cand(200, true, true);
        v6_backup.family = Family::V6;
        let all = [
            cand(100, true, true),
            v6_main,
            cand(200, true, true),
            v6_backup,
        ];
        let chosen = select_each_family(&all);
        assert_eq!(chosen[0].0, Family::V4);
        assert_eq!(chosen[0].1.members, vec![(0, 1)]);
        assert_eq!(chosen[1].0, Family::V6);
        assert_eq!(
            chosen[1].1.members,
            vec![(3, 1)],
            "main is up for IPv4 only"
        );
    }

    #[test]
    fn degraded_line_is_avoided_while_a_good_one_is_up() {
        let mut lossy = cand(100, true, true);
        lossy.degraded = true;
        let s = select(&[lossy, cand(200, true, true)]);
        assert_eq!(s.members, vec![(1, 1)]);
        assert_eq!(s.basis, SelectionBasis::Healthy);
        let s = select(&[lossy, cand(200, false, true)]);
        assert_eq!(
            s.members,
            vec![(0, 1)],
            "never dropped when it is the only one up"
        );
        assert_eq!(s.basis, SelectionBasis::Degraded);
    }

    #[test]
    fn a_suppressed_line_is_avoided_but_never_leaves_the_router_without_a_line() {
        let mut flapping = cand(100, true, true);
        flapping.suppressed = true;
        let s = select(&[flapping, cand(200, true, true)]);
        assert_eq!(
            s.members,
            vec![(1, 1)],
            "backup carries while main is suppressed"
        );
        assert_eq!(s.basis, SelectionBasis::Healthy);
        let s = select(&[flapping, cand(200, false, true)]);
        assert_eq!(s.members, vec![(0, 1)], "the only line that works is used");
        assert_eq!(s.basis, SelectionBasis::Degraded);
        let mut lossy = cand(300, true, true);
        lossy.degraded = true;
        let s = select(&[flapping, cand(200, false, true), lossy]);
        assert_eq!(
            s.members,
            vec![(0, 1)],
            "suppressed and degraded rank by metric"
        );
    }

    #[test]
    fn a_suppressed_line_waiting_for_replies_does_not_hold_off_a_working_one() {
        let mut main = cand(100, false, true);
        main.pending = true;
        main.suppressed = true;
        let s = select(&[main, cand(200, true, true)]);
        assert_eq!(s.members, vec![(1, 1)]);
    }

    #[test]
    fn lowest_metric_up_line_wins() {
        let s = select(&[cand(200, true, true), cand(100, true, true)]);
        assert_eq!(s.members, vec![(1, 1)]);
        assert_eq!(s.basis, SelectionBasis::Healthy);
    }

    #[test]
    fn down_line_is_skipped() {
        let s = select(&[cand(100, false, true), cand(200, true, true)]);
        assert_eq!(s.members, vec![(1, 1)]);
    }

    #[test]
    fn equal_metrics_share_by_weight() {
        let mut heavy = cand(100, true, true);
        heavy.weight = 3;
        let s = select(&[heavy, cand(100, true, true), cand(50, false, false)]);
        assert_eq!(s.members, vec![(0, 3), (1, 1)]);
    }

    #[test]
    fn all_down_by_probe_keeps_best_usable_link() {
        let s = select(&[
            cand(200, false, true),
            cand(100, false, true),
            cand(50, false, false),
        ]);
        assert_eq!(s.members, vec![(1, 1)]);
        assert_eq!(s.basis, SelectionBasis::LinkFallback);
    }

    #[test]
    fn no_usable_link_selects_nothing() {
        let s = select(&[cand(100, false, false)]);
        assert!(s.members.is_empty());
        assert_eq!(s.basis, SelectionBasis::Nothing);
        assert!(!s.contains(0));
    }
}
