//! The operator against an AWS that throttles and fails: the proxy in `openclaw_tests::aws_proxy`
//! sits between the operator and the emulator, enforces the published buckets, injects faults,
//! and counts what went on the wire. Checks of what exists go to the emulator directly.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ecs::types::{TaskDefinitionField, TaskDefinitionStatus};
use crds::api::AgentKind;
use openclaw_tests::aws_proxy::{AwsProxy, Faults};
use openclaw_tests::{unique_name, wait_until, Harness};

const LIFETIME: Duration = Duration::from_secs(900);

async fn proxy(scale: f64) -> AwsProxy {
    AwsProxy::start(&Harness::stack_endpoint(), scale, LIFETIME).await
}

/// Short AWS timeouts, so a held call costs seconds.
fn short_timeouts(c: &mut operator::config::Config) {
    c.operator.aws_attempt_timeout_seconds = 2;
    c.operator.aws_operation_timeout_seconds = 20;
}

/// Every revision of `family` in `status`, read from the emulator.
async fn revisions(h: &Harness, family: &str, status: TaskDefinitionStatus) -> Vec<String> {
    h.aws
        .ecs
        .list_task_definitions()
        .family_prefix(family)
        .status(status)
        .send()
        .await
        .expect("list task definitions")
        .task_definition_arns()
        .to_vec()
}

/// Per operation, the attempts the operator's metrics counted and the throttles among them.
fn metric_attempts(h: &Harness) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let (mut calls, mut throttles) = (BTreeMap::new(), BTreeMap::new());
    for family in h.metrics.registry.gather() {
        let target = match family.name() {
            "openclaw_aws_requests_total" => &mut calls,
            "openclaw_aws_throttles_total" => &mut throttles,
            _ => continue,
        };
        for m in family.get_metric() {
            let op = m
                .get_label()
                .iter()
                .find(|l| l.name() == "operation")
                .map(|l| l.value().to_owned())
                .unwrap_or_default();
            *target.entry(op).or_insert(0) += m.get_counter().get_value() as u64;
        }
    }
    (calls, throttles)
}

/// The phase of each of `names` that still has a row (none while the store is unreachable).
async fn phases_of(h: &Harness, names: &[String]) -> BTreeMap<String, String> {
    sqlx::query_as::<_, (String, String)>(
        "SELECT name, phase FROM openclaw.tenants WHERE name = ANY($1)",
    )
    .bind(names)
    .fetch_all(&h.db.pool)
    .await
    .unwrap_or_default()
    .into_iter()
    .collect()
}

/// How many of `names` are Ready.
async fn ready_count(h: &Harness, names: &[String]) -> usize {
    phases_of(h, names)
        .await
        .values()
        .filter(|p| *p == "Ready")
        .count()
}

#[tokio::test]
async fn the_proxy_throttles_in_each_protocols_own_shape() {
    let p = proxy(1.0).await;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(p.endpoint())
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    let key = std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "testing".into());
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let iam = aws_sdk_iam::Client::new(&sdk);
    ecs.list_clusters()
        .send()
        .await
        .expect("a call within the bucket passes");
    p.spend(&key, "us-east-1", "ecs", "ListClusters", 200);
    let e = ecs.list_clusters().send().await.expect_err("throttled");
    let code = e
        .as_service_error()
        .and_then(|s| aws_sdk_ecs::error::ProvideErrorMetadata::code(s));
    assert_eq!(code, Some("ThrottlingException"), "JSON protocol: {e:?}");
    p.spend(&key, "us-east-1", "iam", "ListRoles", 200);
    let e = iam.list_roles().send().await.expect_err("throttled");
    let code = e
        .as_service_error()
        .and_then(|s| aws_sdk_iam::error::ProvideErrorMetadata::code(s));
    assert_eq!(code, Some("Throttling"), "query protocol: {e:?}");
    // Another account's bucket is its own.
    p.spend("someone-else", "us-east-1", "ecs", "DescribeClusters", 200);
    ecs.describe_clusters()
        .send()
        .await
        .expect("our bucket is full");
    assert_eq!(p.total("throttled"), 2);
    assert_eq!(p.calls_of("ListClusters"), 2);
}

