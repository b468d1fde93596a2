//! The control plane against a tenant's own database session (password from its secret, or the
//! local stack's trust login): what the tenant database shares with the operator must not let one
//! tenant stall the operator, change its own role unseen, or collide with other onboardings.
//!
//! Each attack was first seen to succeed against the code before its fix (so each test failed
//! there; see the closing note).

use std::time::Duration;

use crds::naming::TenantRef;
use openclaw_tests::{unique_name, Harness};
use sqlx::{Connection, PgConnection};

async fn connect_as(h: &Harness, role: &str) -> PgConnection {
    h.connect_as(role).await.expect("connect as the tenant")
}

async fn onboarded(h: &Harness, prefix: &str) -> TenantRef {
    let n = unique_name(prefix);
    h.insert_tenant(&n, &[("scout", &[])]).await;
    h.converge(&[&n]).await;
    h.tenant_ref(&n).await
}

/// A hang guard, not a timing claim: the work must finish at all while the attacker holds on.
const HANG_GUARD: Duration = Duration::from_secs(180);

#[tokio::test]
async fn a_tenant_holding_the_audit_advisory_lock_does_not_stall_the_operator() {
    let h = Harness::new().await;
    let a = onboarded(&h, "lockr").await;
    let mut attacker = connect_as(&h, a.db.role()).await;
    // The key the audit chain used to serialise on; any session may take any advisory key.
    sqlx::query("SELECT pg_advisory_lock(hashtext('openclaw.audit_log'))")
        .execute(&mut attacker)
        .await
        .expect("the tenant takes the advisory lock");
    let b = unique_name("victim");
    h.insert_tenant(&b, &[("scout", &[])]).await;
    tokio::time::timeout(HANG_GUARD, h.converge(&[&b]))
        .await
        .expect("the operator stalled behind a tenant's advisory lock");
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM openclaw.audit_log WHERE tenant = $1")
            .bind(&b)
            .fetch_one(&h.db.pool)
            .await
            .expect("audit rows");
    assert!(audited > 0, "onboarding {b} wrote no audit row");
    // The lock is still held: the operator went around it, it did not wait it out.
    let held: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND pid <> pg_backend_pid())",
    )
    .fetch_one(&h.db.pool)
    .await
    .expect("locks");
    assert!(held, "the attacker's lock was released early");
    let rows = operator::store::audit_rows(&mut *h.db.conn().await, None, None)
        .await
        .expect("audit rows");
    crds::audit::verify_chain(&rows).expect("the audit chain is intact");
}

