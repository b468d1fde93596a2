//! The agent's database session: connected as its tenant's role, so every statement runs with
//! that role's rights and row-level security keys on `session_user`.
//!
//! Owns: claiming, completing and releasing tasks; usage rows; the tenant's own tables.

use std::time::Duration;

use crds::api::AgentKind;
use crds::naming::DbName;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Row};

use crate::secrets::DbCredentials;

/// An RDS IAM authentication token for `user` at `host:port`, signed with the task's own
/// credentials (from `sdk`), valid for 15 minutes.
pub async fn iam_token(
    sdk: &aws_config::SdkConfig,
    region: &str,
    host: &str,
    port: u16,
    user: &str,
) -> anyhow::Result<String> {
    let config = aws_sdk_rds::auth_token::Config::builder()
        .hostname(host)
        .port(u64::from(port))
        .username(user)
        .region(aws_config::Region::new(region.to_owned()))
        .build()
        .map_err(|e| anyhow::anyhow!("auth token config: {e}"))?;
    let token = aws_sdk_rds::auth_token::AuthTokenGenerator::new(config)
        .auth_token(sdk)
        .await
        .map_err(|e| anyhow::anyhow!("cannot build an IAM database token: {e}"))?;
    Ok(token.as_str().to_owned())
}

/// Connects with IAM authentication over TLS, and keeps the pool's token fresh: every new
/// connection uses a token younger than ten minutes (tokens expire after fifteen).
pub async fn connect_iam(
    sdk: aws_config::SdkConfig,
    region: String,
    host: String,
    port: u16,
    dbname: String,
    user: String,
) -> anyhow::Result<PgPool> {
    let base = PgConnectOptions::new()
        .host(&host)
        .port(port)
        .database(&dbname)
        .username(&user)
        .ssl_mode(sqlx::postgres::PgSslMode::Require)
        .application_name("openclaw-agent");
    let token = iam_token(&sdk, &region, &host, port, &user).await?;
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(base.clone().password(&token))
        .await
        .map_err(|e| {
            anyhow::anyhow!("cannot connect to {host}:{port}/{dbname} as {user} with IAM: {e}")
        })?;
    let refresh = pool.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(600)).await;
            match iam_token(&sdk, &region, &host, port, &user).await {
                Ok(t) => refresh.set_connect_options(base.clone().password(&t)),
                Err(e) => tracing::warn!(error = %e, "cannot refresh the IAM database token"),
            }
        }
    });
    Ok(pool)
}

pub async fn connect(c: &DbCredentials) -> anyhow::Result<PgPool> {
    let opts = PgConnectOptions::new()
        .host(&c.host)
        .port(c.port)
        .database(&c.dbname)
        .username(&c.username)
        .password(&c.password)
        .application_name("openclaw-agent");
    PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(opts)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot connect to PostgreSQL at {}:{}/{} as {}: {e}",
                c.host,
                c.port,
                c.dbname,
                c.username
            )
        })
}

/// The tenant's schema (its database name, which the naming module checked: [a-z0-9_] only),
/// quoted.
pub fn schema(db: &DbName) -> String {
    format!("\"{}\"", db.schema())
}

#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: i64,
    pub input: Value,
    pub attempts: i32,
    pub max_attempts: i32,
    /// Claimed from a worker that stopped without giving it back.
    pub abandoned: bool,
    /// When this claim was made: the fence every later write of it checks, so a worker whose
    /// task was reclaimed (it ran past the timeout) can no longer change it.
    pub claimed_at: chrono::DateTime<chrono::Utc>,
}

/// Claims the oldest task of this kind that is due, or that its worker abandoned: still
/// `running` `abandoned_after` past its claim, longer than any live worker runs a task (it
/// was killed). Replicas skip rows another one has locked.
pub async fn claim(
    pool: &PgPool,
    db: &DbName,
    kind: AgentKind,
    worker: &str,
    abandoned_after: Duration,
) -> sqlx::Result<Option<Task>> {
    let s = schema(db);
    let row = sqlx::query(&format!(
        "WITH picked AS (SELECT id, status = 'running' AS abandoned FROM {s}.tasks \
           WHERE kind = $1 AND ((status = 'queued' AND not_before <= now()) \
             OR (status = 'running' AND claimed_at < now() - make_interval(secs => $3))) \
           ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1) \
         UPDATE {s}.tasks t SET status = 'running', attempts = attempts + 1, claimed_by = $2, \
           claimed_at = now(), updated_at = now() FROM picked WHERE t.id = picked.id \
         RETURNING t.id, t.input, t.attempts, t.max_attempts, picked.abandoned, t.claimed_at"
    ))
    .bind(kind.as_str())
    .bind(worker)
    .bind(abandoned_after.as_secs_f64())
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(Task {
            id: r.try_get("id")?,
            input: r.try_get("input")?,
            attempts: r.try_get("attempts")?,
            max_attempts: r.try_get("max_attempts")?,
            abandoned: r.try_get("abandoned")?,
            claimed_at: r.try_get("claimed_at")?,
        })
    })
    .transpose()
}

/// The fence of a write to a claimed task: still running under this very claim.
const FENCE: &str = "id = $1 AND status = 'running' AND claimed_at = $2";

