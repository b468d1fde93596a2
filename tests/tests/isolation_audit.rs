//! `openclaw audit isolation` on a live deployment (a private emulator, so no other test's
//! resources are in the account): clean when fresh, and each planted path reported. Then the IAM
//! drill with moto's enforcement switched on: an identity holding tenant A's rendered policy is
//! denied tenant B's objects and B's role, and allowed its own.

use std::process::Command;

use aws_credential_types::Credentials;
use crds::api::AgentKind;
use crds::naming::TenantRef;
use openclaw_tests::moto::PrivateMoto;
use openclaw_tests::process::binary;
use openclaw_tests::{unique_name, Harness};
use serde_json::json;

async fn deployment(moto: &PrivateMoto) -> (Harness, TenantRef, TenantRef) {
    let h = Harness::build(moto.cell_config(), |_| {}).await;
    let a = unique_name("auda");
    let b = unique_name("audb");
    h.insert_tenant(&a, &[("butler", &["gmail"]), ("scout", &[])])
        .await;
    h.insert_tenant(&b, &[("scout", &[])]).await;
    h.converge(&[&a, &b]).await;
    let (ta, tb) = (h.tenant_ref(&a).await, h.tenant_ref(&b).await);
    (h, ta, tb)
}

#[tokio::test]
async fn audit_isolation_is_clean_when_fresh_and_reports_each_planted_path() {
    let moto = PrivateMoto::start().await;
    let (h, a, b) = deployment(&moto).await;
    let clean = operator::isolation::audit(&h.reconciler, None)
        .await
        .expect("audit");
    assert!(
        clean.is_empty(),
        "a fresh deployment has no path across tenants: {clean:#?}"
    );

    let secret_b = h
        .aws
        .secrets
        .describe_secret()
        .secret_id(b.db_secret_name())
        .send()
        .await
        .expect("b secret");
    let secret_b_arn = secret_b.arn().expect("arn").to_owned();
    let iam = &h.aws.iam;
    // 1. A's role may read B's secret.
    iam.put_role_policy().role_name(a.role_name(AgentKind::Scout)).policy_name("plant-1")
        .policy_document(json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret_b_arn}]}).to_string())
        .send().await.expect("plant 1");
    // 2. A wildcard in A's butler role.
    iam.put_role_policy().role_name(a.role_name(AgentKind::Butler)).policy_name("plant-2")
        .policy_document(json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}).to_string())
        .send().await.expect("plant 2");
    // 3. B's role trusts A's role.
    let a_role_arn = h
        .reconciler
        .cell
        .arn_context()
        .role_arn(&a, AgentKind::Scout);
    iam.update_assume_role_policy().role_name(b.role_name(AgentKind::Scout))
        .policy_document(json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": a_role_arn}, "Action": "sts:AssumeRole"}]}).to_string())
        .send().await.expect("plant 3");
    // 4. Some other role reads every tenant's secrets.
    iam.create_role()
        .role_name("backdoor-reader")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .send()
        .await
        .expect("role");
    iam.put_role_policy().role_name("backdoor-reader").policy_name("read")
        .policy_document(json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "arn:aws:secretsmanager:*:*:secret:/openclaw/*"}]}).to_string())
        .send().await.expect("plant 4");
    // 5. A resource policy on A's secret.
    h.aws.secrets.put_resource_policy().secret_id(a.db_secret_name())
        .resource_policy(json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}).to_string())
        .send().await.expect("plant 5");
    // 6-9. PostgreSQL: a grant on B's table, B's role, BYPASSRLS, RLS not forced.
    let (ra, rb, sb) = (a.db.role(), b.db.role(), b.db.schema());
    sqlx::raw_sql(&format!(
        "GRANT SELECT ON \"{sb}\".tasks TO \"{ra}\"; GRANT \"{rb}\" TO \"{ra}\"; ALTER ROLE \"{ra}\" BYPASSRLS; \
         ALTER TABLE shared.usage NO FORCE ROW LEVEL SECURITY;"
    )).execute(&h.db.tenant_admin).await.expect("plant pg");
    // 10. A role setting the tenant gave itself (it may: ALTER ROLE CURRENT_USER SET ...).
    sqlx::raw_sql(&format!("ALTER ROLE \"{ra}\" SET work_mem = '1GB'"))
        .execute(&h.db.pool)
        .await
        .expect("plant 10");
    // 12. A tenant role that may connect to the control store.
    sqlx::raw_sql(&format!(
        "GRANT CONNECT ON DATABASE \"{}\" TO \"{ra}\"",
        h.db.name
    ))
    .execute(&h.db.admin)
    .await
    .expect("plant 12");
    // 13. A session B's role opened on the control store before its CONNECT was taken away.
    sqlx::raw_sql(&format!(
        "GRANT CONNECT ON DATABASE \"{}\" TO \"{rb}\"",
        h.db.name
    ))
    .execute(&h.db.admin)
    .await
    .expect("plant 13: grant");
    let _lingering = h.connect_control_as(rb).await.expect("plant 13: a session");
    sqlx::raw_sql(&format!(
        "REVOKE CONNECT ON DATABASE \"{}\" FROM \"{rb}\"",
        h.db.name
    ))
    .execute(&h.db.admin)
    .await
    .expect("plant 13: revoke");
    // 11. A boundary without the per-tenant wall: every tenant's secrets and objects.
    let open_boundary = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "arn:aws:secretsmanager:*:*:secret:/openclaw/*"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::*/tenants/*"}]});
    iam.create_policy_version()
        .policy_arn(&h.cell().permissions_boundary_arn)
        .policy_document(open_boundary.to_string())
        .set_as_default(true)
        .send()
        .await
        .expect("plant 11");

    let findings = operator::isolation::audit(&h.reconciler, None)
        .await
        .expect("audit");
    let shown: Vec<String> = findings.iter().map(ToString::to_string).collect();
    let has = |kind: &str, needle: &str| {
        findings
            .iter()
            .any(|f| f.kind == kind && f.to_string().contains(needle))
    };
    assert!(
        has("iam_policy", &secret_b_arn),
        "plant 1 not reported:\n{}",
        shown.join("\n")
    );
    assert!(
        has("iam_wildcard", &a.role_name(AgentKind::Butler)),
        "plant 2:\n{}",
        shown.join("\n")
    );
    assert!(
        has("iam_trust", &b.role_name(AgentKind::Scout)),
        "plant 3:\n{}",
        shown.join("\n")
    );
    assert!(
        has("secret_reader", "backdoor-reader"),
        "plant 4:\n{}",
        shown.join("\n")
    );
    assert!(
        has("secret_policy", &a.db_secret_name()),
        "plant 5:\n{}",
        shown.join("\n")
    );
    assert!(
        has("pg_grant", &format!("{sb}.tasks")),
        "plant 6:\n{}",
        shown.join("\n")
    );
    assert!(has("pg_membership", rb), "plant 7:\n{}", shown.join("\n"));
    assert!(
        has("pg_role_attribute", "BYPASSRLS"),
        "plant 8:\n{}",
        shown.join("\n")
    );
    assert!(
        has("pg_rls", "shared.usage"),
        "plant 9:\n{}",
        shown.join("\n")
    );
    assert!(
        has("pg_role_setting", "work_mem"),
        "plant 10:\n{}",
        shown.join("\n")
    );
    assert!(
        has("iam_boundary", "another tenant's secret")
            && has("iam_boundary", "another tenant's objects"),
        "plant 11:\n{}",
        shown.join("\n")
    );
    assert!(
        has("pg_control_connect", ra),
        "plant 12:\n{}",
        shown.join("\n")
    );
    assert!(
        has("pg_control_session", rb),
        "plant 13:\n{}",
        shown.join("\n")
    );

    // The command exits non-zero and prints the findings.
    let out = Command::new(binary())
        .args([
            "--config",
            moto.config.to_str().expect("utf8"),
            "audit",
            "isolation",
        ])
        .env("DATABASE_URL", &h.db.url)
        .env("TENANT_DATABASE_URL", &h.db.tenant_url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .expect("run audit");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("backdoor-reader")
            && stdout.contains("pg_rls")
            && stdout.contains("iam_boundary"),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("finding(s)"));
    sqlx::raw_sql("ALTER TABLE shared.usage FORCE ROW LEVEL SECURITY")
        .execute(&h.db.tenants)
        .await
        .expect("restore");
}

#[tokio::test]
async fn with_iam_enforced_tenant_a_is_denied_tenant_b_and_allowed_its_own() {
    let moto = PrivateMoto::start().await;
    let (h, a, b) = deployment(&moto).await;
    let cell = h.cell().clone();
    // An identity holding exactly tenant A's rendered scout policy.
    let spec = operator::store::list_agents(&mut *h.db.conn().await, Some(a.as_str()))
        .await
        .expect("agents")
        .into_iter()
        .find(|x| x.kind == "scout")
        .expect("scout")
        .spec()
        .expect("spec");
    let policy =
        operator::render::render_agent(&cell, &a, crds::api::Tier::Standard, &spec).inline_policy;
    let iam = &h.aws.iam;
    iam.create_user()
        .user_name("agent-a")
        .send()
        .await
        .expect("user");
    iam.put_user_policy()
        .user_name("agent-a")
        .policy_name("tenant-a")
        .policy_document(policy.to_string())
        .send()
        .await
        .expect("policy");
    let key = iam
        .create_access_key()
        .user_name("agent-a")
        .send()
        .await
        .expect("key");
    let key = key.access_key().expect("key");
    // Objects for both tenants, written before enforcement.
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&moto.endpoint)
        .load()
        .await;
    let admin_s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    for t in [&a, &b] {
        admin_s3
            .put_object()
            .bucket(&cell.tenant_bucket)
            .key(format!("{}notes.txt", t.s3_prefix()))
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"private"))
            .send()
            .await
            .expect("object");
    }
    let creds = Credentials::new(
        key.access_key_id(),
        key.secret_access_key(),
        None,
        None,
        "agent-a",
    );
    let as_a = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&moto.endpoint)
        .credentials_provider(creds)
        .load()
        .await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&as_a)
            .force_path_style(true)
            .build(),
    );
    let sts = aws_sdk_sts::Client::new(&as_a);
    let iam_a = aws_sdk_iam::Client::new(&as_a);

    moto.enforce(true).await;
    let own = s3
        .get_object()
        .bucket(&cell.tenant_bucket)
        .key(format!("{}notes.txt", a.s3_prefix()))
        .send()
        .await;
    let other = s3
        .get_object()
        .bucket(&cell.tenant_bucket)
        .key(format!("{}notes.txt", b.s3_prefix()))
        .send()
        .await;
    let put_other = s3
        .put_object()
        .bucket(&cell.tenant_bucket)
        .key(format!("{}planted.txt", b.s3_prefix()))
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
        .send()
        .await;
    let assume_b = sts
        .assume_role()
        .role_arn(cell.arn_context().role_arn(&b, AgentKind::Scout))
        .role_session_name("x")
        .send()
        .await;
    let widen = iam_a.put_role_policy().role_name(a.role_name(AgentKind::Scout)).policy_name("escalate")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#).send().await;
    moto.enforce(false).await;

    assert!(
        own.is_ok(),
        "tenant A must read its own prefix: {:?}",
        own.err()
    );
    let status = |e: Option<u16>| e.unwrap_or_default();
    assert_eq!(
        status(
            other
                .as_ref()
                .err()
                .and_then(|e| e.raw_response().map(|r| r.status().as_u16()))
        ),
        403,
        "B's object"
    );
    assert_eq!(
        status(
            put_other
                .as_ref()
                .err()
                .and_then(|e| e.raw_response().map(|r| r.status().as_u16()))
        ),
        403,
        "writing under B's prefix"
    );
    assert!(assume_b.is_err(), "assuming B's role must be denied");
    assert!(widen.is_err(), "A cannot widen its own role");
}
