//! Shared harness for the end-to-end tests: a fresh pair of databases (control store and tenant
//! database) per test on the real PostgreSQL,
//! unique tenant names, and the local AWS emulator's address.
//!
//! The stack comes from `tests/run` (which sources `deploy/local/up.sh`); run alone, the tests
//! fall back to PostgreSQL at 127.0.0.1:5432.

use rand::Rng;
use sqlx::{Connection, PgConnection, PgPool};

/// The admin connection string of the PostgreSQL server the tests use.
pub fn admin_url() -> String {
    std::env::var("OPENCLAW_PG_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// `prefix-xxxxxx`: a tenant name no other test uses (PostgreSQL roles are server-wide).
pub fn unique_name(prefix: &str) -> String {
    let mut rng = rand::rng();
    let suffix: String = (0..6)
        .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
        .collect();
    format!("{prefix}-{suffix}")
}

pub mod aws_proxy;
pub mod fakes;
pub mod moto;
pub mod pg_server;
pub mod process;
pub mod webdriver;

/// The operator's login in the tests and the local stack: a role shaped like RDS's master user
/// (deploy/local/common.sh makes the same one).
pub const OPERATOR_ROLE: &str = "openclaw_operator";

/// `url` with `role` as its user (trust auth on the local server).
pub fn url_as(url: &str, role: &str) -> String {
    let (scheme, rest) = url.split_once("//").expect("URL scheme");
    let host = rest.split_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}//{role}@{host}")
}

/// The two databases of one test, migrated: its control store and its tenant database.
pub struct TestDb {
    /// The control store's database name (the tenant database's is `<name>_tenants`).
    pub name: String,
    /// The operator's connection string for the control store (the non-superuser, unless made by
    /// `superuser`).
    pub url: String,
    /// The operator's pool on the control store.
    pub pool: PgPool,
    /// The superuser, on the control store: for planting what only a superuser can, never for the
    /// operator's own work.
    pub admin: PgPool,
    /// The operator's connection string for the tenant database.
    pub tenant_url: String,
    /// The operator's pool on the tenant database.
    pub tenants: PgPool,
    /// The superuser, on the tenant database (drift the operator must repair).
    pub tenant_admin: PgPool,
}

fn db_url(admin: &str, name: &str) -> String {
    match admin.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("admin URL has no database part"),
    }
}

impl TestDb {
    /// Databases the operator works in as the RDS-shaped role [`OPERATOR_ROLE`].
    pub async fn new() -> TestDb {
        TestDb::owned_by_rds_like(OPERATOR_ROLE).await
    }

    /// Databases the operator works in as the `postgres` superuser: only for the drift that only
    /// a superuser can make or repair (BYPASSRLS).
    pub async fn superuser() -> TestDb {
        let admin = admin_url();
        let name = unique_name("openclaw-t").replace('-', "_");
        let mut conn = PgConnection::connect(&admin)
            .await
            .expect("connect to the test PostgreSQL (is the stack up? see tests/run)");
        for db in [name.clone(), format!("{name}_tenants")] {
            sqlx::query(&format!("CREATE DATABASE {db}"))
                .execute(&mut conn)
                .await
                .expect("create test database");
        }
        let url = db_url(&admin, &name);
        let tenant_url = db_url(&admin, &format!("{name}_tenants"));
        let dbs = operator::store::open(&url, &tenant_url, 8, true)
            .await
            .expect("open and migrate");
        TestDb {
            name,
            url,
            admin: dbs.control.clone(),
            pool: dbs.control,
            tenant_url,
            tenant_admin: dbs.tenants.clone(),
            tenants: dbs.tenants,
        }
    }

    /// Databases owned by `role`, a login shaped like RDS's master user (LOGIN CREATEROLE
    /// CREATEDB, NOSUPERUSER, no BYPASSRLS), migrated by that role; the superuser only makes the
    /// role and hands it what RDS hands its master user.
    pub async fn owned_by_rds_like(role: &str) -> TestDb {
        TestDb::with_tenant_server(role, &admin_url()).await
    }

    /// As [`owned_by_rds_like`], with the tenant database on the server `tenant_server` reaches.
    pub async fn with_tenant_server(role: &str, tenant_server: &str) -> TestDb {
        let (name, url, tenant_url) = TestDb::create_rds_like_on(role, tenant_server).await;
        let dbs = operator::store::open(&url, &tenant_url, 8, true)
            .await
            .expect("open and migrate as a non-superuser");
        TestDb::from_parts(name, url, tenant_url, dbs).await
    }

