//! The CLI against a real PostgreSQL: apply, get, describe, delete.

use clap::Parser;
use cli::{self, apply, Cli};
use openclaw_tests::{unique_name, TestDb};

async fn run(db: &TestDb, args: &[&str]) -> anyhow::Result<String> {
    let mut argv = vec!["openclaw"];
    argv.extend_from_slice(args);
    cli::execute(&db.pool, Cli::try_parse_from(argv)?.command).await
}

/// The example tenants, renamed so that parallel tests never share a tenant.
fn examples(suffix: &str) -> String {
    include_str!("../../crds/examples/tenants.yaml")
        .replace("name: acme", &format!("name: acme-{suffix}"))
        .replace("name: globex", &format!("name: globex-{suffix}"))
        .replace("name: initech", &format!("name: initech-{suffix}"))
}

fn lines(report: &[apply::Applied]) -> Vec<String> {
    report.iter().map(ToString::to_string).collect()
}

#[tokio::test]
async fn applying_the_examples_twice_reports_unchanged() {
    let db = TestDb::new().await;
    let s = unique_name("x").replace("x-", "");
    let text = examples(&s);
    let first = apply::apply(&db.pool, &text).await.expect("first apply");
    assert_eq!(
        lines(&first),
        vec![
            format!("tenant/acme-{s} created"),
            format!("agent/acme-{s}/butler created"),
            format!("agent/acme-{s}/scout created"),
            format!("agent/acme-{s}/strategist created"),
            format!("tenant/globex-{s} created"),
            format!("agent/globex-{s}/butler created"),
            format!("agent/globex-{s}/strategist created"),
            format!("tenant/initech-{s} created"),
            format!("agent/initech-{s}/scout created"),
        ]
    );
    let second = apply::apply(&db.pool, &text).await.expect("second apply");
    assert!(
        second
            .iter()
            .all(|a| a.outcome == apply::Outcome::Unchanged),
        "{:?}",
        lines(&second)
    );
    assert_eq!(second.len(), first.len());

    // A change to one field configures exactly that object.
    let changed = text.replacen(
        "desiredCount: 1\n      cpu: 256",
        "desiredCount: 2\n      cpu: 256",
        1,
    );
    let third = apply::apply(&db.pool, &changed).await.expect("third apply");
    let configured: Vec<String> = third
        .iter()
        .filter(|a| a.outcome != apply::Outcome::Unchanged)
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        configured,
        vec![format!("agent/acme-{s}/butler configured")]
    );
}

#[tokio::test]
async fn a_file_with_one_invalid_document_writes_nothing_and_names_the_field() {
    let db = TestDb::new().await;
    let s = unique_name("x").replace("x-", "");
    let text = format!(
        "{}---\napiVersion: openclaw.io/v1alpha1\nkind: Agent\nmetadata: {{tenant: acme-{s}}}\nspec: {{kind: scout, model: amazon.nova-lite-v1:0, cpu: 1024, memory: 512}}\n",
        include_str!("../../crds/examples/agent.yaml").replace("tenant: globex", &format!("tenant: acme-{s}"))
    );
    let full = format!("{}---\n{text}", examples(&s));
    // Break the third tenant's region too, so that two problems are reported at once.
    let full = full.replacen(
        "region: us-east-1\n  tier: standard",
        "region: moon-base\n  tier: standard",
        1,
    );
    let err = apply::apply(&db.pool, &full).await.expect_err("invalid");
    let msg = err.to_string();
    assert!(msg.starts_with("nothing was applied"), "{msg}");
    assert!(
        msg.contains("spec.memory") && msg.contains("agent_cpu_memory_fargate"),
        "{msg}"
    );
    assert!(
        msg.contains("spec.region") && msg.contains("tenant_region_format"),
        "{msg}"
    );
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM openclaw.tenants")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(n, 0, "an invalid manifest must write nothing");
}

