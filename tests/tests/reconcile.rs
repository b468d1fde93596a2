//! The reconciler end to end, on a real PostgreSQL and moto through the real AWS SDK.

use std::collections::BTreeSet;

use crds::naming::TenantName;
use openclaw_tests::{unique_name, Harness};

const MANAGED: (&str, &str) = ("openclaw:managed-by", "openclaw-operator");

async fn secret_names(h: &Harness, tenant: &TenantName) -> BTreeSet<String> {
    operator::resources::secrets_manager::list(&h.reconciler.clients, &tenant.secret_prefix())
        .await
        .expect("list secrets")
        .into_iter()
        .filter(|s| !s.scheduled_for_deletion)
        .map(|s| s.name)
        .collect()
}

async fn role_exists(h: &Harness, role: &str) -> bool {
    h.aws.iam.get_role().role_name(role).send().await.is_ok()
}

#[tokio::test]
async fn three_tenants_inserted_by_sql_become_ready_with_the_right_resources() {
    let h = Harness::new().await;
    let names = [
        unique_name("red"),
        unique_name("green"),
        unique_name("blue"),
    ];
    h.insert_tenant(
        &names[0],
        &[("butler", &["gmail", "calendar"]), ("scout", &[])],
    )
    .await;
    h.insert_tenant(&names[1], &[("strategist", &["hubspot"])])
        .await;
    h.insert_tenant(&names[2], &[("scout", &[])]).await;
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    h.converge(&refs).await;

    let cell = h.cell().clone();
    let arn = cell.arn_context();
    for name in &names {
        let t = h.tenant_ref(name).await;
        assert_eq!(h.phase(name).await.as_deref(), Some("Ready"));
        let agents = operator::store::list_agents(&mut *h.db.conn().await, Some(name))
            .await
            .expect("agents");
        for a in &agents {
            let kind = a.agent_kind().expect("kind");
            assert_eq!(a.phase, "Ready", "{name}/{}", a.kind);
            // Role: path, boundary, trust, tags.
            let role = h
                .aws
                .iam
                .get_role()
                .role_name(t.role_name(kind))
                .send()
                .await
                .expect("role");
            let role = role.role().expect("role");
            assert_eq!(role.path(), "/openclaw/tenants/");
            assert_eq!(
                role.permissions_boundary()
                    .and_then(|b| b.permissions_boundary_arn()),
                Some(cell.permissions_boundary_arn.as_str())
            );
            let trust = operator::policy::decode_document(
                role.assume_role_policy_document().expect("trust"),
            )
            .expect("trust JSON");
            assert_eq!(
                trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"],
                cell.account_id.as_str()
            );
            assert!(role
                .tags()
                .iter()
                .any(|tag| tag.key() == MANAGED.0 && tag.value() == MANAGED.1));
            // The inline policy names only this tenant's ARNs.
            let doc = h
                .inline_policy(&t.role_name(kind))
                .await
                .expect("inline policy");
            for (_, resource) in operator::policy::resources(&doc) {
                assert_ne!(resource, "*", "{name}: wildcard resource");
                let own = [
                    format!("secret:{}", t.secret_prefix()),
                    format!("/{}", t.s3_prefix()),
                    format!(":log-group:/openclaw/{name}/"),
                    "foundation-model/".to_owned(),
                    format!("arn:aws:s3:::{}", cell.tenant_bucket),
                ];
                assert!(
                    own.iter().any(|o| resource.contains(o.as_str())),
                    "{name}: {resource} is not this tenant's"
                );
                for other in names.iter().filter(|o| *o != name) {
                    assert!(
                        !resource.contains(other.as_str()),
                        "{name}'s policy names {other}: {resource}"
                    );
                }
            }
            let _ = &arn;
            // Task definition and service.
            let svc = h.service(&t.service_name(kind)).await.expect("service");
            assert_eq!(svc.desired_count(), 1);
            assert_eq!(svc.launch_type().map(|l| l.as_str()), Some("FARGATE"));
            let net = svc
                .network_configuration()
                .and_then(|n| n.awsvpc_configuration())
                .expect("awsvpc");
            assert_eq!(net.assign_public_ip().map(|a| a.as_str()), Some("DISABLED"));
            assert_eq!(
                net.subnets().iter().cloned().collect::<BTreeSet<_>>(),
                cell.subnets.iter().cloned().collect::<BTreeSet<_>>()
            );
            assert!(svc
                .task_definition()
                .unwrap_or_default()
                .contains(&t.task_family(kind)));
            assert!(svc
                .tags()
                .iter()
                .any(|tag| tag.key() == Some(MANAGED.0) && tag.value() == Some(MANAGED.1)));
            let td = h
                .aws
                .ecs
                .describe_task_definition()
                .task_definition(svc.task_definition().expect("td"))
                .send()
                .await
                .expect("task definition");
            let td = td.task_definition().expect("td");
            assert_eq!(td.task_role_arn(), Some(arn.role_arn(&t, kind).as_str()));
            assert_eq!(
                td.execution_role_arn(),
                Some(cell.execution_role_arn.as_str())
            );
            let env: Vec<String> = td.container_definitions()[0]
                .environment()
                .iter()
                .map(|kv| format!("{}={}", kv.name().unwrap_or(""), kv.value().unwrap_or("")))
                .collect();
            assert!(env.contains(&format!("OPENCLAW_DB_SECRET={}", t.db_secret_name())));
            assert!(!env.iter().any(|e| e.to_lowercase().contains("password")));
        }
        // PostgreSQL: schema and role with the right attributes.
        let (login, superuser, bypass, createrole): (bool, bool, bool, bool) = sqlx::query_as(
            "SELECT rolcanlogin, rolsuper, rolbypassrls, rolcreaterole FROM pg_roles WHERE rolname = $1",
        )
        .bind(t.db.role())
        .fetch_one(&h.db.pool)
        .await
        .expect("role row");
        assert_eq!(
            (login, superuser, bypass, createrole),
            (true, false, false, false)
        );
        let schema: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
                .bind(t.db.schema())
                .fetch_one(&h.db.tenants)
                .await
                .expect("schema");
        assert!(schema);
    }
    // Secrets: the DB secret and one per integration.
    let t0 = h.tenant_ref(&names[0]).await;
    assert_eq!(
        secret_names(&h, &t0).await,
        [
            t0.db_secret_name(),
            format!("/openclaw/{}/gmail-oauth", names[0]),
            format!("/openclaw/{}/calendar-oauth", names[0]),
        ]
        .into_iter()
        .collect()
    );
    let t1 = TenantName::parse(&names[1]).expect("name");
    assert_eq!(secret_names(&h, &t1).await.len(), 2);
    // The DB secret's password works for the tenant role (its SCRAM verifier is set).
    // (Only the superuser may read pg_authid; the operator never does.)
    let verifier: Option<String> =
        sqlx::query_scalar("SELECT rolpassword FROM pg_authid WHERE rolname = $1")
            .bind(t0.db.role())
            .fetch_one(&h.db.admin)
            .await
            .expect("verifier");
    assert!(verifier
        .expect("password set")
        .starts_with("SCRAM-SHA-256$4096:"));
    // One audit row per mutation, and the chain verifies.
    let rows = operator::store::audit_rows(&mut *h.db.conn().await, None, None)
        .await
        .expect("audit");
    assert!(rows.len() > 20);
    assert_eq!(crds::audit::verify_chain(&rows), Ok(rows.len()));
}

