//! The tenant's PostgreSQL footprint: a schema and a login role, both named by the tenant's
//! database name (`crds::naming::DbName`: opaque, except a legacy `tenant_T`) (LOGIN,
//! NOSUPERUSER, NOBYPASSRLS, NOCREATEROLE, no rights outside its schema and the RLS-guarded
//! shared tables, which it reaches through the group role `openclaw_tenant`).
//!
//! Owns: observing (one tenant, or every tenant role in one catalog query), planning, applying
//! and dropping those objects. The role's password is the database secret's. Must never: put an
//! identifier into SQL unvalidated or unquoted.

use crds::naming::{DbName, TenantRef};
use sqlx::PgPool;

use crate::error::{ReconcileError, Result};
use crate::kind::Kind;
use crate::resources::sql::{quote_any, quote_ident};
use crate::resources::{Change, Operation, Verb};

mod observe;

use observe::current_db;
pub use observe::{catalog, observe, role_settings, usage_rows};

/// The group role whose members may use the shared tables (migrations create it).
pub const TENANT_GROUP: &str = "openclaw_tenant";
/// Most concurrent sessions one tenant may open.
pub const CONNECTION_LIMIT: i32 = 20;
/// Most temporary-file space one session of a tenant may use (sorts, hashes): a limit a session
/// cannot lift, unlike `work_mem` or `statement_timeout`. A superuser-only parameter: on RDS the
/// master user sets it (in PostgreSQL 15 and later, `GRANT SET ON PARAMETER temp_file_limit`).
pub const TEMP_FILE_LIMIT: &str = "1GB";

/// The role settings (`pg_db_role_setting`) the operator sets on every tenant role; any other is
/// drift, since a role may change its own settings (`ALTER ROLE CURRENT_USER SET …`).
pub fn desired_settings() -> Vec<String> {
    vec![format!("temp_file_limit={TEMP_FILE_LIMIT}")]
}

/// The parameter names among `observed` settings that the operator did not set (pure).
pub fn foreign_settings(observed: &[String]) -> Vec<String> {
    let ours = desired_settings();
    observed
        .iter()
        .filter(|s| !ours.contains(s))
        .map(|s| s.split_once('=').map_or(s.as_str(), |(k, _)| k).to_owned())
        .collect()
}

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
    /// The tenant's tables (tasks, signals, accounts, integrations) exist in their current shape.
    pub tables_exist: bool,
    /// The role's settings in every database, sorted (see `observe.rs`).
    pub settings: Vec<String>,
    /// The server has RDS's `rds_iam` role (IAM authentication is possible).
    pub rds_iam_exists: bool,
    /// The tenant role is a member of `rds_iam` (it can log in with an IAM token).
    pub rds_iam_member: bool,
    /// The tenant's rows in `shared.usage`: read for a teardown only (0 otherwise).
    pub usage_rows: u64,
}

/// One change to the tenant's PostgreSQL objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    CreateRole,
    /// Reset the attributes that drifted, and only those: changing SUPERUSER, REPLICATION or
    /// BYPASSRLS at all takes a superuser, which RDS's master user is not.
    AlterRole {
        clauses: Vec<String>,
    },
    /// Remove every role setting, in every database, and put back the operator's.
    ResetSettings {
        foreign: Vec<String>,
    },
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
    /// Teardown: the schema, the tenant's shared rows, its grants and the role.
    Drop {
        /// The role is ours (by its comment) and goes too; a role of the name that is not ours
        /// stays.
        role: bool,
        /// The tenant's `shared.usage` rows, as observed (they go too).
        usage_rows: u64,
    },
}

impl Op {
    /// Steps that take away access someone added by hand.
    pub fn is_security(&self) -> bool {
        matches!(
            self,
            Op::AlterRole { .. }
                | Op::RevokeMembership(_)
                | Op::RevokeTableGrant(_)
                | Op::RevokeSchemaGrant(_)
        ) || matches!(self, Op::ResetSettings { foreign } if !foreign.is_empty())
    }

