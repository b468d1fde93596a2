//! Observing the tenant's PostgreSQL footprint: one tenant (targeted), every tenant role of the
//! database in one catalog query (batched), and role settings for the isolation audit.
//!
//! Must never: write anything.

use std::collections::BTreeMap;

use crds::naming::{DbName, DB_NAME_PATTERN};
use sqlx::{PgPool, Row};

use super::{role_comment, tables_current_sql, ObservedPg, PgRoleAttrs, RDS_IAM, TENANT_GROUP};
use crate::error::Result;

/// Every setting of a role, for any database: `name=value`, or `name=value (in database d)`.
const SETTINGS_SQL: &str = "coalesce((SELECT array_agg(x.e ORDER BY x.e) FROM ( \
       SELECT CASE WHEN s.setdatabase = 0 THEN c \
         ELSE c || ' (in database ' || coalesce(d.datname::text, s.setdatabase::text) || ')' END AS e \
       FROM pg_db_role_setting s CROSS JOIN LATERAL unnest(s.setconfig) c \
       LEFT JOIN pg_database d ON d.oid = s.setdatabase WHERE s.setrole = r.oid) x), '{}')";

/// Table privileges granted to role `r` outside the schema of its own name, as
/// `schema.table:PRIVILEGE`, read from the tables' ACLs: `information_schema.role_table_grants`
/// hides grants in which the caller has no part, and the operator is no superuser.
const FOREIGN_GRANTS_SQL: &str = "coalesce((SELECT array_agg(x.g ORDER BY x.g) FROM ( \
       SELECT format('%s.%s:%s', n.nspname, c.relname, a.privilege_type) AS g \
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a \
       WHERE a.grantee = r.oid AND n.nspname <> r.rolname \
         AND c.relkind IN ('r', 'p', 'v', 'm', 'f')) x), '{}')";

/// A role's attributes from a row with `pg_roles`' columns and `ours`.
fn attrs_from(r: &sqlx::postgres::PgRow) -> Result<PgRoleAttrs, sqlx::Error> {
    Ok(PgRoleAttrs {
        ours: r.try_get("ours")?,
        login: r.try_get("rolcanlogin")?,
        superuser: r.try_get("rolsuper")?,
        createdb: r.try_get("rolcreatedb")?,
        createrole: r.try_get("rolcreaterole")?,
        replication: r.try_get("rolreplication")?,
        bypassrls: r.try_get("rolbypassrls")?,
        inherit: r.try_get("rolinherit")?,
        connection_limit: r.try_get("rolconnlimit")?,
    })
}

pub async fn observe(pool: &PgPool, db: &DbName) -> Result<ObservedPg> {
    let (role, schema) = (db.role(), db.schema());
    let mut obs = ObservedPg::default();
    let row = sqlx::query(&format!(
        "SELECT r.rolcanlogin, r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolreplication, \
                r.rolbypassrls, r.rolinherit, r.rolconnlimit, \
                coalesce(shobj_description(r.oid, 'pg_authid') = $2, false) AS ours, \
                {SETTINGS_SQL} AS settings \
         FROM pg_roles r WHERE r.rolname = $1",
    ))
    .bind(role)
    .bind(role_comment(&current_db(pool).await?))
    .fetch_optional(pool)
    .await?;
    if let Some(r) = row {
        obs.role = Some(attrs_from(&r)?);
        obs.settings = r.try_get("settings")?;
    }
    obs.schema_exists = sqlx::query_scalar::<_, bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
    )
    .bind(schema)
    .fetch_one(pool)
    .await?;
    obs.tables_exist =
        sqlx::query_scalar::<_, bool>(&format!("SELECT {}", tables_current_sql("$1")))
            .bind(schema)
            .fetch_one(pool)
            .await?;
    obs.rds_iam_exists =
        sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(RDS_IAM)
            .fetch_one(pool)
            .await?;
    if obs.role.is_none() {
        return Ok(obs);
    }
    if obs.schema_exists {
        obs.schema_usage =
            sqlx::query_scalar::<_, bool>("SELECT has_schema_privilege($1, $2, 'USAGE')")
                .bind(role)
                .bind(schema)
                .fetch_one(pool)
                .await?;
    }
    let memberships: Vec<String> = sqlx::query_scalar(
        "SELECT g.rolname::text FROM pg_auth_members m \
         JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member \
         WHERE u.rolname = $1 ORDER BY 1",
    )
    .bind(role)
    .fetch_all(pool)
    .await?;
    obs.in_group = memberships.iter().any(|m| m == TENANT_GROUP);
    obs.rds_iam_member = memberships.iter().any(|m| m == RDS_IAM);
    obs.foreign_memberships = memberships
        .into_iter()
        .filter(|m| m != TENANT_GROUP && m != RDS_IAM)
        .collect();
    obs.foreign_grants = sqlx::query_scalar(&format!(
        "SELECT {FOREIGN_GRANTS_SQL} FROM pg_roles r WHERE r.rolname = $1"
    ))
    .bind(role)
    .fetch_one(pool)
    .await?;
    obs.foreign_schema_grants = sqlx::query_scalar(
        "SELECT n.nspname::text FROM pg_namespace n, aclexplode(n.nspacl) a \
         JOIN pg_roles r ON r.oid = a.grantee \
         WHERE r.rolname = $1 AND n.nspname <> $2 GROUP BY n.nspname ORDER BY 1",
    )
    .bind(role)
    .bind(schema)
    .fetch_all(pool)
    .await?;
    Ok(obs)
}