#[tokio::test]
async fn a_second_pass_over_converged_tenants_makes_no_write_calls() {
    let h = Harness::new().await;
    let a = unique_name("idem");
    let b = unique_name("idem");
    h.insert_tenant(&a, &[("butler", &["gmail"]), ("scout", &[])])
        .await;
    h.insert_tenant(&b, &[("strategist", &["salesforce"])])
        .await;
    h.converge(&[&a, &b]).await;
    let (_, writes_before) = h.calls();
    let audit_before = operator::store::audit_rows(&mut *h.db.conn().await, None, None)
        .await
        .expect("audit")
        .len();
    for n in [&a, &b] {
        h.reconciler.reconcile(n).await.expect("pass");
    }
    let (_, writes_after) = h.calls();
    assert_eq!(
        writes_after - writes_before,
        0,
        "a converged pass must not write"
    );
    let audit_after = operator::store::audit_rows(&mut *h.db.conn().await, None, None)
        .await
        .expect("audit")
        .len();
    assert_eq!(audit_after, audit_before);
}

#[tokio::test]
async fn a_spec_change_converges_and_registers_a_revision_only_when_content_changes() {
    let h = Harness::new().await;
    let n = unique_name("chg");
    let t = TenantName::parse(&n).expect("name");
    h.insert_tenant(&n, &[("scout", &[])]).await;
    h.converge(&[&n]).await;
    let svc_name = t.service_name(crds::api::AgentKind::Scout);
    let first_td = h
        .service(&svc_name)
        .await
        .expect("svc")
        .task_definition()
        .expect("td")
        .to_owned();

    // Desired count: the service scales, the task definition stays.
    sqlx::query("UPDATE openclaw.agents SET desired_count = 2 WHERE tenant = $1")
        .bind(&n)
        .execute(&h.db.pool)
        .await
        .expect("update");
    h.converge(&[&n]).await;
    let svc = h.service(&svc_name).await.expect("svc");
    assert_eq!(svc.desired_count(), 2);
    assert_eq!(
        svc.task_definition(),
        Some(first_td.as_str()),
        "no new revision for a count change"
    );

    // Model and CPU: a new revision, and the service runs it.
    sqlx::query("UPDATE openclaw.agents SET model = 'amazon.nova-pro-v1:0', cpu = 512, memory = 1024 WHERE tenant = $1")
        .bind(&n).execute(&h.db.pool).await.expect("update");
    h.converge(&[&n]).await;
    let svc = h.service(&svc_name).await.expect("svc");
    let second_td = svc.task_definition().expect("td").to_owned();
    assert_ne!(second_td, first_td);
    let td = h
        .aws
        .ecs
        .describe_task_definition()
        .task_definition(&second_td)
        .send()
        .await
        .expect("td");
    let td = td.task_definition().expect("td");
    assert_eq!((td.cpu(), td.memory()), (Some("512"), Some("1024")));
    let gens: (i64, i64) = sqlx::query_as(
        "SELECT generation, observed_generation FROM openclaw.agents WHERE tenant = $1",
    )
    .bind(&n)
    .fetch_one(&h.db.pool)
    .await
    .expect("gen");
    assert_eq!(gens, (3, 3));
}

