//! Right to delete: a deleted tenant leaves nothing behind (every object version and delete
//! marker under its bucket prefix, its shared rows, its cost rows, its task definitions), an
//! erasure cut short resumes and skips nothing, and a tenant created later under the same name
//! inherits nothing; an operator process killed mid-erasure leaves the rest to the next. Every
//! check reads AWS and PostgreSQL directly, not through the operator.

use aws_sdk_s3::primitives::ByteStream;
use futures_util::StreamExt;
use openclaw_tests::process::Operator;
use openclaw_tests::{unique_name, wait_until, Harness};

/// A versioned bucket of the test's own, so counts are exact.
async fn harness_with_bucket() -> (Harness, String) {
    let bucket = unique_name("erase").replace('-', "");
    let h = Harness::with(|c| {
        if let Some(cell) = c.cell.as_mut() {
            cell.tenant_bucket = bucket.clone();
        }
    })
    .await;
    h.aws
        .s3
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("bucket");
    h.aws
        .s3
        .put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .expect("versioning");
    (h, bucket)
}

/// `keys` objects under `prefix`, each written twice (two versions), and a delete marker on
/// every other key: 2 × keys + keys / 2 entries.
async fn write_objects(h: &Harness, bucket: &str, prefix: &str, keys: usize) {
    let puts = (0..keys).flat_map(|i| [(i, 0), (i, 1)]);
    futures_util::stream::iter(puts)
        .for_each_concurrent(8, |(i, v)| async move {
            h.aws
                .s3
                .put_object()
                .bucket(bucket)
                .key(format!("{prefix}notes/{i:05}.txt"))
                .body(ByteStream::from(
                    format!("private note {i} v{v}").into_bytes(),
                ))
                .send()
                .await
                .expect("put");
        })
        .await;
    futures_util::stream::iter((0..keys).step_by(2))
        .for_each_concurrent(8, |i| async move {
            h.aws
                .s3
                .delete_object()
                .bucket(bucket)
                .key(format!("{prefix}notes/{i:05}.txt"))
                .send()
                .await
                .expect("delete marker");
        })
        .await;
}

/// Every version and delete marker under `prefix`, counted through every page.
async fn versions_left(h: &Harness, bucket: &str, prefix: &str) -> usize {
    let mut n = 0;
    let (mut key, mut version) = (None::<String>, None::<String>);
    loop {
        let r = h
            .aws
            .s3
            .list_object_versions()
            .bucket(bucket)
            .prefix(prefix)
            .set_key_marker(key.clone())
            .set_version_id_marker(version.clone())
            .send()
            .await
            .expect("list versions");
        n += r.versions().len() + r.delete_markers().len();
        if !r.is_truncated().unwrap_or(false) {
            return n;
        }
        key = r.next_key_marker().map(str::to_owned);
        version = r.next_version_id_marker().map(str::to_owned);
    }
}

async fn erase_record(h: &Harness, tenant: &str) -> Option<serde_json::Value> {
    sqlx::query_scalar(
        "SELECT detail FROM openclaw.audit_log WHERE tenant = $1 AND action = 'erase' \
         ORDER BY seq DESC LIMIT 1",
    )
    .bind(tenant)
    .fetch_optional(&h.db.pool)
    .await
    .expect("erase record")
}

async fn delete(h: &Harness, tenant: &str) {
    sqlx::query("DELETE FROM openclaw.tenants WHERE name = $1")
        .bind(tenant)
        .execute(&h.db.pool)
        .await
        .expect("delete");
}

