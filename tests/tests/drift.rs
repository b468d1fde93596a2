//! Drift repair: each kind of out-of-band change is made through the AWS SDK or SQL, one resync
//! runs, and the resource is back, the metric counted it, and the audit log recorded it.

use aws_sdk_ecs::types::{AssignPublicIp, AwsVpcConfiguration, NetworkConfiguration};
use crds::api::AgentKind;
use crds::naming::TenantRef;
use openclaw_tests::{unique_name, Harness};

const SCOUT: AgentKind = AgentKind::Scout;

/// A converged tenant with a butler (gmail) and a scout.
async fn converged(prefix: &str) -> (Harness, String, TenantRef) {
    let h = Harness::new().await;
    let n = unique_name(prefix);
    h.insert_tenant(&n, &[("butler", &["gmail"]), ("scout", &[])])
        .await;
    h.converge(&[&n]).await;
    let t = h.tenant_ref(&n).await;
    // A converged tenant shows no drift.
    let report = h.resync(3600).await;
    assert!(report.drifted.is_empty(), "{:?}", report.drifted);
    (h, n, t)
}

#[tokio::test]
async fn a_deleted_service_is_recreated() {
    let (h, n, t) = converged("svcdel").await;
    h.aws
        .ecs
        .delete_service()
        .cluster(&h.cell().ecs_cluster)
        .service(t.service_name(SCOUT))
        .force(true)
        .send()
        .await
        .expect("delete");
    h.resync_repairs(&n, &t.service_name(SCOUT), false).await;
    assert!(h.service(&t.service_name(SCOUT)).await.is_some());
    assert!(h.repaired("ecs_service", false) >= 1);
}

#[tokio::test]
async fn a_scaled_service_is_scaled_back() {
    let (h, n, t) = converged("svcscale").await;
    h.scale_by_hand(&t.service_name(SCOUT), 7).await;
    h.resync_repairs(&n, &t.service_name(SCOUT), false).await;
    assert_eq!(
        h.service(&t.service_name(SCOUT))
            .await
            .expect("svc")
            .desired_count(),
        1
    );
    assert!(h.repaired("ecs_service", false) >= 1);
}

#[tokio::test]
async fn a_service_pointed_at_another_task_definition_is_pointed_back() {
    let (h, n, t) = converged("svctd").await;
    let ours = h
        .service(&t.service_name(SCOUT))
        .await
        .expect("svc")
        .task_definition()
        .expect("td")
        .to_owned();
    let other = h
        .service(&t.service_name(AgentKind::Butler))
        .await
        .expect("svc")
        .task_definition()
        .expect("td")
        .to_owned();
    h.aws
        .ecs
        .update_service()
        .cluster(&h.cell().ecs_cluster)
        .service(t.service_name(SCOUT))
        .task_definition(&other)
        .send()
        .await
        .expect("repoint");
    h.resync_repairs(&n, &t.service_name(SCOUT), false).await;
    assert_eq!(
        h.service(&t.service_name(SCOUT))
            .await
            .expect("svc")
            .task_definition(),
        Some(ours.as_str())
    );
}

#[tokio::test]
async fn a_public_ip_is_security_drift_and_is_removed() {
    let (h, n, t) = converged("pubip").await;
    let cell = h.cell().clone();
    h.aws
        .ecs
        .update_service()
        .cluster(&cell.ecs_cluster)
        .service(t.service_name(SCOUT))
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(
                    AwsVpcConfiguration::builder()
                        .set_subnets(Some(cell.subnets.clone()))
                        .set_security_groups(Some(cell.security_groups.clone()))
                        .assign_public_ip(AssignPublicIp::Enabled)
                        .build()
                        .expect("vpc"),
                )
                .build(),
        )
        .send()
        .await
        .expect("public ip");
    h.resync_repairs(&n, &t.service_name(SCOUT), true).await;
    let svc = h.service(&t.service_name(SCOUT)).await.expect("svc");
    let ip = svc
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration())
        .and_then(|a| a.assign_public_ip())
        .map(|a| a.as_str().to_owned());
    assert_eq!(ip.as_deref(), Some("DISABLED"));
    assert!(h.repaired("ecs_service", true) >= 1);
}