#[tokio::test]
async fn a_resource_with_our_name_but_not_our_tag_is_left_alone_and_reported() {
    let h = Harness::new().await;
    let n = unique_name("own");
    let t = TenantName::parse(&n).expect("name");
    let role = t.role_name(crds::api::AgentKind::Scout);
    h.aws
        .iam
        .create_role()
        .role_name(&role)
        .path("/openclaw/tenants/")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .send()
        .await
        .expect("foreign role");
    h.insert_tenant(&n, &[("scout", &[])]).await;
    let err = h.reconciler.reconcile(&n).await.expect_err("conflict");
    assert_eq!(err.code(), "ResourceConflict");
    assert!(err.is_terminal());
    let row = operator::store::get_tenant(&mut *h.db.conn().await, &n)
        .await
        .expect("row")
        .expect("tenant");
    assert_eq!(row.phase, "Failed");
    assert!(
        row.status_message
            .as_deref()
            .unwrap_or_default()
            .contains("ResourceConflict"),
        "{:?}",
        row.status_message
    );
    // Untouched: still no tags, no inline policy.
    let got = h
        .aws
        .iam
        .get_role()
        .role_name(&role)
        .send()
        .await
        .expect("role");
    assert!(got.role().expect("role").tags().is_empty());
    let policies = h
        .aws
        .iam
        .list_role_policies()
        .role_name(&role)
        .send()
        .await
        .expect("policies");
    assert!(policies.policy_names().is_empty());
    h.aws
        .iam
        .delete_role()
        .role_name(&role)
        .send()
        .await
        .expect("cleanup");
}

#[tokio::test]
async fn deleting_a_tenant_removes_everything_it_owned_and_nothing_of_another() {
    let h = Harness::new().await;
    let gone = unique_name("gone");
    let kept = unique_name("kept");
    h.insert_tenant(&gone, &[("butler", &["gmail"]), ("scout", &[])])
        .await;
    h.insert_tenant(&kept, &[("butler", &["gmail"])]).await;
    h.converge(&[&gone, &kept]).await;
    let tg = h.tenant_ref(&gone).await;
    let tk = TenantName::parse(&kept).expect("name");
    sqlx::query("DELETE FROM openclaw.tenants WHERE name = $1")
        .bind(&gone)
        .execute(&h.db.pool)
        .await
        .expect("delete");
    let marked: bool = sqlx::query_scalar(
        "SELECT deletion_requested_at IS NOT NULL FROM openclaw.tenants WHERE name = $1",
    )
    .bind(&gone)
    .fetch_one(&h.db.pool)
    .await
    .expect("the finalizer holds the row");
    assert!(marked);
    h.converge(&[&gone]).await;
    assert_eq!(
        h.phase(&gone).await,
        None,
        "the row goes once everything is removed"
    );

    for kind in [crds::api::AgentKind::Butler, crds::api::AgentKind::Scout] {
        assert!(!role_exists(&h, &tg.role_name(kind)).await);
        assert!(h.service(&tg.service_name(kind)).await.is_none());
        let tds = h
            .aws
            .ecs
            .list_task_definitions()
            .family_prefix(tg.task_family(kind))
            .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
            .send()
            .await
            .expect("list");
        assert!(tds.task_definition_arns().is_empty());
    }
    assert!(secret_names(&h, &tg).await.is_empty());
    let pg: (bool, bool) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1), EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
    ).bind(tg.db.role()).fetch_one(&h.db.tenants).await.expect("pg");
    assert_eq!(pg, (false, false));

    // The other tenant is whole.
    assert!(role_exists(&h, &tk.role_name(crds::api::AgentKind::Butler)).await);
    assert!(h
        .service(&tk.service_name(crds::api::AgentKind::Butler))
        .await
        .is_some());
    assert_eq!(secret_names(&h, &tk).await.len(), 2);
    h.reconciler
        .reconcile(&kept)
        .await
        .expect("still converged");
    assert_eq!(h.phase(&kept).await.as_deref(), Some("Ready"));

    // The erasure record.
    let rows = operator::store::audit_rows(&mut *h.db.conn().await, Some(&gone), None)
        .await
        .expect("audit");
    let erase = rows
        .iter()
        .find(|r| r.action == "erase")
        .expect("erasure record");
    let detail: serde_json::Value = serde_json::from_str(&erase.detail).expect("detail");
    let removed: Vec<String> = serde_json::from_value(detail["removed"].clone()).expect("removed");
    assert!(
        removed.contains(&format!(
            "iam_role {}",
            tg.role_name(crds::api::AgentKind::Butler)
        )),
        "{removed:?}"
    );
    assert!(
        removed.contains(&format!("secret {}", tg.db_secret_name())),
        "{removed:?}"
    );
}

