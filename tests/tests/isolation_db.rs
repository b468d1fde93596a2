//! The database drill: connect as tenant A's role, the way a compromised agent would, and try to
//! reach tenant B or the control plane. Every attempt must fail; each is reported with the error
//! PostgreSQL gave.

use openclaw_tests::{unique_name, Harness};
use sqlx::PgConnection;

async fn connect_as(h: &Harness, role: &str) -> Result<PgConnection, sqlx::Error> {
    h.connect_as(role).await
}

async fn two_tenants() -> (Harness, crds::naming::TenantRef, crds::naming::TenantRef) {
    let h = Harness::new().await;
    let a = unique_name("tena");
    let b = unique_name("tenb");
    h.insert_tenant(&a, &[("scout", &[])]).await;
    h.insert_tenant(&b, &[("scout", &[])]).await;
    h.converge(&[&a, &b]).await;
    let (ta, tb) = (h.tenant_ref(&a).await, h.tenant_ref(&b).await);
    // Usage rows carry the tenant's database name, the session user that wrote them.
    for (t, n) in [(&ta, 3), (&tb, 5)] {
        for _ in 0..n {
            sqlx::query("INSERT INTO shared.usage (tenant, agent, model, input_tokens, output_tokens, latency_ms) VALUES ($1, 'scout', 'm', 1, 1, 1)")
                .bind(t.db.as_str()).execute(&h.db.tenants).await.expect("usage");
        }
    }
    sqlx::query(&format!(
        "INSERT INTO \"{}\".tasks (kind, input) VALUES ('scout', '{{\"secret\": \"b\"}}')",
        tb.db.schema()
    ))
    .execute(&h.db.tenants)
    .await
    .expect("b task");
    (h, ta, tb)
}

#[tokio::test]
async fn a_compromised_agent_of_tenant_a_cannot_reach_tenant_b_or_the_control_plane() {
    let (h, a, b) = two_tenants().await;
    let (sa, sb, rb) = (a.db.schema(), b.db.schema(), b.db.role());
    let attempts: Vec<(&str, String)> = vec![
        ("read B's schema", format!("SELECT * FROM \"{sb}\".tasks")),
        ("write B's schema", format!("INSERT INTO \"{sb}\".tasks (kind) VALUES ('scout')")),
        ("read B's integrations (its secret state)", format!("SELECT * FROM \"{sb}\".integrations")),
        ("copy B's table out", format!("COPY \"{sb}\".tasks TO STDOUT")),
        ("write a usage row for B", format!("INSERT INTO shared.usage (tenant, agent, model, input_tokens, output_tokens, latency_ms) VALUES ('{rb}', 'scout', 'm', 1, 1, 1)")),
        ("move A's usage rows to B", format!("UPDATE shared.usage SET tenant = '{rb}'")),
        ("SET ROLE to B", format!("SET ROLE \"{rb}\"")),
        ("SET SESSION AUTHORIZATION to B", format!("SET SESSION AUTHORIZATION \"{rb}\"")),
        ("set_config('role') to B", format!("SELECT set_config('role', '{rb}', false)")),
        ("grant itself B's role", format!("GRANT \"{rb}\" TO CURRENT_USER")),
        ("give itself BYPASSRLS", "ALTER ROLE CURRENT_USER BYPASSRLS".to_owned()),
        ("disable RLS on shared.usage", "ALTER TABLE shared.usage DISABLE ROW LEVEL SECURITY".to_owned()),
        ("drop the RLS policy", "DROP POLICY tenant_isolation ON shared.usage".to_owned()),
        ("replace the tenant function", "CREATE OR REPLACE FUNCTION shared.session_tenant() RETURNS text LANGUAGE sql AS $$ SELECT 'x' $$".to_owned()),
        ("create a SECURITY DEFINER function in its schema", format!("CREATE FUNCTION \"{sa}\".f() RETURNS int LANGUAGE sql SECURITY DEFINER AS $$ SELECT 1 $$")),
        ("create a trigger function in its schema", format!("CREATE FUNCTION \"{sa}\".t() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$")),
        ("create a view over B's data", format!("CREATE VIEW \"{sa}\".v AS SELECT * FROM \"{sb}\".tasks")),
        ("create a trigger on its tasks", format!("CREATE TRIGGER x BEFORE INSERT ON \"{sa}\".tasks FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()")),
        ("create a table in public", "CREATE TABLE public.stash (x text)".to_owned()),
        ("create a function in public", "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$".to_owned()),
        ("read the control plane", "SELECT * FROM openclaw.tenants".to_owned()),
        ("read the audit log", "SELECT * FROM openclaw.audit_log".to_owned()),
        ("read pg_authid", "SELECT rolname, rolpassword FROM pg_authid".to_owned()),
        ("create a large object", "SELECT lo_create(0)".to_owned()),
        ("import a server file as a large object", "SELECT lo_import('/etc/passwd')".to_owned()),
        ("COPY TO PROGRAM", "COPY (SELECT 1) TO PROGRAM 'id'".to_owned()),
        ("read a server file", "SELECT pg_read_file('/etc/passwd')".to_owned()),
        ("create a role", "CREATE ROLE intruder LOGIN".to_owned()),
        ("create a schema", "CREATE SCHEMA stash".to_owned()),
    ];
    let mut report = Vec::new();
    let mut conn = connect_as(&h, a.db.role())
        .await
        .expect("connect as tenant A");
    for (what, sql) in &attempts {
        let outcome = sqlx::raw_sql(sql).execute(&mut conn).await;
        match outcome {
            Ok(_) => report.push(format!("ALLOWED  {what}: {sql}")),
            Err(e) => report.push(format!(
                "denied   {what}: {}",
                e.as_database_error()
                    .map(|d| d.message().to_owned())
                    .unwrap_or_else(|| e.to_string())
            )),
        }
    }
    println!("database drill as {}:\n{}", a.db.role(), report.join("\n"));
    let allowed: Vec<&String> = report.iter().filter(|r| r.starts_with("ALLOWED")).collect();
    assert!(allowed.is_empty(), "attempts that succeeded:\n{allowed:#?}");
    assert_eq!(report.len(), attempts.len());
}