#[tokio::test]
async fn a_deleted_role_is_recreated_with_its_policy() {
    let (h, n, t) = converged("roledel").await;
    let role = t.role_name(SCOUT);
    h.aws
        .iam
        .delete_role_policy()
        .role_name(&role)
        .policy_name(&role)
        .send()
        .await
        .expect("policy");
    h.aws
        .iam
        .delete_role()
        .role_name(&role)
        .send()
        .await
        .expect("role");
    h.resync_repairs(&n, &role, false).await;
    assert!(h.inline_policy(&role).await.is_some());
    assert!(h.repaired("iam_role", false) >= 1);
}

#[tokio::test]
async fn a_widened_inline_policy_is_narrowed_back() {
    let (h, n, t) = converged("widen").await;
    let role = t.role_name(SCOUT);
    h.widen_inline_policy(
        &role,
        serde_json::json!(
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}),
    )
    .await;
    h.resync_repairs(&n, &role, true).await;
    let back = h.inline_policy(&role).await.expect("policy");
    assert!(!back.to_string().contains("\"Resource\":\"*\""), "{back}");
    assert!(h.repaired("iam_inline_policy", true) >= 1);
}

#[tokio::test]
async fn a_removed_inline_policy_is_put_back() {
    let (h, n, t) = converged("polrm").await;
    let role = t.role_name(SCOUT);
    h.aws
        .iam
        .delete_role_policy()
        .role_name(&role)
        .policy_name(&role)
        .send()
        .await
        .expect("remove");
    h.resync_repairs(&n, &role, false).await;
    assert!(h.inline_policy(&role).await.is_some());
}

#[tokio::test]
async fn a_removed_boundary_is_put_back() {
    let (h, n, t) = converged("boundary").await;
    let role = t.role_name(SCOUT);
    h.aws
        .iam
        .delete_role_permissions_boundary()
        .role_name(&role)
        .send()
        .await
        .expect("remove boundary");
    h.resync_repairs(&n, &role, true).await;
    let r = h
        .aws
        .iam
        .get_role()
        .role_name(&role)
        .send()
        .await
        .expect("role");
    assert_eq!(
        r.role()
            .and_then(|r| r.permissions_boundary())
            .and_then(|b| b.permissions_boundary_arn()),
        Some(h.cell().permissions_boundary_arn.as_str())
    );
    assert!(h.repaired("iam_role", true) >= 1);
}

#[tokio::test]
async fn a_changed_trust_policy_is_restored() {
    let (h, n, t) = converged("trust").await;
    let role = t.role_name(SCOUT);
    h.aws.iam.update_assume_role_policy().role_name(&role)
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999999999999:root"},"Action":"sts:AssumeRole"}]}"#)
        .send().await.expect("trust");
    h.resync_repairs(&n, &role, true).await;
    let r = h
        .aws
        .iam
        .get_role()
        .role_name(&role)
        .send()
        .await
        .expect("role");
    let doc = operator::policy::decode_document(
        r.role()
            .and_then(|r| r.assume_role_policy_document())
            .expect("trust"),
    )
    .expect("json");
    assert_eq!(
        doc["Statement"][0]["Principal"]["Service"],
        "ecs-tasks.amazonaws.com"
    );
}

#[tokio::test]
async fn a_deleted_secret_is_recreated() {
    let (h, n, t) = converged("secdel").await;
    let name = t.oauth_secret_name(crds::api::Integration::Gmail);
    h.aws
        .secrets
        .delete_secret()
        .secret_id(&name)
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("delete");
    h.resync_repairs(&n, &name, false).await;
    assert!(h
        .aws
        .secrets
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .is_ok());
    assert!(h.repaired("secret", false) >= 1);
}

#[tokio::test]
async fn a_secret_scheduled_for_deletion_is_restored_not_recreated() {
    let (h, n, t) = converged("secsched").await;
    let name = t.db_secret_name();
    let before = h
        .aws
        .secrets
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("secret");
    h.aws
        .secrets
        .delete_secret()
        .secret_id(&name)
        .recovery_window_in_days(7)
        .send()
        .await
        .expect("schedule");
    h.resync_repairs(&n, &name, false).await;
    let after = h
        .aws
        .secrets
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("secret");
    assert_eq!(after.arn(), before.arn(), "restored, so the same secret");
    assert!(after.deleted_date().is_none());
    let audit = h.drift_audit(&n, &name).await;
    assert!(audit.iter().any(|(a, _)| a == "restore"), "{audit:?}");
}

