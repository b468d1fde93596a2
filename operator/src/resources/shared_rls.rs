//! The row-level security guard on the shared tables (`shared.usage`): RLS enabled and forced,
//! the `tenant_isolation` policy as the migrations made it, the operator's own `operator_all`
//! policy for the operator's role only, and no other policy (permissive policies add up: one
//! more, `USING (true)`, would show every tenant every row). It belongs to the cell, not to any
//! tenant, so the resync checks it once per pass and repairs it first.
//!
//! Owns: reading and restoring the guard. Must never: change the policy's meaning (a tenant sees
//! its own rows only).

use sqlx::{PgPool, Row};

use crate::error::Result;

/// What `tenant_isolation` holds, as `pg_get_expr` prints it, for both USING and WITH CHECK.
const TENANT_RULE: &str = "(tenant = shared.session_tenant())";

/// State of the guard as the catalog reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SharedRls {
    pub enabled: bool,
    pub forced: bool,
    /// `tenant_isolation` exists, for every role, with the tenant rule on reads and writes.
    pub policy: bool,
    /// `operator_all` applies to the operator's role only (or is absent).
    pub operator_policy_scoped: bool,
    /// Policies on the table other than those two.
    pub foreign_policies: Vec<String>,
}

impl SharedRls {
    pub fn intact(&self) -> bool {
        self.enabled
            && self.forced
            && self.policy
            && self.operator_policy_scoped
            && self.foreign_policies.is_empty()
    }
}

pub async fn observe(pool: &PgPool) -> Result<SharedRls> {
    let row = sqlx::query(
        "SELECT c.relrowsecurity, c.relforcerowsecurity, \
           EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'tenant_isolation' \
             AND p.polpermissive AND p.polcmd = '*' AND p.polroles = '{0}' \
             AND pg_get_expr(p.polqual, p.polrelid) = $1 \
             AND pg_get_expr(p.polwithcheck, p.polrelid) = $1) AS policy, \
           NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'operator_all' \
             AND p.polroles <> ARRAY[(SELECT oid FROM pg_roles WHERE rolname = current_user)]) AS operator_scoped, \
           coalesce((SELECT array_agg(p.polname::text ORDER BY p.polname) FROM pg_policy p \
             WHERE p.polrelid = c.oid AND p.polname NOT IN ('tenant_isolation', 'operator_all')), '{}') AS foreign \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'shared' AND c.relname = 'usage'",
    )
    .bind(TENANT_RULE)
    .fetch_optional(pool)
    .await?;
    Ok(match row {
        Some(r) => SharedRls {
            enabled: r.try_get("relrowsecurity")?,
            forced: r.try_get("relforcerowsecurity")?,
            policy: r.try_get("policy")?,
            operator_policy_scoped: r.try_get("operator_scoped")?,
            foreign_policies: r.try_get("foreign")?,
        },
        None => SharedRls::default(),
    })
}

/// Puts the guard back (security drift): drops the other policies `found` lists and recreates the
/// two.
pub async fn repair(pool: &PgPool, found: &SharedRls) -> Result<()> {
    let mut tx = pool.begin().await?;
    for name in &found.foreign_policies {
        sqlx::query(&format!(
            "DROP POLICY {} ON shared.usage",
            crate::resources::sql::quote_any(name)
        ))
        .execute(&mut *tx)
        .await?;
    }
    for sql in [
        "ALTER TABLE shared.usage ENABLE ROW LEVEL SECURITY",
        "ALTER TABLE shared.usage FORCE ROW LEVEL SECURITY",
        "DROP POLICY IF EXISTS tenant_isolation ON shared.usage",
        "CREATE POLICY tenant_isolation ON shared.usage \
         USING (tenant = shared.session_tenant()) WITH CHECK (tenant = shared.session_tenant())",
        "DROP POLICY IF EXISTS operator_all ON shared.usage",
    ] {
        sqlx::query(sql).execute(&mut *tx).await?;
    }
    // The operator's own policy, for the role doing the repair (the one that ran the migrations).
    sqlx::query(
        "DO $$ BEGIN EXECUTE format('CREATE POLICY operator_all ON shared.usage TO %I \
         USING (true) WITH CHECK (true)', current_user); END $$",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_is_intact_only_with_every_part() {
        let intact = SharedRls {
            enabled: true,
            forced: true,
            policy: true,
            operator_policy_scoped: true,
            foreign_policies: vec![],
        };
        assert!(intact.intact());
        let broken = [
            SharedRls {
                enabled: false,
                ..intact.clone()
            },
            SharedRls {
                forced: false,
                ..intact.clone()
            },
            SharedRls {
                policy: false,
                ..intact.clone()
            },
            SharedRls {
                operator_policy_scoped: false,
                ..intact.clone()
            },
            SharedRls {
                foreign_policies: vec!["open".into()],
                ..intact.clone()
            },
        ];
        for b in broken {
            assert!(!b.intact(), "{b:?}");
        }
    }
}