async fn visible(c: &mut PgConnection) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT tenant, count(*) FROM shared.usage GROUP BY tenant")
        .fetch_all(c)
        .await
        .expect("select")
}

#[tokio::test]
async fn row_level_security_holds_after_set_and_set_config_tricks() {
    let (h, a, b) = two_tenants().await;
    let mut conn = connect_as(&h, a.db.role()).await.expect("connect");
    let want = vec![(a.db.to_string(), 3)];
    assert_eq!(visible(&mut conn).await, want);
    for trick in [
        format!("SELECT set_config('app.tenant', '{}', false)", b.db),
        format!("SET application_name = '{}'", b.db),
        "SET row_security = off".to_owned(),
        "RESET ROLE".to_owned(),
    ] {
        // Whether the statement itself errors or not, what is visible must not change: the
        // query shows A's rows only, or is refused outright (row_security = off does that).
        let _ = sqlx::raw_sql(&trick).execute(&mut conn).await;
        match sqlx::query_as::<_, (String, i64)>(
            "SELECT tenant, count(*) FROM shared.usage GROUP BY tenant",
        )
        .fetch_all(&mut conn)
        .await
        {
            Ok(rows) => assert_eq!(rows, want, "after {trick}"),
            Err(e) => assert_eq!(
                e.as_database_error().and_then(|d| d.code()).as_deref(),
                Some("42501"),
                "after {trick}: {e}"
            ),
        }
        sqlx::raw_sql("RESET ALL")
            .execute(&mut conn)
            .await
            .expect("reset");
    }
    // The tenant's own writes work, and land as its own.
    sqlx::query("INSERT INTO shared.usage (agent, model, input_tokens, output_tokens, latency_ms) VALUES ('scout', 'm', 2, 2, 2)")
        .execute(&mut conn).await.expect("own usage row");
    assert_eq!(visible(&mut conn).await, vec![(a.db.to_string(), 4)]);
}

#[tokio::test]
async fn a_tenant_role_cannot_open_more_connections_than_its_limit() {
    let (h, a, _) = two_tenants().await;
    let mut held = Vec::new();
    for _ in 0..operator::resources::pg_tenant::CONNECTION_LIMIT {
        held.push(connect_as(&h, a.db.role()).await.expect("within the limit"));
    }
    let err = connect_as(&h, a.db.role())
        .await
        .expect_err("over the limit");
    let msg = err
        .as_database_error()
        .map(|d| d.message().to_owned())
        .unwrap_or_else(|| err.to_string());
    assert!(msg.contains("too many connections for role"), "{msg}");
    drop(held);
}