#[tokio::test]
async fn an_operator_statement_blocked_by_a_lock_fails_with_a_retryable_timeout() {
    let h = Harness::new().await;
    let mut admin = PgConnection::connect(&h.db.url).await.expect("admin");
    let mut tx = admin.begin().await.expect("begin");
    sqlx::query("LOCK TABLE openclaw.tenants IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await
        .expect("lock");
    let mut conn = h.db.conn().await;
    let err = tokio::time::timeout(HANG_GUARD, operator::store::list_tenants(&mut conn))
        .await
        .expect("the operator's statement hung instead of timing out")
        .expect_err("a locked table cannot be read");
    let err = operator::error::ReconcileError::from(err);
    assert_eq!(err.code(), "DatabaseTimeout", "{err}");
    assert!(!err.is_terminal(), "a timeout is retried: {err}");
    tx.rollback().await.expect("rollback");
}

#[tokio::test]
async fn ten_tenants_onboard_concurrently_from_a_cold_start_without_errors() {
    let h = Harness::new().await;
    let names: Vec<String> = (0..10).map(|_| unique_name("burst")).collect();
    for n in &names {
        h.insert_tenant(n, &[("scout", &[])]).await;
    }
    let mut passes = tokio::task::JoinSet::new();
    for n in names.clone() {
        let r = h.reconciler.clone();
        passes.spawn(async move { r.reconcile(&n).await.err().map(|e| format!("{n}: {e}")) });
    }
    let errors: Vec<String> = passes.join_all().await.into_iter().flatten().collect();
    assert!(errors.is_empty(), "self-inflicted errors: {errors:?}");
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    h.converge(&refs).await;
}

async fn rolconfig(h: &Harness, role: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT coalesce(rolconfig, '{}') FROM pg_roles WHERE rolname = $1")
        .bind(role)
        .fetch_one(&h.db.pool)
        .await
        .expect("rolconfig")
}

#[tokio::test]
async fn a_tenant_that_changes_its_own_role_settings_is_repaired_as_security_drift() {
    let h = Harness::new().await;
    let a = onboarded(&h, "rolcfg").await;
    let ours = rolconfig(&h, a.db.role()).await;
    assert!(
        ours.iter().any(|s| s.starts_with("temp_file_limit=")),
        "the operator bounds the tenant's temporary files: {ours:?}"
    );
    let mut attacker = connect_as(&h, a.db.role()).await;
    for sql in [
        "ALTER ROLE CURRENT_USER SET work_mem = '1GB'",
        "ALTER ROLE CURRENT_USER SET statement_timeout = 0",
    ] {
        sqlx::query(sql)
            .execute(&mut attacker)
            .await
            .expect("a role may change its own settings");
    }
    // The isolation audit names it.
    let findings = operator::isolation::audit(&h.reconciler, None)
        .await
        .expect("audit");
    assert!(
        findings
            .iter()
            .any(|f| f.to_string().contains(a.db.role()) && f.to_string().contains("work_mem")),
        "{findings:?}"
    );
    let report = h.resync(3600).await;
    let d = report
        .drifted
        .iter()
        .find(|d| d.tenant == a.as_str())
        .unwrap_or_else(|| panic!("{a} not found drifted: {report:?}"));
    assert!(d.security, "{:?}", d.plan);
    assert_eq!(rolconfig(&h, a.db.role()).await, ours);
    assert!(h.repaired("pg_role", true) >= 1);
    let audit = h.drift_audit(a.as_str(), a.db.role()).await;
    assert!(audit.iter().any(|(_, security)| *security), "{audit:?}");
}

#[tokio::test]
async fn a_tenant_session_that_lifts_its_statement_timeout_is_ended_and_counted() {
    let h = Harness::new().await;
    let a = onboarded(&h, "sleepr").await;
    let mut attacker = connect_as(&h, a.db.role()).await;
    sqlx::query("SET statement_timeout = 0")
        .execute(&mut attacker)
        .await
        .expect("a session may lift its own statement timeout");
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut attacker)
        .await
        .expect("pid");
    let attack = tokio::spawn(async move {
        sqlx::query("SELECT pg_sleep(600)")
            .execute(&mut attacker)
            .await
            .map(|_| ())
    });
    // A bystander of another role running just as long: never the guard's business.
    let mut bystander = PgConnection::connect(&h.db.url).await.expect("bystander");
    let bystander_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut bystander)
        .await
        .expect("pid");
    let bystand = tokio::spawn(async move {
        let r = sqlx::query("SELECT pg_sleep(600)")
            .execute(&mut bystander)
            .await;
        (r.map(|_| ()), bystander)
    });
    let running = |pid: i32| {
        let pool = h.db.pool.clone();
        async move {
            sqlx::query_scalar::<_, bool>(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active')",
            )
            .bind(pid)
            .fetch_one(&pool)
            .await
            .expect("activity")
        }
    };
    for _ in 0..100 {
        if running(pid).await && running(bystander_pid).await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // The tier's limits, scaled down to a second so that the test need not wait a minute.
    let limits = |_| crds::api::SessionLimits {
        statement: Duration::from_secs(1),
        idle_in_transaction: Duration::from_secs(1),
    };
    let ended =
        operator::session_guard::sweep(&h.db.pool, &h.db.tenants, &h.metrics, "test", limits)
            .await
            .expect("sweep");
    assert_eq!(ended, 1, "exactly the attacker's session is ended");
    let outcome = tokio::time::timeout(HANG_GUARD, attack)
        .await
        .expect("the attacker's session was not ended")
        .expect("join");
    let err = outcome.expect_err("the attacker's statement cannot complete");
    assert!(err.to_string().contains("terminating connection"), "{err}");
    assert!(
        running(bystander_pid).await,
        "another role's session was ended"
    );
    assert_eq!(
        h.metrics
            .tenant_sessions_ended
            .with_label_values(&["statement"])
            .get(),
        1
    );
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM openclaw.audit_log WHERE tenant = $1 AND action = 'terminate' \
         AND resource_name = $2 AND detail->>'reason' = 'statement'",
    )
    .bind(a.as_str())
    .bind(a.db.role())
    .fetch_one(&h.db.pool)
    .await
    .expect("audit");
    assert_eq!(audited, 1);
    // The operator still onboards other tenants once the attacker's session is gone.
    let other = onboarded(&h, "calm").await;
    assert_eq!(h.phase(other.as_str()).await.as_deref(), Some("Ready"));
    let _ = sqlx::query("SELECT pg_cancel_backend($1)")
        .bind(bystander_pid)
        .execute(&h.db.pool)
        .await;
    let _ = bystand.await;
}

