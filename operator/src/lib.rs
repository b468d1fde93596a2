//! The OpenClaw operator and CLI.
//!
//! Reconcile path: `render` (pure) → `observe` → `diff` (pure) → `execute` → status in
//! `reconcile`; `controller` runs it for every tenant under a lease with a work queue.

pub mod aws;
pub mod config;
pub mod controller;
pub mod cost;
pub mod diff;
pub mod error;
pub mod execute;
pub mod inventory;
pub mod isolation;
pub mod kind;
pub mod metrics;
pub mod observe;
pub mod pg_tenant;
pub mod policy;
pub mod prices;
pub mod queue;
pub mod rds;
pub mod reconcile;
pub mod redact;
pub mod render;
pub mod resync;
pub mod retry;
pub mod runtime;
pub mod server;
pub mod store;
pub mod throttle;
