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
    // Answered traffic, then 10 packets per sample and nothing back after sample 2.
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
        [5],
        "300 ms after sample 2"
    );
    assert!(watch.busy());
}

#[test]
fn answers_coming_back_clear_the_suspicion() {
    let t0 = Instant::now();
    let mut watch = TrafficWatch::new(ms(300), 3);
    // Ten out per sample, a few answers every other sample (lossy, but answering).
    let samples = [
        (0, 0),
        (0, 10),
        (5, 20),
        (5, 30),
        (10, 40),
        (10, 50),
        (15, 60),
    ];
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
    watch.sample(t0 - ms(100), c(5, 0));
    assert!(watch.busy(), "a new watch samples again soon");
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
    assert_eq!(raised(&mut watch, t0, &samples), [3, 13, 23]);
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
    assert_eq!(
        raised(&mut watch, t0, &samples),
        [6],
        "reset at sample 3: 300 ms after it, not after sample 0"
    );
}

#[test]
fn after_an_idle_gap_the_silence_is_counted_from_the_first_busy_sample() {
    let t0 = Instant::now();
    let mut watch = TrafficWatch::new(ms(300), 3);
    watch.sample(t0, c(0, 0));
    // Sampled 500 ms later: packets left, maybe only just now.
    assert!(!watch.sample(t0 + ms(500), c(0, 20)));
    assert!(!watch.sample(t0 + ms(700), c(0, 40)));
    assert!(watch.sample(t0 + ms(800), c(0, 50)));
}

#[test]
fn a_packet_or_two_of_link_chatter_is_no_answer() {
    let t0 = Instant::now();
    let mut watch = TrafficWatch::new(ms(300), 3);
    // 12 packets out per sample, 1 in: ARP or neighbour discovery, not replies.
    let samples = [(0, 0), (12, 12), (13, 24), (14, 36), (14, 48), (15, 60)];
    assert_eq!(raised(&mut watch, t0, &samples), [4]);
    // A slow flow whose every packet is answered is answered.
    let mut watch = TrafficWatch::new(ms(300), 0);
    let samples = [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (5, 5)];
    assert!(raised(&mut watch, t0, &samples).is_empty());
}