#[tokio::test]
async fn removed_ownership_tags_are_put_back() {
    let (h, n, t) = converged("tags").await;
    let role = t.role_name(SCOUT);
    let keys = [
        "openclaw:managed-by",
        "openclaw:tenant",
        "openclaw:agent",
        "openclaw:cell",
    ];
    h.aws
        .iam
        .untag_role()
        .role_name(&role)
        .set_tag_keys(Some(keys.iter().map(|k| k.to_string()).collect()))
        .send()
        .await
        .expect("untag role");
    let secret = t.db_secret_name();
    h.aws
        .secrets
        .untag_resource()
        .secret_id(&secret)
        .set_tag_keys(Some(keys.iter().map(|k| k.to_string()).collect()))
        .send()
        .await
        .expect("untag secret");
    h.resync_repairs(&n, &role, false).await;
    let r = h
        .aws
        .iam
        .get_role()
        .role_name(&role)
        .send()
        .await
        .expect("role");
    assert!(r
        .role()
        .expect("role")
        .tags()
        .iter()
        .any(|t| t.key() == "openclaw:managed-by"));
    let s = h
        .aws
        .secrets
        .describe_secret()
        .secret_id(&secret)
        .send()
        .await
        .expect("secret");
    assert!(s
        .tags()
        .iter()
        .any(|t| t.key() == Some("openclaw:managed-by")));
    assert!(!h.drift_audit(&n, &secret).await.is_empty());
}

#[tokio::test]
async fn a_dropped_tenant_schema_is_recreated() {
    let (h, n, t) = converged("schema").await;
    sqlx::query(&format!("DROP SCHEMA \"{}\" CASCADE", t.db.schema()))
        .execute(&h.db.tenants)
        .await
        .expect("drop");
    h.resync_repairs(&n, t.db.schema(), false).await;
    let usage: bool = sqlx::query_scalar("SELECT has_schema_privilege($1, $2, 'USAGE')")
        .bind(t.db.role())
        .bind(t.db.schema())
        .fetch_one(&h.db.tenants)
        .await
        .expect("usage");
    assert!(usage);
}

/// Only a superuser can give a role BYPASSRLS, or take it away: this one test runs the operator
/// as the superuser (RDS's master user could neither make this drift nor repair it).
#[tokio::test]
async fn bypassrls_is_security_drift_and_is_revoked() {
    let h = Harness::build_on(
        openclaw_tests::TestDb::superuser().await,
        openclaw_tests::stack_config(),
        |_| {},
    )
    .await;
    let n = unique_name("bypass");
    h.insert_tenant(&n, &[("butler", &["gmail"]), ("scout", &[])])
        .await;
    h.converge(&[&n]).await;
    let t = h.tenant_ref(&n).await;
    sqlx::query(&format!("ALTER ROLE \"{}\" BYPASSRLS", t.db.role()))
        .execute(&h.db.admin)
        .await
        .expect("bypassrls");
    h.resync_repairs(&n, t.db.role(), true).await;
    let bypass: bool = sqlx::query_scalar("SELECT rolbypassrls FROM pg_roles WHERE rolname = $1")
        .bind(t.db.role())
        .fetch_one(&h.db.pool)
        .await
        .expect("role");
    assert!(!bypass);
    assert!(h.repaired("pg_role", true) >= 1);
}

#[tokio::test]
async fn a_grant_outside_the_tenant_schema_is_revoked() {
    let (h, n, t) = converged("grant").await;
    sqlx::raw_sql(&format!(
        "CREATE SCHEMA stash; CREATE TABLE stash.kept (x text); \
         GRANT USAGE ON SCHEMA stash TO \"{0}\"; GRANT SELECT ON stash.kept TO \"{0}\"",
        t.db.role()
    ))
    .execute(&h.db.tenants)
    .await
    .expect("grant");
    h.resync_repairs(&n, t.db.role(), true).await;
    let can: (bool, bool) = sqlx::query_as("SELECT has_table_privilege($1, 'stash.kept', 'SELECT'), has_schema_privilege($1, 'stash', 'USAGE')")
        .bind(t.db.role()).fetch_one(&h.db.tenants).await.expect("privilege");
    assert_eq!(can, (false, false));
}