#[tokio::test]
async fn a_store_rule_failure_rolls_back_the_whole_file() {
    let db = TestDb::new().await;
    let s = unique_name("x").replace("x-", "");
    // Valid documents, but the Agent refers to a tenant that does not exist: the first
    // tenant's insert must be rolled back.
    let text = format!(
        "{}---\napiVersion: openclaw.io/v1alpha1\nkind: Agent\nmetadata: {{tenant: ghost-{s}}}\nspec: {{kind: scout, model: amazon.nova-lite-v1:0}}\n",
        examples(&s)
    );
    let err = apply::apply(&db.pool, &text)
        .await
        .expect_err("missing tenant");
    assert!(
        err.to_string().contains(&format!(
            "agent/ghost-{s}/scout: tenant \"ghost-{s}\" does not exist"
        )),
        "{err}"
    );
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM openclaw.tenants")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(n, 0);
}

#[tokio::test]
async fn get_json_and_yaml_round_trip_through_apply() {
    let db = TestDb::new().await;
    let s = unique_name("x").replace("x-", "");
    apply::apply(&db.pool, &examples(&s)).await.expect("apply");
    apply::apply(
        &db.pool,
        &include_str!("../../crds/examples/agent.yaml")
            .replace("tenant: globex", &format!("tenant: globex-{s}")),
    )
    .await
    .expect("agent");
    for output in ["json", "yaml"] {
        let text = run(&db, &["get", "tenants", "-o", output])
            .await
            .expect("get");
        let report = apply::apply(&db.pool, &text).await.expect("re-apply");
        assert_eq!(report.len(), 10, "{output}: {:?}", lines(&report));
        assert!(
            report
                .iter()
                .all(|a| a.outcome == apply::Outcome::Unchanged),
            "{output}: {:?}",
            lines(&report)
        );
        let text = run(&db, &["get", "agents", "-o", output])
            .await
            .expect("get agents");
        let report = apply::apply(&db.pool, &text)
            .await
            .expect("re-apply agents");
        assert_eq!(report.len(), 7);
        assert!(report
            .iter()
            .all(|a| a.outcome == apply::Outcome::Unchanged));
    }
    let json: serde_json::Value = serde_json::from_str(
        &run(&db, &["get", "tenants", "-o", "json"])
            .await
            .expect("get"),
    )
    .expect("json");
    assert_eq!(json["items"][0]["status"]["phase"], "Pending");
}

#[tokio::test]
async fn a_tenant_agents_list_is_the_whole_set() {
    let db = TestDb::new().await;
    let t = unique_name("set");
    let doc = |agents: &str| {
        format!(
        "apiVersion: openclaw.io/v1alpha1\nkind: Tenant\nmetadata: {{name: {t}}}\nspec:\n  displayName: Set\n  region: us-east-1\n  agents:\n{agents}"
    )
    };
    let both = "    - {kind: scout, model: amazon.nova-lite-v1:0}\n    - {kind: butler, model: amazon.nova-lite-v1:0}\n";
    apply::apply(&db.pool, &doc(both)).await.expect("both");
    let report = apply::apply(
        &db.pool,
        &doc("    - {kind: scout, model: amazon.nova-lite-v1:0}\n"),
    )
    .await
    .expect("one");
    assert_eq!(
        lines(&report),
        vec![
            format!("tenant/{t} unchanged"),
            format!("agent/{t}/scout unchanged"),
            format!("agent/{t}/butler deleted")
        ]
    );
    let table = run(&db, &["get", "agents", &t]).await.expect("get");
    assert!(
        table.contains("scout") && !table.contains("butler"),
        "{table}"
    );
}

