//! `/etc/mwan3.user`: the script mwan3 runs on each event of its interfaces, with only
//! `ACTION`, `INTERFACE` and `DEVICE` set (`env -i`, from mwan3's hotplug script
//! `/etc/hotplug.d/iface/16-mwan3-user`). mwan3track's `connected`/`disconnected` are
//! uplink's `up`/`down`, so a hook can keep running it: [`adapter_hook`] writes that hook.
//! netifd's `ifup`/`ifdown` reached it only through mwan3's hotplug script, which goes away
//! with mwan3; they still reach scripts in `/etc/hotplug.d/iface` directly.

use std::path::Path;

/// Where mwan3 keeps the script.
pub const MWAN3_USER: &str = "/etc/mwan3.user";

/// The file name of the adapter hook in the hooks directory.
pub const ADAPTER_NAME: &str = "50-mwan3-user";

/// True when the script does something: a line that is neither blank nor a comment (the
/// packaged file is comments only).
pub fn has_commands(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim();
        !l.is_empty() && !l.starts_with('#')
    })
}

/// Why no adapter can be written for a path.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// The script's path must be absolute (hooks run from any directory) and plain text.
    #[error("mwan3 user script {0:?}: must be an absolute path of printable characters")]
    Path(String),
}

/// A hook that runs the mwan3 user script at `user` on uplink's `up` (ACTION=connected)
/// and `down` (ACTION=disconnected), with `INTERFACE` the netifd interface the line follows,
/// else the line's name (import-mwan3 names lines after mwan3's interfaces), and `DEVICE`
/// the line's device; as mwan3, with nothing else in its environment.
pub fn adapter_hook(user: &Path) -> Result<String, AdapterError> {
    let text = user.to_str().unwrap_or_default();
    if !user.is_absolute() || text.chars().any(|c| c.is_control()) {
        return Err(AdapterError::Path(user.to_string_lossy().into_owned()));
    }
    // Single-quoted for sh: a ' inside becomes '\''.
    let quoted = format!("'{}'", text.replace('\'', r"'\''"));
    Ok(format!(
        r#"#!/bin/sh
# Written by `uplink import-mwan3`: runs {text} on uplink's events as mwan3 ran it.
# mwan3track's connected/disconnected are uplink's up/down. netifd's ifup/ifdown do not
# come through here: put code that needs them in a script in /etc/hotplug.d/iface/.
case "$UPLINK_EVENT" in
up) action=connected ;;
down) action=disconnected ;;
*) exit 0 ;;
esac
user={quoted}
[ -f "$user" ] || exit 0
exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin ACTION="$action" \
	INTERFACE="${{UPLINK_INTERFACE:-$UPLINK_LINE}}" DEVICE="$UPLINK_DEVICE" /bin/sh "$user"
"#
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_comments_and_blanks_are_no_commands() {
        assert!(!has_commands(
            "#!/bin/sh\n#\n# Put your custom mwan3 action here\n\n  \n"
        ));
        assert!(has_commands("#!/bin/sh\n  logger -t mwan3 \"$ACTION\"\n"));
    }

    #[test]
    fn the_path_is_quoted_for_sh_and_must_be_absolute() {
        let hook = adapter_hook(Path::new("/etc/it's.user")).unwrap();
        assert!(hook.contains(r"user='/etc/it'\''s.user'"), "{hook}");
        assert!(adapter_hook(Path::new("mwan3.user")).is_err());
        assert!(adapter_hook(Path::new("/etc/a\nb")).is_err());
    }
}