#[tokio::test]
async fn deletion_erases_every_trace_resumes_when_cut_short_and_a_reused_name_inherits_nothing() {
    let (h, bucket) = harness_with_bucket().await;
    let t = unique_name("gone");
    let other = unique_name("kept");
    h.insert_tenant(&t, &[("scout", &[])]).await;
    h.insert_tenant(&other, &[("scout", &[])]).await;
    h.converge(&[&t, &other]).await;
    let old = h.tenant_ref(&t).await;
    let prefix = old.s3_prefix();
    // 1,000 keys: 2,000 versions and 500 delete markers; the neighbour has its own.
    write_objects(&h, &bucket, &prefix, 1000).await;
    write_objects(&h, &bucket, &h.tenant_ref(&other).await.s3_prefix(), 10).await;
    assert_eq!(versions_left(&h, &bucket, &prefix).await, 2500);
    // The operator made each scout's group; an older release let ECS make one more, untagged.
    h.aws
        .logs
        .create_log_group()
        .log_group_name(format!("/openclaw/{t}/butler"))
        .send()
        .await
        .expect("log group");
    // Data in the database, written as the tenant, and Fargate cost rows.
    let mut s = h.connect_as(old.db.role()).await.expect("tenant");
    sqlx::query(&format!(
        "INSERT INTO \"{}\".tasks (kind, input) VALUES ('scout', '{{\"secret\": \"old\"}}')",
        old.db.schema()
    ))
    .execute(&mut s)
    .await
    .expect("task");
    sqlx::query("INSERT INTO shared.usage (agent, model, input_tokens, output_tokens, latency_ms) VALUES ('scout', 'm', 1, 1, 1)")
        .execute(&mut s)
        .await
        .expect("usage");
    drop(s);
    // An API token of the gateway, and a mutation it made.
    operator::store::create_token(&h.db.tenants, &old, "ci")
        .await
        .expect("token");
    sqlx::query(
        "INSERT INTO gateway.audit (db_name, token_id, action) VALUES ($1, 1, 'task.create')",
    )
    .bind(old.db.as_str())
    .execute(&h.db.tenant_admin)
    .await
    .expect("gateway audit");
    // A consent flow in progress (its state and PKCE verifier).
    sqlx::query(
        "INSERT INTO gateway.oauth_states (state_hash, db_name, tenant, token_id, integration, verifier) \
         VALUES ('\\x00', $1, $2, 1, 'gmail', repeat('v', 43))",
    )
    .bind(old.db.as_str())
    .bind(old.name.as_str())
    .execute(&h.db.tenant_admin)
    .await
    .expect("oauth state");
    sqlx::query("UPDATE openclaw.agents SET running_count = 1 WHERE tenant = ANY($1)")
        .bind([&t, &other])
        .execute(&h.db.pool)
        .await
        .expect("running");
    operator::cost::accrue_fargate(&h.db.pool, 60.0, chrono::Utc::now())
        .await
        .expect("accrue");

    delete(&h, &t).await;
    // While the erasure is under way the name is not free.
    let refused = sqlx::query("INSERT INTO openclaw.tenants (name, display_name, region) VALUES ($1, 'Again', 'us-east-1')")
        .bind(&t)
        .execute(&h.db.pool)
        .await
        .expect_err("a name being erased was taken");
    let db_err = refused.as_database_error().expect("database error");
    assert_eq!(
        db_err.constraint(),
        Some("tenant_name_being_erased"),
        "{refused}"
    );
    assert!(refused.to_string().contains("being deleted"), "{refused}");

    // One pass, then the process "stops": part of the objects are gone, the rest are not.
    let _ = h.reconciler.reconcile(&t).await;
    let after_one = versions_left(&h, &bucket, &prefix).await;
    assert!(
        after_one < 2500 && after_one > 0,
        "one pass erases one page: {after_one} left"
    );
    assert!(
        erase_record(&h, &t).await.is_none(),
        "erased before the objects were gone"
    );
    // A new operator (a fresh reconciler on the same stores and cell) finishes the job.
    let cell_name = h.cell().name.clone();
    let fresh = Harness::build_on(
        openclaw_tests::TestDb::from_parts(
            h.db.name.clone(),
            h.db.url.clone(),
            h.db.tenant_url.clone(),
            operator::store::open(&h.db.url, &h.db.tenant_url, 4, true)
                .await
                .expect("open"),
        )
        .await,
        h.config.clone(),
        |c| {
            if let Some(cell) = c.cell.as_mut() {
                cell.name = cell_name;
            }
        },
    )
    .await;
    fresh.converge(&[&t]).await;
    assert_eq!(fresh.phase(&t).await, None, "the row is gone");

    // Nothing is left, checked without the operator's code.
    assert_eq!(versions_left(&h, &bucket, &prefix).await, 0);
    let their_prefix = h.tenant_ref(&other).await.s3_prefix();
    assert_eq!(
        versions_left(&h, &bucket, &their_prefix).await,
        25,
        "the neighbour's objects stay"
    );
    for (tenant, want) in [(&t, 0), (&other, 1)] {
        let left = h
            .aws
            .logs
            .describe_log_groups()
            .log_group_name_prefix(format!("/openclaw/{tenant}/"))
            .send()
            .await
            .expect("log groups");
        assert_eq!(left.log_groups().len(), want, "log groups of {tenant}");
    }
    let pg: (bool, bool, i64, i64) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1), \
                EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1), \
                (SELECT count(*) FROM shared.usage WHERE tenant = $1), \
                (SELECT count(*) FROM gateway.tokens WHERE db_name = $1) \
                + (SELECT count(*) FROM gateway.audit WHERE db_name = $1) \
                + (SELECT count(*) FROM gateway.oauth_states WHERE db_name = $1)",
    )
    .bind(old.db.as_str())
    .fetch_one(&h.db.tenant_admin)
    .await
    .expect("pg");
    assert_eq!(
        pg,
        (false, false, 0, 0),
        "role, schema, usage, gateway tokens, audit and consent flows"
    );
    let fargate: i64 =
        sqlx::query_scalar("SELECT count(*) FROM openclaw.fargate_usage WHERE tenant = $1")
            .bind(&t)
            .fetch_one(&h.db.admin)
            .await
            .expect("fargate");
    assert_eq!(fargate, 0);
    for status in [
        aws_sdk_ecs::types::TaskDefinitionStatus::Active,
        aws_sdk_ecs::types::TaskDefinitionStatus::Inactive,
    ] {
        let tds = h
            .aws
            .ecs
            .list_task_definitions()
            .family_prefix(old.task_family(crds::api::AgentKind::Scout))
            .status(status.clone())
            .send()
            .await
            .expect("list");
        assert!(
            tds.task_definition_arns().is_empty(),
            "{status:?}: {:?}",
            tds.task_definition_arns()
        );
    }
    let secrets = h
        .aws
        .secrets
        .list_secrets()
        .filters(
            aws_sdk_secretsmanager::types::Filter::builder()
                .key(aws_sdk_secretsmanager::types::FilterNameStringType::Name)
                .values(old.secret_prefix())
                .build(),
        )
        .include_planned_deletion(true)
        .send()
        .await
        .expect("secrets");
    assert!(
        secrets.secret_list().is_empty(),
        "{:?}",
        secrets.secret_list()
    );
    // The erase record counts each class, across both operators' passes, and says what it kept.
    let record = erase_record(&h, &t).await.expect("erase record");
    assert_eq!(record["erased"]["object_versions"], 2500, "{record}");
    assert_eq!(record["erased"]["shared_usage_rows"], 1, "{record}");
    assert_eq!(record["erased"]["fargate_usage_rows"], 1, "{record}");
    assert_eq!(record["erased"]["ecs_service"], 1, "{record}");
    assert_eq!(record["erased"]["log_group"], 2, "{record}");
    assert_eq!(record["kept"][0]["what"], "audit log rows", "{record}");

    // The name again: a new incarnation that starts empty.
    h.insert_tenant(&t, &[("scout", &[])]).await;
    h.converge(&[&t]).await;
    let new = h.tenant_ref(&t).await;
    assert_ne!(new.db, old.db, "a new incarnation gets a new database name");
    let mut s = h.connect_as(new.db.role()).await.expect("new tenant");
    let tasks: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM \"{}\".tasks",
        new.db.schema()
    ))
    .fetch_one(&mut s)
    .await
    .expect("tasks");
    let usage: i64 = sqlx::query_scalar("SELECT count(*) FROM shared.usage")
        .fetch_one(&mut s)
        .await
        .expect("usage");
    assert_eq!(
        (tasks, usage),
        (0, 0),
        "the new tenant sees the old one's rows"
    );
    assert!(
        h.connect_as(old.db.role()).await.is_err(),
        "the old incarnation's login still works"
    );
    assert_eq!(
        versions_left(&h, &bucket, &prefix).await,
        0,
        "the new tenant's prefix holds the old objects"
    );
}

