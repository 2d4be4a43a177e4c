//! Flap dampening and traffic-aware detection: the `dampening*` and `traffic_*` keys of a
//! probe table.

use std::time::Duration;

use super::{invalid, number};
use crate::config::parse::RawProbe;
use crate::config::{ConfigError, Dampening, Probe, DEFAULT_TRAFFIC_QUIET_MS};

/// A half-life outside 1 s..1 h either forgets a flap before the next probe verdict or
/// remembers it for most of a day.
const HALF_LIFE_MS: std::ops::RangeInclusive<u64> = 1_000..=3_600_000;
/// At most a day: the ceiling of the penalty is derived from it.
const MAX_SUPPRESS_MS: u64 = 86_400_000;
/// Penalties are figures of merit around [`crate::config::FLAP_PENALTY`]; beyond this a
/// line could never be suppressed within any allowed `max_suppress`.
const MAX_THRESHOLD: u32 = 1_000_000;

/// The settings, or `None` when dampening is off or the line has no probe targets.
pub(super) fn settings(
    obj: &str,
    raw: &RawProbe,
    probe: &Probe,
) -> Result<Option<Dampening>, ConfigError> {
    if raw.dampening == Some(false) {
        // An off switch: the other keys may stay, to be switched on again later.
        return Ok(None);
    }
    if probe.targets.is_empty() {
        if let Some(key) = first_set_key(raw) {
            let reason = "needs probe.targets: flaps are seen by probes";
            return Err(invalid(obj, key, "", reason));
        }
        return Ok(None);
    }
    let defaults = Dampening::default();
    let half_life = match raw.dampening_half_life_ms {
        Some(ms) => number(obj, "probe.dampening_half_life_ms", ms, HALF_LIFE_MS)?,
        None => defaults.half_life.as_millis() as u64,
    };
    let suppress = threshold(obj, "probe.dampening_suppress", raw.dampening_suppress)?
        .unwrap_or(defaults.suppress);
    let reuse =
        threshold(obj, "probe.dampening_reuse", raw.dampening_reuse)?.unwrap_or(defaults.reuse);
    if reuse >= suppress {
        let reason = format!("must be less than probe.dampening_suppress ({suppress})");
        return Err(invalid(
            obj,
            "probe.dampening_reuse",
            reuse.to_string(),
            reason,
        ));
    }
    let max_suppress = match raw.dampening_max_suppress_ms {
        Some(ms) => number(
            obj,
            "probe.dampening_max_suppress_ms",
            ms,
            half_life..=MAX_SUPPRESS_MS,
        )?,
        None => (defaults.max_suppress.as_millis() as u64).max(half_life),
    };
    let settings = Dampening {
        half_life: Duration::from_millis(half_life),
        suppress,
        reuse,
        max_suppress: Duration::from_millis(max_suppress),
    };
    if crate::core::damping::ceiling(&settings) < f64::from(suppress) {
        let reason = format!(
            "too short for the penalty to reach probe.dampening_suppress ({suppress}) from \
             probe.dampening_reuse ({reuse}) with a half-life of {half_life} ms"
        );
        let value = max_suppress.to_string();
        return Err(invalid(
            obj,
            "probe.dampening_max_suppress_ms",
            value,
            reason,
        ));
    }
    Ok(Some(settings))
}

fn threshold(obj: &str, key: &str, raw: Option<i64>) -> Result<Option<u32>, ConfigError> {
    raw.map(|v| number(obj, key, v, 1..=MAX_THRESHOLD))
        .transpose()
}

fn first_set_key(raw: &RawProbe) -> Option<&'static str> {
    [
        ("probe.dampening", raw.dampening.is_some()),
        (
            "probe.dampening_half_life_ms",
            raw.dampening_half_life_ms.is_some(),
        ),
        ("probe.dampening_suppress", raw.dampening_suppress.is_some()),
        ("probe.dampening_reuse", raw.dampening_reuse.is_some()),
        (
            "probe.dampening_max_suppress_ms",
            raw.dampening_max_suppress_ms.is_some(),
        ),
    ]
    .into_iter()
    .find_map(|(key, set)| set.then_some(key))
}

/// Shorter than a sample or two of the counters it would trip on sampling jitter; longer
/// than a minute is no faster than probing.
const TRAFFIC_QUIET_MS: std::ops::RangeInclusive<u64> = 200..=60_000;

/// How long the LAN's traffic may go unanswered, or `None` when traffic-aware detection is
/// off or the line has no probe targets (nothing to send a burst to).
pub(super) fn traffic_quiet(
    obj: &str,
    raw: &RawProbe,
    probe: &Probe,
) -> Result<Option<Duration>, ConfigError> {
    if raw.traffic_aware == Some(false) {
        return Ok(None);
    }
    if probe.targets.is_empty() {
        let set = [
            ("probe.traffic_aware", raw.traffic_aware.is_some()),
            ("probe.traffic_quiet_ms", raw.traffic_quiet_ms.is_some()),
        ];
        if let Some((key, _)) = set.into_iter().find(|(_, set)| *set) {
            let reason = "needs probe.targets: a suspect line is judged by a burst of probes";
            return Err(invalid(obj, key, "", reason));
        }
        return Ok(None);
    }
    let ms = match raw.traffic_quiet_ms {
        Some(ms) => number(obj, "probe.traffic_quiet_ms", ms, TRAFFIC_QUIET_MS)?,
        None => DEFAULT_TRAFFIC_QUIET_MS,
    };
    Ok(Some(Duration::from_millis(ms)))
}