#[tokio::test]
async fn a_registration_that_committed_before_its_500_adds_no_revision() {
    let p = proxy(1.0).await;
    p.set_faults(Faults {
        commit_then_500_first: vec!["RegisterTaskDefinition".into()],
        ..Faults::default()
    });
    let h = Harness::behind(&p, short_timeouts).await;
    let n = unique_name("regonce");
    h.insert_tenant(
        &n,
        &[("butler", &["gmail"]), ("scout", &[]), ("strategist", &[])],
    )
    .await;
    h.converge(&[&n]).await;
    let t = h.tenant_ref(&n).await;
    for kind in AgentKind::ALL {
        let family = t.task_family(kind);
        let active = revisions(&h, &family, TaskDefinitionStatus::Active).await;
        let inactive = revisions(&h, &family, TaskDefinitionStatus::Inactive).await;
        assert_eq!(active.len(), 1, "{family}: {active:?}");
        assert!(
            inactive.is_empty(),
            "no revision was added and then removed: {inactive:?}"
        );
        let svc = h.service(&t.service_name(kind)).await.expect("service");
        assert_eq!(svc.task_definition(), Some(active[0].as_str()));
    }
    assert_eq!(
        p.calls_of("RegisterTaskDefinition"),
        3,
        "one registration per family, each answered with a 500 after it committed"
    );

    // A stray ACTIVE revision, as a retry without the read-back would leave: found by the
    // resync, shown in the plan, deregistered.
    p.set_faults(Faults::default());
    let family = t.task_family(AgentKind::Scout);
    let current = revisions(&h, &family, TaskDefinitionStatus::Active).await[0].clone();
    let d = h
        .aws
        .ecs
        .describe_task_definition()
        .task_definition(&current)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .expect("describe");
    let td = d.task_definition().expect("td");
    let stray = h
        .aws
        .ecs
        .register_task_definition()
        .family(&family)
        .set_container_definitions(Some(td.container_definitions().to_vec()))
        .set_network_mode(td.network_mode().cloned())
        .set_requires_compatibilities(Some(td.requires_compatibilities().to_vec()))
        .set_cpu(td.cpu().map(str::to_owned))
        .set_memory(td.memory().map(str::to_owned))
        .set_task_role_arn(td.task_role_arn().map(str::to_owned))
        .set_execution_role_arn(td.execution_role_arn().map(str::to_owned))
        .set_tags(Some(d.tags().to_vec()))
        .send()
        .await
        .expect("register a stray");
    let stray = stray
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .expect("arn")
        .to_owned();
    // The stray is the newest: the operator takes it as current (same content) and the older
    // one as superseded; either way one stays.
    let (text, _) = h.reconciler.plan(&n).await.expect("plan").expect("tenant");
    assert!(
        text.contains(&format!("deregister task_definition {family}"))
            && text.contains("activeRevisions"),
        "{text}"
    );
    h.resync(3600).await;
    h.converge(&[&n]).await;
    let active = revisions(&h, &family, TaskDefinitionStatus::Active).await;
    assert_eq!(active.len(), 1, "{active:?}");
    let svc = h
        .service(&t.service_name(AgentKind::Scout))
        .await
        .expect("service");
    assert_eq!(svc.task_definition(), Some(active[0].as_str()));
    assert!(active[0] == stray || active[0] == current);
    let (text, _) = h.reconciler.plan(&n).await.expect("plan").expect("tenant");
    assert!(!text.contains("deregister"), "{text}");
}

#[tokio::test]
async fn deletes_retried_after_they_committed_count_as_done() {
    let p = proxy(1.0).await;
    let h = Harness::behind(&p, short_timeouts).await;
    let n = unique_name("delonce");
    h.insert_tenant(&n, &[("butler", &["gmail"]), ("scout", &[])])
        .await;
    h.converge(&[&n]).await;
    let t = h.tenant_ref(&n).await;
    p.set_faults(Faults {
        commit_then_500_first: [
            "DeleteRolePolicy",
            "DetachRolePolicy",
            "DeleteRole",
            "DeleteService",
            "DeleteSecret",
            "DeregisterTaskDefinition",
            "DeleteTaskDefinitions",
            "DeleteLogGroup",
        ]
        .map(String::from)
        .to_vec(),
        ..Faults::default()
    });
    sqlx::query("DELETE FROM openclaw.tenants WHERE name = $1")
        .bind(&n)
        .execute(&h.db.pool)
        .await
        .expect("delete");
    let mut passes = 0;
    while h.phase(&n).await.is_some() {
        passes += 1;
        assert!(passes <= 5, "the teardown did not finish");
        h.reconciler
            .reconcile(&n)
            .await
            .expect("a delete whose retry finds nothing is done, not an error");
    }
    assert!(p.total("fault_commit_then_500") >= 8, "{:?}", p.counts());
    for kind in [AgentKind::Butler, AgentKind::Scout] {
        let family = t.task_family(kind);
        assert!(revisions(&h, &family, TaskDefinitionStatus::Active)
            .await
            .is_empty());
        assert!(revisions(&h, &family, TaskDefinitionStatus::Inactive)
            .await
            .is_empty());
        let role = h
            .aws
            .iam
            .get_role()
            .role_name(t.role_name(kind))
            .send()
            .await;
        assert!(role.is_err(), "role {} left", t.role_name(kind));
    }
}