async fn status_updated_at(h: &Harness, name: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    sqlx::query_scalar("SELECT status_updated_at FROM openclaw.tenants WHERE name = $1")
        .bind(name)
        .fetch_one(&h.db.pool)
        .await
        .expect("status time")
}

#[tokio::test]
async fn a_tenant_that_listens_hears_no_names_and_its_notify_steers_nothing() {
    use openclaw_tests::process::Operator;
    use openclaw_tests::wait_until;
    let h = Harness::new().await;
    let victim = unique_name("victim");
    let attacker = unique_name("lsnr");
    h.insert_tenant(&victim, &[("scout", &[])]).await;
    h.insert_tenant(&attacker, &[("scout", &[])]).await;
    h.converge(&[&victim, &attacker]).await;
    // The operator process, triggered only by LISTEN (the resync is an hour away).
    let _op = Operator::spawn(&h, "  resync_interval_seconds: 3600\n");
    let a = h.tenant_ref(&attacker).await;
    let mut session = connect_as(&h, a.db.role()).await;
    // 1. The channel lives in the control store, which the tenant cannot even open.
    let refused = h
        .connect_control_as(a.db.role())
        .await
        .expect_err("a tenant connected to the control store");
    assert_eq!(
        refused
            .as_database_error()
            .and_then(|d| d.code())
            .as_deref(),
        Some("42501"),
        "{refused}"
    );
    // Its LISTEN in the tenant database, where it may connect, hears nothing of the control plane.
    let mut ears =
        sqlx::postgres::PgListener::connect(&openclaw_tests::url_as(&h.db.tenant_url, a.db.role()))
            .await
            .expect("tenant listener");
    ears.listen(operator::store::CHANNEL).await.expect("listen");
    // The leader's first pass of its term looks at every tenant; let it settle.
    wait_until(60, "the leader's first pass", || async {
        let before = status_updated_at(&h, &victim).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        status_updated_at(&h, &victim).await == before
    })
    .await;
    let before = status_updated_at(&h, &victim).await;
    let newcomer = unique_name("newco");
    h.insert_tenant(&newcomer, &[("scout", &[])]).await;
    wait_until(HANG_GUARD.as_secs(), "the newcomer Ready", || async {
        h.phase(&newcomer).await.as_deref() == Some("Ready")
    })
    .await;
    let heard = tokio::time::timeout(Duration::from_secs(1), ears.try_recv()).await;
    assert!(
        !matches!(heard, Ok(Ok(Some(_)))),
        "a tenant heard the control plane: {heard:?}"
    );
    // 2. Its NOTIFY naming the victim makes the operator reconcile nothing of the victim's.
    for _ in 0..50 {
        sqlx::query(&format!("NOTIFY openclaw_tenants, '{victim}'"))
            .execute(&mut session)
            .await
            .expect("any session may NOTIFY");
    }
    // A second newcomer is onboarded through the real channel, after the attacker's notifications.
    let second = unique_name("newco");
    h.insert_tenant(&second, &[("scout", &[])]).await;
    wait_until(
        HANG_GUARD.as_secs(),
        "the second newcomer Ready",
        || async { h.phase(&second).await.as_deref() == Some("Ready") },
    )
    .await;
    assert_eq!(
        status_updated_at(&h, &victim).await,
        before,
        "the attacker's NOTIFY made the operator reconcile {victim}"
    );
}

