//! The tenant's PostgreSQL footprint: schema `tenant_T` and login role `tenant_T` (LOGIN,
//! NOSUPERUSER, NOBYPASSRLS, NOCREATEROLE, no rights outside its schema and the RLS-guarded
//! shared tables, which it reaches through the group role `openclaw_tenant`).
//!
//! Owns: observing, planning and applying those objects, and reading and restoring the shared
//! tables' row-level security guard (cell-wide, no tenant's). Must never: put an identifier into SQL
//! unvalidated or unquoted, or a password into a statement (only a SCRAM verifier goes in).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use crds::naming::TenantName;
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Row};

use crate::error::{ReconcileError, Result};

/// The group role whose members may use the shared tables (migrations create it).
pub const TENANT_GROUP: &str = "openclaw_tenant";
/// Most concurrent sessions one tenant may open.
pub const CONNECTION_LIMIT: i32 = 20;

/// Attributes of a tenant's login role as the catalog reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PgRoleAttrs {
    pub ours: bool,
    pub login: bool,
    pub superuser: bool,
    pub createdb: bool,
    pub createrole: bool,
    pub replication: bool,
    pub bypassrls: bool,
    pub inherit: bool,
    pub connection_limit: i32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedPg {
    pub role: Option<PgRoleAttrs>,
    pub schema_exists: bool,
    /// The role holds USAGE on its schema.
    pub schema_usage: bool,
    /// The role is a member of the tenant group.
    pub in_group: bool,
    /// Roles other than the tenant group that the tenant role is a member of.
    pub foreign_memberships: Vec<String>,
    /// Privileges granted directly to the tenant role on tables outside its schema, as
    /// `schema.table:PRIVILEGE`.
    pub foreign_grants: Vec<String>,
    /// Schemas other than its own where the tenant role holds USAGE or CREATE directly.
    pub foreign_schema_grants: Vec<String>,
    /// The tenant's tables (tasks, signals, accounts, integrations) exist.
    pub tables_exist: bool,
    /// The server has RDS's `rds_iam` role (IAM authentication is possible).
    pub rds_iam_exists: bool,
    /// The tenant role is a member of `rds_iam` (it can log in with an IAM token).
    pub rds_iam_member: bool,
}

/// One change to the tenant's PostgreSQL objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgStep {
    CreateRole,
    /// Reset attributes that widen access (superuser, bypassrls, …).
    AlterRole,
    CreateSchema,
    /// The agents' tables in the tenant's schema.
    CreateTables,
    GrantSchema,
    JoinGroup,
    RevokeMembership(String),
    RevokeTableGrant(String),
    RevokeSchemaGrant(String),
    /// IAM database authentication: membership in `rds_iam`.
    GrantRdsIam,
}

impl PgStep {
    /// Steps that take away access someone added by hand.
    pub fn is_security(&self) -> bool {
        matches!(
            self,
            PgStep::AlterRole
                | PgStep::RevokeMembership(_)
                | PgStep::RevokeTableGrant(_)
                | PgStep::RevokeSchemaGrant(_)
        )
    }
}

/// `"ident"`, after checking the identifier is one of ours ([a-z0-9_], as naming derives them).
pub fn quote_ident(ident: &str) -> Result<String> {
    if ident.is_empty()
        || ident.len() > 63
        || !ident
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(ReconcileError::Internal(format!(
            "refusing to use {ident:?} as a PostgreSQL identifier"
        )));
    }
    Ok(format!("\"{ident}\""))
}

/// The role RDS uses to mark IAM-authenticated logins.
pub const RDS_IAM: &str = "rds_iam";

/// Plans the steps that bring `observed` to the desired footprint (pure).
pub fn diff(role: &str, observed: &ObservedPg, iam_auth: bool) -> Result<Vec<PgStep>> {
    let mut steps = Vec::new();
    match &observed.role {
        None => steps.push(PgStep::CreateRole),
        Some(attrs) if !attrs.ours => {
            return Err(ReconcileError::Conflict {
                resource: format!("PostgreSQL role {role}"),
                tag: "openclaw comment",
            })
        }
        Some(attrs) => {
            if !attrs.login
                || attrs.superuser
                || attrs.createdb
                || attrs.createrole
                || attrs.replication
                || attrs.bypassrls
                || !attrs.inherit
                || attrs.connection_limit != CONNECTION_LIMIT
            {
                steps.push(PgStep::AlterRole);
            }
        }
    }
    if !observed.schema_exists {
        steps.push(PgStep::CreateSchema);
    }
    if !observed.schema_exists || !observed.tables_exist {
        steps.push(PgStep::CreateTables);
    }
    if !observed.schema_exists || !observed.schema_usage {
        steps.push(PgStep::GrantSchema);
    }
    if observed.role.is_none() || !observed.in_group {
        steps.push(PgStep::JoinGroup);
    }
    if iam_auth && observed.rds_iam_exists && !observed.rds_iam_member {
        steps.push(PgStep::GrantRdsIam);
    }
    for m in &observed.foreign_memberships {
        steps.push(PgStep::RevokeMembership(m.clone()));
    }
    for g in &observed.foreign_grants {
        steps.push(PgStep::RevokeTableGrant(g.clone()));
    }
    for s in &observed.foreign_schema_grants {
        steps.push(PgStep::RevokeSchemaGrant(s.clone()));
    }
    Ok(steps)
}

