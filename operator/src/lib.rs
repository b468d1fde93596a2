//! The OpenClaw operator and CLI.
//!
//! Reconcile path: `render` (pure) → each kind in `resources` observes and diffs (pure) → the
//! `engine` orders and applies → status in `reconcile`; `controller` runs it for every tenant
//! under a lease with a work queue. ARCHITECTURE.md draws the layers.

pub mod aws;
pub mod config;
pub mod controller;
pub mod cost;
pub mod engine;
pub mod error;
pub mod isolation;
pub mod kind;
pub mod metrics;
pub mod policy;
pub mod prices;
pub mod priority;
pub mod queue;
pub mod rds;
pub mod reconcile;
pub mod redact;
pub mod render;
pub mod resources;
pub mod resync;
pub mod retry;
pub mod runtime;
pub mod server;
pub mod session_guard;
pub mod store;
pub mod telemetry;
pub mod throttle;