#[tokio::test]
async fn a_tenants_usage_row_ids_reveal_nothing_of_other_tenants_volume() {
    let h = Harness::new().await;
    let a = onboarded(&h, "countr").await;
    let b = onboarded(&h, "busy").await;
    let insert =
        "INSERT INTO shared.usage (agent, model, input_tokens, output_tokens, latency_ms) \
                  VALUES ('scout', 'm', 1, 1, 1) RETURNING id::text";
    let mut sa = connect_as(&h, a.db.role()).await;
    let mut sb = connect_as(&h, b.db.role()).await;
    let first: String = sqlx::query_scalar(insert)
        .fetch_one(&mut sa)
        .await
        .expect("A's row");
    for _ in 0..5 {
        sqlx::query(insert).execute(&mut sb).await.expect("B's row");
    }
    let second: String = sqlx::query_scalar(insert)
        .fetch_one(&mut sa)
        .await
        .expect("A's row");
    // With a shared sequence, second - first - 1 was B's row count.
    assert!(
        first.parse::<i64>().is_err() && second.parse::<i64>().is_err(),
        "row ids are numbers from a shared sequence: {first}, {second}"
    );
    let sequence: Option<String> =
        sqlx::query_scalar("SELECT pg_get_serial_sequence('shared.usage', 'id')")
            .fetch_one(&h.db.tenants)
            .await
            .expect("sequence");
    assert_eq!(
        sequence, None,
        "shared.usage draws ids from a shared sequence"
    );
}