/// The erasure survives kill -9: an operator process erases a first page, then waits on a lock
/// the test holds on the tenant's schema (its teardown drops the schema last); it is killed
/// there. A second process finishes, and the record counts every version exactly once.
#[tokio::test]
async fn an_erasure_killed_halfway_resumes_in_a_new_process_and_skips_nothing() {
    let h = Harness::new().await;
    let bucket = h.cell().tenant_bucket.clone();
    let t = unique_name("killed");
    h.insert_tenant(&t, &[("scout", &[])]).await;
    h.converge(&[&t]).await;
    let old = h.tenant_ref(&t).await;
    let prefix = old.s3_prefix();
    // 2,000 keys: 4,000 versions and 1,000 delete markers, five pages.
    write_objects(&h, &bucket, &prefix, 2000).await;
    assert_eq!(versions_left(&h, &bucket, &prefix).await, 5000);

    let mut lock = h.reconciler.tenant_db.begin().await.expect("begin");
    sqlx::query(&format!(
        "LOCK TABLE \"{}\".tasks IN ACCESS SHARE MODE",
        old.db.schema()
    ))
    .execute(&mut *lock)
    .await
    .expect("lock");
    delete(&h, &t).await;
    let mut first = Operator::spawn(&h, "");
    wait_until(
        60,
        "a page erased, then the operator waiting on the lock",
        || async {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
             AND usename = current_user",
            )
            .fetch_one(&h.db.pool)
            .await
            .expect("activity");
            waiting > 0 && versions_left(&h, &bucket, &prefix).await < 5000
        },
    )
    .await;
    first.kill9();
    let left = versions_left(&h, &bucket, &prefix).await;
    assert!(left > 0 && left < 5000, "killed halfway: {left} left");
    assert!(
        erase_record(&h, &t).await.is_none(),
        "an erase record before the objects were gone"
    );
    lock.rollback().await.expect("release");

    let second = Operator::spawn(&h, "");
    wait_until(90, "the erasure finished by the second process", || async {
        h.phase(&t).await.is_none()
    })
    .await;
    drop(second);
    assert_eq!(
        versions_left(&h, &bucket, &prefix).await,
        0,
        "nothing skipped"
    );
    let record = erase_record(&h, &t).await.expect("erase record");
    assert_eq!(
        record["erased"]["object_versions"], 5000,
        "each version counted once, across both processes: {record}"
    );
}