/// True when every table of [`tenant_tables`] exists in schema `$1`.
pub const TABLES_EXIST_SQL: &str = "SELECT count(*) = 4 FROM pg_tables WHERE schemaname = $1 \
     AND tablename IN ('tasks', 'signals', 'accounts', 'integrations')";

/// The agents' tables, created by the operator (owner) in the tenant's schema; the tenant role
/// gets DML on them through the schema's default privileges.
pub fn tenant_tables(schema: &str) -> Vec<String> {
    vec![
        format!(
            "CREATE TABLE IF NOT EXISTS {schema}.tasks (\
               id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
               kind text NOT NULL CONSTRAINT task_kind_known CHECK (kind IN ('butler', 'scout', 'strategist')), \
               input jsonb NOT NULL DEFAULT '{{}}', \
               status text NOT NULL DEFAULT 'queued' \
                 CONSTRAINT task_status_known CHECK (status IN ('queued', 'running', 'done', 'failed', 'dead')), \
               attempts integer NOT NULL DEFAULT 0, \
               max_attempts integer NOT NULL DEFAULT 3, \
               not_before timestamptz NOT NULL DEFAULT now(), \
               claimed_by text, claimed_at timestamptz, \
               result jsonb, error text, \
               created_at timestamptz NOT NULL DEFAULT now(), \
               updated_at timestamptz NOT NULL DEFAULT now())"
        ),
        format!("CREATE INDEX IF NOT EXISTS tasks_queue ON {schema}.tasks (kind, status, not_before, id)"),
        format!(
            "CREATE TABLE IF NOT EXISTS {schema}.signals (\
               id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
               account text NOT NULL, \
               kind text NOT NULL CONSTRAINT signal_kind_known CHECK (kind IN ('visit', 'hiring', 'funding', 'content')), \
               weight double precision NOT NULL DEFAULT 1, \
               detail text NOT NULL DEFAULT '', \
               at timestamptz NOT NULL DEFAULT now())"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {schema}.accounts (\
               id text PRIMARY KEY, name text NOT NULL, domain text, crm_id text, notes text NOT NULL DEFAULT '')"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {schema}.integrations (\
               name text PRIMARY KEY, \
               state text NOT NULL CONSTRAINT integration_state_known CHECK (state IN ('ok', 'needs_consent')), \
               detail text NOT NULL DEFAULT '', \
               updated_at timestamptz NOT NULL DEFAULT now())"
        ),
    ]
}

fn role_comment(db: &str) -> String {
    format!("openclaw tenant role in database {db}")
}