#[tokio::test]
async fn disabled_or_dropped_row_level_security_is_restored() {
    let (h, _n, _t) = converged("rls").await;
    for breakage in [
        "ALTER TABLE shared.usage DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE shared.usage NO FORCE ROW LEVEL SECURITY",
        "DROP POLICY tenant_isolation ON shared.usage",
    ] {
        sqlx::query(breakage)
            .execute(&h.db.tenants)
            .await
            .expect(breakage);
        let report = h.resync(3600).await;
        assert!(report.shared_rls_repaired, "{breakage}: not repaired");
        let (on, forced, policy): (bool, bool, bool) = sqlx::query_as(
            "SELECT c.relrowsecurity, c.relforcerowsecurity, EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'tenant_isolation') \
             FROM pg_class c WHERE c.oid = 'shared.usage'::regclass")
            .fetch_one(&h.db.tenants).await.expect("rls");
        assert_eq!((on, forced, policy), (true, true, true), "{breakage}");
    }
    assert!(h.repaired("pg_rls", true) >= 3);
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM openclaw.audit_log WHERE resource_kind = 'pg_rls'",
    )
    .fetch_one(&h.db.pool)
    .await
    .expect("audit");
    assert_eq!(n, 3);
}

/// Permissive policies add up: one more policy on shared.usage, `USING (true)`, shows every
/// tenant every row, though RLS stays enabled and forced and tenant_isolation is untouched. So do
/// a loosened tenant_isolation and an operator_all opened to everyone.
#[tokio::test]
async fn a_policy_that_widens_the_shared_tables_is_security_drift_and_is_removed() {
    let h = Harness::new().await;
    let a = unique_name("rlsa");
    let b = unique_name("rlsb");
    h.insert_tenant(&a, &[("scout", &[])]).await;
    h.insert_tenant(&b, &[("scout", &[])]).await;
    h.converge(&[&a, &b]).await;
    let ta = h.tenant_ref(&a).await;
    let tb = h.tenant_ref(&b).await;
    for t in [&ta, &tb] {
        let mut s = h.connect_as(t.db.role()).await.expect("tenant");
        sqlx::query("INSERT INTO shared.usage (agent, model, input_tokens, output_tokens, latency_ms) VALUES ('scout', 'm', 1, 1, 1)")
            .execute(&mut s)
            .await
            .expect("usage");
    }
    let seen_by_a = || async {
        let mut s = h.connect_as(ta.db.role()).await.expect("tenant a");
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM shared.usage")
            .fetch_one(&mut s)
            .await
            .expect("count")
    };
    assert_eq!(seen_by_a().await, 1);
    for widening in [
        "CREATE POLICY leak ON shared.usage USING (true)",
        "ALTER POLICY tenant_isolation ON shared.usage USING (true)",
        "ALTER POLICY operator_all ON shared.usage TO PUBLIC",
    ] {
        sqlx::query(widening)
            .execute(&h.db.tenants)
            .await
            .expect(widening);
        assert_eq!(
            seen_by_a().await,
            2,
            "{widening}: the widening shows A B's row"
        );
        let findings = operator::isolation::pg_findings(&h.db.tenants, &[ta.clone(), tb.clone()])
            .await
            .expect("audit");
        assert!(
            findings.iter().any(|f| f.kind == "pg_rls"),
            "{widening}: {findings:?}"
        );
        let report = h.resync(3600).await;
        assert!(report.shared_rls_repaired, "{widening}: not repaired");
        assert_eq!(seen_by_a().await, 1, "{widening}: still widened");
    }
    assert!(h.repaired("pg_rls", true) >= 3);
    // The operator's own policy is back, for the operator only: cost still sees both tenants.
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM shared.usage")
        .fetch_one(&h.db.tenants)
        .await
        .expect("operator count");
    assert_eq!(rows, 2);
}

