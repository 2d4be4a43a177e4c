//! `uplink events --since`: a time as events write it (RFC 3339, UTC), a date, or a
//! time ago (`30m`, `2h`, `7d`).

use std::time::{Duration, SystemTime};

use uplink::daemon::status::format_wall;

/// `text` as the RFC 3339 UTC time events are compared with; `now` for times ago.
pub fn parse_since(text: &str, now: SystemTime) -> Result<String, String> {
    let bad = || {
        format!(
            "--since \"{}\": expected a time like 2026-12-01T03:00:00Z, a date like \
             2026-12-01, or a time ago like 30m, 2h or 7d",
            text.escape_debug()
        )
    };
    if let Some(ago) = ago(text) {
        let at = now.checked_sub(ago).ok_or_else(bad)?;
        return Ok(format_wall(at));
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let shape_ok = |s: &str, pattern: &str| {
        s.len() == pattern.len()
            && s.bytes().zip(pattern.bytes()).all(|(c, p)| match p {
                b'9' => c.is_ascii_digit(),
                p => c == p,
            })
    };
    if shape_ok(text, "9999-99-99") {
        return Ok(format!("{text}T00:00:00Z"));
    }
    if shape_ok(text, "9999-99-99T99:99:99Z") && digits(&text[..4]) {
        return Ok(text.to_owned());
    }
    Err(bad())
}

/// `30s`, `15m`, `2h`, `7d`.
fn ago(text: &str) -> Option<Duration> {
    let unit = text.chars().last()?;
    let number: u64 = text[..text.len() - unit.len_utf8()].parse().ok()?;
    let secs = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(number.checked_mul(secs)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_dates_and_times_ago() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(86_400 * 365);
        assert_eq!(parse_since("2h", now).unwrap(), "1970-12-31T22:00:00Z");
        assert_eq!(parse_since("30m", now).unwrap(), "1970-12-31T23:30:00Z");
        assert_eq!(
            parse_since("2026-12-01", now).unwrap(),
            "2026-12-01T00:00:00Z"
        );
        assert_eq!(
            parse_since("2026-12-01T03:00:00Z", now).unwrap(),
            "2026-12-01T03:00:00Z"
        );
        for bad in [
            "yesterday",
            "2h30m",
            "2026-12-1",
            "2026-12-01T03:00:00",
            "-5m",
            "5w",
            "",
        ] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }
}