pub async fn observe(pool: &PgPool, tenant: &TenantName) -> Result<ObservedPg> {
    let role = tenant.pg_role();
    let schema = tenant.pg_schema();
    let mut obs = ObservedPg::default();
    let row = sqlx::query(
        "SELECT r.rolcanlogin, r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolreplication, \
                r.rolbypassrls, r.rolinherit, r.rolconnlimit, \
                coalesce(shobj_description(r.oid, 'pg_authid') = $2, false) AS ours \
         FROM pg_roles r WHERE r.rolname = $1",
    )
    .bind(&role)
    .bind(role_comment(&current_db(pool).await?))
    .fetch_optional(pool)
    .await?;
    if let Some(r) = row {
        obs.role = Some(PgRoleAttrs {
            ours: r.try_get("ours")?,
            login: r.try_get("rolcanlogin")?,
            superuser: r.try_get("rolsuper")?,
            createdb: r.try_get("rolcreatedb")?,
            createrole: r.try_get("rolcreaterole")?,
            replication: r.try_get("rolreplication")?,
            bypassrls: r.try_get("rolbypassrls")?,
            inherit: r.try_get("rolinherit")?,
            connection_limit: r.try_get("rolconnlimit")?,
        });
    }
    obs.schema_exists = sqlx::query_scalar::<_, bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
    )
    .bind(&schema)
    .fetch_one(pool)
    .await?;
    obs.tables_exist = sqlx::query_scalar::<_, bool>(TABLES_EXIST_SQL)
        .bind(&schema)
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
                .bind(&role)
                .bind(&schema)
                .fetch_one(pool)
                .await?;
    }
    let memberships: Vec<String> = sqlx::query_scalar(
        "SELECT g.rolname::text FROM pg_auth_members m \
         JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member \
         WHERE u.rolname = $1 ORDER BY 1",
    )
    .bind(&role)
    .fetch_all(pool)
    .await?;
    obs.in_group = memberships.iter().any(|m| m == TENANT_GROUP);
    obs.rds_iam_member = memberships.iter().any(|m| m == RDS_IAM);
    obs.foreign_memberships = memberships
        .into_iter()
        .filter(|m| m != TENANT_GROUP && m != RDS_IAM)
        .collect();
    obs.foreign_grants = sqlx::query_scalar(
        "SELECT format('%s.%s:%s', table_schema, table_name, privilege_type) \
         FROM information_schema.role_table_grants \
         WHERE grantee = $1 AND table_schema <> $2 ORDER BY 1",
    )
    .bind(&role)
    .bind(&schema)
    .fetch_all(pool)
    .await?;
    obs.foreign_schema_grants = sqlx::query_scalar(
        "SELECT n.nspname::text FROM pg_namespace n, aclexplode(n.nspacl) a \
         JOIN pg_roles r ON r.oid = a.grantee \
         WHERE r.rolname = $1 AND n.nspname <> $2 GROUP BY n.nspname ORDER BY 1",
    )
    .bind(&role)
    .bind(&schema)
    .fetch_all(pool)
    .await?;
    Ok(obs)
}

async fn current_db(pool: &PgPool) -> Result<String> {
    Ok(sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(pool)
        .await?)
}

/// Applies one step. Every statement is idempotent, so a crash between steps is harmless.
pub async fn apply_step(pool: &PgPool, tenant: &TenantName, step: &PgStep) -> Result<()> {
    let role = quote_ident(&tenant.pg_role())?;
    let schema = quote_ident(&tenant.pg_schema())?;
    let group = quote_ident(TENANT_GROUP)?;
    let attrs = format!(
        "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT \
         CONNECTION LIMIT {CONNECTION_LIMIT}"
    );
    let sql: Vec<String> = match step {
        PgStep::CreateRole => {
            let db = current_db(pool).await?;
            vec![
                format!("CREATE ROLE {role} {attrs}"),
                format!("COMMENT ON ROLE {role} IS '{}'", role_comment(&db)),
                format!("GRANT CONNECT ON DATABASE {} TO {role}", quote_any(&db)),
            ]
        }
        PgStep::AlterRole => vec![format!("ALTER ROLE {role} {attrs}")],
        PgStep::CreateSchema => vec![
            format!("CREATE SCHEMA IF NOT EXISTS {schema}"),
            format!("REVOKE ALL ON SCHEMA {schema} FROM PUBLIC"),
            format!(
                "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} \
                 GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}"
            ),
            format!(
                "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE ON SEQUENCES TO {role}"
            ),
        ],
        PgStep::CreateTables => tenant_tables(&schema),
        PgStep::GrantSchema => vec![
            format!("GRANT USAGE ON SCHEMA {schema} TO {role}"),
            format!(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}"
            ),
            format!("GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {role}"),
        ],
        PgStep::JoinGroup => vec![format!("GRANT {group} TO {role}")],
        PgStep::RevokeMembership(other) => {
            vec![format!("REVOKE {} FROM {role}", quote_any(other))]
        }
        PgStep::RevokeTableGrant(grant) => {
            let (table, _) = grant.rsplit_once(':').unwrap_or((grant, ""));
            let (s, t) = table.split_once('.').unwrap_or(("public", table));
            vec![format!(
                "REVOKE ALL ON TABLE {}.{} FROM {role}",
                quote_any(s),
                quote_any(t)
            )]
        }
        PgStep::RevokeSchemaGrant(s) => {
            vec![format!("REVOKE ALL ON SCHEMA {} FROM {role}", quote_any(s))]
        }
        PgStep::GrantRdsIam => vec![format!("GRANT {} TO {role}", quote_ident(RDS_IAM)?)],
    };
    let mut tx = pool.begin().await?;
    for s in sql {
        sqlx::query(&s).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Quotes an identifier we did not name (found in the catalog): doubles embedded quotes.
fn quote_any(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Sets the role's password from a SCRAM-SHA-256 verifier, so the password itself never
/// appears in a statement or a server log.
pub async fn set_password(pool: &PgPool, tenant: &TenantName, password: &str) -> Result<()> {
    let role = quote_ident(&tenant.pg_role())?;
    let verifier = scram_verifier(password, &rand::rng().random::<[u8; 16]>(), 4096);
    sqlx::query(&format!("ALTER ROLE {role} PASSWORD '{verifier}'"))
        .execute(pool)
        .await?;
    Ok(())
}

/// `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>` (RFC 5802 / 7677), as PostgreSQL stores it.
pub fn scram_verifier(password: &str, salt: &[u8], iterations: u32) -> String {
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut salted);
    let hmac = |key: &[u8], msg: &[u8]| -> Vec<u8> {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| {
            // HMAC accepts keys of any length; this cannot fail.
            unreachable!("hmac key")
        });
        m.update(msg);
        m.finalize().into_bytes().to_vec()
    };
    let client_key = hmac(&salted, b"Client Key");
    let stored_key = Sha256::digest(&client_key);
    let server_key = hmac(&salted, b"Server Key");
    format!(
        "SCRAM-SHA-256${iterations}:{}${}:{}",
        B64.encode(salt),
        B64.encode(stored_key),
        B64.encode(server_key)
    )
}

