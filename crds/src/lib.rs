//! The OpenClaw API (`openclaw.io/v1alpha1`): the `Tenant` and `Agent` kinds, their validation,
//! the one naming module, manifests, JSON Schemas, and the desired-state store's migrations.

pub mod api;
pub mod audit;
pub mod fargate;
pub mod manifest;
pub mod naming;
pub mod policy_match;
pub mod schema;
pub mod validate;

/// The desired-state store's migrations (`crds/migrations`), embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
