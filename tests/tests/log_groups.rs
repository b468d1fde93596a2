//! The agents' log groups as a managed kind: the operator creates each one with the cell's KMS
//! key, the tier's retention and the ownership tags (ECS creates none), repairs each kind of
//! drift, counted and audited, and deletes the group with its agent. Everything is checked through
//! the AWS SDK directly, not the operator's code.

use aws_sdk_cloudwatchlogs::types::LogGroup;
use crds::api::AgentKind;
use crds::naming::{self, TenantRef};
use openclaw_tests::{unique_name, Harness};

async fn group(h: &Harness, name: &str) -> Option<LogGroup> {
    h.aws
        .logs
        .describe_log_groups()
        .log_group_name_prefix(name)
        .send()
        .await
        .expect("describe log groups")
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(name))
        .cloned()
}

async fn tags(h: &Harness, g: &LogGroup) -> std::collections::HashMap<String, String> {
    h.aws
        .logs
        .list_tags_for_resource()
        .resource_arn(g.log_group_arn().expect("arn"))
        .send()
        .await
        .expect("tags")
        .tags()
        .cloned()
        .unwrap_or_default()
}

async fn converged() -> (Harness, String, TenantRef) {
    let h = Harness::new().await;
    let n = unique_name("logs");
    h.insert_tenant(&n, &[("butler", &[]), ("scout", &[])])
        .await;
    h.converge(&[&n]).await;
    let t = h.tenant_ref(&n).await;
    let report = h.resync(3600).await;
    assert!(
        report.drifted.iter().all(|d| d.tenant != n),
        "{:?}",
        report.drifted
    );
    (h, n, t)
}

/// The harness's repair check, and the repair counted for the log-group kind.
async fn resync_repairs(h: &Harness, n: &str, resource: &str, security: bool) {
    let before = h.repaired("log_group", security);
    h.resync_repairs(n, resource, security).await;
    assert!(
        h.repaired("log_group", security) > before,
        "the repair was not counted"
    );
}

#[tokio::test]
async fn onboarding_creates_each_agents_group_encrypted_kept_and_tagged() {
    let (h, n, t) = converged().await;
    let key = h.cell().agent_logs.kms_key_arn.clone();
    for kind in [AgentKind::Butler, AgentKind::Scout] {
        let name = t.log_group(kind);
        let g = group(&h, &name).await.unwrap_or_else(|| panic!("{name}"));
        assert_eq!(g.kms_key_id(), Some(key.as_str()), "{name}");
        assert_eq!(
            g.retention_in_days(),
            Some(30),
            "{name}: the cell's default"
        );
        let tags = tags(&h, &g).await;
        let tag = |k: &str| tags.get(k).map(String::as_str);
        assert_eq!(tag(naming::TAG_MANAGED_BY), Some(naming::MANAGED_BY_VALUE));
        assert_eq!(tag(naming::TAG_TENANT), Some(n.as_str()));
        assert_eq!(tag(naming::TAG_AGENT), Some(kind.as_str()));
        // No task definition asks ECS to create a group.
        let td = h
            .aws
            .ecs
            .describe_task_definition()
            .task_definition(t.task_family(kind))
            .send()
            .await
            .expect("task definition");
        let options = td
            .task_definition()
            .and_then(|d| d.container_definitions().first())
            .and_then(|c| c.log_configuration())
            .and_then(|l| l.options())
            .cloned()
            .unwrap_or_default();
        assert_eq!(options.get("awslogs-group"), Some(&name));
        assert!(!options.contains_key("awslogs-create-group"), "{options:?}");
    }
    assert!(group(&h, &t.log_group(AgentKind::Strategist))
        .await
        .is_none());

    // The tier decides the retention: enterprise keeps a year in this cell.
    sqlx::query("UPDATE openclaw.tenants SET tier = 'enterprise' WHERE name = $1")
        .bind(&n)
        .execute(&h.db.pool)
        .await
        .expect("tier");
    h.reconciler.reconcile(&n).await.expect("reconcile");
    let g = group(&h, &t.log_group(AgentKind::Scout))
        .await
        .expect("group");
    assert_eq!(g.retention_in_days(), Some(365));

    // A removed agent's group goes with it; the other agent's stays.
    sqlx::query("DELETE FROM openclaw.agents WHERE tenant = $1 AND kind = 'butler'")
        .bind(&n)
        .execute(&h.db.pool)
        .await
        .expect("delete agent");
    h.converge(&[&n]).await;
    assert!(group(&h, &t.log_group(AgentKind::Butler)).await.is_none());
    assert!(group(&h, &t.log_group(AgentKind::Scout)).await.is_some());
}

#[tokio::test]
async fn each_kind_of_log_group_drift_is_repaired_counted_and_audited() {
    let (h, n, t) = converged().await;
    let scout = t.log_group(AgentKind::Scout);
    let butler = t.log_group(AgentKind::Butler);
    let key = h.cell().agent_logs.kms_key_arn.clone();

    // Retention shortened by hand.
    h.aws
        .logs
        .put_retention_policy()
        .log_group_name(&scout)
        .retention_in_days(1)
        .send()
        .await
        .expect("retention");
    resync_repairs(&h, &n, &scout, false).await;
    assert_eq!(
        group(&h, &scout).await.expect("group").retention_in_days(),
        Some(30)
    );

    // The KMS key removed: security drift.
    h.aws
        .logs
        .disassociate_kms_key()
        .log_group_name(&butler)
        .send()
        .await
        .expect("disassociate");
    assert_eq!(group(&h, &butler).await.expect("group").kms_key_id(), None);
    resync_repairs(&h, &n, &butler, true).await;
    assert_eq!(
        group(&h, &butler).await.expect("group").kms_key_id(),
        Some(key.as_str())
    );

    // Every tag stripped.
    let g = group(&h, &scout).await.expect("group");
    let keys: Vec<String> = tags(&h, &g).await.into_keys().collect();
    h.aws
        .logs
        .untag_resource()
        .resource_arn(g.log_group_arn().expect("arn"))
        .set_tag_keys(Some(keys))
        .send()
        .await
        .expect("untag");
    assert!(tags(&h, &g).await.is_empty());
    resync_repairs(&h, &n, &scout, false).await;
    assert_eq!(
        tags(&h, &g).await.get(naming::TAG_TENANT),
        Some(&n),
        "tags put back"
    );

    // The group deleted: created again, with its key and retention.
    h.aws
        .logs
        .delete_log_group()
        .log_group_name(&butler)
        .send()
        .await
        .expect("delete");
    let report = h.resync(3600).await;
    assert!(report.drifted.iter().any(|d| d.tenant == n), "{report:?}");
    let g = group(&h, &butler).await.expect("recreated");
    assert_eq!(g.kms_key_id(), Some(key.as_str()));
    assert_eq!(g.retention_in_days(), Some(30));
    let audit = h.drift_audit(&n, &butler).await;
    assert!(audit.iter().any(|(a, _)| a == "create"), "{audit:?}");
}
