//! Observability: Prometheus metrics, the read-only HTTP listener and its live status page,
//! the node_exporter textfile, and the per-target round-trip series the page draws.

pub mod http;
pub mod metrics;
pub mod per_target;
pub mod series;
