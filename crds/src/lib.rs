//! The OpenClaw API (`openclaw.io/v1alpha1`): the `Tenant` and `Agent` kinds, their validation,
//! the one naming module, manifests, JSON Schemas, and the migrations of the control store and of the
//! tenant database.

pub mod api;
pub mod audit;
pub mod diff;
pub mod fargate;
pub mod manifest;
pub mod naming;
pub mod policy_match;
pub mod schedule;
pub mod schema;
pub mod validate;

/// The control store's migrations (`crds/migrations/control`: schema `openclaw`), embedded in the
/// binary.
pub static CONTROL_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/control");
/// The tenant database's migrations (`crds/migrations/tenant`: the tenant group, schema `shared`).
/// Versions never repeat across the two sets: before the split one database ran both.
pub static TENANT_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/tenant");
