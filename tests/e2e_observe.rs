//! Observability end to end, with the real daemon in the lab: the Prometheus endpoint as
//! Prometheus' own parser reads it (from a LAN host), its values against `status`, the
//! textfile (never seen half-written), the event history through a failover, a reload and
//! a restart, `uplink events --follow`, and the status page in a real headless browser.

#![cfg(feature = "lab")]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{root, Scenario, RECOVERY};
use uplink::lab::{two_line_config, Fault, Line, ProbeProfile, Role, LAN_GATEWAY};

const PORT: u16 = 9101;

/// The lab config with the listener on the router's LAN address, the textfile and the
/// events file in the daemon's directory.
fn observed_config(s: &Scenario) -> String {
    let dir = s.daemon.config().parent().unwrap().to_path_buf();
    let base = two_line_config(&s.daemon.socket(), ProbeProfile::Test);
    format!(
        "http_listen = \"{LAN_GATEWAY}:{PORT}\"\nmetrics_file = \"{}\"\nevents_file = \"{}\"\n{base}",
        dir.join("uplink.prom").display(),
        dir.join("events.jsonl").display()
    )
}

fn start(label: &str) -> Scenario {
    let mut s = Scenario::new(label, false);
    s.daemon.write_config(&observed_config(&s)).unwrap();
    s.start_daemon();
    s.wait_active("main", RECOVERY);
    s
}

/// GET `path` from the LAN host; the body of a 200 answer.
fn get(s: &Scenario, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: router\r\n\r\n");
    let response = s
        .lab
        .ns(Role::Lan)
        .run_in(move || {
            let mut stream = TcpStream::connect((LAN_GATEWAY, PORT))?;
            stream.set_read_timeout(Some(Duration::from_secs(10)))?;
            stream.write_all(request.as_bytes())?;
            let mut text = String::new();
            stream.read_to_string(&mut text)?;
            Ok::<_, std::io::Error>(text)
        })
        .unwrap()
        .unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}