    fn reason(&self) -> String {
        match self {
            Op::CreateRole => "tenant role missing".to_owned(),
            Op::AlterRole { clauses } => {
                format!("role attributes changed; restoring {}", clauses.join(", "))
            }
            Op::ResetSettings { foreign } if foreign.is_empty() => {
                "role settings missing (temp_file_limit)".to_owned()
            }
            Op::ResetSettings { foreign } => {
                format!(
                    "role settings not set by the operator: {}",
                    foreign.join(", ")
                )
            }
            Op::CreateSchema => "tenant schema missing".to_owned(),
            Op::CreateTables => "tenant tables missing".to_owned(),
            Op::GrantSchema => "role lacks usage of its schema".to_owned(),
            Op::JoinGroup => "role not in the tenant group (shared tables)".to_owned(),
            Op::RevokeMembership(r) => format!("role was granted membership in {r}"),
            Op::RevokeTableGrant(g) => format!("role was granted {g} outside its schema"),
            Op::RevokeSchemaGrant(s) => format!("role was granted rights on schema {s}"),
            Op::GrantRdsIam => "IAM database authentication: role joins rds_iam".to_owned(),
            Op::Drop { .. } => "tenant deleted".to_owned(),
        }
    }
}

impl Operation for Op {
    fn resource(&self, tenant: &TenantRef) -> (Kind, String) {
        match self {
            Op::CreateSchema | Op::CreateTables | Op::GrantSchema => {
                (Kind::PgSchema, tenant.db.schema().to_owned())
            }
            _ => (Kind::PgRole, tenant.db.role().to_owned()),
        }
    }

    fn verb(&self) -> Verb {
        match self {
            Op::CreateRole | Op::CreateSchema | Op::CreateTables => Verb::Create,
            Op::RevokeMembership(_) | Op::RevokeTableGrant(_) | Op::RevokeSchemaGrant(_) => {
                Verb::Revoke
            }
            Op::AlterRole { .. }
            | Op::ResetSettings { .. }
            | Op::GrantSchema
            | Op::JoinGroup
            | Op::GrantRdsIam => Verb::Update,
            Op::Drop { .. } => Verb::Delete,
        }
    }

    fn rank(&self) -> u8 {
        0
    }

    fn removes_also(&self, tenant: &TenantRef) -> Vec<(Kind, String)> {
        match self {
            Op::Drop { .. } => vec![(Kind::PgSchema, tenant.db.schema().to_owned())],
            _ => Vec::new(),
        }
    }

    fn counts(&self) -> Vec<(&'static str, u64)> {
        match self {
            Op::Drop { usage_rows, .. } => vec![("shared_usage_rows", *usage_rows)],
            _ => Vec::new(),
        }
    }
}

/// The role RDS uses to mark IAM-authenticated logins.
pub const RDS_IAM: &str = "rds_iam";

/// Plans the changes that bring `observed` to the desired footprint (pure).
pub fn diff(role: &str, observed: &ObservedPg, iam_auth: bool) -> Result<Vec<Change<Op>>> {
    Ok(steps(role, observed, iam_auth)?
        .into_iter()
        .map(|op| {
            let (reason, security) = (op.reason(), op.is_security());
            Change::new(op, reason, security)
        })
        .collect())
}

/// Plans the removal of the footprint when any of it is ours (pure).
pub fn teardown(observed: &ObservedPg) -> Vec<Change<Op>> {
    if observed.role.as_ref().is_some_and(|r| r.ours) || observed.schema_exists {
        let op = Op::Drop {
            role: observed.role.as_ref().is_some_and(|r| r.ours),
            usage_rows: observed.usage_rows,
        };
        let reason = op.reason();
        vec![Change::new(op, reason, false)]
    } else {
        Vec::new()
    }
}

