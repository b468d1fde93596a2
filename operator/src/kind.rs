//! The one list of resource kinds the operator manages. Their strings are what the inventory
//! (`openclaw.managed_resources.kind`, whose CHECK constraint accepts exactly [`Kind::ALL`]),
//! the audit log, metric labels and `openclaw plan` call them.
//!
//! Owns: the kinds and their names at the edges. Must never: import another module.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A Secrets Manager secret (the database login, or an OAuth grant).
    Secret,
    /// The tenant's PostgreSQL login role.
    PgRole,
    /// The tenant's PostgreSQL schema and its tables.
    PgSchema,
    /// An agent's IAM role (trust policy, boundary, tags).
    IamRole,
    /// The inline policy on an agent's IAM role.
    IamInlinePolicy,
    /// An agent's ECS task definition family.
    TaskDefinition,
    /// An agent's ECS service.
    EcsService,
    /// The row-level security guard on the shared tables (cell-wide).
    PgRls,
    /// The tenant's objects in the tenant bucket (`tenants/T/`), erased on teardown.
    TenantObjects,
    /// An agent's CloudWatch log group, deleted on teardown.
    LogGroup,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::Secret,
        Kind::PgRole,
        Kind::PgSchema,
        Kind::IamRole,
        Kind::IamInlinePolicy,
        Kind::TaskDefinition,
        Kind::EcsService,
        Kind::PgRls,
        Kind::TenantObjects,
        Kind::LogGroup,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Secret => "secret",
            Kind::PgRole => "pg_role",
            Kind::PgSchema => "pg_schema",
            Kind::IamRole => "iam_role",
            Kind::IamInlinePolicy => "iam_inline_policy",
            Kind::TaskDefinition => "task_definition",
            Kind::EcsService => "ecs_service",
            Kind::PgRls => "pg_rls",
            Kind::TenantObjects => "tenant_objects",
            Kind::LogGroup => "log_group",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_parse_back() {
        let names: std::collections::BTreeSet<&str> =
            Kind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), Kind::ALL.len());
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
            assert_eq!(k.to_string(), k.as_str());
        }
        assert_eq!(Kind::parse("tenant"), None);
    }
}