    /// The two empty databases of [`owned_by_rds_like`] (the tenant one hardened as the superuser
    /// hardens it), not migrated: (control name, control URL, tenant URL).
    pub async fn create_rds_like(role: &str) -> (String, String, String) {
        TestDb::create_rds_like_on(role, &admin_url()).await
    }

    /// As [`create_rds_like`], with the tenant database on the server `tenant_server` reaches.
    pub async fn create_rds_like_on(role: &str, tenant_server: &str) -> (String, String, String) {
        TestDb::create_rds_like_at(role, &admin_url(), tenant_server).await
    }

    /// Both databases, migrated, on the server `server` reaches (one the test may restart).
    pub async fn on_server(role: &str, server: &str) -> TestDb {
        let (name, url, tenant_url) = TestDb::create_rds_like_at(role, server, server).await;
        let dbs = operator::store::open(&url, &tenant_url, 8, true)
            .await
            .expect("open and migrate as a non-superuser");
        TestDb::from_parts(name, url, tenant_url, dbs).await
    }

    /// As [`create_rds_like`], with the control store on `control_server` and the tenant
    /// database on `tenant_server`.
    pub async fn create_rds_like_at(
        role: &str,
        control_server: &str,
        tenant_server: &str,
    ) -> (String, String, String) {
        let admin = control_server.to_owned();
        let name = unique_name("openclaw-t").replace('-', "_");
        let tenant_name = format!("{name}_tenants");
        for (server, db) in [(admin.as_str(), &name), (tenant_server, &tenant_name)] {
            let mut conn = PgConnection::connect(server)
                .await
                .expect("connect to the test PostgreSQL (is the stack up? see tests/run)");
            // Tests start at once and the role is cluster-wide: one of them makes it (a test-only
            // lock on the superuser's own connection, nothing the operator waits on).
            sqlx::raw_sql(&format!(
                "SELECT pg_advisory_lock(hashtext('openclaw-tests: operator role')); \
                 DO $$ BEGIN \
                   IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN \
                     CREATE ROLE \"{role}\" LOGIN CREATEROLE CREATEDB NOSUPERUSER NOBYPASSRLS; \
                     GRANT SET ON PARAMETER temp_file_limit TO \"{role}\"; \
                     GRANT pg_signal_backend, pg_read_all_stats TO \"{role}\"; \
                   END IF; \
                 END $$; \
                 SELECT pg_advisory_unlock(hashtext('openclaw-tests: operator role'));"
            ))
            .execute(&mut conn)
            .await
            .expect("the operator's role");
            sqlx::query(&format!("CREATE DATABASE {db} OWNER \"{role}\""))
                .execute(&mut conn)
                .await
                .expect("the operator's database");
        }
        let url = url_as(&db_url(&admin, &name), role);
        let tenant_url = url_as(&db_url(tenant_server, &tenant_name), role);
        let tenant_admin = PgPool::connect(&url_as(&tenant_url, "postgres"))
            .await
            .expect("connect as the superuser");
        // The hardening only a superuser may do (migration 0005 skips it under the operator), as
        // deploy/local/common.sh does it for the local stack; RDS cannot (SECURITY.md).
        sqlx::raw_sql(
            "REVOKE EXECUTE ON FUNCTION lo_create(oid), lo_creat(integer), lo_from_bytea(oid, bytea), \
             lo_put(oid, bigint, bytea), lo_open(oid, integer), lo_get(oid), lo_get(oid, bigint, integer), \
             lo_unlink(oid), lo_import(text), lo_import(text, oid), lo_export(oid, text) FROM PUBLIC",
        )
        .execute(&tenant_admin)
        .await
        .expect("large-object hardening");
        tenant_admin.close().await;
        (name, url, tenant_url)
    }

    /// A test database from what [`create_rds_like`] made and `dbs` opened.
    pub async fn from_parts(
        name: String,
        url: String,
        tenant_url: String,
        dbs: operator::store::Databases,
    ) -> TestDb {
        let admin = operator::store::connect(&url_as(&url, "postgres"), 2)
            .await
            .expect("connect as the superuser");
        let tenant_admin = operator::store::connect(&url_as(&tenant_url, "postgres"), 2)
            .await
            .expect("connect as the superuser");
        TestDb {
            name,
            url,
            pool: dbs.control,
            admin,
            tenant_url,
            tenants: dbs.tenants,
            tenant_admin,
        }
    }

