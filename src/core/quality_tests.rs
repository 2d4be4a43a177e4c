use super::*;

const MS: Duration = Duration::from_millis(1);

fn limits(loss: Option<u32>, rtt_ms: Option<u64>) -> QualityLimits {
    QualityLimits {
        max_rtt: rtt_ms.map(Duration::from_millis),
        max_loss_pct: loss,
        window: Duration::from_secs(10),
    }
}

/// Feeds one sample every 250 ms from `t` for `count` samples; `lost(i)` says which are
/// lost, the others answer after `rtt`. Returns the changes and the time after the last.
fn feed(
    q: &mut Quality,
    mut t: Instant,
    count: usize,
    rtt: Duration,
    lost: impl Fn(usize) -> bool,
) -> (Vec<QualityChange>, Instant) {
    let mut changes = Vec::new();
    for i in 0..count {
        q.record(t, (!lost(i)).then_some(rtt));
        changes.extend(q.evaluate(t));
        t += 250 * MS;
    }
    (changes, t)
}

#[test]
fn forty_percent_loss_degrades_a_twenty_percent_line() {
    let mut q = Quality::new(limits(Some(20), None), Duration::from_secs(3), 40);
    let (changes, _) = feed(&mut q, Instant::now(), 40, 20 * MS, |i| i % 5 < 2);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert!(changes[0].degraded);
    assert_eq!(changes[0].reason, "loss 40% > 20% over 10000 ms");
    assert!(q.degraded().is_some());
}

#[test]
fn no_verdict_before_half_a_window_of_samples() {
    let mut q = Quality::new(limits(Some(20), None), Duration::from_secs(3), 40);
    let (changes, _) = feed(&mut q, Instant::now(), 19, 20 * MS, |_| true);
    assert!(changes.is_empty());
    let (changes, _) = feed(&mut q, Instant::now(), 1, 20 * MS, |_| true);
    assert_eq!(changes.len(), 1);
}

#[test]
fn recovers_only_after_the_window_clears_and_stays_clear() {
    let mut q = Quality::new(limits(Some(20), None), Duration::from_secs(3), 40);
    let (_, t) = feed(&mut q, Instant::now(), 40, 20 * MS, |i| i % 5 < 2);
    let clean_from = t;
    // Clean samples: the lossy ones age out of the 10 s window, then 3 s more.
    let (changes, t) = feed(&mut q, t, 80, 20 * MS, |_| false);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert!(!changes[0].degraded);
    assert!(changes[0].reason.contains("within limits for 3000 ms"));
    let took = t - clean_from;
    assert!(took > Duration::from_secs(3), "{took:?}");
}

#[test]
fn a_slow_line_is_degraded_by_mean_rtt() {
    let mut q = Quality::new(limits(None, Some(100)), Duration::from_secs(3), 40);
    let (changes, t) = feed(&mut q, Instant::now(), 40, 150 * MS, |_| false);
    assert_eq!(changes[0].reason, "mean rtt 150 ms > 100 ms over 10000 ms");
    assert_eq!(q.next_deadline(), None, "not yet good");
    let (_, _) = feed(&mut q, t, 4, 20 * MS, |_| false);
    assert!(q.degraded().is_some(), "the mean is still above the limit");
}

#[test]
fn loss_below_the_limit_never_degrades() {
    let mut q = Quality::new(limits(Some(20), None), Duration::from_secs(3), 40);
    let (changes, _) = feed(&mut q, Instant::now(), 200, 20 * MS, |i| i % 10 == 0);
    assert!(changes.is_empty(), "{changes:?}");
}

#[test]
fn restart_forgets_samples_but_not_the_verdict() {
    let mut q = Quality::new(limits(Some(20), None), Duration::from_secs(3), 40);
    let (_, t) = feed(&mut q, Instant::now(), 40, 20 * MS, |i| i % 5 < 2);
    q.restart();
    assert!(q.degraded().is_some());
    assert!(q.evaluate(t).is_none());
    assert!(q.degraded().is_some());
}