/// A tenant row deleted by hand (no teardown) leaves orphans; past the grace period they go with
/// the ordinary teardown, and that includes its log groups and every object version under its
/// prefix, one page per pass, without waiting out the grace period again between pages. A prefix
/// of a tenant this control plane never had (another store's, in a shared bucket) is not touched.
#[tokio::test]
async fn an_orphans_objects_and_log_groups_go_too_and_a_strangers_prefix_stays() {
    let (h, bucket) = harness_with_bucket().await;
    let n = unique_name("orphobj");
    h.insert_tenant(&n, &[("scout", &[])]).await;
    h.converge(&[&n]).await;
    let t = h.tenant_ref(&n).await;
    let prefix = t.s3_prefix();
    // 450 keys: 1,125 versions and delete markers, more than one page.
    write_objects(&h, &bucket, &prefix, 450).await;
    assert_eq!(versions_left(&h, &bucket, &prefix).await, 1125);
    let stranger = format!("tenants/{}/", unique_name("stranger"));
    write_objects(&h, &bucket, &stranger, 2).await;
    for q in [
        "UPDATE openclaw.tenants SET finalizers = '{}' WHERE name = $1",
        "UPDATE openclaw.agents SET finalizers = '{}' WHERE tenant = $1",
        "DELETE FROM openclaw.tenants WHERE name = $1",
    ] {
        sqlx::query(q)
            .bind(&n)
            .execute(&h.db.pool)
            .await
            .expect("the row goes without a teardown");
    }
    let groups = |h: &Harness, prefix: String| {
        let logs = h.aws.logs.clone();
        async move {
            logs.describe_log_groups()
                .log_group_name_prefix(prefix)
                .send()
                .await
                .expect("groups")
                .log_groups()
                .len()
        }
    };
    assert_eq!(groups(&h, t.log_group_prefix()).await, 1);

    let grace = 2;
    let first = h.resync(grace).await;
    let seen: Vec<&String> = first
        .orphans
        .iter()
        .filter(|(tn, _)| tn == &n)
        .map(|(_, r)| r)
        .collect();
    assert!(
        seen.contains(&&prefix) && seen.contains(&&t.log_group(crds::api::AgentKind::Scout)),
        "{:?}",
        first.orphans
    );
    assert!(
        first.orphans.iter().all(|(_, r)| r != &stranger),
        "a prefix this store never had is no orphan: {:?}",
        first.orphans
    );
    assert_eq!(
        versions_left(&h, &bucket, &prefix).await,
        1125,
        "never before the grace period"
    );

    tokio::time::sleep(std::time::Duration::from_millis(grace * 1000 + 500)).await;
    h.resync(grace).await;
    assert_eq!(groups(&h, t.log_group_prefix()).await, 0);
    assert_eq!(
        versions_left(&h, &bucket, &prefix).await,
        125,
        "one page a pass"
    );
    // The next pass goes on at once: the prefix stayed an orphan past its grace period.
    let third = h.resync(grace).await;
    assert_eq!(versions_left(&h, &bucket, &prefix).await, 0);
    assert!(third.orphans_removed >= 1, "{third:?}");
    let fourth = h.resync(grace).await;
    assert!(fourth.orphans.iter().all(|(tn, _)| tn != &n), "{fourth:?}");
    assert_eq!(versions_left(&h, &bucket, &stranger).await, 5);
}