fn steps(role: &str, observed: &ObservedPg, iam_auth: bool) -> Result<Vec<Op>> {
    let mut steps = Vec::new();
    match &observed.role {
        None => steps.push(Op::CreateRole),
        Some(attrs) if !attrs.ours => {
            return Err(ReconcileError::Conflict {
                resource: format!("PostgreSQL role {role}"),
                tag: "openclaw comment",
            })
        }
        Some(attrs) => {
            let clauses: Vec<String> = [
                (!attrs.login, "LOGIN".to_owned()),
                (attrs.superuser, "NOSUPERUSER".to_owned()),
                (attrs.createdb, "NOCREATEDB".to_owned()),
                (attrs.createrole, "NOCREATEROLE".to_owned()),
                (attrs.replication, "NOREPLICATION".to_owned()),
                (attrs.bypassrls, "NOBYPASSRLS".to_owned()),
                (!attrs.inherit, "INHERIT".to_owned()),
                (
                    attrs.connection_limit != CONNECTION_LIMIT,
                    format!("CONNECTION LIMIT {CONNECTION_LIMIT}"),
                ),
            ]
            .into_iter()
            .filter_map(|(drifted, clause)| drifted.then_some(clause))
            .collect();
            if !clauses.is_empty() {
                steps.push(Op::AlterRole { clauses });
            }
            if observed.settings != desired_settings() {
                steps.push(Op::ResetSettings {
                    foreign: foreign_settings(&observed.settings),
                });
            }
        }
    }
    if !observed.schema_exists {
        steps.push(Op::CreateSchema);
    }
    if !observed.schema_exists || !observed.tables_exist {
        steps.push(Op::CreateTables);
    }
    if !observed.schema_exists || !observed.schema_usage {
        steps.push(Op::GrantSchema);
    }
    if observed.role.is_none() || !observed.in_group {
        steps.push(Op::JoinGroup);
    }
    if iam_auth && observed.rds_iam_exists && !observed.rds_iam_member {
        steps.push(Op::GrantRdsIam);
    }
    for m in &observed.foreign_memberships {
        steps.push(Op::RevokeMembership(m.clone()));
    }
    for g in &observed.foreign_grants {
        steps.push(Op::RevokeTableGrant(g.clone()));
    }
    for s in &observed.foreign_schema_grants {
        steps.push(Op::RevokeSchemaGrant(s.clone()));
    }
    Ok(steps)
}

/// True when every table of [`tenant_tables`] exists in schema `schema` (an SQL expression) in
/// its current shape: the schedule index is the newest part of it, so a schema from before it is
/// brought up to date.
pub fn tables_current_sql(schema: &str) -> String {
    format!(
        "((SELECT count(*) = 4 FROM pg_tables WHERE schemaname = {schema} \
           AND tablename IN ('tasks', 'signals', 'accounts', 'integrations')) \
          AND EXISTS (SELECT 1 FROM pg_indexes WHERE schemaname = {schema} \
           AND indexname = 'tasks_schedule_slot'))"
    )
}

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
        // A scheduled task names its schedule and slot; the unique key makes each slot one task
        // however many replicas insert it. Tables from before schedules gain the columns here.
        format!("ALTER TABLE {schema}.tasks ADD COLUMN IF NOT EXISTS schedule text"),
        format!("ALTER TABLE {schema}.tasks ADD COLUMN IF NOT EXISTS slot timestamptz"),
        format!(
            "CREATE UNIQUE INDEX IF NOT EXISTS tasks_schedule_slot ON {schema}.tasks (kind, schedule, slot)"
        ),
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

/// Applies one step. Every statement is idempotent, so a crash between steps is harmless.
/// What a step's statements need from the server, read by `apply` before building them.
#[derive(Debug, Default)]
pub struct Facts {
    /// The current database (CreateRole's comment names it).
    pub database: String,
    /// Databases where the role has settings of its own (ResetSettings clears each).
    pub setting_databases: Vec<String>,
}