#[tokio::test]
async fn deleting_one_agent_tears_down_just_that_agent() {
    let h = Harness::new().await;
    let n = unique_name("one");
    let t = TenantName::parse(&n).expect("name");
    h.insert_tenant(&n, &[("butler", &["calendar"]), ("scout", &[])])
        .await;
    h.converge(&[&n]).await;
    sqlx::query("DELETE FROM openclaw.agents WHERE tenant = $1 AND kind = 'butler'")
        .bind(&n)
        .execute(&h.db.pool)
        .await
        .expect("delete");
    h.converge(&[&n]).await;
    for _ in 0..3 {
        let _ = h.reconciler.reconcile(&n).await;
    }
    let kinds: Vec<String> =
        sqlx::query_scalar("SELECT kind FROM openclaw.agents WHERE tenant = $1")
            .bind(&n)
            .fetch_all(&h.db.pool)
            .await
            .expect("agents");
    assert_eq!(kinds, vec!["scout".to_owned()]);
    assert!(!role_exists(&h, &t.role_name(crds::api::AgentKind::Butler)).await);
    assert!(h
        .service(&t.service_name(crds::api::AgentKind::Butler))
        .await
        .is_none());
    assert!(role_exists(&h, &t.role_name(crds::api::AgentKind::Scout)).await);
    // The calendar grant went with the only agent that used it; the DB secret stays.
    assert_eq!(
        secret_names(&h, &t).await,
        [t.db_secret_name()].into_iter().collect()
    );
}

#[tokio::test]
async fn plan_lists_the_actions_and_changes_nothing() {
    let h = Harness::new().await;
    let n = unique_name("plan");
    let t = TenantName::parse(&n).expect("name");
    h.insert_tenant(&n, &[("scout", &[])]).await;
    let (_, writes) = h.calls();
    let (out, _) = h.reconciler.plan(&n).await.expect("plan").expect("tenant");
    assert!(
        out.contains(&format!(
            "create iam_role {}",
            t.role_name(crds::api::AgentKind::Scout)
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "create ecs_service {}",
            t.service_name(crds::api::AgentKind::Scout)
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("create secret {}", t.db_secret_name())),
        "{out}"
    );
    assert_eq!(h.calls().1, writes, "plan must not write");
    assert!(!role_exists(&h, &t.role_name(crds::api::AgentKind::Scout)).await);
    assert_eq!(h.phase(&n).await.as_deref(), Some("Pending"));

    // On a drifted tenant: the widened policy shows up as security drift; still nothing changes.
    h.converge(&[&n]).await;
    let role = t.role_name(crds::api::AgentKind::Scout);
    h.aws.iam.put_role_policy().role_name(&role).policy_name("backdoor")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#)
        .send().await.expect("drift");
    let (_, writes) = h.calls();
    let (out, _) = h.reconciler.plan(&n).await.expect("plan").expect("tenant");
    assert!(
        out.contains("revoke iam_inline_policy")
            && out.contains("inline policy backdoor was added")
            && out.contains("[security]"),
        "{out}"
    );
    assert_eq!(h.calls().1, writes);
    let still = h
        .aws
        .iam
        .list_role_policies()
        .role_name(&role)
        .send()
        .await
        .expect("policies");
    assert!(still.policy_names().contains(&"backdoor".to_owned()));
    // The next reconcile repairs it.
    h.reconciler.reconcile(&n).await.expect("repair");
    let after = h
        .aws
        .iam
        .list_role_policies()
        .role_name(&role)
        .send()
        .await
        .expect("policies");
    assert_eq!(after.policy_names(), std::slice::from_ref(&role));
}