#[tokio::test]
async fn get_describe_and_delete() {
    let db = TestDb::new().await;
    let s = unique_name("x").replace("x-", "");
    apply::apply(&db.pool, &examples(&s)).await.expect("apply");
    let table = run(&db, &["get", "tenants"]).await.expect("get");
    let header = table.lines().next().expect("header");
    assert!(
        header.starts_with("NAME") && header.contains("PHASE") && header.contains("AGENTS"),
        "{table}"
    );
    assert!(
        table.contains(&format!("acme-{s}")) && table.contains("0/3"),
        "{table}"
    );

    let d = run(&db, &["describe", "tenant", &format!("acme-{s}")])
        .await
        .expect("describe");
    for want in [
        "Display name:  Acme Corp",
        "Phase:         Pending",
        "Conditions:",
        "Agents:",
        "strategist",
        "Resources:",
        "Recent audit entries:",
    ] {
        assert!(d.contains(want), "missing {want:?} in\n{d}");
    }
    // The opaque database name, so a role seen in the database can be traced to its tenant.
    let db_name: String =
        sqlx::query_scalar("SELECT db_name FROM openclaw.tenants WHERE name = $1")
            .bind(format!("acme-{s}"))
            .fetch_one(&db.pool)
            .await
            .expect("db name");
    assert!(
        crds::naming::DbName::parse(&db_name).is_ok_and(|n| !n.is_legacy())
            && !db_name.contains("acme")
            && d.contains(&format!("Database name: {db_name}\n")),
        "{d}"
    );
    let err = run(&db, &["describe", "tenant", "nosuch"])
        .await
        .expect_err("missing");
    assert!(err.to_string().contains("not found"));

    // No finalizer yet (no operator ran): the row goes at once.
    let out = run(&db, &["delete", "tenant", &format!("initech-{s}")])
        .await
        .expect("delete");
    assert_eq!(out, format!("tenant/initech-{s} deleted\n"));
    // With a finalizer: marked.
    sqlx::query(
        "UPDATE openclaw.tenants SET finalizers = '{openclaw.io/cloud-resources}' WHERE name = $1",
    )
    .bind(format!("globex-{s}"))
    .execute(&db.pool)
    .await
    .expect("finalizer");
    let out = run(&db, &["delete", "tenant", &format!("globex-{s}")])
        .await
        .expect("delete");
    assert!(out.contains("marked for deletion"), "{out}");
    let table = run(&db, &["get", "tenants"]).await.expect("get");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&format!("globex-{s}")) && l.contains("Deleting")),
        "{table}"
    );
    // Applying a tenant that is being deleted is refused.
    let err = apply::apply(&db.pool, &examples(&s))
        .await
        .expect_err("deleting");
    assert!(err.to_string().contains("is being deleted"), "{err}");
    let err = run(&db, &["delete", "agent", &format!("acme-{s}"), "gardener"])
        .await
        .expect_err("bad kind");
    assert!(
        err.to_string()
            .contains("kind: must be butler, scout or strategist"),
        "{err}"
    );
    let out = run(&db, &["delete", "agent", &format!("acme-{s}"), "scout"])
        .await
        .expect("delete agent");
    assert_eq!(out, format!("agent/acme-{s}/scout deleted\n"));
}

#[tokio::test]
async fn audit_verify_reports_an_intact_chain() {
    let db = TestDb::new().await;
    let out = run(&db, &["audit", "verify"]).await.expect("verify");
    assert_eq!(out, "audit log verified: 0 entries, chain intact\n");
}

