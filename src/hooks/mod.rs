//! Temporary stub of the hook runner API (replaced by the real module).
use std::path::PathBuf;
use std::time::Duration;
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    Up,
    Down,
    Active,
    Inactive,
    PolicyChange,
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookEvent {
    pub kind: HookKind,
    pub line: String,
    pub device: String,
    pub gateway: Option<String>,
    pub reason: String,
    pub previous_active: Vec<String>,
    pub active: Vec<String>,
    pub policy: Option<String>,
}
#[derive(Debug, Clone)]
pub struct HookConfig {
    pub dir: PathBuf,
    pub timeout: Duration,
    pub hotplug_call: Option<PathBuf>,
}
impl HookConfig {
    pub fn new(dir: PathBuf, timeout: Duration) -> Self {
        HookConfig {
            dir,
            timeout,
            hotplug_call: None,
        }
    }
}
pub struct HookRunner;
impl HookRunner {
    pub fn new(_c: HookConfig) -> Self {
        HookRunner
    }
    pub fn emit(&self, _e: HookEvent) {}
}
