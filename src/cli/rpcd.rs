//! `uplink rpcd`: the rpcd exec-plugin protocol, so that rpcd publishes the ubus object
//! `uplink` (docs/ubus.md). An exec plugin rather than a ucode one: the binary already
//! speaks to the daemon and validates configs, so the plugin is two lines of shell and the
//! whole protocol runs, and is tested, on any Linux, without OpenWrt's userland.
//!
//! rpcd (plugin.c) runs `PLUGIN list` once at start, reads one JSON object mapping each
//! method to its arguments, each given by an example value whose JSON type sets the ubus
//! type; then `PLUGIN call METHOD` per call, with the arguments as one JSON object on
//! stdin (closed after it) and the first JSON object on stdout as the answer. Anything
//! else on stdout fails the call, so every answer here is an object, errors included.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use uplink::config::{self, ConfigError};
use uplink::daemon::control::{self, Request};

use super::{staged, RpcdAction};

/// The config the OpenWrt init script runs: a TOML config (as `import-mwan3` writes)
/// takes precedence over /etc/config/uplink.
const TOML_CONFIG: &str = "/etc/uplink/uplink.toml";
const UCI_CONFIG: &str = "/etc/config/uplink";
/// Largest argument object read from stdin; real ones are a few dozen bytes.
const INPUT_LIMIT: u64 = 64 * 1024;
/// Most events one call returns (the daemon keeps at most its history's size anyway).
const MAX_EVENTS: u64 = 10_000;

/// The answer to `action`, always a JSON object.
pub fn answer(action: RpcdAction, config: Option<PathBuf>, socket: Option<PathBuf>) -> Value {
    match action {
        RpcdAction::List => methods(),
        RpcdAction::Call { method } => {
            let config = config.unwrap_or_else(default_config);
            let args = match read_arguments() {
                Ok(args) => args,
                Err(e) => return error(e),
            };
            call(&method, &args, &config, socket)
        }
    }
}

/// The methods and their argument types (a string for `line`, a 32-bit integer for
/// `limit`).
pub fn methods() -> Value {
    json!({
        "status": {},
        "drain": { "line": "name", "now": true },
        "undrain": { "line": "name" },
        "events": { "limit": 32 },
        "check": {},
    })
}

/// Runs `method` with `args`.
pub fn call(method: &str, args: &Value, config: &Path, socket: Option<PathBuf>) -> Value {
    let request = match method {
        "check" => return check(config, staged::session_id(args)),
        "status" => Ok(Request::Status),
        "drain" => line_argument(args).and_then(|line| {
            let now = now_argument(args)?;
            Ok(Request::Drain { line, now })
        }),
        "undrain" => line_argument(args).map(|line| Request::Undrain { line }),
        "events" => limit_argument(args).map(|limit| Request::Events { limit, since: None }),
        other => Err(format!("unknown method \"{}\"", other.escape_debug())),
    };
    let request = match request {
        Ok(request) => request,
        Err(e) => return error(e),
    };
    let socket = socket.unwrap_or_else(|| socket_of(config));
    match ask(&socket, &request) {
        Ok(answer) if answer.is_object() => answer,
        Ok(_) => error("the daemon's answer is not an object"),
        Err(e) => error(e),
    }
}

/// One exchange with the daemon, on a runtime of its own (`check` needs none, and reads
/// the devices on one of its own).
fn ask(socket: &Path, request: &Request) -> Result<Value, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start: {e}"))?;
    runtime
        .block_on(control::request(socket, request))
        .map_err(|e| e.to_string())
}

fn error(message: impl std::fmt::Display) -> Value {
    json!({ "error": message.to_string() })
}

/// The arguments rpcd writes to stdin: one JSON object. Nothing (or a terminal, when run
/// by hand) means no arguments.
fn read_arguments() -> Result<Value, String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(json!({}));
    }
    let mut text = String::new();
    stdin
        .lock()
        .take(INPUT_LIMIT + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("arguments: cannot read stdin: {e}"))?;
    parse_arguments(&text)
}

/// `text` as an argument object; empty text is no arguments.
pub fn parse_arguments(text: &str) -> Result<Value, String> {
    if text.len() as u64 > INPUT_LIMIT {
        return Err(format!("arguments: more than {INPUT_LIMIT} bytes"));
    }
    if text.trim().is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(value) if value.is_object() => Ok(value),
        Ok(_) => Err("arguments: not a JSON object".into()),
        Err(e) => Err(format!("arguments: not JSON: {e}")),
    }
}

fn line_argument(args: &Value) -> Result<String, String> {
    match args.get("line") {
        Some(Value::String(line)) if !line.is_empty() => Ok(line.clone()),
        Some(_) => Err("argument \"line\": not a line name".into()),
        None => Err("argument \"line\" is missing".into()),
    }
}