/// The statements of one step (pure): every identifier we name is checked and quoted, every one
/// found in the catalog is quoted.
pub fn statements(db: &DbName, step: &Op, facts: &Facts) -> Result<Vec<String>> {
    let role = quote_ident(db.role())?;
    let schema = quote_ident(db.schema())?;
    let group = quote_ident(TENANT_GROUP)?;
    let attrs = format!(
        "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT \
         CONNECTION LIMIT {CONNECTION_LIMIT}"
    );
    let sql: Vec<String> = match step {
        Op::CreateRole => {
            vec![
                format!("CREATE ROLE {role} {attrs}"),
                format!(
                    "COMMENT ON ROLE {role} IS '{}'",
                    role_comment(&facts.database).replace('\'', "''")
                ),
                // CONNECT comes through the tenant group (migration 0008), granted once.
                format!("ALTER ROLE {role} SET temp_file_limit = '{TEMP_FILE_LIMIT}'"),
            ]
        }
        Op::AlterRole { clauses } => {
            // Only clauses from the fixed list above: never text from the catalog.
            let known = [
                "LOGIN",
                "NOSUPERUSER",
                "NOCREATEDB",
                "NOCREATEROLE",
                "NOREPLICATION",
                "NOBYPASSRLS",
                "INHERIT",
            ];
            let limit = format!("CONNECTION LIMIT {CONNECTION_LIMIT}");
            if let Some(bad) = clauses
                .iter()
                .find(|c| !known.contains(&c.as_str()) && **c != limit)
            {
                return Err(ReconcileError::Internal(format!(
                    "refusing role clause {bad:?}"
                )));
            }
            vec![format!("ALTER ROLE {role} {}", clauses.join(" "))]
        }
        Op::ResetSettings { .. } => {
            let mut sql = vec![format!("ALTER ROLE {role} RESET ALL")];
            sql.extend(
                facts
                    .setting_databases
                    .iter()
                    .map(|d| format!("ALTER ROLE {role} IN DATABASE {} RESET ALL", quote_any(d))),
            );
            sql.push(format!(
                "ALTER ROLE {role} SET temp_file_limit = '{TEMP_FILE_LIMIT}'"
            ));
            sql
        }
        Op::CreateSchema => vec![
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
        Op::CreateTables => tenant_tables(&schema),
        Op::GrantSchema => vec![
            format!("GRANT USAGE ON SCHEMA {schema} TO {role}"),
            format!(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}"
            ),
            format!("GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {role}"),
        ],
        Op::JoinGroup => vec![format!("GRANT {group} TO {role}")],
        Op::RevokeMembership(other) => {
            vec![format!("REVOKE {} FROM {role}", quote_any(other))]
        }
        Op::RevokeTableGrant(grant) => {
            let (table, _) = grant.rsplit_once(':').unwrap_or((grant, ""));
            let (s, t) = table.split_once('.').unwrap_or(("public", table));
            vec![format!(
                "REVOKE ALL ON TABLE {}.{} FROM {role}",
                quote_any(s),
                quote_any(t)
            )]
        }
        Op::RevokeSchemaGrant(s) => {
            vec![format!("REVOKE ALL ON SCHEMA {} FROM {role}", quote_any(s))]
        }
        Op::GrantRdsIam => vec![format!("GRANT {} TO {role}", quote_ident(RDS_IAM)?)],
        Op::Drop { .. } => {
            return Err(ReconcileError::Internal(
                "the tenant's footprint is dropped by drop_all, not by statements".into(),
            ))
        }
    };
    Ok(sql)
}

