//! The `openclaw operator` binary as a process: killed mid-onboarding, two replicas with one
//! leader, graceful shutdown, its HTTP endpoints, and its traces.

use crds::api::AgentKind;
use crds::naming::TenantName;
use openclaw_tests::fakes::{otlp_attr, otlp_spans, Fakes};
use openclaw_tests::process::{cli, http_get, metric, Operator};
use openclaw_tests::{unique_name, wait_until, Harness};

async fn lease_holder(h: &Harness) -> Option<String> {
    sqlx::query_scalar("SELECT holder FROM openclaw.leases WHERE expires_at > now()")
        .fetch_optional(&h.db.pool)
        .await
        .expect("lease")
}

async fn all_ready(h: &Harness, names: &[String]) -> bool {
    for n in names {
        if h.phase(n).await.as_deref() != Some("Ready") {
            return false;
        }
    }
    true
}

async fn audit_actors(h: &Harness, tenant: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT DISTINCT actor FROM openclaw.audit_log WHERE tenant = $1")
        .bind(tenant)
        .fetch_all(&h.db.pool)
        .await
        .expect("actors")
}

#[tokio::test]
async fn killing_the_operator_mid_onboarding_and_restarting_it_converges_without_leaks() {
    let h = Harness::new().await;
    let names: Vec<String> = (0..4).map(|_| unique_name("crash")).collect();
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
    let mut first = Operator::spawn(&h, "");
    wait_until(30, "the first writes", || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM openclaw.audit_log")
            .fetch_one(&h.db.pool)
            .await
            .expect("count");
        n >= 8
    })
    .await;
    first.kill9();
    let written: i64 = sqlx::query_scalar("SELECT count(*) FROM openclaw.audit_log")
        .fetch_one(&h.db.pool)
        .await
        .expect("count");
    assert!(
        !all_ready(&h, &names).await,
        "killed too late to test anything ({written} audit rows)"
    );

    let second = Operator::spawn(&h, "");
    wait_until(90, "every tenant Ready after the restart", || {
        all_ready(&h, &names)
    })
    .await;
    drop(second);

    let cluster = h.cell().ecs_cluster.clone();
    for n in &names {
        let t = TenantName::parse(n).expect("name");
        for kind in AgentKind::ALL {
            let tds = h
                .aws
                .ecs
                .list_task_definitions()
                .family_prefix(t.task_family(kind))
                .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
                .send()
                .await
                .expect("list");
            let own: Vec<&String> = tds
                .task_definition_arns()
                .iter()
                .filter(|a| a.contains(&format!("/{}:", t.task_family(kind))))
                .collect();
            assert_eq!(
                own.len(),
                1,
                "{n}/{kind}: exactly one active revision, got {own:?}"
            );
            let svcs = h
                .aws
                .ecs
                .describe_services()
                .cluster(&cluster)
                .services(t.service_name(kind))
                .send()
                .await
                .expect("svc");
            let active = svcs
                .services()
                .iter()
                .filter(|s| s.status() == Some("ACTIVE"))
                .count();
            assert_eq!(active, 1, "{n}/{kind}: one active service");
            let policies = h
                .aws
                .iam
                .list_role_policies()
                .role_name(t.role_name(kind))
                .send()
                .await
                .expect("policies");
            assert_eq!(policies.policy_names().len(), 1);
        }
        let secrets =
            operator::resources::secrets_manager::list(&h.reconciler.clients, &t.secret_prefix())
                .await
                .expect("secrets");
        assert_eq!(
            secrets.len(),
            3,
            "{n}: db, gmail and hubspot secrets, no more"
        );
        let (plan, _) = h.reconciler.plan(n).await.expect("plan").expect("tenant");
        assert!(plan.ends_with("no changes\n"), "{plan}");
    }
    let rows = operator::store::audit_rows(&mut *h.db.conn().await, None, None)
        .await
        .expect("audit");
    assert_eq!(crds::audit::verify_chain(&rows), Ok(rows.len()));
}