#[tokio::test]
async fn apply_pauses_and_unpauses_a_tenant_as_a_spec_change() {
    let db = TestDb::new().await;
    let s = unique_name("p").replace("p-", "");
    let text = examples(&s);
    apply::apply(&db.pool, &text).await.expect("apply");
    let state = || async {
        sqlx::query_as::<_, (bool, i64)>(
            "SELECT paused, generation FROM openclaw.tenants WHERE name = $1",
        )
        .bind(format!("acme-{s}"))
        .fetch_one(&db.pool)
        .await
        .expect("row")
    };
    let (paused, g0) = state().await;
    assert!(!paused);
    let paused_text = text.replacen("  tier: premium\n", "  tier: premium\n  paused: true\n", 1);
    assert_ne!(
        paused_text, text,
        "the example has a premium tenant to pause"
    );
    let report = apply::apply(&db.pool, &paused_text).await.expect("pause");
    assert!(
        lines(&report).contains(&format!("tenant/acme-{s} configured")),
        "{:?}",
        lines(&report)
    );
    assert_eq!(state().await, (true, g0 + 1), "pausing is a spec change");
    let yaml = run(&db, &["get", "tenants", &format!("acme-{s}"), "-o", "yaml"])
        .await
        .expect("get");
    assert!(yaml.contains("paused: true"), "{yaml}");
    apply::apply(&db.pool, &text).await.expect("unpause");
    assert_eq!(state().await, (false, g0 + 2));
    let bad = paused_text.replace("paused: true", "paused: maybe");
    let err = apply::apply(&db.pool, &bad)
        .await
        .expect_err("not a boolean");
    assert!(err.to_string().contains("spec.paused"), "{err}");
    assert_eq!(state().await, (false, g0 + 2), "nothing changed");
}

#[tokio::test]
async fn get_wide_and_jsonpath_print_what_kubectl_users_expect() {
    let db = TestDb::new().await;
    let s = unique_name("w").replace("w-", "");
    apply::apply(&db.pool, &examples(&s)).await.expect("apply");
    let acme = format!("acme-{s}");

    let wide = run(&db, &["get", "tenants", &acme, "-o", "wide"])
        .await
        .expect("wide");
    let header = wide.lines().next().expect("header");
    assert!(
        header.contains("PAUSED") && header.contains("DB NAME") && header.contains("MESSAGE"),
        "{wide}"
    );
    let db_name: String =
        sqlx::query_scalar("SELECT db_name FROM openclaw.tenants WHERE name = $1")
            .bind(&acme)
            .fetch_one(&db.pool)
            .await
            .expect("db_name");
    assert!(wide.contains(&db_name) && wide.contains("false"), "{wide}");
    let agents = run(&db, &["get", "agents", &acme, "-o", "wide"])
        .await
        .expect("agents wide");
    assert!(
        agents
            .lines()
            .next()
            .expect("header")
            .contains("INTEGRATIONS"),
        "{agents}"
    );
    assert_eq!(
        agents.lines().count(),
        4,
        "three agents and the header: {agents}"
    );

    // Over the list: every name, joined by spaces; over one object by name: its fields.
    let names = run(
        &db,
        &["get", "tenants", "-o", "jsonpath={.items[*].metadata.name}"],
    )
    .await
    .expect("jsonpath list");
    let got: Vec<&str> = names.split(' ').filter(|n| n.ends_with(&s)).collect();
    assert_eq!(got.len(), 3, "{names}");
    let one = run(
        &db,
        &[
            "get",
            "tenants",
            &acme,
            "-o",
            r#"jsonpath={.metadata.name}{"\n"}{.spec.tier}"#,
        ],
    )
    .await
    .expect("jsonpath one");
    assert_eq!(one, format!("{acme}\npremium"));

    // A bad template is refused before anything is read, naming the rule.
    let err = Cli::try_parse_from(["openclaw", "get", "tenants", "-o", "jsonpath={.items["])
        .expect_err("bad template");
    assert!(err.to_string().contains("jsonpath"), "{err}");
    let err = Cli::try_parse_from(["openclaw", "get", "tenants", "-o", "xml"]).expect_err("xml");
    assert!(err.to_string().contains("jsonpath=TEMPLATE"), "{err}");
}

