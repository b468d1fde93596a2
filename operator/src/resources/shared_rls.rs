//! The row-level security guard on the shared tables (`shared.usage`): RLS enabled and forced,
//! with the `tenant_isolation` policy. It belongs to the cell, not to any tenant, so the resync
//! checks it once per pass and repairs it first.
//!
//! Owns: reading and restoring the guard. Must never: change the policy's meaning (a tenant sees
//! its own rows only).

use sqlx::{PgPool, Row};

use crate::error::Result;

/// State of the guard as the catalog reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SharedRls {
    pub enabled: bool,
    pub forced: bool,
    pub policy: bool,
}

impl SharedRls {
    pub fn intact(&self) -> bool {
        self.enabled && self.forced && self.policy
    }
}

pub async fn observe(pool: &PgPool) -> Result<SharedRls> {
    let row = sqlx::query(
        "SELECT c.relrowsecurity, c.relforcerowsecurity, \
           EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'tenant_isolation') AS policy \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'shared' AND c.relname = 'usage'",
    )
    .fetch_optional(pool)
    .await?;
    Ok(match row {
        Some(r) => SharedRls {
            enabled: r.try_get("relrowsecurity")?,
            forced: r.try_get("relforcerowsecurity")?,
            policy: r.try_get("policy")?,
        },
        None => SharedRls::default(),
    })
}

/// Puts the guard back (security drift).
pub async fn repair(pool: &PgPool) -> Result<()> {
    let mut tx = pool.begin().await?;
    for sql in [
        "ALTER TABLE shared.usage ENABLE ROW LEVEL SECURITY",
        "ALTER TABLE shared.usage FORCE ROW LEVEL SECURITY",
        "DROP POLICY IF EXISTS tenant_isolation ON shared.usage",
        "CREATE POLICY tenant_isolation ON shared.usage \
         USING (tenant = shared.session_tenant()) WITH CHECK (tenant = shared.session_tenant())",
    ] {
        sqlx::query(sql).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_is_intact_only_with_all_three_parts() {
        assert!(SharedRls {
            enabled: true,
            forced: true,
            policy: true
        }
        .intact());
        for (enabled, forced, policy) in [
            (false, true, true),
            (true, false, true),
            (true, true, false),
        ] {
            assert!(!SharedRls {
                enabled,
                forced,
                policy
            }
            .intact());
        }
    }
}
