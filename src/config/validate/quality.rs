//! Line quality limits: `max_rtt_ms`, `max_loss_pct`, `quality_window_ms` of a probe table.

use std::time::Duration;

use super::{invalid, number};
use crate::config::parse::RawProbe;
use crate::config::{ConfigError, Probe, QualityLimits, DEFAULT_QUALITY_WINDOW_MS};

/// Longest window: the line keeps one sample per probe in it.
const MAX_WINDOW_MS: u64 = 600_000;

/// The limits, or `None` when neither threshold is set.
pub(super) fn limits(
    obj: &str,
    raw: &RawProbe,
    probe: &Probe,
) -> Result<Option<QualityLimits>, ConfigError> {
    if raw.max_rtt_ms.is_none() && raw.max_loss_pct.is_none() {
        if let Some(ms) = raw.quality_window_ms {
            let reason = "needs probe.max_rtt_ms or probe.max_loss_pct";
            return Err(invalid(
                obj,
                "probe.quality_window_ms",
                ms.to_string(),
                reason,
            ));
        }
        return Ok(None);
    }
    let first_key = if raw.max_rtt_ms.is_some() {
        "probe.max_rtt_ms"
    } else {
        "probe.max_loss_pct"
    };
    if probe.targets.is_empty() {
        let reason = "needs probe.targets: quality is measured by probes";
        return Err(invalid(obj, first_key, "", reason));
    }
    let limits = QualityLimits {
        max_rtt: raw
            .max_rtt_ms
            .map(|ms| max_rtt(obj, ms, probe))
            .transpose()?,
        max_loss_pct: raw
            .max_loss_pct
            .map(|pct| number(obj, "probe.max_loss_pct", pct, 1..=99u32))
            .transpose()?,
        window: window(obj, raw.quality_window_ms, probe)?,
    };
    Ok(Some(limits))
}

/// A reply slower than `timeout_ms` counts as lost, so a larger limit could never trip.
fn max_rtt(obj: &str, ms: i64, probe: &Probe) -> Result<Duration, ConfigError> {
    let timeout = probe.timeout.as_millis() as u64;
    let limit = number(obj, "probe.max_rtt_ms", ms, 1..=u64::MAX)?;
    if limit >= timeout {
        let reason = format!("must be less than probe.timeout_ms ({timeout})");
        return Err(invalid(obj, "probe.max_rtt_ms", ms.to_string(), reason));
    }
    Ok(Duration::from_millis(limit))
}

/// At least two probe periods, so that a mean or a share has more than one sample.
fn window(obj: &str, raw: Option<i64>, probe: &Probe) -> Result<Duration, ConfigError> {
    let min = 2 * probe.interval.as_millis() as u64;
    let ms = match raw {
        None => DEFAULT_QUALITY_WINDOW_MS.max(min),
        Some(ms) => number(obj, "probe.quality_window_ms", ms, min..=MAX_WINDOW_MS)?,
    };
    Ok(Duration::from_millis(ms))
}