/// Every session of the tenant database may read the catalogs and the statistics views, and a
/// non-superuser operator cannot close them. So nothing there may name a tenant: roles and schemas
/// carry opaque database names, and shared rows carry those too.
#[tokio::test]
async fn a_tenant_session_reads_no_tenant_name_in_the_catalogs() {
    let h = Harness::new().await;
    let a = onboarded(&h, "snoop").await;
    let b = onboarded(&h, "hidden-co").await;
    // B at work: a session open, a task queued, a usage row written.
    let mut sb = connect_as(&h, b.db.role()).await;
    sqlx::query(&format!(
        "INSERT INTO \"{}\".tasks (kind) VALUES ('scout')",
        b.db.schema()
    ))
    .execute(&mut sb)
    .await
    .expect("B's task");
    sqlx::query("INSERT INTO shared.usage (agent, model, input_tokens, output_tokens, latency_ms) VALUES ('scout', 'm', 1, 1, 1)")
        .execute(&mut sb)
        .await
        .expect("B's usage");
    let mut sa = connect_as(&h, a.db.role()).await;
    let reads = [
        "SELECT rolname::text FROM pg_roles",
        "SELECT nspname::text FROM pg_namespace",
        "SELECT schemaname || '.' || tablename FROM pg_tables",
        "SELECT schemaname || '.' || relname || ' ' || n_live_tup FROM pg_stat_user_tables",
        "SELECT schemaname || '.' || relname FROM pg_statio_user_tables",
        "SELECT concat_ws(' ', usename, application_name, query) FROM pg_stat_activity",
        "SELECT description FROM pg_shdescription",
        "SELECT description FROM pg_description",
        "SELECT schemaname || '.' || sequencename FROM pg_sequences",
        "SELECT datname::text FROM pg_database",
        "SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting",
        "SELECT concat_ws(' ', grantee, table_schema, table_name) FROM information_schema.table_privileges",
        "SELECT tenant FROM shared.usage",
    ];
    let mut seen = Vec::new();
    for q in reads {
        let rows: Vec<Option<String>> = sqlx::query_scalar(q)
            .fetch_all(&mut sa)
            .await
            .unwrap_or_else(|e| panic!("{q}: {e}"));
        seen.extend(rows.into_iter().flatten().map(|r| format!("{q} -> {r}")));
    }
    // The reads do reach B's objects: they just do not say whose they are.
    assert!(
        seen.iter()
            .any(|r| r.ends_with(&format!("-> {}", b.db.role()))),
        "B's role is not in pg_roles at all: the check proves nothing"
    );
    for t in [&a, &b] {
        for spelling in [t.as_str().to_owned(), t.as_str().replace('-', "_")] {
            let leaks: Vec<&String> = seen.iter().filter(|r| r.contains(&spelling)).collect();
            assert!(
                leaks.is_empty(),
                "tenant {t} is named to {a}'s session: {leaks:#?}"
            );
        }
    }
    drop(sb);
}

/// The operator's own login in production is RDS's master user: no superuser, no BYPASSRLS.
#[tokio::test]
async fn the_operator_onboards_erases_and_reports_cost_as_a_non_superuser() {
    let db = openclaw_tests::TestDb::owned_by_rds_like("openclaw_operator_t").await;
    let is_super: bool = sqlx::query_scalar(
        "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&db.pool)
    .await
    .expect("role");
    assert!(
        !is_super,
        "the test must run the operator without superuser or BYPASSRLS"
    );
    let h = Harness::build_on(db, openclaw_tests::stack_config(), |_| {}).await;
    let a = onboarded(&h, "nosup").await;
    let b = onboarded(&h, "nosupb").await;
    // Each tenant writes usage rows as itself.
    for (t, n) in [(&a, 2), (&b, 3)] {
        let mut s = connect_as(&h, t.db.role()).await;
        for _ in 0..n {
            sqlx::query("INSERT INTO shared.usage (agent, model, input_tokens, output_tokens, latency_ms) VALUES ('scout', 'amazon.nova-lite-v1:0', 1000, 100, 5)")
                .execute(&mut s)
                .await
                .expect("usage as the tenant");
        }
    }
    // Cost sees every tenant's rows, though FORCE ROW LEVEL SECURITY binds the table's owner.
    let since = chrono::Utc::now() - chrono::Duration::hours(1);
    let report = operator::cost::report(
        &h.db.pool,
        &h.db.tenants,
        &h.config.operator.prices,
        Some(since),
    )
    .await
    .expect("cost");
    let tokens = |t: &TenantRef| {
        report
            .iter()
            .filter(|r| r.tenant == t.as_str())
            .flat_map(|r| r.tokens.iter().map(|(_, input, _)| *input))
            .sum::<i64>()
    };
    assert_eq!((tokens(&a), tokens(&b)), (2000, 3000), "{report:?}");
    // Role-setting drift is repaired without superuser.
    let mut s = connect_as(&h, a.db.role()).await;
    sqlx::query("ALTER ROLE CURRENT_USER SET work_mem = '1GB'")
        .execute(&mut s)
        .await
        .expect("set");
    drop(s);
    let report = h.resync(3600).await;
    assert!(
        report
            .drifted
            .iter()
            .any(|d| d.tenant == a.as_str() && d.security),
        "{report:?}"
    );
    // Erasure removes the tenant's shared rows, its schema and its role.
    sqlx::query("DELETE FROM openclaw.tenants WHERE name = $1")
        .bind(a.as_str())
        .execute(&h.db.pool)
        .await
        .expect("delete");
    h.converge(&[a.as_str()]).await;
    let admin = &h.db.tenant_admin;
    let left: (i64, i64, bool) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM shared.usage WHERE tenant = $1), \
                (SELECT count(*) FROM shared.usage WHERE tenant = $2), \
                EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $3)",
    )
    .bind(a.db.as_str())
    .bind(b.db.as_str())
    .bind(a.db.role())
    .fetch_one(admin)
    .await
    .expect("left");
    assert_eq!(left, (0, 3, false), "A's rows and role gone, B's rows kept");
}

