//! The reconcile error: control flow carried by its variant. One place turns it into a status
//! (`code`, `is_terminal`) and a retry decision.

use crate::aws::AwsError;
use crate::store::StoreError;

pub type Result<T, E = ReconcileError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// An AWS call failed; terminal or not by its code.
    #[error("{0}")]
    Aws(AwsError),
    /// A resource with our deterministic name exists but is not ours (no ownership tag).
    #[error("{resource} exists but is not managed by OpenClaw (no {tag} tag); it was left untouched — rename or remove it, or tag it if it is ours")]
    Conflict { resource: String, tag: &'static str },
    /// The cell's database fails a compliance check; new tenants wait until it is fixed.
    #[error("cell {cell} is not compliant ({reasons}); new tenants are not onboarded until it is fixed, or until cell.database.allow_noncompliant_onboarding is set")]
    CellNoncompliant { cell: String, reasons: String },
    /// The spec or configuration cannot be rendered.
    #[error("invalid: {0}")]
    Invalid(String),
    /// The desired-state store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// A statement against the tenant's PostgreSQL objects failed.
    #[error("postgres: {0}")]
    Postgres(#[from] sqlx::Error),
}

impl From<AwsError> for ReconcileError {
    fn from(e: AwsError) -> Self {
        ReconcileError::Aws(e)
    }
}

impl ReconcileError {
    /// Terminal errors are not retried hot: the tenant goes `Failed` and waits for the resync.
    pub fn is_terminal(&self) -> bool {
        match self {
            ReconcileError::Aws(e) => e.is_terminal(),
            ReconcileError::Conflict { .. }
            | ReconcileError::Invalid(_)
            | ReconcileError::CellNoncompliant { .. } => true,
            ReconcileError::Store(_) | ReconcileError::Postgres(_) => false,
        }
    }

    /// A short machine-readable reason: the AWS error code where there is one.
    pub fn code(&self) -> String {
        match self {
            ReconcileError::Aws(e) => e.code.clone(),
            ReconcileError::Conflict { .. } => "ResourceConflict".into(),
            ReconcileError::Invalid(_) => "InvalidSpec".into(),
            ReconcileError::CellNoncompliant { .. } => "CellNoncompliant".into(),
            ReconcileError::Store(_) => "StoreError".into(),
            ReconcileError::Postgres(_) => "PostgresError".into(),
        }
    }
}