/// Every sample of an exposition text as Prometheus' Python client parses it:
/// `name{labels} value` per line, sorted; the parser raises on anything malformed.
fn parse_metrics(text: &str) -> Vec<String> {
    let script = "import sys\nfrom prometheus_client.parser import text_string_to_metric_families as p\n\
        for f in p(sys.stdin.read()):\n  for s in f.samples:\n    \
        print(s.name + '{' + ','.join(k + '=' + v for k, v in sorted(s.labels.items())) + '} ' + repr(s.value))\n";
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 with prometheus_client (scripts/deps installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut samples: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    samples.sort();
    samples
}

fn has(samples: &[String], sample: &str) -> bool {
    samples.iter().any(|s| s == sample)
}

#[test]
fn metrics_textfile_and_events_follow_a_failover_a_reload_and_a_restart() {
    if !root("metrics_textfile_and_events_follow_a_failover_a_reload_and_a_restart") {
        return;
    }
    let mut s = start("obs");
    s.wait_until("every target answers", RECOVERY, |s| {
        s.status().is_some_and(|st| {
            st.uplinks
                .iter()
                .all(|l| l.targets.iter().all(|t| t.answering))
        })
    });
    let samples = parse_metrics(&get(&s, "/metrics"));
    for sample in [
        "uplink_line_up{device=wan1,family=ipv4,line=main} 1.0",
        "uplink_line_active{family=ipv4,line=main} 1.0",
        "uplink_line_active{family=ipv4,line=backup} 0.0",
        "uplink_probe_answering{kind=icmp,line=backup,target=203.0.113.100} 1.0",
    ] {
        assert!(has(&samples, sample), "{sample}\n{samples:#?}");
    }
    assert!(
        samples.iter().any(|s| s
            .starts_with("uplink_probe_rtt_seconds_count{line=main,target=203.0.113.100} ")
            && !s.ends_with(" 0.0")),
        "{samples:#?}"
    );

    // `uplink events --follow --json` from now on, each line stamped when it arrives.
    let router = s.lab.ns(Role::Router).name().to_string();
    let socket = s.daemon.socket();
    let mut follower = Command::new("ip")
        .args([
            "netns",
            "exec",
            &router,
            env!("CARGO_BIN_EXE_uplink"),
            "events",
            "-n",
            "0",
            "--follow",
            "--json",
            "--socket",
        ])
        .arg(&socket)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(
        std::time::SystemTime,
        serde_json::Value,
    )>::new()));
    let reader = {
        let lines = lines.clone();
        let stdout = follower.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line).unwrap();
                lines
                    .lock()
                    .unwrap()
                    .push((std::time::SystemTime::now(), value));
            }
        })
    };
    // The textfile, read over and over while it is rewritten: always whole.
    let prom = s.daemon.config().with_file_name("uplink.prom");
    let reads = std::thread::spawn(move || {
        let until = Instant::now() + Duration::from_secs(12);
        let mut whole = 0;
        while Instant::now() < until {
            if let Ok(text) = std::fs::read_to_string(&prom) {
                assert!(
                    text.ends_with('\n')
                        && text.contains("uplink_driver_errors_total{kind=\"netlink\"}"),
                    "half a textfile:\n{text}"
                );
                whole += 1;
            }
        }
        whole
    });

    std::thread::sleep(Duration::from_millis(300));
    s.lab.inject(Fault::Blackhole(Line::One)).unwrap();
    s.wait_active("backup", RECOVERY);
    s.wait_until("follower saw the switch", RECOVERY, |_| {
        lines
            .lock()
            .unwrap()
            .iter()
            .any(|(_, e)| e["kind"] == "active" && e["line"] == "backup")
    });
    let seen: Vec<(String, String)> = lines
        .lock()
        .unwrap()
        .iter()
        .map(|(_, e)| {
            (
                e["kind"].as_str().unwrap().to_string(),
                e["line"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    let down = seen
        .iter()
        .position(|k| k == &("down".to_string(), "main".to_string()));
    let active = seen
        .iter()
        .position(|k| k == &("active".to_string(), "backup".to_string()));
    assert!(down.is_some() && down < active, "{seen:?}");
    // Delivered as the daemon logged them: the log line and the followed line are close.
    let log = s.daemon.log();
    assert!(log.contains("uplink \"main\" down"), "{log}");
    let (arrived, first) = lines.lock().unwrap()[down.unwrap()].clone();
    assert!(
        // By its probes' silence, or by a burst sent because the LAN's traffic went unanswered.
        first["message"].as_str().unwrap().contains("no reply"),
        "{first}"
    );
    assert_eq!(first["evidence"]["targets"], 2, "{first}");
    assert!(
        first["evidence"]["loss_pct"].as_f64().unwrap() > 0.0,
        "{first}"
    );
    let logged = log
        .lines()
        .find(|l| l.contains("uplink \"main\" down"))
        .and_then(|l| l.split_whitespace().next())
        .map(|stamp| humantime::parse_rfc3339(stamp).unwrap())
        .unwrap();
    let delay = arrived.duration_since(logged).unwrap_or_default();
    eprintln!(
        "followed event arrived {} ms after its log line",
        delay.as_millis()
    );
    assert!(delay < Duration::from_secs(1), "{delay:?}");

    let samples = parse_metrics(&get(&s, "/metrics"));
    for sample in [
        "uplink_line_up{device=wan1,family=ipv4,line=main} 0.0",
        "uplink_line_active{family=ipv4,line=backup} 1.0",
        "uplink_line_transitions_total{line=main,state=down} 1.0",
        "uplink_switches_total{family=ipv4} 2.0",
    ] {
        assert!(has(&samples, sample), "{sample}\n{samples:#?}");
    }
    let whole = reads.join().unwrap();
    assert!(whole > 10, "the textfile was read whole {whole} times");
    let textfile = parse_metrics(
        &std::fs::read_to_string(s.daemon.config().with_file_name("uplink.prom")).unwrap(),
    );
    assert!(
        has(&textfile, "uplink_line_active{family=ipv4,line=backup} 1.0"),
        "{textfile:#?}"
    );

    // A reload keeps the history; a restart reads it back from the events file.
    let before: Vec<u64> = events(&s)
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    s.reload(&observed_config(&s));
    let after: Vec<u64> = events(&s)
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(
        &after[..before.len()],
        &before[..],
        "history kept across the reload"
    );
    let socket_arg = s.daemon.socket().to_str().unwrap().to_string();
    let since = |when: &str| {
        let out = s.run_uplink(&["events", "--json", "--since", when, "--socket", &socket_arg]);
        assert!(out.status.success(), "{out:?}");
        let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        value["events"].as_array().unwrap().len()
    };
    assert_eq!(since("1h"), after.len());
    assert_eq!(since("2099-01-01"), 0);
    let _ = follower.kill();
    let _ = follower.wait();
    let _ = reader.join();
    assert!(s.stop_daemon().success());
    s.start_daemon();
    s.wait_until("history read back", RECOVERY, |s| {
        let kinds: Vec<String> = try_events(s)
            .unwrap_or_default()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_string())
            .collect();
        kinds.iter().filter(|k| *k == "start").count() == 2 && kinds.contains(&"down".to_string())
    });
}

/// The daemon's events, through the CLI.
fn events(s: &Scenario) -> Vec<serde_json::Value> {
    try_events(s).expect("uplink events")
}

/// The daemon's events, or `None` while no daemon answers.
fn try_events(s: &Scenario) -> Option<Vec<serde_json::Value>> {
    let socket = s.daemon.socket();
    let out = s.run_uplink(&["events", "--json", "--socket", socket.to_str().unwrap()]);
    if !out.status.success() {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    value["events"].as_array().cloned()
}

/// Loads the page in headless Chromium on the LAN host; returns the DOM after its
/// scripts ran, and writes a screenshot to `shot`.
fn browse(s: &Scenario, shot: &std::path::Path) -> (String, String) {
    let url = format!("http://{LAN_GATEWAY}:{PORT}/");
    let lan = s.lab.ns(Role::Lan).name().to_string();
    let profile = std::env::temp_dir().join(uplink::netns::unique_prefix("chromium"));
    let run = |extra: &[String]| {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &lan,
                "chromium",
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
            ])
            .args([
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--disable-background-networking",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args([
                "--virtual-time-budget=6000",
                "--window-size=1280,1500",
                "--enable-logging=stderr",
                "--v=0",
            ])
            .args(extra)
            .arg(&url)
            .output()
            .expect("chromium (scripts/deps installs it)");
        assert!(out.status.success(), "{out:?}");
        out
    };
    let dom = run(&["--dump-dom".to_string()]);
    run(&[format!("--screenshot={}", shot.display())]);
    let _ = std::fs::remove_dir_all(&profile);
    (
        String::from_utf8_lossy(&dom.stdout).into_owned(),
        String::from_utf8_lossy(&dom.stderr).into_owned(),
    )
}

#[test]
fn status_page_shows_both_lines_and_the_failover_in_a_browser() {
    if !root("status_page_shows_both_lines_and_the_failover_in_a_browser") {
        return;
    }
    let s = start("page");
    s.lab.inject(Fault::Blackhole(Line::One)).unwrap();
    s.wait_active("backup", RECOVERY);
    let artefacts = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("artefacts");
    std::fs::create_dir_all(&artefacts).unwrap();
    let shot = artefacts.join("status-page.png");
    let _ = std::fs::remove_file(&shot);
    let (dom, console) = browse(&s, &shot);
    assert!(
        dom.contains("data-line=\"main\"") && dom.contains("data-line=\"backup\""),
        "{dom}"
    );
    assert!(dom.contains("traffic via backup"), "{dom}");
    assert!(
        dom.contains("data-kind=\"down\"") && dom.contains("uplink \"main\" down"),
        "{dom}"
    );
    assert!(dom.contains("203.0.113.100"), "per-target rows\n{dom}");
    let errors: Vec<&str> = console
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught") || l.contains("Refused"))
        .collect();
    assert!(errors.is_empty(), "console: {errors:#?}");
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
    eprintln!("screenshot: {}", shot.display());
}