/// The tenant's rows in `shared.usage` (the operator's own RLS policy lets it count any
/// tenant's): what an erasure removes, so read only for a teardown.
pub async fn usage_rows(pool: &PgPool, db: &DbName) -> Result<u64> {
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM shared.usage WHERE tenant = $1")
            .bind(db.as_str())
            .fetch_one(pool)
            .await?
            .max(0) as u64,
    )
}

pub(super) async fn current_db(pool: &PgPool) -> Result<String> {
    Ok(sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(pool)
        .await?)
}

/// The settings of each of `roles` that exists (for the isolation audit).
pub async fn role_settings(pool: &PgPool, roles: &[String]) -> Result<Vec<(String, Vec<String>)>> {
    Ok(sqlx::query_as(&format!(
        "SELECT r.rolname::text, {SETTINGS_SQL} FROM pg_roles r WHERE r.rolname = ANY($1) ORDER BY 1"
    ))
    .bind(roles)
    .fetch_all(pool)
    .await?)
}

/// One catalog query (the batched observation): every tenant role of this database with its attributes, memberships,
/// schema, and grants outside its schema.
pub async fn catalog(pool: &PgPool) -> Result<BTreeMap<String, ObservedPg>> {
    let rows = sqlx::query(&format!(
        "SELECT r.rolname::text AS role, r.rolcanlogin, r.rolsuper, r.rolcreatedb, \
           r.rolcreaterole, r.rolreplication, r.rolbypassrls, r.rolinherit, r.rolconnlimit, \
           coalesce(shobj_description(r.oid, 'pg_authid') = \
             'openclaw tenant role in database ' || current_database(), false) AS ours, \
           EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = r.rolname) AS schema_exists, \
           CASE WHEN EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = r.rolname) \
             THEN has_schema_privilege(r.oid, r.rolname::text, 'USAGE') ELSE false END AS schema_usage, \
           coalesce((SELECT array_agg(g.rolname::text ORDER BY g.rolname) FROM pg_auth_members m \
             JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid), '{{}}') AS memberships, \
           {FOREIGN_GRANTS_SQL} AS foreign_grants, \
           coalesce((SELECT array_agg(DISTINCT n.nspname::text) FROM pg_namespace n, aclexplode(n.nspacl) a \
             WHERE a.grantee = r.oid AND n.nspname <> r.rolname), '{{}}') AS foreign_schema_grants, \
           {tables} AS tables_exist, \
           {SETTINGS_SQL} AS settings \
         FROM pg_roles r WHERE r.rolname COLLATE \"C\" ~ $1",
        tables = tables_current_sql("r.rolname")
    ))
    .bind(DB_NAME_PATTERN)
    .fetch_all(pool)
    .await?;
    let rds_iam_exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam')")
            .fetch_one(pool)
            .await?;
    let mut out = BTreeMap::new();
    for r in rows {
        let role: String = r.try_get("role")?;
        let memberships: Vec<String> = r.try_get("memberships")?;
        let ours: bool = r.try_get("ours")?;
        if !ours {
            // Another database's tenant, or not ours at all: a conflict is reported by the
            // targeted pass of the tenant that wants this name.
            continue;
        }
        out.insert(
            role,
            ObservedPg {
                role: Some(attrs_from(&r)?),
                schema_exists: r.try_get("schema_exists")?,
                schema_usage: r.try_get("schema_usage")?,
                in_group: memberships.iter().any(|m| m == TENANT_GROUP),
                rds_iam_exists,
                rds_iam_member: memberships.iter().any(|m| m == RDS_IAM),
                foreign_memberships: memberships
                    .into_iter()
                    .filter(|m| m != TENANT_GROUP && m != RDS_IAM)
                    .collect(),
                foreign_grants: r.try_get("foreign_grants")?,
                foreign_schema_grants: r.try_get("foreign_schema_grants")?,
                tables_exist: r.try_get("tables_exist")?,
                settings: r.try_get("settings")?,
                usage_rows: 0,
            },
        );
    }
    Ok(out)
}
