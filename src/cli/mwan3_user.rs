//! `import-mwan3`'s handling of `/etc/mwan3.user`: write the adapter hook, or say what to do.

use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use anyhow::{bail, Context};
use uplink::config::mwan3::user::{adapter_hook, has_commands, ADAPTER_NAME};
use uplink::config::DEFAULT_HOOKS_DIR;
use uplink::files::ReadFailure;

/// Writes the adapter into `hooks_dir` when the user script has commands; notes on stderr
/// what was done or what is left to do. A missing script needs nothing.
pub fn migrate(user: &Path, hooks_dir: Option<&Path>) -> anyhow::Result<()> {
    let text = match uplink::files::read_limited(user, uplink::files::CONFIG_LIMIT) {
        Ok(text) => text,
        Err(e) if matches!(&e.failure, ReadFailure::Io(io) if io.kind() == ErrorKind::NotFound) => {
            return Ok(())
        }
        Err(e) => bail!("cannot read {e}"),
    };
    let shown = user.display();
    if !has_commands(&text) {
        eprintln!("note: {shown} has only comments: nothing to migrate");
        return Ok(());
    }
    let Some(dir) = hooks_dir else {
        eprintln!(
            "note: {shown} has commands of its own. Run import-mwan3 again with --hooks-dir \
             {DEFAULT_HOOKS_DIR} to write a hook that runs it on uplink's up/down as \
             ACTION=connected/disconnected (INTERFACE, DEVICE as mwan3 set them), or move its \
             commands into a hook of your own (README, Hooks)"
        );
        return Ok(());
    };
    let hook = adapter_hook(user)?;
    let path = dir.join(ADAPTER_NAME);
    write_new(dir, &path, &hook)?;
    eprintln!(
        "wrote {}: runs {shown} on uplink's up/down as ACTION=connected/disconnected; \
         netifd's ifup/ifdown no longer reach {shown} (mwan3's hotplug script passed them): \
         code that needs them belongs in /etc/hotplug.d/iface/",
        path.display()
    );
    if dir != Path::new(DEFAULT_HOOKS_DIR) {
        eprintln!(
            "note: set hooks_dir = \"{}\" in the config, or the daemon will not run it",
            dir.display()
        );
    }
    Ok(())
}

/// Creates `dir` (0755) if missing and `path` (0755, root's as hooks must be), refusing to
/// replace a different file someone may have edited.
fn write_new(dir: &Path, path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    if let Ok(existing) = std::fs::read_to_string(path) {
        if existing == text {
            return Ok(());
        }
        bail!("{} exists and differs: remove it first", path.display());
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o755)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}