#[tokio::test]
async fn an_orphan_is_removed_after_the_grace_period_and_never_before() {
    let h = Harness::new().await;
    let n = unique_name("orphan");
    h.insert_tenant(&n, &[("scout", &[])]).await;
    h.converge(&[&n]).await;
    let t = h.tenant_ref(&n).await;
    // The row vanishes without a teardown (finalizer stripped by hand): everything is orphaned.
    sqlx::query("UPDATE openclaw.tenants SET finalizers = '{}' WHERE name = $1")
        .bind(&n)
        .execute(&h.db.pool)
        .await
        .expect("strip");
    sqlx::query("UPDATE openclaw.agents SET finalizers = '{}' WHERE tenant = $1")
        .bind(&n)
        .execute(&h.db.pool)
        .await
        .expect("strip");
    sqlx::query("DELETE FROM openclaw.tenants WHERE name = $1")
        .bind(&n)
        .execute(&h.db.pool)
        .await
        .expect("delete");

    let grace = 2;
    let first = h.resync(grace).await;
    let seen: Vec<&String> = first
        .orphans
        .iter()
        .filter(|(tn, _)| tn == &n)
        .map(|(_, r)| r)
        .collect();
    assert!(
        seen.contains(&&t.role_name(SCOUT)) && seen.contains(&&t.service_name(SCOUT)),
        "{:?}",
        first.orphans
    );
    assert!(
        seen.contains(&&t.db_secret_name()) && seen.contains(&&t.db.role().to_owned()),
        "{:?}",
        first.orphans
    );
    assert_eq!(first.orphans_removed, 0, "never before the grace period");
    assert!(h
        .aws
        .iam
        .get_role()
        .role_name(t.role_name(SCOUT))
        .send()
        .await
        .is_ok());

    tokio::time::sleep(std::time::Duration::from_millis(grace * 1000 + 500)).await;
    let second = h.resync(grace).await;
    assert!(second.orphans_removed >= 4, "{second:?}");
    assert!(h
        .aws
        .iam
        .get_role()
        .role_name(t.role_name(SCOUT))
        .send()
        .await
        .is_err());
    assert!(h.service(&t.service_name(SCOUT)).await.is_none());
    let role: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(t.db.role())
            .fetch_one(&h.db.pool)
            .await
            .expect("pg");
    assert!(!role);
    let audit: i64 = sqlx::query_scalar("SELECT count(*) FROM openclaw.audit_log WHERE tenant = $1 AND detail->>'reason' LIKE 'orphan%'")
        .bind(&n).fetch_one(&h.db.pool).await.expect("audit");
    assert!(audit >= 4, "orphan removals are audit-logged");
    let third = h.resync(grace).await;
    assert!(third.orphans.iter().all(|(tn, _)| tn != &n));
}

/// A tenant row removed by hand (no teardown) and a new tenant of the same name: the old
/// incarnation's role, schema and rows are orphans although the name lives on, and go; the new
/// incarnation keeps everything.
#[tokio::test]
async fn an_old_incarnations_role_is_an_orphan_though_its_name_lives_on() {
    let h = Harness::new().await;
    let n = unique_name("reborn");
    h.insert_tenant(&n, &[("scout", &[])]).await;
    h.converge(&[&n]).await;
    let old = h.tenant_ref(&n).await;
    let mut s = h.connect_as(old.db.role()).await.expect("old tenant");
    sqlx::query("INSERT INTO shared.usage (agent, model, input_tokens, output_tokens, latency_ms) VALUES ('scout', 'm', 1, 1, 1)")
        .execute(&mut s)
        .await
        .expect("usage");
    drop(s);
    for q in [
        "UPDATE openclaw.agents SET finalizers = '{}' WHERE tenant = $1",
        "UPDATE openclaw.tenants SET finalizers = '{}' WHERE name = $1",
        "DELETE FROM openclaw.tenants WHERE name = $1",
    ] {
        sqlx::query(q).bind(&n).execute(&h.db.pool).await.expect(q);
    }
    h.insert_tenant(&n, &[("scout", &[])]).await;
    h.converge(&[&n]).await;
    let new = h.tenant_ref(&n).await;
    assert_ne!(new.db, old.db);
    let grace = 1;
    let first = h.resync(grace).await;
    assert!(
        first
            .orphans
            .iter()
            .any(|(t, r)| t == &n && r == old.db.role()),
        "{:?}",
        first.orphans
    );
    tokio::time::sleep(std::time::Duration::from_millis(grace * 1000 + 500)).await;
    let _ = h.resync(grace).await;
    let exists = |role: String| {
        let pool = h.db.tenant_admin.clone();
        async move {
            sqlx::query_scalar::<_, bool>(
                "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) \
                 OR EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
            )
            .bind(role)
            .fetch_one(&pool)
            .await
            .expect("pg")
        }
    };
    assert!(
        !exists(old.db.role().to_owned()).await,
        "the old incarnation's role or schema is left"
    );
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM shared.usage WHERE tenant = $1")
        .bind(old.db.as_str())
        .fetch_one(&h.db.tenant_admin)
        .await
        .expect("rows");
    assert_eq!(rows, 0, "the old incarnation's usage rows are left");
    // The live incarnation is untouched: its role, its service, its secret.
    assert!(exists(new.db.role().to_owned()).await);
    assert!(h.service(&new.service_name(SCOUT)).await.is_some());
    assert_eq!(h.phase(&n).await.as_deref(), Some("Ready"));
    let report = h.resync(3600).await;
    assert!(report.drifted.is_empty(), "{:?}", report.drifted);
}

