//! The config as LuCI's unsaved edits would make it. LuCI stages edits as UCI changes in
//! rpcd's session (`/var/run/rpcd/uci-SESSION/uplink`, rpcd's `RPC_UCI_SAVEDIR_PREFIX`), and
//! uhttpd adds the caller's session to every ubus call as `ubus_rpc_session`. OpenWrt's own
//! `uci` applies those changes (`uci -c DIR -P SAVEDIR export uplink`), so the delta format
//! and libuci's naming of anonymous sections are never re-implemented here.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where rpcd keeps a session's staged UCI changes.
const SAVEDIR_PREFIX: &str = "/var/run/rpcd/uci-";
/// Time `uci export` may take; it reads two small files.
const UCI_TIME: Duration = Duration::from_secs(5);
/// Largest export read.
const EXPORT_LIMIT: u64 = 1 << 20;

/// rpcd's session ids are 32 lowercase hex digits; anything else never reaches a path.
pub fn session_id(args: &serde_json::Value) -> Option<&str> {
    let sid = args.get("ubus_rpc_session")?.as_str()?;
    let hex = sid.len() == 32 && sid.bytes().all(|b| b.is_ascii_hexdigit());
    hex.then_some(sid)
}

/// The directory of session `sid`'s staged changes, if it holds changes for `config`'s
/// package (a UCI file named `uplink`).
pub fn changes_for(sid: &str, config: &Path) -> Option<PathBuf> {
    let savedir = PathBuf::from(format!("{SAVEDIR_PREFIX}{sid}"));
    let package = config.file_name()?;
    savedir.join(package).is_file().then_some(savedir)
}

/// `config` with the changes in `savedir` applied, as UCI text, through `uci` (found in
/// PATH), within [`UCI_TIME`].
pub fn export(config: &Path, savedir: &Path) -> Result<String, String> {
    let (Some(dir), Some(package)) = (config.parent(), config.file_name()) else {
        return Err(format!("{}: not a UCI config path", config.display()));
    };
    let mut child = Command::new("uci")
        .arg("-c")
        .arg(dir)
        .arg("-P")
        .arg(savedir)
        .arg("export")
        .arg(package)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run uci: {e}"))?;
    let mut text = String::new();
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let read = (&mut stdout).take(EXPORT_LIMIT).read_to_string(&mut text);
        read.map(|_| text)
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if started.elapsed() > UCI_TIME {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "uci export took more than {} s",
                UCI_TIME.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let text = reader
        .join()
        .map_err(|_| "uci export: reader failed".to_string())?
        .map_err(|e| format!("uci export: {e}"))?;
    if !status.success() {
        return Err(format!("uci export failed ({status})"));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_a_real_session_id_becomes_a_path() {
        let sid = "0123456789abcdef0123456789abcdef";
        assert_eq!(session_id(&json!({ "ubus_rpc_session": sid })), Some(sid));
        for bad in [
            "../../etc",
            "",
            "0123456789abcdef0123456789abcdeg",
            "x/../y",
        ] {
            assert_eq!(
                session_id(&json!({ "ubus_rpc_session": bad })),
                None,
                "{bad}"
            );
        }
        assert_eq!(session_id(&json!({ "ubus_rpc_session": 5 })), None);
        assert_eq!(session_id(&json!({})), None);
    }

    #[test]
    fn no_staged_changes_without_the_session_directory() {
        let sid = "ffffffffffffffffffffffffffffffff";
        assert_eq!(changes_for(sid, Path::new("/etc/config/uplink")), None);
    }
}