pub async fn apply(pool: &PgPool, db: &DbName, step: &Op) -> Result<()> {
    let facts = match step {
        Op::Drop { role, .. } => return drop_all(pool, db, *role).await,
        Op::CreateRole => Facts {
            database: current_db(pool).await?,
            ..Facts::default()
        },
        Op::ResetSettings { .. } => Facts {
            setting_databases: sqlx::query_scalar(
                "SELECT d.datname::text FROM pg_db_role_setting s \
                 JOIN pg_database d ON d.oid = s.setdatabase JOIN pg_roles r ON r.oid = s.setrole \
                 WHERE r.rolname = $1",
            )
            .bind(db.role())
            .fetch_all(pool)
            .await?,
            ..Facts::default()
        },
        _ => Facts::default(),
    };
    let sql = statements(db, step, &facts)?;
    let mut tx = pool.begin().await?;
    for s in sql {
        sqlx::query(&s).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Removes the tenant's schema, its rows in shared tables (keyed by its database name), its
/// grants and its role.
async fn drop_all(pool: &PgPool, db: &DbName, drop_role: bool) -> Result<()> {
    let role = quote_ident(db.role())?;
    let schema = quote_ident(db.schema())?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(db.role())
            .fetch_one(pool)
            .await?;
    let mut tx = pool.begin().await?;
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM shared.usage WHERE tenant = $1")
        .bind(db.as_str())
        .execute(&mut *tx)
        .await?;
    // The tenant's API tokens, the gateway's record of what they did, and its consent flows in
    // progress go with it.
    for table in [
        "gateway.tokens",
        "gateway.audit",
        "gateway.rate",
        "gateway.oauth_states",
    ] {
        sqlx::query(&format!("DELETE FROM {table} WHERE db_name = $1"))
            .bind(db.as_str())
            .execute(&mut *tx)
            .await?;
    }
    if exists && drop_role {
        // DROP OWNED takes the role's privileges: a non-superuser operator gets them by
        // membership (its CREATEROLE may grant it).
        sqlx::query(&format!("GRANT {role} TO CURRENT_USER"))
            .execute(&mut *tx)
            .await?;
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

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    pub fn ours() -> PgRoleAttrs {
        PgRoleAttrs {
            ours: true,
            login: true,
            inherit: true,
            connection_limit: CONNECTION_LIMIT,
            ..Default::default()
        }
    }

    /// The footprint once converged.
    pub fn converged() -> ObservedPg {
        ObservedPg {
            role: Some(ours()),
            schema_exists: true,
            schema_usage: true,
            in_group: true,
            tables_exist: true,
            settings: desired_settings(),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{converged, ours};
    use super::*;
    use crate::resources::fixtures::lines;

    #[test]
    fn diff_table() {
        let with = |f: &dyn Fn(&mut ObservedPg)| {
            let mut o = converged();
            f(&mut o);
            o
        };
        let widened = |f: &dyn Fn(&mut PgRoleAttrs)| {
            with(&|o| {
                let mut r = ours();
                f(&mut r);
                o.role = Some(r);
            })
        };
        let alter = vec!["update pg_role tenant_abc"];
        // (case, observed, IAM auth, expected lines, all security)
        type Case<'a> = (&'a str, ObservedPg, bool, Vec<&'a str>, bool);
        let cases: Vec<Case<'_>> = vec![
            ("converged", converged(), false, vec![], false),
            (
                "nothing exists",
                ObservedPg::default(),
                false,
                vec![
                    "create pg_role tenant_abc",
                    "create pg_schema tenant_abc",
                    "create pg_schema tenant_abc",
                    "update pg_schema tenant_abc",
                    "update pg_role tenant_abc",
                ],
                false,
            ),
            (
                "superuser",
                widened(&|r| r.superuser = true),
                false,
                alter.clone(),
                true,
            ),
            (
                "bypassrls",
                widened(&|r| r.bypassrls = true),
                false,
                alter.clone(),
                true,
            ),
            (
                "createrole",
                widened(&|r| r.createrole = true),
                false,
                alter.clone(),
                true,
            ),
            (
                "createdb",
                widened(&|r| r.createdb = true),
                false,
                alter.clone(),
                true,
            ),
            (
                "replication",
                widened(&|r| r.replication = true),
                false,
                alter.clone(),
                true,
            ),
            (
                "noinherit",
                widened(&|r| r.inherit = false),
                false,
                alter.clone(),
                true,
            ),
            (
                "nologin",
                widened(&|r| r.login = false),
                false,
                alter.clone(),
                true,
            ),
            (
                "connection limit",
                widened(&|r| r.connection_limit = -1),
                false,
                alter.clone(),
                true,
            ),
            (
                "tables dropped",
                with(&|o| o.tables_exist = false),
                false,
                vec!["create pg_schema tenant_abc"],
                false,
            ),
            (
                "usage revoked",
                with(&|o| o.schema_usage = false),
                false,
                vec!["update pg_schema tenant_abc"],
                false,
            ),
            (
                "left the group",
                with(&|o| o.in_group = false),
                false,
                vec!["update pg_role tenant_abc"],
                false,
            ),
            (
                "granted another role, a table and a schema",
                with(&|o| {
                    o.foreign_memberships = vec!["pg_read_all_data".into()];
                    o.foreign_grants = vec!["openclaw.tenants:SELECT".into()];
                    o.foreign_schema_grants = vec!["tenant_b".into()];
                }),
                false,
                vec![
                    "revoke pg_role tenant_abc",
                    "revoke pg_role tenant_abc",
                    "revoke pg_role tenant_abc",
                ],
                true,
            ),
            (
                "IAM auth without rds_iam on the server",
                converged(),
                true,
                vec![],
                false,
            ),
            (
                "IAM auth joins rds_iam",
                with(&|o| o.rds_iam_exists = true),
                true,
                vec!["update pg_role tenant_abc"],
                false,
            ),
        ];
        for (case, obs, iam, expect, security) in cases {
            let got = diff("tenant_abc", &obs, iam).expect(case);
            let t = TenantRef::legacy(crds::naming::TenantName::parse("abc").expect("name"));
            let got_lines: Vec<String> = got
                .iter()
                .map(|c| {
                    let (k, n) = c.op.resource(&t);
                    format!("{} {k} {n}", c.op.verb())
                })
                .collect();
            assert_eq!(got_lines, expect, "{case}");
            assert!(got.iter().all(|c| c.security == security), "{case}");
        }
    }

    #[test]
    fn statements_quote_every_identifier_and_bound_the_role() {
        let t = DbName::parse("tenant_abc").expect("name");
        let facts = Facts {
            database: "cell's db".into(),
            setting_databases: vec!["other\"db".into()],
        };
        let create = statements(&t, &Op::CreateRole, &facts).expect("create");
        assert_eq!(
            create,
            [
                "CREATE ROLE \"tenant_abc\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT CONNECTION LIMIT 20",
                "COMMENT ON ROLE \"tenant_abc\" IS 'openclaw tenant role in database cell''s db'",
                "ALTER ROLE \"tenant_abc\" SET temp_file_limit = '1GB'",
            ]
        );
        assert!(
            !create.iter().any(|s| s.contains("GRANT CONNECT")),
            "CONNECT comes through the group, granted once by the migrations"
        );
        assert_eq!(
            statements(
                &t,
                &Op::ResetSettings {
                    foreign: vec!["work_mem".into()]
                },
                &facts
            )
            .expect("reset"),
            [
                "ALTER ROLE \"tenant_abc\" RESET ALL",
                "ALTER ROLE \"tenant_abc\" IN DATABASE \"other\"\"db\" RESET ALL",
                "ALTER ROLE \"tenant_abc\" SET temp_file_limit = '1GB'",
            ]
        );
        // Names found in the catalog are quoted, whatever they hold.
        assert_eq!(
            statements(
                &t,
                &Op::RevokeTableGrant("we\"ird.t; DROP:SELECT".into()),
                &facts
            )
            .expect("revoke"),
            ["REVOKE ALL ON TABLE \"we\"\"ird\".\"t; DROP\" FROM \"tenant_abc\""]
        );
        assert_eq!(
            statements(&t, &Op::RevokeMembership("pg_read_all_data".into()), &facts)
                .expect("revoke"),
            ["REVOKE \"pg_read_all_data\" FROM \"tenant_abc\""]
        );
        // The schema is closed to PUBLIC before the role is given anything in it.
        let schema = statements(&t, &Op::CreateSchema, &facts).expect("schema");
        assert_eq!(schema[1], "REVOKE ALL ON SCHEMA \"tenant_abc\" FROM PUBLIC");
        assert!(statements(
            &t,
            &Op::Drop {
                role: true,
                usage_rows: 0
            },
            &facts
        )
        .is_err());
    }

    #[test]
    fn foreign_settings_are_named_by_parameter_only() {
        assert!(foreign_settings(&desired_settings()).is_empty());
        assert_eq!(
            foreign_settings(&[
                "temp_file_limit=1GB".into(),
                "application_name=s3cr3t".into(),
                "work_mem=1GB (in database x)".into()
            ]),
            ["application_name", "work_mem"]
        );
    }

    #[test]
    fn a_role_that_is_not_ours_is_a_conflict() {
        let mut foreign = converged();
        foreign.role = Some(PgRoleAttrs {
            ours: false,
            ..ours()
        });
        assert!(matches!(
            diff("tenant_abc", &foreign, false),
            Err(ReconcileError::Conflict { .. })
        ));
        // Teardown drops only what is ours, or a schema of the tenant's name.
        let foreign_only = ObservedPg {
            role: foreign.role.clone(),
            ..Default::default()
        };
        assert!(teardown(&foreign_only).is_empty());
        assert_eq!(lines(&teardown(&converged())).len(), 1);
        assert!(teardown(&ObservedPg::default()).is_empty());
        // A schema of the tenant's name with a role that is not ours: the schema goes, the
        // role stays.
        let schema_only = ObservedPg {
            role: foreign.role.clone(),
            schema_exists: true,
            ..Default::default()
        };
        assert_eq!(
            teardown(&schema_only)
                .iter()
                .map(|c| &c.op)
                .collect::<Vec<_>>(),
            [&Op::Drop {
                role: false,
                usage_rows: 0
            }]
        );
        let with_rows = ObservedPg {
            usage_rows: 7,
            ..converged()
        };
        let drop = &teardown(&with_rows)[0].op;
        assert_eq!(
            *drop,
            Op::Drop {
                role: true,
                usage_rows: 7
            }
        );
        assert_eq!(drop.counts(), [("shared_usage_rows", 7)]);
    }
}