async fn stored_password(h: &Harness, t: &TenantRef) -> String {
    let v = h
        .aws
        .secrets
        .get_secret_value()
        .secret_id(t.db_secret_name())
        .send()
        .await
        .expect("secret");
    let v: serde_json::Value =
        serde_json::from_str(v.secret_string().expect("string")).expect("json");
    v["password"].as_str().expect("password").to_owned()
}

/// A login as the tenant with `password`, on the tenant database: Ok, or the SQLSTATE.
async fn login(h: &Harness, t: &TenantRef, password: &str) -> Result<(), String> {
    let options: sqlx::postgres::PgConnectOptions =
        h.db.tenant_url
            .parse::<sqlx::postgres::PgConnectOptions>()
            .expect("url")
            .username(t.db.role())
            .password(password);
    match PgConnection::connect_with(&options).await {
        Ok(c) => {
            let _ = c.close().await;
            Ok(())
        }
        Err(e) => Err(e
            .as_database_error()
            .and_then(|d| d.code())
            .map(|c| c.to_string())
            .unwrap_or_else(|| e.to_string())),
    }
}

/// Any role may `ALTER ROLE CURRENT_USER PASSWORD`: a login the operator does not know. Only a
/// server that checks passwords shows it, so this test runs its tenant database on a server of its
/// own that does (the shared test server trusts loopback logins).
#[tokio::test]
async fn a_password_the_tenant_set_itself_is_detected_and_replaced() {
    let server = openclaw_tests::pg_server::PasswordServer::start();
    let db = openclaw_tests::TestDb::with_tenant_server(
        openclaw_tests::OPERATOR_ROLE,
        &server.admin_url(),
    )
    .await;
    let h = Harness::build_on(db, openclaw_tests::stack_config(), |_| {}).await;
    let t = onboarded(&h, "pwd").await;
    let stored = stored_password(&h, &t).await;
    login(&h, &t, &stored).await.expect("the stored password");
    assert_eq!(login(&h, &t, "guess").await, Err("28P01".into()));

    // The tenant gives itself a password of its own: the one in the secret stops working.
    let options: sqlx::postgres::PgConnectOptions =
        h.db.tenant_url
            .parse::<sqlx::postgres::PgConnectOptions>()
            .expect("url")
            .username(t.db.role())
            .password(&stored);
    let mut session = PgConnection::connect_with(&options).await.expect("session");
    sqlx::query("ALTER ROLE CURRENT_USER PASSWORD 'chosen-by-the-tenant-1'")
        .execute(&mut session)
        .await
        .expect("any role may change its own password");
    drop(session);
    assert_eq!(login(&h, &t, &stored).await, Err("28P01".into()));
    login(&h, &t, "chosen-by-the-tenant-1")
        .await
        .expect("the tenant's own password");

    let report = h.resync(3600).await;
    assert!(
        report
            .drifted
            .iter()
            .any(|d| d.tenant == t.as_str() && d.security),
        "{report:?}"
    );
    // The stored password is set on the role again; the secret is not rewritten.
    assert_eq!(stored_password(&h, &t).await, stored);
    login(&h, &t, &stored)
        .await
        .expect("the stored password again");
    assert_eq!(
        login(&h, &t, "chosen-by-the-tenant-1").await,
        Err("28P01".into()),
        "the tenant's own password still works"
    );
    let audit = h.drift_audit(t.as_str(), t.db.role()).await;
    assert!(
        audit
            .iter()
            .any(|(action, security)| action == "update" && *security),
        "{audit:?}"
    );

    // Holding every connection slot, so that no login can be tried, does not hide a password
    // of its own either.
    let mut session = PgConnection::connect_with(&options).await.expect("session");
    sqlx::query("ALTER ROLE CURRENT_USER PASSWORD 'chosen-by-the-tenant-2'")
        .execute(&mut session)
        .await
        .expect("set");
    let own: sqlx::postgres::PgConnectOptions = options.clone().password("chosen-by-the-tenant-2");
    let mut held = vec![session];
    while held.len() < operator::resources::pg_tenant::CONNECTION_LIMIT as usize {
        held.push(PgConnection::connect_with(&own).await.expect("a slot"));
    }
    h.resync(3600).await;
    drop(held);
    openclaw_tests::wait_until(30, "the held sessions to end", || async {
        login(&h, &t, &stored).await.is_ok()
    })
    .await;
    assert_eq!(
        login(&h, &t, "chosen-by-the-tenant-2").await,
        Err("28P01".into())
    );
    // Converged again, and the secret never rewritten.
    h.converge(&[t.as_str()]).await;
    assert_eq!(stored_password(&h, &t).await, stored);
}