#[tokio::test]
async fn only_the_leader_acts_and_a_standby_takes_over_when_it_dies() {
    let h = Harness::new().await;
    let mut a = Operator::spawn(&h, "");
    wait_until(20, "replica A to lead", || async {
        lease_holder(&h)
            .await
            .is_some_and(|holder| holder.contains(&format!("-{}-", a.pid())))
    })
    .await;
    let b = Operator::spawn(&h, "");
    wait_until(20, "replica B to answer /readyz", || async {
        matches!(http_get(b.port, "/readyz").await, Some((200, _)))
    })
    .await;
    let t1 = unique_name("lead");
    h.insert_tenant(&t1, &[("scout", &[])]).await;
    wait_until(30, "t1 Ready", || all_ready(&h, std::slice::from_ref(&t1))).await;
    assert_eq!(
        metric(a.port, "openclaw_leader").await,
        Some(1.0),
        "{}",
        a.log()
    );
    assert_eq!(metric(b.port, "openclaw_leader").await, Some(0.0));
    let actors = audit_actors(&h, &t1).await;
    assert!(
        !actors.is_empty() && actors.iter().all(|x| x.contains(&format!("-{}-", a.pid()))),
        "{actors:?}"
    );
    assert!(
        !b.log().contains("applied"),
        "the standby must not act:\n{}",
        b.log()
    );

    a.kill9();
    wait_until(20, "replica B to take over", || async {
        lease_holder(&h)
            .await
            .is_some_and(|holder| holder.contains(&format!("-{}-", b.pid())))
    })
    .await;
    let t2 = unique_name("lead");
    h.insert_tenant(&t2, &[("scout", &[])]).await;
    wait_until(30, "t2 Ready", || all_ready(&h, std::slice::from_ref(&t2))).await;
    let actors = audit_actors(&h, &t2).await;
    assert!(
        actors.iter().all(|x| x.contains(&format!("-{}-", b.pid()))),
        "{actors:?}"
    );
    assert_eq!(metric(b.port, "openclaw_leader").await, Some(1.0));

    // Metrics that on-call reads are there, labelled by AWS operation and outcome.
    let (status, body) = http_get(b.port, "/metrics").await.expect("metrics");
    assert_eq!(status, 200);
    for want in [
        "openclaw_reconciles_total{result=\"ok\"}",
        "openclaw_reconcile_duration_seconds_bucket",
        "openclaw_aws_requests_total{operation=\"CreateService\",outcome=\"ok\",service=\"ECS\"}",
        "openclaw_tenants{phase=\"Ready\"}",
    ] {
        assert!(body.contains(want), "missing {want}");
    }
    assert_eq!(http_get(b.port, "/healthz").await.map(|r| r.0), Some(200));

    // Graceful shutdown: exit 0 and the lease is released at once.
    b.sigterm();
    let mut b = b;
    let status = tokio::task::spawn_blocking(move || {
        let s = b.child.wait();
        (s, b)
    })
    .await
    .expect("join");
    assert!(status.0.expect("wait").success());
    assert_eq!(
        lease_holder(&h).await,
        None,
        "the lease is released on shutdown"
    );
}