    /// Both databases, as the operator opens them.
    pub fn dbs(&self) -> operator::store::Databases {
        operator::store::Databases {
            control: self.pool.clone(),
            tenants: self.tenants.clone(),
            tenants_url: self.tenant_url.clone(),
        }
    }

    pub async fn conn(&self) -> sqlx::pool::PoolConnection<sqlx::Postgres> {
        self.pool.acquire().await.expect("acquire")
    }
}

/// The SQLSTATE and constraint name of a failed statement.
pub fn db_error(e: &sqlx::Error) -> (String, Option<String>, String) {
    match e {
        sqlx::Error::Database(d) => (
            d.code().map(|c| c.to_string()).unwrap_or_default(),
            d.constraint().map(str::to_owned),
            d.message().to_owned(),
        ),
        other => panic!("expected a database error, got {other}"),
    }
}

/// The local stack's cell (written by `deploy/local/up.sh`, named by `OPENCLAW_CONFIG`).
pub fn stack_config() -> operator::config::Config {
    let path = std::env::var("OPENCLAW_CONFIG")
        .unwrap_or_else(|_| format!("{}/../.local/openclaw.yaml", env!("CARGO_MANIFEST_DIR")));
    operator::config::Config::load(Some(std::path::Path::new(&path))).unwrap_or_else(|e| {
        panic!("no local stack configuration ({e}); run the tests through tests/run")
    })
}

/// A test's world: its own database, the shared emulator, and a reconciler for both.
pub struct Harness {
    pub db: TestDb,
    pub config: operator::config::Config,
    pub metrics: std::sync::Arc<operator::metrics::Metrics>,
    pub reconciler: std::sync::Arc<operator::reconcile::Reconciler>,
    pub aws: Aws,
}

/// Plain SDK clients (not counted) for making and checking changes out of band.
pub struct Aws {
    pub ecs: aws_sdk_ecs::Client,
    pub iam: aws_sdk_iam::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub s3: aws_sdk_s3::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
}

impl Harness {
    pub async fn new() -> Harness {
        Harness::with(|_| {}).await
    }

    /// A harness whose configuration `edit` adjusts first. Each harness is a cell of its own
    /// (unique cell name), so one test's orphan scan never sees another test's resources.
    pub async fn with(edit: impl FnOnce(&mut operator::config::Config)) -> Harness {
        Harness::build(stack_config(), edit).await
    }

    /// A harness on the cell described by `config` (e.g. a private emulator's).
    pub async fn build(
        config: operator::config::Config,
        edit: impl FnOnce(&mut operator::config::Config),
    ) -> Harness {
        Harness::build_on(TestDb::new().await, config, edit).await
    }

