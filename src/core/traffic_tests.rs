use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn c(rx: u64, tx: u64) -> Counters {
    Counters {
        rx_packets: rx,
        tx_packets: tx,
    }
}

/// Feeds samples every 100 ms from `t0`; the indices of the samples that raised suspicion.
fn raised(watch: &mut TrafficWatch, t0: Instant, samples: &[(u64, u64)]) -> Vec<usize> {
    samples
        .iter()
        .enumerate()
        .filter(|(i, (rx, tx))| watch.sample(t0 + ms(100 * *i as u64), c(*rx, *tx)))
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn lan_traffic_without_answers_raises_suspicion_after_the_quiet_time() {
    let t0 = Instant::now();
    let mut watch = TrafficWatch::new(ms(300), 3);
    // Answered traffic, then 10 packets per sample and nothing back from sample 3 on.
    let samples = [
        (0, 0),
        (10, 10),
        (20, 20),
        (20, 30),
        (20, 40),
        (20, 50),
        (20, 60),
    ];
    assert_eq!(
        raised(&mut watch, t0, &samples),
        [6],
        "300 ms after sample 3"
    );
    assert!(watch.busy());
}

#[test]
fn anything_coming_back_clears_the_suspicion() {
    let t0 = Instant::now();
    let mut watch = TrafficWatch::new(ms(300), 3);
    let samples = [(0, 0), (0, 10), (0, 20), (1, 30), (1, 40), (1, 50), (2, 60)];
    assert!(raised(&mut watch, t0, &samples).is_empty());
}

#[test]
fn the_probers_own_packets_are_not_lan_traffic() {
    let t0 = Instant::now();
    let mut watch = TrafficWatch::new(ms(300), 3);
    // An idle LAN: one probe per sample, never answered (the line's probes judge it).
    let samples = [(0, 0), (0, 1), (0, 2), (0, 3), (0, 3), (0, 3), (0, 3)];
    assert!(raised(&mut watch, t0, &samples).is_empty());
    assert_eq!(TrafficWatch::own_packets(2, ms(500), ms(300)), 3);
    assert_eq!(TrafficWatch::own_packets(3, ms(100), ms(300)), 10);
}

#[test]
fn nothing_sent_is_no_suspicion() {
    let t0 = Instant::now();
    let mut watch = TrafficWatch::new(ms(300), 3);
    let samples = [(0, 0), (5, 0), (5, 0), (5, 0), (5, 0), (5, 0)];
    assert!(raised(&mut watch, t0, &samples).is_empty());
    assert!(!watch.busy(), "nothing leaves: sampled seldom");
    watch.sample(t0 + ms(700), c(6, 1));
    assert!(watch.busy());
}

#[test]
fn a_silent_line_is_suspected_again_once_a_second_at_most() {
    let t0 = Instant::now();
    let mut watch = TrafficWatch::new(ms(300), 3);
    let samples: Vec<(u64, u64)> = (0..25).map(|i| (0, 10 * i)).collect();
    assert_eq!(raised(&mut watch, t0, &samples), [4, 14, 24]);
}

#[test]
fn counters_that_go_back_start_over() {
    let t0 = Instant::now();
    let mut watch = TrafficWatch::new(ms(300), 3);
    let samples = [
        (100, 100),
        (100, 110),
        (100, 120),
        (0, 5),
        (0, 15),
        (0, 25),
        (0, 35),
    ];
    assert!(
        raised(&mut watch, t0, &samples).is_empty(),
        "reset at sample 3"
    );
    assert!(
        watch.sample(t0 + ms(800), c(0, 45)),
        "300 ms after sample 4"
    );
}