#[tokio::test]
async fn a_steady_state_resync_of_50_tenants_makes_no_writes_and_few_calls() {
    // An account of its own, so that no other test's resources are counted.
    let moto = openclaw_tests::moto::PrivateMoto::start().await;
    let h = Harness::build(moto.cell_config(), |c| c.operator.aws_rate_scale = 100.0).await;
    let names: Vec<String> = (0..50).map(|_| unique_name("steady")).collect();
    for (i, n) in names.iter().enumerate() {
        if i % 2 == 0 {
            h.insert_tenant(n, &[("scout", &[])]).await;
        } else {
            h.insert_tenant(n, &[("butler", &["gmail"]), ("strategist", &["hubspot"])])
                .await;
        }
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    h.converge(&refs).await;
    // The first resync may describe task definitions it has not seen; the second is steady state.
    let _ = h.resync(3600).await;
    let report = h.resync(3600).await;
    assert!(
        report.drifted.is_empty() && report.pending.is_empty(),
        "{:?} {:?}",
        report.drifted,
        report.pending
    );
    assert_eq!(report.aws_writes, 0, "a steady-state resync must not write");
    let per_tenant = report.aws_calls as f64 / 50.0;
    assert!(
        per_tenant <= 0.5,
        "{} AWS calls for 50 tenants ({per_tenant:.2} per tenant)",
        report.aws_calls
    );
    assert_eq!(
        h.metrics.last_resync_aws_calls.get() as u64,
        report.aws_calls
    );
    assert!(h.metrics.inventory_size.get() >= 50 * 4);
}

/// A delete whose target is already gone is done: the SDK retries a call whose first attempt
/// committed before its answer was lost, and a teardown resumed after a crash repeats its last
/// step. (Seen failing before: a missing inline policy was a NoSuchEntity error.)
#[tokio::test]
async fn deletes_of_what_is_already_gone_are_done() {
    use operator::resources::iam_role::{apply, Op};
    let (h, _n, t) = converged("gone").await;
    let c = &h.reconciler.clients;
    for op in [
        Op::DeleteForeignInlinePolicy {
            kind: SCOUT,
            policy: "never-there".into(),
        },
        Op::DetachPolicy {
            kind: SCOUT,
            arn: "arn:aws:iam::aws:policy/ReadOnlyAccess".into(),
        },
        Op::Delete { kind: SCOUT },
        Op::Delete { kind: SCOUT },
    ] {
        apply(c, &t, None, &op)
            .await
            .unwrap_or_else(|e| panic!("{op:?}: {e}"));
    }
    assert!(h
        .aws
        .iam
        .get_role()
        .role_name(t.role_name(SCOUT))
        .send()
        .await
        .is_err());
}

async fn boundary_of(h: &Harness, role: &str) -> Option<String> {
    h.aws
        .iam
        .get_role()
        .role_name(role)
        .send()
        .await
        .expect("role")
        .role()
        .and_then(|r| r.permissions_boundary())
        .and_then(|b| b.permissions_boundary_arn())
        .map(str::to_owned)
}

/// `spec.paused`: the operator still observes a paused tenant and reports its drift (resync,
/// status, conditions, `plan`), makes no AWS write at all, and repairs it once unpaused.
#[tokio::test]
async fn a_paused_tenant_shows_its_drift_makes_no_write_and_converges_when_unpaused() {
    let (h, n, t) = converged("paused").await;
    let role = t.role_name(SCOUT);
    let generation: i64 = sqlx::query_scalar(
        "UPDATE openclaw.tenants SET paused = true WHERE name = $1 RETURNING generation",
    )
    .bind(&n)
    .fetch_one(&h.db.pool)
    .await
    .expect("pause");
    h.reconciler.reconcile(&n).await.expect("paused pass");
    assert_eq!(h.phase(&n).await.as_deref(), Some("Paused"));
    // Drift of both sorts: a scaled service, and a removed boundary (security drift).
    h.scale_by_hand(&t.service_name(SCOUT), 7).await;
    h.aws
        .iam
        .delete_role_permissions_boundary()
        .role_name(&role)
        .send()
        .await
        .expect("remove boundary");

    let (_, writes_before) = h.calls();
    let report = h.resync(3600).await;
    let d = report
        .drifted
        .iter()
        .find(|d| d.tenant == n)
        .unwrap_or_else(|| panic!("{n} not found drifted: {report:?}"));
    assert!(d.security, "{:?}", d.plan);
    h.reconciler
        .reconcile(&n)
        .await
        .expect("another paused pass");
    let (text, summary) = h.reconciler.plan(&n).await.expect("plan").expect("tenant");
    let (_, writes_after) = h.calls();
    assert_eq!(
        writes_after, writes_before,
        "a paused tenant gets no AWS write"
    );
    assert!(summary.total() >= 2, "{text}");
    assert!(text.contains("paused"), "{text}");
    assert!(
        text.contains(&t.service_name(SCOUT)) && text.contains(&role),
        "{text}"
    );
    assert_eq!(
        h.service(&t.service_name(SCOUT))
            .await
            .expect("svc")
            .desired_count(),
        7,
        "left as found"
    );
    assert_eq!(boundary_of(&h, &role).await, None, "left as found");
    let (phase, generation_seen, conditions, message): (
        String,
        i64,
        serde_json::Value,
        Option<String>,
    ) = sqlx::query_as(
        "SELECT phase, observed_generation, conditions, status_message FROM openclaw.tenants \
             WHERE name = $1",
    )
    .bind(&n)
    .fetch_one(&h.db.pool)
    .await
    .expect("status");
    assert_eq!(phase, "Paused");
    assert_eq!(generation_seen, generation, "the pause was observed");
    let condition = |ty: &str| {
        conditions
            .as_array()
            .expect("conditions")
            .iter()
            .find(|c| c["type"] == ty)
            .cloned()
            .unwrap_or_else(|| panic!("no {ty} condition: {conditions}"))
    };
    assert_eq!(condition("Paused")["status"], "True");
    assert_eq!(condition("Synced")["status"], "False");
    assert_eq!(condition("Ready")["reason"], "Drifted");
    let message = message.expect("a status message");
    assert!(
        message.contains("changes held") && message.contains("security drift"),
        "{message}"
    );
    assert_eq!(
        h.metrics
            .tenant_condition
            .with_label_values(&[n.as_str(), "Paused"])
            .get(),
        1
    );

    sqlx::query("UPDATE openclaw.tenants SET paused = false WHERE name = $1")
        .bind(&n)
        .execute(&h.db.pool)
        .await
        .expect("unpause");
    h.converge(&[&n]).await;
    assert_eq!(
        h.service(&t.service_name(SCOUT))
            .await
            .expect("svc")
            .desired_count(),
        1
    );
    assert!(boundary_of(&h, &role).await.is_some());
    let conditions: serde_json::Value =
        sqlx::query_scalar("SELECT conditions FROM openclaw.tenants WHERE name = $1")
            .bind(&n)
            .fetch_one(&h.db.pool)
            .await
            .expect("status");
    let paused = conditions
        .as_array()
        .expect("conditions")
        .iter()
        .find(|c| c["type"] == "Paused")
        .expect("the Paused condition stays, False");
    assert_eq!(paused["status"], "False");
    let report = h.resync(3600).await;
    assert!(
        report.drifted.iter().all(|d| d.tenant != n),
        "{:?}",
        report.drifted
    );
}