/// Removes the tenant's schema, its rows in shared tables, its grants and its role.
pub async fn drop_all(pool: &PgPool, tenant: &TenantName) -> Result<()> {
    let role = quote_ident(&tenant.pg_role())?;
    let schema = quote_ident(&tenant.pg_schema())?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(tenant.pg_role())
            .fetch_one(pool)
            .await?;
    let mut tx = pool.begin().await?;
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM shared.usage WHERE tenant = $1")
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await?;
    if exists {
        sqlx::query(&format!("DROP OWNED BY {role}"))
            .execute(&mut *tx)
            .await?;
        sqlx::query(&format!("DROP ROLE {role}"))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A fresh random password: 32 characters from [A-Za-z0-9].
pub fn generate_password() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..32)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

/// State of the RLS guard on the shared tables (a cell-wide concern).
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

/// The RLS guard on `shared.usage` as the catalog reports it.
pub async fn shared_rls(pool: &PgPool) -> Result<SharedRls> {
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

/// Puts the shared tables' RLS guard back (security drift).
pub async fn repair_shared_rls(pool: &PgPool) -> Result<()> {
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
    fn identifiers_are_checked_before_quoting() {
        assert_eq!(
            quote_ident("tenant_acme").ok(),
            Some("\"tenant_acme\"".into())
        );
        for bad in ["", "Tenant", "a\"b", "a;b", "a b", &"x".repeat(64)] {
            assert!(quote_ident(bad).is_err(), "{bad:?}");
        }
        assert_eq!(quote_any("we\"ird"), "\"we\"\"ird\"");
    }

    #[test]
    fn scram_verifier_matches_the_rfc_7677_vector() {
        // RFC 7677 §3: user "user", password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations.
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").expect("salt");
        let v = scram_verifier("pencil", &salt, 4096);
        // Keys computed independently (Python hashlib/hmac) from the RFC's inputs.
        assert_eq!(
            v,
            "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
        );
    }

    #[test]
    fn diff_table() {
        let ours = PgRoleAttrs {
            ours: true,
            login: true,
            inherit: true,
            connection_limit: CONNECTION_LIMIT,
            ..Default::default()
        };
        let converged = ObservedPg {
            role: Some(ours.clone()),
            schema_exists: true,
            schema_usage: true,
            in_group: true,
            tables_exist: true,
            ..Default::default()
        };
        assert_eq!(diff("tenant_a", &converged, false).ok(), Some(vec![]));
        assert_eq!(
            diff("tenant_a", &ObservedPg::default(), false).ok(),
            Some(vec![
                PgStep::CreateRole,
                PgStep::CreateSchema,
                PgStep::CreateTables,
                PgStep::GrantSchema,
                PgStep::JoinGroup
            ])
        );
        let mut widened = converged.clone();
        widened.role = Some(PgRoleAttrs {
            bypassrls: true,
            ..ours.clone()
        });
        widened.foreign_grants = vec!["openclaw.tenants:SELECT".into()];
        widened.foreign_memberships = vec!["pg_read_all_data".into()];
        let steps = diff("tenant_a", &widened, false).expect("diff");
        assert_eq!(
            steps,
            vec![
                PgStep::AlterRole,
                PgStep::RevokeMembership("pg_read_all_data".into()),
                PgStep::RevokeTableGrant("openclaw.tenants:SELECT".into())
            ]
        );
        assert!(steps.iter().all(PgStep::is_security));
        let mut foreign = converged.clone();
        foreign.role = Some(PgRoleAttrs {
            ours: false,
            ..ours
        });
        assert!(matches!(
            diff("tenant_a", &foreign, false),
            Err(ReconcileError::Conflict { .. })
        ));
    }

    #[test]
    fn passwords_are_long_and_random() {
        let a = generate_password();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, generate_password());
    }
}
