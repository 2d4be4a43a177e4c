//! system (in progress)