#[tokio::test]
async fn diff_shows_what_apply_would_change_field_by_field_and_writes_nothing() {
    let db = TestDb::new().await;
    let s = unique_name("d").replace("d-", "");
    let text = examples(&s);
    apply::apply(&db.pool, &text).await.expect("apply");
    let file = std::env::temp_dir().join(format!("openclaw-diff-{s}.yaml"));
    let diff = |body: String| {
        std::fs::write(&file, body).expect("write");
        let path = file.to_string_lossy().into_owned();
        let db = &db;
        async move { run(db, &["diff", "-f", &path]).await }
    };

    let same = diff(text.clone()).await.expect("diff");
    assert_eq!(
        same.lines().filter(|l| l.ends_with(" unchanged")).count(),
        same.lines().count(),
        "{same}"
    );
    assert!(
        same.contains(&format!("tenant/acme-{s} unchanged")),
        "{same}"
    );

    let changed = text
        .replacen("  tier: premium\n", "  tier: standard\n", 1)
        .replacen("      desiredCount: 1\n      cpu: 256", "      desiredCount: 3\n      cpu: 256", 1)
        .replacen(
            "    - kind: strategist\n      model: anthropic.claude-3-5-haiku-20241022-v1:0\n      integrations: [salesforce]\n",
            "",
            1,
        )
        .replacen(
            "  agents:\n    - kind: scout\n      model: amazon.nova-lite-v1:0\n",
            "  agents:\n    - kind: scout\n      model: amazon.nova-lite-v1:0\n    - kind: butler\n      model: amazon.nova-lite-v1:0\n",
            1,
        )
        + &format!(
            "---\napiVersion: openclaw.io/v1alpha1\nkind: Tenant\nmetadata:\n  name: hooli-{s}\n\
             spec:\n  displayName: Hooli\n  region: us-east-1\n"
        );
    let out = diff(changed.clone()).await.expect("diff");
    // With --detailed-exitcode, changes exit 2 (the diff still printed), none exit 0.
    let path = file.to_string_lossy().into_owned();
    let err = run(&db, &["diff", "--detailed-exitcode", "-f", &path])
        .await
        .expect_err("changes");
    let has = err
        .downcast_ref::<cli::HasChanges>()
        .expect("exit status 2, with the diff");
    assert_eq!((has.0.as_str(), cli::HasChanges::EXIT), (out.as_str(), 2));
    std::fs::write(&file, &text).expect("write");
    assert_eq!(
        run(&db, &["diff", "--detailed-exitcode", "-f", &path])
            .await
            .expect("no changes"),
        same
    );
    for want in [
        format!("tenant/acme-{s} configured"),
        "  ~ spec.tier: \"premium\" → \"standard\"".to_owned(),
        "  ~ spec.agents[kind=butler].desiredCount: 1 → 3".to_owned(),
        format!("tenant/globex-{s} configured"),
        format!("tenant/initech-{s} configured"),
        format!("tenant/hooli-{s} created"),
        "  + spec.displayName: \"Hooli\"".to_owned(),
    ] {
        assert!(out.lines().any(|l| l == want), "missing {want:?} in\n{out}");
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with("  - spec.agents[kind=strategist]: {")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("  + spec.agents[kind=butler]: {")),
        "{out}"
    );

    // Nothing was written: the store still holds the first apply.
    let again = diff(text.clone()).await.expect("diff");
    assert_eq!(again, same);

    // A listed agent that is being deleted is refused, as apply refuses it.
    sqlx::query(
        "UPDATE openclaw.agents SET finalizers = array[$2], deletion_requested_at = now() \
         WHERE tenant = $1 AND kind = 'scout'",
    )
    .bind(format!("initech-{s}"))
    .bind(operator::store::FINALIZER)
    .execute(&db.pool)
    .await
    .expect("mark scout");
    let err = diff(text.clone())
        .await
        .expect_err("scout is being deleted");
    assert!(
        err.to_string()
            .contains(&format!("agent/initech-{s}/scout: is being deleted")),
        "{err}"
    );
    let err2 = apply::apply(&db.pool, &text)
        .await
        .expect_err("apply refuses too");
    assert!(err2.to_string().contains("is being deleted"), "{err2}");

    // Bad input is refused as apply refuses it, with exit status 2.
    let err = diff("kind: Tenant\n".into()).await.expect_err("invalid");
    assert_eq!(cli::exit_code(&err), 2, "{err}");
    let _ = std::fs::remove_file(&file);
}

