//! reconcile (in progress)
