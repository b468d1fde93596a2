//! The cell's database through the RDS API (moto's RDS): discovery, compliance and the
//! onboarding gate, and IAM database authentication mode.

use aws_sdk_rds::Client as Rds;
use crds::api::AgentKind;
use crds::naming::TenantName;
use openclaw_tests::{unique_name, Harness};
use operator::config::{CellDatabase, DbAuth};

async fn rds(h: &Harness) -> Rds {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(h.cell().aws_endpoint_url.clone().expect("endpoint"))
        .load()
        .await;
    Rds::new(&sdk)
}

/// Creates an instance in the emulator; returns its identifier.
async fn instance(h: &Harness, encrypted: bool, public: bool, iam: bool) -> String {
    let id = unique_name("db");
    rds(h)
        .await
        .create_db_instance()
        .db_instance_identifier(&id)
        .engine("postgres")
        .engine_version("16.3")
        .db_instance_class("db.t4g.micro")
        .allocated_storage(20)
        .master_username("openclaw")
        .master_user_password("not-used-by-tests-1")
        .storage_encrypted(encrypted)
        .publicly_accessible(public)
        .enable_iam_database_authentication(iam)
        .send()
        .await
        .expect("create instance");
    id
}

fn with_db(id: String, db_auth: DbAuth, allow: bool) -> impl FnOnce(&mut operator::config::Config) {
    move |c| {
        let cell = c.cell.as_mut().expect("cell");
        cell.database = Some(CellDatabase {
            rds_instance: Some(id),
            aurora_cluster: None,
            require_iam_auth: false,
            allow_noncompliant_onboarding: allow,
        });
        cell.db_auth = db_auth;
    }
}

