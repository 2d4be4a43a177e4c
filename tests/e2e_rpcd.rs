//! The ubus object `uplink` as rpcd's exec-plugin protocol serves it (`uplink rpcd list`,
//! `uplink rpcd call METHOD` with arguments on stdin), against a live daemon in the lab:
//! the JSON shapes docs/ubus.md documents, drain and undrain, events, check, and errors as
//! answers.

#![cfg(feature = "lab")]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{root, Scenario, RECOVERY};
use serde_json::{json, Value};
use uplink::lab::Role;

const POLICY: &str =
    "\n[[policy]]\nname = \"speaker\"\nfrom = [\"198.18.1.3\"]\nuplinks = [\"backup\", \"main\"]\n";

/// `uplink rpcd -c CONFIG ARGS` in the router namespace with `input` on stdin; its stdout
/// must be exactly one JSON object.
fn rpcd(s: &Scenario, args: &[&str], input: &str) -> Value {
    let config = s.daemon.config();
    let mut child = Command::new("ip")
        .args(["netns", "exec", s.lab.ns(Role::Router).name()])
        .arg(env!("CARGO_BIN_EXE_uplink"))
        .args(["rpcd", "-c"])
        .arg(&config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // rpcd writes the arguments and closes stdin.
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let value: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert!(value.is_object(), "{text}");
    value
}

fn call(s: &Scenario, method: &str, input: Value) -> Value {
    rpcd(s, &["call", method], &input.to_string())
}

#[test]
fn rpcd_plugin_serves_status_drain_events_and_check_of_a_live_daemon() {
    if !root("rpcd_plugin_serves_status_drain_events_and_check_of_a_live_daemon") {
        return;
    }
    let mut s = Scenario::new("rpcd", false);
    let _echo = s.start(POLICY);

    let list = rpcd(&s, &["list"], "");
    assert_eq!(list["drain"], json!({"line": "name", "now": true}));
    assert!(list["events"]["limit"].is_u64(), "{list}");
    assert_eq!(list.as_object().unwrap().len(), 5, "{list}");

    // rpcd sends `{}` for a call without arguments.
    s.wait_until("both targets of main answer", RECOVERY, |s| {
        let status = call(s, "status", json!({}));
        status["uplinks"][0]["targets"]
            .as_array()
            .is_some_and(|t| t.len() == 2 && t.iter().all(|t| t["answering"] == true))
    });
    let status = call(&s, "status", json!({}));
    let main = &status["uplinks"][0];
    assert_eq!(
        (main["name"].as_str(), main["state"].as_str()),
        (Some("main"), Some("up"))
    );
    assert_eq!(main["active"], true);
    assert_eq!(main["reason"], "2/2 targets answering", "{main}");
    assert!(main["targets"][0]["rtt_ms"].is_number(), "{main}");
    assert!(main["targets"][0]["jitter_ms"].is_number(), "{main}");
    assert_eq!(main["targets"][0]["loss_pct"], 0.0, "{main}");
    assert!(
        main["state_secs"].is_u64() && main["transitions"].is_u64(),
        "{main}"
    );
    assert_eq!(
        status["policies"],
        json!([{"name": "speaker", "line": "backup"}])
    );
    assert_eq!(status["drained"], json!([]));
    // The connection counts come with a status once the daemon has counted (on demand).
    s.wait_until("connections counted", RECOVERY, |s| {
        call(s, "status", json!({}))["uplinks"][0]["connections"].is_u64()
    });

    assert_eq!(
        call(&s, "drain", json!({"line": "main"})),
        json!({"ok": true})
    );
    s.wait_active("backup", RECOVERY);
    assert_eq!(call(&s, "status", json!({}))["drained"], json!(["main"]));
    let unknown = call(&s, "drain", json!({"line": "nosuch"}));
    assert!(
        unknown["error"].as_str().unwrap().contains("nosuch"),
        "{unknown}"
    );
    let missing = call(&s, "undrain", json!({}));
    assert!(
        missing["error"].as_str().unwrap().contains("line"),
        "{missing}"
    );

    let events = call(&s, "events", json!({"limit": 50}))["events"].clone();
    let kinds: Vec<(&str, &str)> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap(),
                e["line"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    let drained = kinds.iter().position(|k| *k == ("drained", "main"));
    let switched = kinds.iter().rposition(|k| *k == ("active", "backup"));
    assert!(drained.is_some() && drained < switched, "{kinds:?}");
    assert!(kinds.contains(&("up", "main")), "{kinds:?}");
    let last_two = call(&s, "events", json!({"limit": 2}))["events"].clone();
    assert_eq!(last_two.as_array().unwrap().len(), 2);
    assert!(call(&s, "events", json!({"limit": 0}))["error"].is_string());

    assert_eq!(
        call(&s, "undrain", json!({"line": "main"})),
        json!({"ok": true})
    );
    s.wait_active("main", RECOVERY);

    let check = call(&s, "check", json!({}));
    assert_eq!(check["valid"], true, "{check}");
    assert_eq!(check["errors"], json!([]));
    let uci = "config uplink 'main'\n\toption device 'wan1'\n\toption gateway 'x.y'\n";
    s.daemon.write_config(uci).unwrap();
    let check = call(&s, "check", json!({}));
    assert_eq!(check["valid"], false, "{check}");
    let error = &check["errors"][0];
    assert_eq!(
        (error["section"].as_str(), error["option"].as_str()),
        (Some("main"), Some("gateway"))
    );
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("not an IP address"),
        "{check}"
    );

    assert!(s.stop_daemon().success());
    std::thread::sleep(Duration::from_millis(100));
    let socket = s.daemon.socket();
    let stopped = rpcd(
        &s,
        &["--socket", socket.to_str().unwrap(), "call", "status"],
        "{}",
    );
    assert!(
        stopped["error"].as_str().unwrap().contains("no daemon"),
        "{stopped}"
    );
}