    /// A harness whose operator works in `db`.
    pub async fn build_on(
        db: TestDb,
        mut config: operator::config::Config,
        edit: impl FnOnce(&mut operator::config::Config),
    ) -> Harness {
        config.database_url = Some(db.url.clone());
        config.tenant_database_url = Some(db.tenant_url.clone());
        if let Some(cell) = config.cell.as_mut() {
            cell.name = unique_name("cell");
        }
        // Out-of-band checks go to the emulator itself, even when `edit` puts a proxy in front.
        let direct = config.cell().ok().and_then(|c| c.aws_endpoint_url.clone());
        edit(&mut config);
        let cell = config.cell().expect("cell").clone();
        let metrics = std::sync::Arc::new(operator::metrics::Metrics::new());
        let reconciler =
            operator::runtime::reconciler(&config, &db.dbs(), metrics.clone(), "test".into())
                .await
                .expect("reconciler");
        let sdk = {
            let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new(cell.region.clone()));
            if let Some(ep) = direct.as_ref().or(cell.aws_endpoint_url.as_ref()) {
                loader = loader.endpoint_url(ep);
            }
            loader.load().await
        };
        Harness {
            db,
            config,
            metrics,
            reconciler: std::sync::Arc::new(reconciler),
            aws: Aws {
                ecs: aws_sdk_ecs::Client::new(&sdk),
                iam: aws_sdk_iam::Client::new(&sdk),
                secrets: aws_sdk_secretsmanager::Client::new(&sdk),
                s3: aws_sdk_s3::Client::from_conf(
                    aws_sdk_s3::config::Builder::from(&sdk)
                        .force_path_style(true)
                        .build(),
                ),
                logs: aws_sdk_cloudwatchlogs::Client::new(&sdk),
            },
        }
    }

    /// A harness whose operator reaches the local stack's emulator through `proxy` (which must
    /// forward to it); `edit` adjusts the configuration after.
    pub async fn behind(
        proxy: &aws_proxy::AwsProxy,
        edit: impl FnOnce(&mut operator::config::Config),
    ) -> Harness {
        let endpoint = proxy.endpoint();
        Harness::with(move |c| {
            if let Some(cell) = c.cell.as_mut() {
                cell.aws_endpoint_url = Some(endpoint);
            }
            edit(c);
        })
        .await
    }

    /// The local stack's emulator endpoint (what a proxy forwards to).
    pub fn stack_endpoint() -> String {
        stack_config()
            .cell()
            .ok()
            .and_then(|c| c.aws_endpoint_url.clone())
            .expect("the local stack has an emulator endpoint")
    }

    /// A session as `role` on the tenant database (a tenant's login, the way its agent connects).
    pub async fn connect_as(&self, role: &str) -> Result<PgConnection, sqlx::Error> {
        PgConnection::connect(&url_as(&self.db.tenant_url, role)).await
    }

    /// A session as `role` on the control store (which no tenant may open).
    pub async fn connect_control_as(&self, role: &str) -> Result<PgConnection, sqlx::Error> {
        PgConnection::connect(&url_as(&self.db.url, role)).await
    }

    pub fn cell(&self) -> &operator::config::CellConfig {
        self.config.cell().expect("cell")
    }

    /// Inserts a tenant and agents by plain SQL: `agents` are (kind, integrations).
    pub async fn insert_tenant(&self, name: &str, agents: &[(&str, &[&str])]) {
        sqlx::query("INSERT INTO openclaw.tenants (name, display_name, region) VALUES ($1, $2, 'us-east-1')")
            .bind(name)
            .bind(format!("Tenant {name}"))
            .execute(&self.db.pool)
            .await
            .expect("insert tenant");
        for (kind, integrations) in agents {
            let integrations: Vec<String> = integrations.iter().map(|s| s.to_string()).collect();
            sqlx::query("INSERT INTO openclaw.agents (tenant, kind, model, integrations) VALUES ($1, $2, 'amazon.nova-lite-v1:0', $3)")
                .bind(name)
                .bind(kind)
                .bind(integrations)
                .execute(&self.db.pool)
                .await
                .expect("insert agent");
        }
    }

    /// The tenant's database name (its role and schema), as the control store drew it.
    pub async fn db_name(&self, name: &str) -> crds::naming::DbName {
        let s: String = sqlx::query_scalar("SELECT db_name FROM openclaw.tenants WHERE name = $1")
            .bind(name)
            .fetch_one(&self.db.pool)
            .await
            .expect("tenant row");
        crds::naming::DbName::parse(&s).expect("db name")
    }

    /// The tenant as the operator acts on it: name and database name.
    /// The environment (`NAME=value`) of the task definition the agent's service runs, as ECS
    /// reports it.
    pub async fn service_environment(
        &self,
        t: &crds::naming::TenantRef,
        kind: crds::api::AgentKind,
    ) -> Vec<String> {
        let svc = self
            .aws
            .ecs
            .describe_services()
            .cluster(&self.cell().ecs_cluster)
            .services(t.service_name(kind))
            .send()
            .await
            .expect("service");
        let td = svc.services()[0].task_definition().expect("td").to_owned();
        let td = self
            .aws
            .ecs
            .describe_task_definition()
            .task_definition(td)
            .send()
            .await
            .expect("task definition");
        td.task_definition().expect("td").container_definitions()[0]
            .environment()
            .iter()
            .map(|kv| format!("{}={}", kv.name().unwrap_or(""), kv.value().unwrap_or("")))
            .collect()
    }

    pub async fn tenant_ref(&self, name: &str) -> crds::naming::TenantRef {
        crds::naming::TenantRef::new(
            crds::naming::TenantName::parse(name).expect("tenant name"),
            self.db_name(name).await,
        )
    }

    pub async fn phase(&self, name: &str) -> Option<String> {
        sqlx::query_scalar("SELECT phase FROM openclaw.tenants WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.db.pool)
            .await
            .expect("phase")
    }

    /// Runs reconcile passes (as the controller would) until every tenant is Ready or gone.
    pub async fn converge(&self, names: &[&str]) {
        let mut last_error = None;
        for _ in 0..20 {
            let mut done = true;
            for n in names {
                if let Err(e) = self.reconciler.reconcile(n).await {
                    last_error = Some(format!("{n}: {e}"));
                }
                match self.phase(n).await.as_deref() {
                    None | Some("Ready") => {}
                    _ => done = false,
                }
            }
            if done {
                return;
            }
        }
        let mut states = Vec::new();
        for n in names {
            states.push(format!("{n}: {:?}", self.phase(n).await));
        }
        panic!("tenants did not converge: {states:?}; last error: {last_error:?}");
    }

    /// One resync, then a reconcile of every tenant it found drifted (the controller's path).
    pub async fn resync(&self, orphan_grace_secs: u64) -> operator::resync::Report {
        operator::resync::run_once(
            &self.reconciler,
            std::time::Duration::from_secs(orphan_grace_secs),
        )
        .await
        .expect("resync")
    }

    /// Runs one resync and checks that it found `n` drifted with (or without) security drift, and
    /// that the repair was audit-logged against `resource`.
    pub async fn resync_repairs(&self, n: &str, resource: &str, security: bool) {
        let report = self.resync(3600).await;
        let d = report
            .drifted
            .iter()
            .find(|d| d.tenant == n)
            .unwrap_or_else(|| panic!("{n} not found drifted: {report:?}"));
        assert_eq!(d.security, security, "{:?}", d.plan);
        let audit = self.drift_audit(n, resource).await;
        assert!(
            !audit.is_empty(),
            "no drift repair of {resource} in the audit log"
        );
        if security {
            assert!(audit.iter().any(|(_, s)| *s), "{audit:?}");
        }
        // Repaired: the next resync finds nothing.
        let again = self.resync(3600).await;
        assert!(
            again.drifted.iter().all(|d| d.tenant != n),
            "still drifted: {:?}",
            again.drifted
        );
    }

    /// Audit rows of `tenant` that repaired drift on `resource`.
    pub async fn drift_audit(&self, tenant: &str, resource: &str) -> Vec<(String, bool)> {
        sqlx::query_as(
            "SELECT action, coalesce((detail->>'security')::bool, false) FROM openclaw.audit_log \
             WHERE tenant = $1 AND resource_name = $2 AND (detail->>'drift')::bool ORDER BY seq",
        )
        .bind(tenant)
        .bind(resource)
        .fetch_all(&self.db.pool)
        .await
        .expect("audit")
    }

    /// Drift repaired so far, by resource kind and security flag (the metric).
    pub fn repaired(&self, resource: &str, security: bool) -> u64 {
        self.metrics
            .drift_repaired
            .with_label_values(&[resource, if security { "true" } else { "false" }])
            .get()
    }

    /// The ACTIVE ECS service `name` in the cell's cluster, tags included.
    pub async fn service(&self, name: &str) -> Option<aws_sdk_ecs::types::Service> {
        self.aws
            .ecs
            .describe_services()
            .cluster(&self.cell().ecs_cluster)
            .services(name)
            .include(aws_sdk_ecs::types::ServiceField::Tags)
            .send()
            .await
            .expect("describe services")
            .services()
            .iter()
            .find(|s| s.status() == Some("ACTIVE"))
            .cloned()
    }

    /// Sets a service's desired count behind the operator's back (drift).
    pub async fn scale_by_hand(&self, service: &str, count: i32) {
        self.aws
            .ecs
            .update_service()
            .cluster(&self.cell().ecs_cluster)
            .service(service)
            .desired_count(count)
            .send()
            .await
            .expect("scale");
    }

    /// A role's inline policy (named as the role), decoded; `None` when it has none.
    pub async fn inline_policy(&self, role: &str) -> Option<serde_json::Value> {
        let got = self
            .aws
            .iam
            .get_role_policy()
            .role_name(role)
            .policy_name(role)
            .send()
            .await
            .ok()?;
        operator::policy::decode_document(got.policy_document())
    }

    /// Adds `statement` to a role's inline policy behind the operator's back (security drift).
    pub async fn widen_inline_policy(&self, role: &str, statement: serde_json::Value) {
        let mut doc = self.inline_policy(role).await.expect("an inline policy");
        doc["Statement"]
            .as_array_mut()
            .expect("statements")
            .push(statement);
        self.aws
            .iam
            .put_role_policy()
            .role_name(role)
            .policy_name(role)
            .policy_document(doc.to_string())
            .send()
            .await
            .expect("widen");
    }

    /// (total, write) AWS calls made by the reconciler so far.
    pub fn calls(&self) -> (u64, u64) {
        self.reconciler.clients.counter.snapshot()
    }
}

/// Polls `check` every 200 ms until it returns true, for at most `secs` seconds.
pub async fn wait_until<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("timed out after {secs}s waiting for {what}");
}