#[tokio::test]
async fn plan_with_detailed_exitcode_exits_2_on_changes_and_0_once_converged() {
    let h = Harness::new().await;
    let n = unique_name("exitcode");
    let t = TenantName::parse(&n).expect("name");
    h.insert_tenant(&n, &[("scout", &[])]).await;

    let out = cli(&h, &["plan", "--detailed-exitcode", &n]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "create iam_role {}",
            t.role_name(AgentKind::Scout)
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("Plan: 8 to add, 3 to change, 0 to destroy."),
        "{stdout}"
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        h.phase(&n).await.as_deref(),
        Some("Pending"),
        "plan changes nothing"
    );
    // Without the flag, changes are not an error.
    assert_eq!(cli(&h, &["plan", &n]).status.code(), Some(0));
    // The JSON plan: the same actions and summary, as a document.
    let out = cli(&h, &["plan", "-o", "json", "--detailed-exitcode", &n]);
    assert_eq!(out.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON plan");
    assert_eq!(doc["format_version"], 1);
    assert_eq!(
        doc["summary"],
        serde_json::json!({"add": 8, "change": 3, "destroy": 0})
    );
    let tenant = &doc["tenants"][0];
    assert_eq!(
        (tenant["tenant"].as_str(), tenant["paused"].as_bool()),
        (Some(n.as_str()), Some(false))
    );
    let role = t.role_name(AgentKind::Scout);
    assert!(
        tenant["actions"]
            .as_array()
            .expect("actions")
            .iter()
            .any(|a| a["verb"] == "create"
                && a["kind"] == "iam_role"
                && a["resource"] == role.as_str()
                && a["effect"] == "add"),
        "{doc}"
    );

    h.converge(&[&n]).await;
    let out = cli(&h, &["plan", "--detailed-exitcode", &n]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.ends_with("no changes\nPlan: 0 to add, 0 to change, 0 to destroy.\n"),
        "{stdout}"
    );
    let out = cli(&h, &["plan", "-o", "json", "--detailed-exitcode", &n]);
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON plan");
    assert_eq!(doc["tenants"][0]["actions"], serde_json::json!([]));

    let out = cli(&h, &["plan", "--detailed-exitcode", "no-such-tenant"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
}

/// A widened policy, a scaled service and a new agent: the JSON plan says before → after for each,
/// marks the policy repair as security, and its summary counts the actions it lists.
#[tokio::test]
async fn the_json_plan_shows_each_change_field_by_field() {
    let h = Harness::new().await;
    let n = unique_name("fields");
    let t = TenantName::parse(&n).expect("name");
    h.insert_tenant(&n, &[("scout", &[])]).await;
    h.converge(&[&n]).await;

    let role = t.role_name(AgentKind::Scout);
    h.widen_inline_policy(
        &role,
        serde_json::json!(
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}),
    )
    .await;
    h.scale_by_hand(&t.service_name(AgentKind::Scout), 3).await;
    sqlx::query(
        "INSERT INTO openclaw.agents (tenant, kind, model) VALUES ($1, 'butler', 'amazon.nova-lite-v1:0')",
    )
    .bind(&n)
    .execute(&h.db.pool)
    .await
    .expect("new agent");

    let out = cli(&h, &["plan", "-o", "json", "--detailed-exitcode", &n]);
    assert_eq!(out.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON plan");
    let actions = doc["tenants"][0]["actions"]
        .as_array()
        .expect("actions")
        .clone();
    let find = |kind: &str, resource: &str| {
        actions
            .iter()
            .find(|a| a["kind"] == kind && a["resource"] == resource)
            .cloned()
            .unwrap_or_else(|| panic!("no {kind} {resource} in {doc}"))
    };
    // The widened policy: the added statement goes (before it, after nothing), as a security repair.
    let policy = find("iam_inline_policy", &t.policy_name(AgentKind::Scout));
    assert_eq!(policy["security"], true, "{policy}");
    let removed: Vec<&serde_json::Value> = policy["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["path"] == "Statement" && c["after"].is_null())
        .collect();
    assert_eq!(removed.len(), 1, "{policy}");
    let statement = removed[0]["before"].to_string().to_lowercase();
    assert!(
        statement.contains("secretsmanager:getsecretvalue") && statement.contains("\"*\""),
        "{policy}"
    );
    // The scaled service: desired count 3 → 1.
    let service = find("ecs_service", &t.service_name(AgentKind::Scout));
    assert_eq!(
        service["changes"],
        serde_json::json!([{"path": "desiredCount", "before": 3, "after": 1}]),
        "{service}"
    );
    // The new agent: its role and service are created.
    let butler_role = find("iam_role", &t.role_name(AgentKind::Butler));
    assert_eq!(
        (butler_role["verb"].as_str(), butler_role["effect"].as_str()),
        (Some("create"), Some("add"))
    );
    find("ecs_service", &t.service_name(AgentKind::Butler));
    // The summary counts what the plan lists.
    let count = |e: &str| actions.iter().filter(|a| a["effect"] == e).count();
    assert_eq!(
        doc["summary"],
        serde_json::json!({"add": count("add"), "change": count("change"), "destroy": count("destroy")})
    );
    assert!(count("add") >= 4 && count("change") >= 2, "{doc}");
    // The text plan says the same, indented under each action.
    let text = String::from_utf8_lossy(&cli(&h, &["plan", &n]).stdout).into_owned();
    assert!(text.contains("    ~ desiredCount: 3 → 1"), "{text}");
    assert!(text.contains("    - Statement: {"), "{text}");

    h.converge(&[&n]).await;
    let out = cli(&h, &["plan", "-o", "json", "--detailed-exitcode", &n]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// With an OTLP endpoint, each reconcile is a root span (tenant, cell, outcome) and each AWS call
/// in it is a child span (the SDK's, `Service.Operation`); no span holds the tenant's password.
#[tokio::test]
async fn a_reconcile_is_a_trace_with_a_child_span_per_aws_call() {
    let h = Harness::new().await;
    let receiver = Fakes::start().await;
    let n = unique_name("traced");
    h.insert_tenant(&n, &[("scout", &[])]).await;
    let endpoint = receiver.url();
    let mut op = Operator::spawn_env(
        &h,
        "",
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
        ],
    );
    wait_until(60, "the tenant Ready", || async {
        h.phase(&n).await.as_deref() == Some("Ready")
    })
    .await;
    let stopped = op.stop().await;
    assert!(stopped.is_some_and(|s| s.success()), "{}", op.log());
    assert!(
        !op.log().contains("Timeout"),
        "spans flushed at exit: {}",
        op.log()
    );

    let exports = receiver.with(|s| s.otlp_traces.clone());
    let spans = otlp_spans(&exports);
    let attr = otlp_attr;
    let reconciles: Vec<&&serde_json::Value> = spans
        .iter()
        .filter(|s| s["name"] == "reconcile" && attr(s, "tenant").as_deref() == Some(n.as_str()))
        .collect();
    let names: std::collections::BTreeSet<&str> =
        spans.iter().filter_map(|s| s["name"].as_str()).collect();
    assert!(
        !reconciles.is_empty(),
        "no reconcile span of {n} among {names:?}"
    );
    for r in &reconciles {
        assert!(
            r["parentSpanId"].as_str().unwrap_or_default().is_empty(),
            "{r}"
        );
    }
    let calls: Vec<String> = spans
        .iter()
        .filter(|s| reconciles.iter().any(|r| r["spanId"] == s["parentSpanId"]))
        .inspect(|s| {
            assert_eq!(attr(s, "rpc.system").as_deref(), Some("aws-api"), "{s}");
            assert!(reconciles.iter().any(|r| r["traceId"] == s["traceId"]));
        })
        .filter_map(|s| s["name"].as_str().map(str::to_owned))
        .collect();
    for want in [
        "IAM.CreateRole",
        "ECS.RegisterTaskDefinition",
        "ECS.CreateService",
        "Secrets Manager.CreateSecret",
        "CloudWatch Logs.CreateLogGroup",
    ] {
        assert!(calls.iter().any(|c| c == want), "no {want} span: {calls:?}");
    }
    let t = TenantName::parse(&n).expect("name");
    let secret = h
        .aws
        .secrets
        .get_secret_value()
        .secret_id(t.db_secret_name())
        .send()
        .await
        .expect("db secret");
    let value: serde_json::Value =
        serde_json::from_str(secret.secret_string().expect("string")).expect("json");
    let password = value["password"].as_str().expect("password");
    let exported = serde_json::to_string(&exports).expect("json");
    assert!(!exported.contains(password), "a span holds the password");
}

/// `openclaw resync` while an operator leads: the leader runs the pass and repairs the drift, the
/// CLI prints the leader's report, and no repair is made by the CLI itself (one actor per
/// tenant). With no leader, the CLI holds the lease for its pass and gives it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resync_from_the_cli_asks_the_leader_and_never_acts_beside_it() {
    let h = Harness::new().await;
    let mut op = Operator::spawn(&h, "");
    let pid = format!("-{}-", op.pid());
    wait_until(20, "the operator to lead", || async {
        lease_holder(&h).await.is_some_and(|x| x.contains(&pid))
    })
    .await;
    let n = unique_name("oneactor");
    h.insert_tenant(&n, &[("scout", &[])]).await;
    wait_until(30, "Ready", || all_ready(&h, std::slice::from_ref(&n))).await;
    let t = h.tenant_ref(&n).await;
    let service = t.service_name(AgentKind::Scout);
    h.scale_by_hand(&service, 7).await;

    // The CLI blocks while the leader runs the pass: the runtime keeps serving meanwhile.
    let out = tokio::task::block_in_place(|| cli(&h, &["resync", "--timeout", "60"]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_until(30, "the leader to scale the service back", || async {
        h.service(&service).await.map(|s| s.desired_count()) == Some(1)
    })
    .await;
    let repairs: Vec<String> = sqlx::query_scalar(
        "SELECT actor FROM openclaw.audit_log WHERE tenant = $1 AND resource_name = $2 \
         AND (detail->>'drift')::bool",
    )
    .bind(&n)
    .bind(&service)
    .fetch_all(&h.db.pool)
    .await
    .expect("audit");
    assert!(
        !repairs.is_empty() && repairs.iter().all(|a| a.contains(&pid)),
        "every repair is the leader's: {repairs:?}"
    );
    assert!(
        stdout.contains("drifted 1") && stdout.contains("run by the leader"),
        "{stdout}"
    );
    assert_eq!(lease_holder(&h).await.map(|x| x.contains(&pid)), Some(true));

    // No leader: the CLI takes the lease for its pass, and gives it back.
    op.stop().await;
    wait_until(20, "the lease to be free", || async {
        lease_holder(&h).await.is_none()
    })
    .await;
    let out = tokio::task::block_in_place(|| cli(&h, &["resync"]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("drifted 0"),
        "{stdout}"
    );
    assert!(!stdout.contains("run by the leader"), "{stdout}");
    assert_eq!(lease_holder(&h).await, None, "the CLI gave the lease back");
}

/// Bad input exits 2 and its error is printed once; `--help` documents the exit statuses.
#[tokio::test]
async fn bad_input_exits_2_and_says_so_once() {
    let h = Harness::new().await;
    let dir = std::env::temp_dir().join(format!("openclaw-badinput-{}", h.db.name));
    std::fs::create_dir_all(&dir).expect("dir");
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: openclaw.io/v1alpha1\nkind: Tenant\nmetadata:\n  name: Bad_Name\nspec:\n  \
         displayName: \"\"\n  region: us-east-1\n",
    )
    .expect("write");
    let out = cli(&h, &["apply", "-f", bad.to_str().expect("utf8")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for rule in ["[tenant_name_format]", "[tenant_display_name_length]"] {
        assert_eq!(stderr.matches(rule).count(), 1, "printed once: {stderr}");
    }
    let missing = dir.join("missing.yaml");
    let out = cli(&h, &["apply", "-f", missing.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open"));
    assert_eq!(cli(&h, &["get", "--no-such-flag"]).status.code(), Some(2));
    let help = String::from_utf8_lossy(&cli(&h, &["--help"]).stdout).into_owned();
    assert!(
        help.contains("Exit status: 0 done; 1 error; 2 bad usage or input"),
        "{help}"
    );
    // A command that fails for another reason exits 1.
    assert_eq!(
        cli(&h, &["describe", "tenant", "no-such-tenant"])
            .status
            .code(),
        Some(1)
    );

    // explain reads the JSON Schema; a wrong field is bad input that names the fields there are.
    let out = cli(&h, &["explain", "tenant.spec.agents"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("FIELD: spec.agents <[]AgentSpec>"));
    let out = cli(&h, &["explain", "tenant.spec.agnets"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("its fields: agents"));
    // Completion scripts that the shell accepts.
    let script = dir.join("openclaw.bash");
    let out = cli(&h, &["completion", "bash"]);
    assert!(out.status.success());
    std::fs::write(&script, &out.stdout).expect("write");
    let parsed = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .status()
        .expect("bash -n");
    assert!(parsed.success(), "bash rejects the completion script");
    for shell in ["zsh", "fish"] {
        let out = cli(&h, &["completion", shell]);
        assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("openclaw"));
    }
}

/// `get tenants -w` follows a tenant from Pending (no operator yet) through Provisioning to Ready.
#[tokio::test]
async fn get_watch_follows_pending_provisioning_ready() {
    let h = Harness::new().await;
    let watch =
        openclaw_tests::process::cli_spawn(&h, &["get", "tenants", "-w", "--timeout", "90"]);
    let n = unique_name("watched");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    h.insert_tenant(&n, &[("scout", &[]), ("butler", &[])])
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let _op = Operator::spawn(&h, "");
    wait_until(60, "Ready", || all_ready(&h, std::slice::from_ref(&n))).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let mut watch = watch;
    watch.kill().expect("stop the watch");
    let out = watch.wait_with_output().expect("watch output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let phases: Vec<&str> = stdout
        .lines()
        .filter(|l| l.split_whitespace().next() == Some(n.as_str()))
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert!(stdout.starts_with("NAME "), "{stdout}");
    let at = |p: &str| phases.iter().position(|x| *x == p);
    let (pending, provisioning, ready) = (at("Pending"), at("Provisioning"), at("Ready"));
    assert!(
        pending.is_some() && provisioning > pending && ready > provisioning,
        "phases seen: {phases:?}\n{stdout}"
    );
}

/// kubectl's habits: `apply --dry-run` writes nothing, `apply --wait` returns once Ready,
/// `get -o name` lists `kind/name`, and `delete -f --wait` returns once the tenant is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_wait_names_and_delete_by_file() {
    let h = Harness::new().await;
    let n = unique_name("kubectl");
    let dir = std::env::temp_dir().join(format!("openclaw-kubectl-{}", h.db.name));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("tenant.yaml");
    std::fs::write(
        &file,
        format!(
            "apiVersion: openclaw.io/v1alpha1\nkind: Tenant\nmetadata:\n  name: {n}\nspec:\n  \
             displayName: Kubectl Habits\n  region: us-east-1\n  agents:\n    - kind: scout\n      \
             model: amazon.nova-lite-v1:0\n"
        ),
    )
    .expect("write");
    let f = file.to_str().expect("utf8");
    let out = cli(&h, &["apply", "-f", f, "--dry-run"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!("tenant/{n} created (dry run)")),
        "{stdout}"
    );
    assert_eq!(h.phase(&n).await, None, "a dry run writes nothing");

    let _op = Operator::spawn(&h, "");
    let out = tokio::task::block_in_place(|| cli(&h, &["apply", "-f", f, "--wait=90"]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.ends_with(&format!("tenant/{n} Ready\n")), "{stdout}");
    assert_eq!(h.phase(&n).await.as_deref(), Some("Ready"));

    let names =
        String::from_utf8_lossy(&cli(&h, &["get", "tenants", "-o", "name"]).stdout).into_owned();
    assert_eq!(names, format!("tenant/{n}\n"));
    let agents =
        String::from_utf8_lossy(&cli(&h, &["get", "agents", "-o", "name"]).stdout).into_owned();
    assert_eq!(agents, format!("agent/{n}/scout\n"));

    let out = tokio::task::block_in_place(|| cli(&h, &["delete", "-f", f, "--wait", "90"]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("tenant/{n} marked for deletion")),
        "{stdout}"
    );
    assert!(stdout.ends_with(&format!("tenant/{n} gone\n")), "{stdout}");
    assert_eq!(h.phase(&n).await, None);
    // Deleting what is not there refuses the file and exits 2.
    assert_eq!(cli(&h, &["delete", "-f", f]).status.code(), Some(2));
}