/// Stores the result; false when the claim was lost (another worker reclaimed the task).
pub async fn complete(
    pool: &PgPool,
    db: &DbName,
    task: &Task,
    result: &Value,
) -> sqlx::Result<bool> {
    let done = sqlx::query(&format!(
        "UPDATE {}.tasks SET status = 'done', result = $3, error = NULL, updated_at = now() \
         WHERE {FENCE}",
        schema(db)
    ))
    .bind(task.id)
    .bind(task.claimed_at)
    .bind(result)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A failure that retrying cannot fix (e.g. an integration needs re-consent); false when the
/// claim was lost.
pub async fn fail(pool: &PgPool, db: &DbName, task: &Task, error: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(&format!(
        "UPDATE {}.tasks SET status = 'failed', error = $3, updated_at = now() WHERE {FENCE}",
        schema(db)
    ))
    .bind(task.id)
    .bind(task.claimed_at)
    .bind(error)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives the task back for another try after `delay`, or dead-letters it when its attempts are
/// spent. `count_attempt = false` (a shutdown) gives the attempt back too. `None` when the claim
/// was lost.
pub async fn release(
    pool: &PgPool,
    db: &DbName,
    task: &Task,
    error: &str,
    delay: Duration,
    count_attempt: bool,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(&format!(
        "UPDATE {}.tasks SET \
           attempts = CASE WHEN $5 THEN attempts ELSE greatest(attempts - 1, 0) END, \
           status = CASE WHEN $5 AND attempts >= max_attempts THEN 'dead' ELSE 'queued' END, \
           not_before = now() + make_interval(secs => $4), claimed_by = NULL, \
           error = $3, updated_at = now() WHERE {FENCE} RETURNING status",
        schema(db)
    ))
    .bind(task.id)
    .bind(task.claimed_at)
    .bind(error)
    .bind(delay.as_secs_f64())
    .bind(count_attempt)
    .fetch_optional(pool)
    .await
}

/// Appends a usage row; the tenant column defaults to the session's tenant and RLS refuses any
/// other.
pub async fn record_usage(
    pool: &PgPool,
    kind: AgentKind,
    model: &str,
    input_tokens: i64,
    output_tokens: i64,
    latency_ms: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO shared.usage (agent, model, input_tokens, output_tokens, latency_ms) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(kind.as_str())
    .bind(model)
    .bind(input_tokens)
    .bind(output_tokens)
    .bind(latency_ms)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn mark_integration(
    pool: &PgPool,
    db: &DbName,
    name: &str,
    state: &str,
    detail: &str,
) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "INSERT INTO {}.integrations (name, state, detail) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET state = $2, detail = $3, updated_at = now()",
        schema(db)
    ))
    .bind(name)
    .bind(state)
    .bind(detail)
    .execute(pool)
    .await?;
    Ok(())
}

/// The latest slot of `schedule` that has a task, if any.
pub async fn last_slot(
    pool: &PgPool,
    db: &DbName,
    kind: AgentKind,
    schedule: &str,
) -> sqlx::Result<Option<chrono::DateTime<chrono::Utc>>> {
    sqlx::query_scalar(&format!(
        "SELECT max(slot) FROM {}.tasks WHERE kind = $1 AND schedule = $2",
        schema(db)
    ))
    .bind(kind.as_str())
    .bind(schedule)
    .fetch_one(pool)
    .await
}

/// Queues the task of one slot; false when that slot already has one (another replica, or an
/// earlier run, inserted it).
pub async fn insert_scheduled(
    pool: &PgPool,
    db: &DbName,
    kind: AgentKind,
    schedule: &str,
    slot: chrono::DateTime<chrono::Utc>,
    input: &Value,
) -> sqlx::Result<bool> {
    let id: Option<i64> = sqlx::query_scalar(&format!(
        "INSERT INTO {}.tasks (kind, input, schedule, slot) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (kind, schedule, slot) DO NOTHING RETURNING id",
        schema(db)
    ))
    .bind(kind.as_str())
    .bind(input)
    .bind(schedule)
    .bind(slot)
    .fetch_optional(pool)
    .await?;
    Ok(id.is_some())
}

/// Intent signals: (account, kind, weight, detail, age in days).
pub async fn signals(
    pool: &PgPool,
    db: &DbName,
) -> sqlx::Result<Vec<(String, String, f64, String, f64)>> {
    sqlx::query_as(&format!(
        "SELECT account, kind, weight, detail, \
         (extract(epoch FROM now() - at) / 86400)::float8 FROM {}.signals ORDER BY account, at",
        schema(db)
    ))
    .fetch_all(pool)
    .await
}

/// (name, domain, crm id, notes) of one account.
pub async fn account(
    pool: &PgPool,
    db: &DbName,
    id: &str,
) -> sqlx::Result<Option<(String, Option<String>, Option<String>, String)>> {
    sqlx::query_as(&format!(
        "SELECT name, domain, crm_id, notes FROM {}.accounts WHERE id = $1",
        schema(db)
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn iam_tokens_are_signed_for_the_host_region_user_and_task_credentials() {
        let creds = aws_credential_types::Credentials::new(
            "AKIATASKROLE",
            "secret",
            Some("session".into()),
            None,
            "task",
        );
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .credentials_provider(creds)
            .region(aws_config::Region::new("us-west-2"))
            .load()
            .await;
        let token = iam_token(&sdk, "eu-west-1", "db.cell.internal", 5432, "tenant_acme")
            .await
            .expect("token");
        assert!(token.starts_with("db.cell.internal:5432/?"), "{token}");
        assert!(token.contains("Action=connect"), "{token}");
        assert!(token.contains("DBUser=tenant_acme"), "{token}");
        assert!(
            token.contains("X-Amz-Credential=AKIATASKROLE%2F"),
            "signed with the task's key: {token}"
        );
        assert!(
            token.contains("%2Feu-west-1%2Frds-db%2Faws4_request"),
            "{token}"
        );
        assert!(token.contains("X-Amz-Expires=900"), "{token}");
        assert!(token.contains("X-Amz-Security-Token=session"), "{token}");
        assert!(
            !token.contains("secret"),
            "the secret key never appears in the token"
        );
    }
}