#[tokio::test]
async fn every_attempt_and_throttle_is_counted_as_the_wire_saw_it() {
    // A fifth of the IAM rate, so the onboarding runs into AWS's bucket, with server faults that
    // the SDK retries by itself.
    let p = proxy(1.0).await;
    p.set_faults(Faults {
        seed: 7,
        http_500: 0.1,
        http_503: 0.1,
        ..Faults::default()
    });
    let h = Harness::behind(&p, short_timeouts).await;
    let key = std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "testing".into());
    let n = unique_name("wire");
    // A neighbour that keeps the account's IAM bucket empty from before the insert until the
    // tenant is Ready (bounded: it stops by itself after two minutes).
    p.spend(&key, "us-east-1", "iam", "GetRole", 40);
    let neighbour = {
        let p = p.clone();
        tokio::spawn(async move {
            for _ in 0..2_400 {
                p.spend(&key, "us-east-1", "iam", "GetRole", 1);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    h.insert_tenant(&n, &[("butler", &["gmail"]), ("scout", &[])])
        .await;
    h.converge(&[&n]).await;
    neighbour.abort();
    let (calls, throttles) = metric_attempts(&h);
    let wire = p.counts();
    let mut on_wire: BTreeMap<String, u64> = BTreeMap::new();
    let mut throttled_on_wire: BTreeMap<String, u64> = BTreeMap::new();
    for ((_, action, outcome), count) in &wire {
        *on_wire.entry(action.clone()).or_insert(0) += count;
        if outcome == "throttled" {
            *throttled_on_wire.entry(action.clone()).or_insert(0) += count;
        }
    }
    let nonzero = |m: BTreeMap<String, u64>| -> BTreeMap<String, u64> {
        m.into_iter().filter(|(_, v)| *v > 0).collect()
    };
    assert!(
        p.total("throttled") > 0,
        "the test must see throttles: {wire:?}"
    );
    assert!(p.total("fault_500") + p.total("fault_503") > 0, "{wire:?}");
    assert_eq!(nonzero(calls), on_wire, "attempts per operation");
    assert_eq!(
        nonzero(throttles),
        throttled_on_wire,
        "throttles per operation"
    );
}

/// What exists in the emulator for tenant `t`, read directly: (active services, ACTIVE and
/// INACTIVE revisions, roles with their inline policy count, secrets, log groups).
struct Footprint {
    services: usize,
    active_revisions: Vec<usize>,
    inactive_revisions: usize,
    inline_policies: Vec<usize>,
    secrets: Vec<String>,
    log_groups: usize,
}

async fn footprint(h: &Harness, t: &crds::naming::TenantRef) -> Footprint {
    let mut f = Footprint {
        services: 0,
        active_revisions: Vec::new(),
        inactive_revisions: 0,
        inline_policies: Vec::new(),
        secrets: Vec::new(),
        log_groups: 0,
    };
    for kind in AgentKind::ALL {
        if h.service(&t.service_name(kind))
            .await
            .is_some_and(|s| s.status() == Some("ACTIVE"))
        {
            f.services += 1;
        }
        let family = t.task_family(kind);
        let active = revisions(h, &family, TaskDefinitionStatus::Active)
            .await
            .len();
        if active > 0 {
            f.active_revisions.push(active);
        }
        f.inactive_revisions += revisions(h, &family, TaskDefinitionStatus::Inactive)
            .await
            .len();
        if h.aws
            .iam
            .get_role()
            .role_name(t.role_name(kind))
            .send()
            .await
            .is_ok()
        {
            let n = h
                .aws
                .iam
                .list_role_policies()
                .role_name(t.role_name(kind))
                .send()
                .await
                .expect("list role policies")
                .policy_names()
                .len();
            f.inline_policies.push(n);
        }
    }
    let secrets = h
        .aws
        .secrets
        .list_secrets()
        .filters(
            aws_sdk_secretsmanager::types::Filter::builder()
                .key(aws_sdk_secretsmanager::types::FilterNameStringType::Name)
                .values(t.secret_prefix())
                .build(),
        )
        .max_results(100)
        .send()
        .await
        .expect("list secrets");
    f.secrets = secrets
        .secret_list()
        .iter()
        .filter_map(|s| s.name().map(str::to_owned))
        .filter(|n| n.starts_with(&t.secret_prefix()))
        .collect();
    f.secrets.sort();
    f.log_groups = h
        .aws
        .logs
        .describe_log_groups()
        .log_group_name_prefix(t.log_group_prefix())
        .send()
        .await
        .expect("log groups")
        .log_groups()
        .len();
    f
}

#[tokio::test]
async fn twenty_tenants_converge_through_a_fifth_of_calls_failing_and_two_kill9s() {
    let p = proxy(4.0).await;
    p.set_faults(Faults::mixed(20261204, 0.2, Duration::from_secs(3)));
    let h = Harness::behind(&p, short_timeouts).await;
    let extra = "  aws_rate_scale: 4\n  aws_attempt_timeout_seconds: 2\n  aws_operation_timeout_seconds: 20\n  concurrency: 8\n";
    let prefix = unique_name("soak");
    let names: Vec<String> = (0..20).map(|i| format!("{prefix}-{i:02}")).collect();
    for n in &names {
        h.insert_tenant(
            n,
            &[
                ("butler", &["gmail"]),
                ("scout", &[]),
                ("strategist", &["hubspot"]),
            ],
        )
        .await;
    }
    let mut op = openclaw_tests::process::Operator::spawn(&h, extra);
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_secs(8)).await;
        op.kill9();
        op = openclaw_tests::process::Operator::spawn(&h, extra);
    }
    let all: Vec<&str> = names.iter().map(String::as_str).collect();
    let started = std::time::Instant::now();
    let (hr, nr) = (&h, &names);
    wait_until(300, "all twenty Ready", || async move {
        ready_count(hr, nr).await == nr.len()
    })
    .await;
    eprintln!("all Ready after {:?}", started.elapsed());
    let faults: u64 = [
        "fault_500",
        "fault_503",
        "fault_reset",
        "fault_timeout",
        "fault_commit_then_500",
    ]
    .iter()
    .map(|o| p.total(o))
    .sum();
    assert!(faults >= 20, "faults were injected: {:?}", p.counts());
    for n in &all {
        let t = h.tenant_ref(n).await;
        let f = footprint(&h, &t).await;
        assert_eq!(f.services, 3, "{n}: one service per agent");
        assert_eq!(
            f.active_revisions,
            vec![1, 1, 1],
            "{n}: one ACTIVE revision per family"
        );
        assert_eq!(f.inactive_revisions, 0, "{n}: no revision added by a retry");
        assert_eq!(
            f.inline_policies,
            vec![1, 1, 1],
            "{n}: one role per agent, one inline policy"
        );
        let mut want = vec![
            t.db_secret_name(),
            t.oauth_secret_name(crds::api::Integration::Gmail),
            t.oauth_secret_name(crds::api::Integration::Hubspot),
        ];
        want.sort();
        assert_eq!(f.secrets, want, "{n}: exactly the expected secrets");
        assert_eq!(f.log_groups, 3, "{n}");
    }
    // Nothing for a tenant that does not exist: every resource under the run's prefix is one of
    // the twenty.
    let roles = h
        .aws
        .iam
        .list_roles()
        .path_prefix(crds::naming::TENANT_ROLE_PATH)
        .max_items(1000)
        .send()
        .await
        .expect("roles");
    let strays: Vec<&str> = roles
        .roles()
        .iter()
        .map(|r| r.role_name())
        .filter(|r| r.starts_with(&format!("openclaw-{prefix}-")))
        .filter(|r| {
            !all.iter().any(|n| {
                AgentKind::ALL
                    .iter()
                    .any(|k| *r == format!("openclaw-{n}-{}", k.as_str()))
            })
        })
        .collect();
    assert!(strays.is_empty(), "{strays:?}");

    // Delete ten under the same faults: nothing of theirs is left, the other ten stay Ready.
    let (gone, kept) = names.split_at(10);
    let mut refs = Vec::new();
    for n in gone {
        refs.push(h.tenant_ref(n).await);
    }
    sqlx::query("DELETE FROM openclaw.tenants WHERE name = ANY($1)")
        .bind(gone)
        .execute(&h.db.pool)
        .await
        .expect("delete");
    wait_until(300, "the ten deleted", || async move {
        phases_of(hr, gone).await.is_empty()
    })
    .await;
    for t in &refs {
        let f = footprint(&h, t).await;
        assert_eq!(
            (
                f.services,
                f.active_revisions.len(),
                f.inactive_revisions,
                f.inline_policies.len(),
                f.secrets.len(),
                f.log_groups
            ),
            (0, 0, 0, 0, 0, 0),
            "{}: something left",
            t.name.as_str()
        );
    }
    assert_eq!(
        ready_count(&h, kept).await,
        kept.len(),
        "the other ten stay Ready"
    );
    op.stop().await;
}

#[tokio::test]
async fn a_tenant_inserted_during_a_bulk_onboarding_finishes_first() {
    // AWS's real task-definition bucket (1 a second) makes the onboarding of twelve take a while.
    let p = proxy(1.0).await;
    let h = Harness::behind(&p, |_| {}).await;
    let prefix = unique_name("bulk");
    let bulk: Vec<String> = (0..12).map(|i| format!("{prefix}-{i:02}")).collect();
    for n in &bulk {
        h.insert_tenant(n, &[("butler", &[]), ("scout", &[]), ("strategist", &[])])
            .await;
    }
    let phases = |pool: sqlx::PgPool, prefix: String| async move {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT name, phase FROM openclaw.tenants WHERE name LIKE $1 || '%'")
                .bind(prefix)
                .fetch_all(&pool)
                .await
                .expect("phases");
        rows.into_iter().collect::<BTreeMap<String, String>>()
    };
    let mut op = openclaw_tests::process::Operator::spawn(&h, "");
    let mut waited = 0;
    while phases(h.db.pool.clone(), prefix.clone())
        .await
        .values()
        .filter(|p| *p == "Ready")
        .count()
        < 2
    {
        waited += 1;
        assert!(waited < 1200, "the onboarding did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = phases(h.db.pool.clone(), prefix.clone()).await;
    let pending: Vec<&String> = before
        .iter()
        .filter(|(_, p)| *p == "Pending")
        .map(|(n, _)| n)
        .collect();
    assert!(
        pending.len() >= 6,
        "the test needs a bulk still waiting: {before:?}"
    );
    let late = format!("{prefix}-late");
    h.insert_tenant(
        &late,
        &[("butler", &[]), ("scout", &[]), ("strategist", &[])],
    )
    .await;
    // Completion order, as seen every 100 ms.
    let expected = bulk.len() + 1 - before.values().filter(|p| *p == "Ready").count();
    let mut order: Vec<String> = Vec::new();
    let mut waited = 0;
    while order.len() < expected {
        for (n, phase) in phases(h.db.pool.clone(), prefix.clone()).await {
            let was_ready = before.get(&n).is_some_and(|p| p == "Ready");
            if phase == "Ready" && !was_ready && !order.contains(&n) {
                order.push(n);
            }
        }
        waited += 1;
        assert!(waited < 3000, "not all Ready: {order:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rank = order
        .iter()
        .position(|n| *n == late)
        .expect("the late tenant is Ready");
    let pending_before_late = order[..rank].iter().filter(|n| pending.contains(n)).count();
    // At most the two that may already have been in flight (concurrency 2) finish before it.
    assert!(
        pending_before_late <= 2,
        "{pending_before_late} tenants that had not started finished before the late one: {order:?}"
    );
    op.stop().await;
}

#[tokio::test]
async fn the_operator_reconnects_after_a_postgresql_restart_mid_onboarding() {
    // Both databases on a server of the test's own, restarted while tenants are onboarding.
    let server = openclaw_tests::pg_server::PasswordServer::start();
    let db =
        openclaw_tests::TestDb::on_server(openclaw_tests::OPERATOR_ROLE, &server.admin_url()).await;
    // AWS's real task-definition bucket keeps the onboarding going long enough to be cut.
    let p = proxy(1.0).await;
    let endpoint = p.endpoint();
    let h = Harness::build_on(db, openclaw_tests::stack_config(), move |c| {
        if let Some(cell) = c.cell.as_mut() {
            cell.aws_endpoint_url = Some(endpoint);
        }
    })
    .await;
    let prefix = unique_name("pgrestart");
    let names: Vec<String> = (0..8).map(|i| format!("{prefix}-{i}")).collect();
    for n in &names {
        h.insert_tenant(n, &[("butler", &[]), ("scout", &[]), ("strategist", &[])])
            .await;
    }
    let mut op = openclaw_tests::process::Operator::spawn(&h, "");
    let (hr, nr) = (&h, &names);
    wait_until(120, "the first tenant Ready", || async move {
        ready_count(hr, nr).await >= 1
    })
    .await;
    let at_restart = ready_count(&h, &names).await;
    server.restart();
    assert!(
        at_restart < names.len(),
        "the restart must fall in the middle of the onboarding"
    );
    wait_until(300, "every tenant Ready after the restart", || async move {
        ready_count(hr, nr).await == nr.len()
    })
    .await;
    for n in &names {
        let t = h.tenant_ref(n).await;
        let f = footprint(&h, &t).await;
        assert_eq!(
            (f.services, f.active_revisions.clone()),
            (3, vec![1, 1, 1]),
            "{n}"
        );
    }
    op.stop().await;
}

#[tokio::test]
async fn a_neighbour_spending_half_the_task_definition_bucket_is_shared_not_fought() {
    let p = proxy(1.0).await;
    let h = Harness::behind(&p, |_| {}).await;
    let key = std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "testing".into());
    let prefix = unique_name("neigh");
    let names: Vec<String> = (0..6).map(|i| format!("{prefix}-{i}")).collect();
    for n in &names {
        h.insert_tenant(n, &[("butler", &[]), ("scout", &[]), ("strategist", &[])])
            .await;
    }
    // Another client of the account: its burst at once, then half the sustained rate.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let neighbour = {
        let (p, stop, key) = (p.clone(), stop.clone(), key.clone());
        tokio::spawn(async move {
            p.spend(&key, "us-east-1", "ecs", "RegisterTaskDefinition", 20);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                p.spend(&key, "us-east-1", "ecs", "RegisterTaskDefinition", 1);
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        })
    };
    let mut op = openclaw_tests::process::Operator::spawn(&h, "");
    let mut waited = 0;
    loop {
        let now: Vec<String> = phases_of(&h, &names).await.into_values().collect();
        assert!(
            !now.iter().any(|p| p == "Failed"),
            "no tenant ends Failed: {now:?}"
        );
        if now.iter().all(|p| p == "Ready") {
            break;
        }
        waited += 1;
        assert!(waited < 3000, "not all Ready: {now:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = neighbour.await;
    let of = |outcome: &str| {
        p.counts()
            .iter()
            .filter(|((_, a, o), _)| a == "RegisterTaskDefinition" && o == outcome)
            .map(|(_, n)| *n)
            .sum::<u64>()
    };
    let (throttled, registered) = (of("throttled"), of("ok"));
    eprintln!("RegisterTaskDefinition: {registered} registered, {throttled} throttled");
    assert_eq!(registered, 18, "one registration per family");
    assert!(
        throttled * 3 <= registered,
        "the operator backs off: {throttled} throttles for {registered} registrations"
    );
    // The neighbour gone (and AWS's bucket refilled past three), the next tenant receives none.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let before = of("throttled");
    let more: Vec<String> = (0..1).map(|i| format!("{prefix}-more{i}")).collect();
    for n in &more {
        h.insert_tenant(n, &[("butler", &[]), ("scout", &[]), ("strategist", &[])])
            .await;
    }
    let (hr, mr) = (&h, &more);
    wait_until(120, "the next tenant Ready", || async move {
        ready_count(hr, mr).await == mr.len()
    })
    .await;
    assert_eq!(
        of("throttled"),
        before,
        "no throttle once the neighbour is gone"
    );
    op.stop().await;
}