/// `now` of `drain`: a boolean (ubus also passes 0 and 1), false when absent.
fn now_argument(args: &Value) -> Result<bool, String> {
    match args.get("now") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::Number(n)) if n.as_u64() == Some(0) => Ok(false),
        Some(Value::Number(n)) if n.as_u64() == Some(1) => Ok(true),
        Some(other) => Err(format!("argument \"now\" {other}: not a boolean")),
    }
}

fn limit_argument(args: &Value) -> Result<Option<usize>, String> {
    let Some(limit) = args.get("limit") else {
        return Ok(None);
    };
    match limit.as_u64() {
        Some(n) if (1..=MAX_EVENTS).contains(&n) => Ok(Some(n as usize)),
        _ => Err(format!(
            "argument \"limit\" {limit}: not a number in 1..={MAX_EVENTS}"
        )),
    }
}

/// /etc/uplink/uplink.toml when it exists, else /etc/config/uplink.
fn default_config() -> PathBuf {
    let toml = Path::new(TOML_CONFIG);
    if toml.exists() {
        toml.to_path_buf()
    } else {
        UCI_CONFIG.into()
    }
}

/// The control socket `config` names, or the default when it cannot be read.
fn socket_of(config: &Path) -> PathBuf {
    config::load(config)
        .map(|c| c.socket)
        .unwrap_or_else(|_| config::DEFAULT_SOCKET.into())
}

/// Validates `config` as `uplink check` does: as LuCI's session `sid` would make it with
/// its staged (unsaved) changes, when it has any, else as it is on disk now. The answer
/// names the file and whether staged changes were included.
pub fn check(config: &Path, sid: Option<&str>) -> Value {
    let mut notes = Vec::new();
    let staged = sid.and_then(|sid| staged::changes_for(sid, config));
    let loaded = match staged.as_deref().map(|dir| staged::export(config, dir)) {
        Some(Ok(text)) => config::parse_as(&text, config::Format::Uci),
        Some(Err(e)) => {
            notes.push(format!("unsaved changes not checked: {e}"));
            config::load(config)
        }
        None => config::load(config),
    };
    let with_staged = staged.is_some() && notes.is_empty();
    let mut answer = match loaded {
        Ok(valid) => {
            if let Some(off) = valid.off() {
                notes.push(format!("{off}: the daemon will not run"));
            }
            match crate::current_links() {
                Ok(links) => notes.extend(super::check::system_warnings(&valid, &links)),
                Err(e) => notes.push(format!("devices not checked: {e}")),
            }
            json!({ "valid": true, "errors": [] })
        }
        Err(e) => json!({ "valid": false, "errors": [located(&e)] }),
    };
    answer["warnings"] = json!(notes);
    answer["config"] = json!(config.display().to_string());
    answer["staged"] = json!(with_staged);
    answer
}

fn located(e: &ConfigError) -> Value {
    let at = e.location();
    json!({ "section": at.section, "option": at.option, "message": format!("{e}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_one_object_within_the_limit() {
        assert_eq!(parse_arguments("").unwrap(), json!({}));
        assert_eq!(parse_arguments(" {\"line\":\"a\"} ").unwrap()["line"], "a");
        assert!(parse_arguments("[1]")
            .unwrap_err()
            .contains("not a JSON object"));
        assert!(parse_arguments("{").unwrap_err().contains("not JSON"));
        let huge = format!("{{\"line\":\"{}\"}}", "x".repeat(70_000));
        assert!(parse_arguments(&huge).unwrap_err().contains("more than"));
    }

    #[test]
    fn arguments_are_checked_before_the_daemon_is_asked() {
        assert_eq!(line_argument(&json!({"line": "main"})).unwrap(), "main");
        assert!(line_argument(&json!({})).unwrap_err().contains("missing"));
        assert!(line_argument(&json!({"line": 3})).is_err());
        assert_eq!(limit_argument(&json!({})).unwrap(), None);
        assert_eq!(limit_argument(&json!({"limit": 5})).unwrap(), Some(5));
        for bad in [json!(0), json!(-1), json!("5"), json!(1_000_000)] {
            assert!(limit_argument(&json!({ "limit": bad })).is_err(), "{bad}");
        }
    }

    #[test]
    fn list_names_every_method_with_typed_arguments() {
        let list = methods();
        let names: Vec<&String> = list.as_object().unwrap().keys().collect();
        assert_eq!(names.len(), 5);
        assert!(list["drain"]["line"].is_string());
        assert!(list["events"]["limit"].is_u64());
    }
}