#[tokio::test]
async fn discovery_fills_the_cells_details_from_the_bootstrapped_instance() {
    // The local bootstrap creates the cell's database, as Terraform does in production.
    let h = Harness::new().await;
    let id = h
        .cell()
        .database
        .as_ref()
        .and_then(|d| d.rds_instance.clone())
        .expect("bootstrap names the RDS instance");
    let reasons = h.reconciler.refresh_cell().await.expect("discover");
    assert!(reasons.is_empty(), "{reasons:?}");
    let (details, phase, _, _) = operator::store::get_cell(&mut *h.db.conn().await, &h.cell().name)
        .await
        .expect("row")
        .expect("cell");
    assert_eq!(phase, "Ready");
    assert_eq!(details["identifier"], id.as_str());
    assert_eq!(details["storage_encrypted"], true);
    assert_eq!(details["iam_auth_enabled"], true);
    assert_eq!(details["engine"], "postgres");
    assert!(
        details["resource_id"]
            .as_str()
            .unwrap_or_default()
            .starts_with("db-"),
        "{details}"
    );
    assert!(details["endpoint"].as_str().is_some_and(|e| !e.is_empty()));
    let shown = cli::describe_cell(&h.reconciler).await.expect("describe");
    assert!(
        shown.contains(&id)
            && shown.contains("Encrypted:   true")
            && shown.contains("Phase:       Ready"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_noncompliant_database_degrades_the_cell_and_refuses_new_tenants_only() {
    let probe = Harness::new().await;
    let id = instance(&probe, false, true, false).await;
    let h = Harness::with(with_db(id, DbAuth::Password, false)).await;
    // A tenant onboarded before the database was found wanting keeps running.
    let old = unique_name("old");
    h.insert_tenant(&old, &[("scout", &[])]).await;
    h.converge(&[&old]).await;

    let reasons = h.reconciler.refresh_cell().await.expect("discover");
    assert_eq!(reasons, ["storage_unencrypted", "publicly_accessible"]);
    let (_, phase, stored, _) = operator::store::get_cell(&mut *h.db.conn().await, &h.cell().name)
        .await
        .expect("row")
        .expect("cell");
    assert_eq!((phase.as_str(), stored.len()), ("Degraded", 2));
    assert_eq!(
        h.metrics
            .cell_noncompliant
            .with_label_values(&["storage_unencrypted"])
            .get(),
        1
    );
    assert_eq!(
        h.metrics
            .cell_noncompliant
            .with_label_values(&["publicly_accessible"])
            .get(),
        1
    );
    assert_eq!(
        h.metrics
            .cell_noncompliant
            .with_label_values(&["iam_auth_disabled"])
            .get(),
        0
    );

    let new = unique_name("new");
    h.insert_tenant(&new, &[("scout", &[])]).await;
    let err = h.reconciler.reconcile(&new).await.expect_err("refused");
    assert_eq!(err.code(), "CellNoncompliant");
    let row = operator::store::get_tenant(&mut *h.db.conn().await, &new)
        .await
        .expect("row")
        .expect("tenant");
    assert_eq!(row.phase, "Failed");
    let msg = row.status_message.unwrap_or_default();
    assert!(
        msg.contains("storage_unencrypted") && msg.contains("publicly_accessible"),
        "{msg}"
    );
    let t = TenantName::parse(&new).expect("name");
    assert!(
        h.aws
            .iam
            .get_role()
            .role_name(t.role_name(AgentKind::Scout))
            .send()
            .await
            .is_err(),
        "nothing was created"
    );

    h.reconciler
        .reconcile(&old)
        .await
        .expect("the existing tenant keeps running");
    assert_eq!(h.phase(&old).await.as_deref(), Some("Ready"));
}

#[tokio::test]
async fn onboarding_into_a_noncompliant_cell_can_be_allowed_explicitly() {
    let probe = Harness::new().await;
    let id = instance(&probe, false, false, true).await;
    let h = Harness::with(with_db(id, DbAuth::Password, true)).await;
    assert_eq!(
        h.reconciler.refresh_cell().await.expect("discover"),
        ["storage_unencrypted"]
    );
    let n = unique_name("allowed");
    h.insert_tenant(&n, &[("scout", &[])]).await;
    h.converge(&[&n]).await;
}

#[tokio::test]
async fn iam_mode_replaces_the_password_once_roles_can_log_in_with_iam() {
    let probe = Harness::new().await;
    let id = instance(&probe, true, false, true).await;
    // RDS's rds_iam role, as the server has it on RDS.
    sqlx::raw_sql("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam') THEN CREATE ROLE rds_iam NOLOGIN; END IF; END $$")
        .execute(&probe.db.pool).await.expect("rds_iam");
    // Onboard in password mode first.
    let h = Harness::with(with_db(id.clone(), DbAuth::Password, false)).await;
    h.reconciler.refresh_cell().await.expect("discover");
    let n = unique_name("iam");
    h.insert_tenant(&n, &[("scout", &[])]).await;
    h.converge(&[&n]).await;
    let t = h.tenant_ref(&n).await;
    assert!(h
        .aws
        .secrets
        .describe_secret()
        .secret_id(t.db_secret_name())
        .send()
        .await
        .is_ok());

    // The same store, the cell switched to IAM authentication.
    let mut config = h.config.clone();
    with_db(id, DbAuth::Iam, false)(&mut config);
    let iam = operator::runtime::reconciler(&config, &h.db.dbs(), h.metrics.clone(), "iam".into())
        .await
        .expect("reconciler");
    iam.refresh_cell().await.expect("discover");
    for _ in 0..4 {
        iam.reconcile(&n).await.expect("reconcile");
    }
    assert_eq!(h.phase(&n).await.as_deref(), Some("Ready"));
    // The role can log in with IAM, and the password is gone.
    let member: bool = sqlx::query_scalar("SELECT pg_has_role($1, 'rds_iam', 'MEMBER')")
        .bind(t.db.role())
        .fetch_one(&h.db.pool)
        .await
        .expect("member");
    assert!(member);
    let gone = h
        .aws
        .secrets
        .describe_secret()
        .secret_id(t.db_secret_name())
        .send()
        .await;
    assert!(
        gone.is_err() || gone.is_ok_and(|d| d.deleted_date().is_some()),
        "the password secret must go"
    );
    // The agent's role may connect as exactly its own database user.
    let doc = {
        let r = h
            .aws
            .iam
            .get_role_policy()
            .role_name(t.role_name(AgentKind::Scout))
            .policy_name(t.role_name(AgentKind::Scout))
            .send()
            .await
            .expect("policy");
        operator::policy::decode_document(r.policy_document()).expect("json")
    };
    let connects: Vec<String> = operator::policy::resources(&doc)
        .into_iter()
        .filter(|(a, _)| a.iter().any(|x| x == "rds-db:connect"))
        .map(|(_, r)| r)
        .collect();
    let (details, _, _, _) = operator::store::get_cell(&mut *h.db.conn().await, &h.cell().name)
        .await
        .expect("row")
        .expect("cell");
    let resource_id = details["resource_id"]
        .as_str()
        .expect("resource id")
        .to_owned();
    assert_eq!(
        connects,
        vec![format!(
            "arn:aws:rds-db:us-east-1:{}:dbuser:{resource_id}/{}",
            h.cell().account_id,
            t.db.role()
        )]
    );
    // The task definition tells the agent to log in with IAM, as its own user.
    let env = h.service_environment(&t, AgentKind::Scout).await;
    assert!(env.contains(&"OPENCLAW_DB_AUTH=iam".to_owned()), "{env:?}");
    assert!(
        env.contains(&format!("OPENCLAW_DB_USER={}", t.db.role())),
        "{env:?}"
    );
    assert!(
        !env.iter().any(|e| e.starts_with("OPENCLAW_DB_SECRET=")),
        "{env:?}"
    );
}