/// sqlx serialises migrations on an advisory key derived from the database's name, and any
/// session of a database may take any advisory key. A tenant holding the tenant database's key
/// does not stall the operator's start: those migrations are serialised in the control store.
/// (Seen failing with sqlx's own lock: the start waited on the tenant's key.)
#[tokio::test]
async fn a_tenant_holding_the_migration_lock_does_not_stall_the_operators_start() {
    let h = Harness::new().await;
    let t = onboarded(&h, "miglock").await;
    let db: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(&h.db.tenants)
        .await
        .expect("name");
    // sqlx-postgres' generate_lock_id.
    const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
    let key = 0x3d32ad9e * i64::from(CRC.checksum(db.as_bytes()));
    let mut session = connect_as(&h, t.db.role()).await;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(key)
        .execute(&mut session)
        .await
        .expect("the tenant takes sqlx's key");
    tokio::time::timeout(
        HANG_GUARD,
        operator::store::open(&h.db.url, &h.db.tenant_url, 2, true),
    )
    .await
    .expect("the start hung")
    .expect("the start failed behind the tenant's lock");
}

/// Revoking CONNECT ends no session opened before; the operator's start ends those on the control
/// store.
#[tokio::test]
async fn a_session_left_on_the_control_store_is_ended_at_start() {
    let h = Harness::new().await;
    let t = onboarded(&h, "linger").await;
    let grant = |verb: &str| {
        format!(
            "{verb} CONNECT ON DATABASE \"{}\" {} \"{}\"",
            h.db.name,
            if verb == "GRANT" { "TO" } else { "FROM" },
            t.db.role()
        )
    };
    sqlx::raw_sql(&grant("GRANT"))
        .execute(&h.db.admin)
        .await
        .expect("grant");
    let mut lingering = h.connect_control_as(t.db.role()).await.expect("session");
    sqlx::raw_sql(&grant("REVOKE"))
        .execute(&h.db.admin)
        .await
        .expect("revoke");
    sqlx::query("SELECT 1")
        .execute(&mut lingering)
        .await
        .expect("the session outlives the revoke");
    operator::store::open(&h.db.url, &h.db.tenant_url, 2, true)
        .await
        .expect("start");
    assert!(
        sqlx::query("SELECT 1")
            .execute(&mut lingering)
            .await
            .is_err(),
        "the session is still open"
    );
}
