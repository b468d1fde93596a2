//! The errors of the operator, at the bottom of the layers: the AWS call error, the store error
//! and the reconcile error that carries control flow by its variant. One place turns a reconcile
//! error into a status (`code`, `is_terminal`) and a retry decision.
//!
//! Owns: error types and their classification. Must never: import a module above it, or put a
//! secret into a message (connection strings are redacted before they get here).

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
    /// A bug in the operator: a plan step whose inputs were never rendered, a request that cannot
    /// be built, an answer missing what the API promises. Retried, never blamed on the spec.
    #[error("internal error: {0}")]
    Internal(String),
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
    /// An SDK request the operator could not build: its own bug.
    pub fn unbuildable(what: &str, e: impl std::fmt::Display) -> ReconcileError {
        ReconcileError::Internal(format!("cannot build {what} request: {e}"))
    }

    /// Terminal errors are not retried hot: the tenant goes `Failed` and waits for the resync.
    pub fn is_terminal(&self) -> bool {
        match self {
            ReconcileError::Aws(e) => e.is_terminal(),
            ReconcileError::Conflict { .. }
            | ReconcileError::Invalid(_)
            | ReconcileError::CellNoncompliant { .. } => true,
            ReconcileError::Store(_)
            | ReconcileError::Postgres(_)
            | ReconcileError::Internal(_) => false,
        }
    }

    /// A short machine-readable reason: the AWS error code where there is one.
    pub fn code(&self) -> String {
        match self {
            ReconcileError::Aws(e) => e.code.clone(),
            ReconcileError::Conflict { .. } => "ResourceConflict".into(),
            ReconcileError::Invalid(_) => "InvalidSpec".into(),
            ReconcileError::Internal(_) => "InternalError".into(),
            ReconcileError::CellNoncompliant { .. } => "CellNoncompliant".into(),
            ReconcileError::Store(StoreError::Db(e)) | ReconcileError::Postgres(e)
                if is_timeout(e) =>
            {
                "DatabaseTimeout".into()
            }
            ReconcileError::Store(_) => "StoreError".into(),
            ReconcileError::Postgres(_) => "PostgresError".into(),
        }
    }
}

/// A statement ended by the session's `lock_timeout` (55P03) or `statement_timeout` (57014).
pub fn is_timeout(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if matches!(d.code().as_deref(), Some("55P03" | "57014")))
}

/// A failed AWS call, reduced to what the operator acts on: the code decides retry or terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    pub service: &'static str,
    pub operation: &'static str,
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} failed: {} ({})",
            self.service, self.operation, self.code, self.message
        )
    }
}

impl AwsError {
    /// Builds one from any SDK error, keeping the code and a message cut short.
    pub fn from_sdk<E, R>(
        service: &'static str,
        operation: &'static str,
        err: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
    ) -> AwsError
    where
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error,
        R: std::fmt::Debug,
    {
        use aws_smithy_runtime_api::client::result::SdkError;
        let (code, message) = match err {
            SdkError::ServiceError(se) => {
                let e = se.err();
                (
                    e.code().unwrap_or("Unknown").to_owned(),
                    e.message().unwrap_or("").to_owned(),
                )
            }
            SdkError::TimeoutError(_) => ("Timeout".into(), "request timed out".into()),
            SdkError::DispatchFailure(_) => ("Dispatch".into(), "could not reach AWS".into()),
            SdkError::ResponseError(_) => ("ResponseError".into(), "unreadable response".into()),
            _ => ("Unknown".into(), err.to_string()),
        };
        AwsError {
            service,
            operation,
            code,
            message: message.chars().take(300).collect(),
        }
    }

    /// Errors that retrying cannot fix: bad input, missing permission, malformed policy.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.code.as_str(),
            "AccessDenied"
                | "AccessDeniedException"
                | "UnauthorizedOperation"
                | "InvalidParameterException"
                | "InvalidParameterValue"
                | "InvalidInput"
                | "ValidationError"
                | "ValidationException"
                | "MalformedPolicyDocument"
                | "MalformedPolicyDocumentException"
                | "LimitExceeded"
                | "LimitExceededException"
                | "PolicyNotAttachable"
                | "ClientException"
        )
    }
}

/// True for the codes AWS uses when a caller is throttled.
pub fn is_throttle(code: &str) -> bool {
    matches!(
        code,
        "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "RequestLimitExceeded"
            | "TooManyRequestsException"
            | "RequestThrottled"
            | "http_429"
    )
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot connect to the store at {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("the connection string for the store is not valid ({url}): {message}")]
    BadUrl { url: String, message: String },
    #[error("store rule {constraint} violated: {message}")]
    Rule { constraint: String, message: String },
    #[error("store: {0}")]
    Db(#[from] sqlx::Error),
    #[error("store: migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("store: row for {what} holds an invalid value: {message}")]
    Corrupt { what: String, message: String },
    #[error("store layout: {0}")]
    Layout(String),
}

/// Turns a database error into a store error that names the violated rule where there is one.
pub fn classify(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if let Some(constraint) = db.constraint() {
            return StoreError::Rule {
                constraint: constraint.to_owned(),
                message: db.message().to_owned(),
            };
        }
    }
    StoreError::Db(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_point_has_its_code_and_retry_decision() {
        let aws = |code: &str| {
            ReconcileError::Aws(AwsError {
                service: "IAM",
                operation: "CreateRole",
                code: code.into(),
                message: String::new(),
            })
        };
        let cases = [
            (aws("AccessDenied"), "AccessDenied", true),
            (aws("ThrottlingException"), "ThrottlingException", false),
            (ReconcileError::Invalid("x".into()), "InvalidSpec", true),
            (ReconcileError::Internal("x".into()), "InternalError", false),
            (
                ReconcileError::Conflict {
                    resource: "iam_role r".into(),
                    tag: "t",
                },
                "ResourceConflict",
                true,
            ),
            (
                ReconcileError::CellNoncompliant {
                    cell: "c".into(),
                    reasons: "r".into(),
                },
                "CellNoncompliant",
                true,
            ),
            (
                ReconcileError::Store(StoreError::Corrupt {
                    what: "w".into(),
                    message: "m".into(),
                }),
                "StoreError",
                false,
            ),
        ];
        for (err, code, terminal) in cases {
            assert_eq!(err.code(), code, "{err}");
            assert_eq!(err.is_terminal(), terminal, "{err}");
        }
    }
}