#[tokio::test]
async fn tokens_are_shown_once_kept_as_hashes_and_refused_for_bad_input() {
    let db = TestDb::new().await;
    let dbs = operator::store::Databases {
        control: db.pool.clone(),
        tenants: db.tenants.clone(),
        tenants_url: db.tenant_url.clone(),
    };
    let (a, b) = (unique_name("acme"), unique_name("globex"));
    for t in [&a, &b] {
        sqlx::query("INSERT INTO openclaw.tenants (name, display_name, region) VALUES ($1, 'x', 'us-east-1')")
            .bind(t)
            .execute(&db.pool)
            .await
            .expect("tenant");
    }
    let token = |tenant: &str, label: &str| cli::TokenCommand::Create {
        tenant: tenant.into(),
        label: label.into(),
    };
    let rows = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM gateway.tokens")
            .fetch_one(&db.tenants)
            .await
            .expect("count")
    };
    // Bad input names the flag and the rule, and writes nothing.
    let e = cli::token(&dbs, token("nosuch", ""))
        .await
        .expect_err("unknown");
    assert!(e.to_string().contains("not found"), "{e}");
    for bad in ["x".repeat(65), "a\nb".to_owned()] {
        let e = cli::token(&dbs, token(&a, &bad)).await.expect_err("label");
        assert!(e.to_string().starts_with("--label: at most 64"), "{e}");
    }
    assert_eq!(rows().await, 0);

    let out = cli::token(&dbs, token(&a, "crm-sync"))
        .await
        .expect("create");
    let value = out.lines().nth(1).expect("the token").to_owned();
    assert!(value.starts_with("oct_") && value.len() == 47, "{out}");
    let (hash_ok, anywhere): (bool, bool) = sqlx::query_as(
        "SELECT bool_and(token_hash = sha256(convert_to($1, 'UTF8'))), \
                bool_or(t::text LIKE '%' || $1 || '%') FROM gateway.tokens t",
    )
    .bind(&value)
    .fetch_one(&db.tenants)
    .await
    .expect("stored");
    assert!(hash_ok && !anywhere, "kept only as its SHA-256");
    let listed = cli::token(&dbs, cli::TokenCommand::List { tenant: a.clone() })
        .await
        .expect("list");
    assert!(
        listed.contains("crm-sync") && !listed.contains(&value),
        "{listed}"
    );
    let id: i64 = out
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("id");

    // A token is revoked by its own tenant only, and once.
    let revoke = |tenant: &str| cli::TokenCommand::Revoke {
        tenant: tenant.into(),
        id,
    };
    let e = cli::token(&dbs, revoke(&b))
        .await
        .expect_err("not globex's");
    assert!(e.to_string().contains("no live token"), "{e}");
    let live: bool =
        sqlx::query_scalar("SELECT revoked_at IS NULL FROM gateway.tokens WHERE id = $1")
            .bind(id)
            .fetch_one(&db.tenants)
            .await
            .expect("live");
    assert!(live, "another tenant's revoke changed nothing");
    cli::token(&dbs, revoke(&a)).await.expect("revoke");
    assert!(cli::token(&dbs, revoke(&a)).await.is_err(), "revoked once");

    // A tenant being deleted gets no new token.
    sqlx::query(
        "UPDATE openclaw.tenants SET finalizers = '{openclaw.io/cloud-resources}' WHERE name = $1",
    )
    .bind(&a)
    .execute(&db.pool)
    .await
    .expect("finalizer");
    sqlx::query("DELETE FROM openclaw.tenants WHERE name = $1")
        .bind(&a)
        .execute(&db.pool)
        .await
        .expect("delete");
    let e = cli::token(&dbs, token(&a, "")).await.expect_err("deleting");
    assert!(e.to_string().contains("being deleted"), "{e}");
    assert_eq!(rows().await, 1);
}
