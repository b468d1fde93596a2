//! The OpenClaw operator and CLI.

pub mod cli;
pub mod config;
pub mod store;
