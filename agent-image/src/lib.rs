//! The OpenClaw agent: one binary, three kinds (Butler, Scout, Strategist), chosen by the
//! environment the operator's task definition sets.
//!
//! Start-up: read the environment (fail fast, naming every missing variable), fetch the tenant's
//! DB credentials and this kind's OAuth grants from Secrets Manager with the task's own role,
//! connect to PostgreSQL as the tenant's role. Work: claim tasks with `FOR UPDATE SKIP LOCKED`,
//! run the kind's pipeline through Bedrock's Converse API with tools and bounded turns, write the
//! result and the token usage. Beside that, queue one task per slot of each schedule
//! (`scheduler`). On SIGTERM: stop claiming and scheduling, finish or release the current task,
//! exit 0.

pub mod apis;
pub mod bedrock;
pub mod config;
pub mod db;
pub mod health;
pub mod pipelines;
pub mod scheduler;
pub mod secrets;
pub mod telemetry;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use crds::naming::DbName;
use sqlx::PgPool;
use tokio::sync::watch;
use tracing::Instrument;

use crate::bedrock::{Conversation, ConverseError};
use crate::config::Config;

/// A started agent: its configuration and the clients it works with.
pub struct Agent {
    pub config: Config,
    pub pool: PgPool,
    /// The tenant's database name: the role this agent logs in as, and its schema.
    pub db: DbName,
    pub bedrock: aws_sdk_bedrockruntime::Client,
    pub apis: apis::Apis,
}

/// How one task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Failed(String),
    Released(String),
    DeadLettered(String),
}

impl Outcome {
    /// The outcome's name, for log lines (the message may quote an API's answer).
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Failed(_) => "failed",
            Outcome::Released(_) => "released",
            Outcome::DeadLettered(_) => "dead",
        }
    }
}

impl Agent {
    /// Fetches secrets with the task role and connects as the tenant's role.
    pub async fn start(config: Config) -> anyhow::Result<Agent> {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(config.region.clone()));
        if let Some(ep) = &config.aws_endpoint {
            loader = loader.endpoint_url(ep);
        }
        let sdk = loader.load().await;
        let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
        let mut bedrock_conf = aws_sdk_bedrockruntime::config::Builder::from(&sdk)
            // Retries are ours (with backoff, then the task is released), so they are visible.
            .retry_config(aws_config::retry::RetryConfig::disabled());
        if let Some(ep) = &config.bedrock_endpoint {
            bedrock_conf = bedrock_conf.endpoint_url(ep);
        }
        let bedrock = aws_sdk_bedrockruntime::Client::from_conf(bedrock_conf.build());
        let (pool, db) = match &config.db {
            config::DbLogin::Secret { name, user } => {
                let creds = secrets::db_credentials(&secrets, name)
                    .await
                    .context("reading the tenant's database credentials")?;
                let db = DbName::parse(&creds.username).map_err(|e| {
                    anyhow::anyhow!("{name}: username is not a tenant's database name: {e}")
                })?;
                if user.as_ref().is_some_and(|u| *u != db) {
                    anyhow::bail!(
                        "{name}: names database user {db}, not this tenant's own ({})",
                        config::var::DB_USER
                    );
                }
                (db::connect(&creds).await?, db)
            }
            config::DbLogin::Iam {
                host,
                port,
                dbname,
                user,
            } => (
                db::connect_iam(
                    sdk.clone(),
                    config.region.clone(),
                    host.clone(),
                    *port,
                    dbname.clone(),
                    user.role().to_owned(),
                )
                .await?,
                user.clone(),
            ),
        };
        let apis = apis::Apis::new(secrets, &config.oauth_secrets);
        Ok(Agent {
            config,
            pool,
            db,
            bedrock,
            apis,
        })
    }

    /// Claims and runs one task, if one is due. `None` when the queue is empty. Every log line
    /// of the task carries its id and a trace id of its own (the `task` span); no line carries a
    /// message's or a mail's content, or a secret.
    pub async fn run_one(&self, stop: &watch::Receiver<bool>) -> anyhow::Result<Option<Outcome>> {
        let c = &self.config;
        let Some(task) = db::claim(
            &self.pool,
            &self.db,
            c.kind,
            &c.worker_id,
            c.task_timeout * 2,
        )
        .await?
        else {
            return Ok(None);
        };
        // A root span per task: its trace is the task's, not the process's.
        let span = tracing::info_span!(
            parent: None,
            "task",
            tenant = %c.tenant,
            agent = c.kind.as_str(),
            task_id = task.id,
            trace_id = tracing::field::Empty,
            outcome = tracing::field::Empty,
        );
        let trace = span
            .in_scope(telemetry::current_trace_id)
            .unwrap_or_else(trace_id);
        span.record("trace_id", trace.as_str());
        self.run_claimed(task, stop).instrument(span).await
    }

    async fn run_claimed(
        &self,
        task: db::Task,
        stop: &watch::Receiver<bool>,
    ) -> anyhow::Result<Option<Outcome>> {
        let c = &self.config;
        if task.abandoned {
            tracing::warn!(
                attempt = task.attempts,
                "reclaimed a task its worker abandoned"
            );
            if task.attempts > task.max_attempts {
                let msg = "abandoned by its worker with its attempts spent";
                db::release(&self.pool, &self.db, &task, msg, Duration::ZERO, true).await?;
                return Ok(Some(Outcome::DeadLettered(msg.into())));
            }
        } else {
            tracing::info!(attempt = task.attempts, "claimed task");
        }
        let work = tokio::time::timeout(c.task_timeout, self.work(&task.input));
        tokio::pin!(work);
        let mut stop = stop.clone();
        let result = tokio::select! {
            r = &mut work => r.unwrap_or_else(|_| Err(TaskError::Retry(format!(
                "ran past the task timeout ({} s)", c.task_timeout.as_secs()
            )))),
            _ = async {
                // On SIGTERM the task gets the grace period to finish, then is released.
                while !*stop.borrow() {
                    if stop.changed().await.is_err() { break; }
                }
                tokio::time::sleep(c.stop_grace).await;
            } => {
                db::release(&self.pool, &self.db, &task, "released at shutdown", Duration::ZERO, false).await?;
                return Ok(Some(Outcome::Released("shutdown".into())));
            }
        };
        let lost = || {
            tracing::warn!("another worker reclaimed the task: this run's outcome is dropped");
            Outcome::Released("claim lost".into())
        };
        let outcome = match result {
            Ok(value) => match db::complete(&self.pool, &self.db, &task, &value).await? {
                true => Outcome::Done,
                false => lost(),
            },
            Err(TaskError::NeedsConsent(n)) => {
                let msg = n.to_string();
                db::mark_integration(&self.pool, &self.db, n.0.as_str(), "needs_consent", &msg)
                    .await?;
                match db::fail(&self.pool, &self.db, &task, &msg).await? {
                    true => Outcome::Failed(msg),
                    false => lost(),
                }
            }
            Err(TaskError::Fatal(msg)) => {
                match db::fail(&self.pool, &self.db, &task, &msg).await? {
                    true => Outcome::Failed(msg),
                    false => lost(),
                }
            }
            Err(TaskError::Retry(msg)) => {
                let delay = c.retry_base * 2u32.pow(task.attempts.clamp(0, 10) as u32);
                match db::release(&self.pool, &self.db, &task, &msg, delay, true).await? {
                    Some(status) if status == "dead" => Outcome::DeadLettered(msg),
                    Some(_) => Outcome::Released(msg),
                    None => lost(),
                }
            }
        };
        tracing::Span::current().record("outcome", outcome.kind());
        tracing::info!(outcome = outcome.kind(), "task finished");
        Ok(Some(outcome))
    }

    async fn work(&self, input: &serde_json::Value) -> Result<serde_json::Value, TaskError> {
        let c = &self.config;
        let zone = pipelines::task_zone(input).map_err(TaskError::Fatal)?;
        let tools = pipelines::tools(c.kind);
        let tenant = c.tenant.to_string();
        let conversation = Conversation {
            tenant: &tenant,
            agent: c.kind.as_str(),
            client: &self.bedrock,
            model: &c.model,
            system: pipelines::system_prompt(c.kind),
            tools: &tools,
            max_turns: c.max_turns,
            retry_base: c.retry_base,
            max_tries: 3,
        };
        let call = |name: String, input: serde_json::Value| {
            let fut: std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send + '_>> =
                Box::pin(async move { self.call_tool(&name, input, zone).await });
            fut
        };
        let outcome = conversation
            .run(&pipelines::prompt(c.kind, input), &call)
            .await;
        let (answer, usage) = match outcome {
            Ok(r) => r,
            Err(ConverseError::Tool(e)) => {
                return Err(match e.downcast::<apis::NeedsConsent>() {
                    Ok(n) => TaskError::NeedsConsent(n),
                    Err(e) => TaskError::Retry(format!("tool failed: {e:#}")),
                })
            }
            Err(e @ ConverseError::Retryable { .. }) => {
                return Err(TaskError::Retry(e.to_string()))
            }
            Err(e) => return Err(TaskError::Fatal(e.to_string())),
        };
        db::record_usage(
            &self.pool,
            c.kind,
            &c.model,
            usage.input_tokens,
            usage.output_tokens,
            usage.latency_ms,
        )
        .await
        .map_err(|e| TaskError::Retry(format!("cannot record usage: {e}")))?;
        self.result(input, &answer)
            .await
            .map_err(|e| TaskError::Retry(format!("{e:#}")))
    }
}

enum TaskError {
    NeedsConsent(apis::NeedsConsent),
    Fatal(String),
    Retry(String),
}

/// A W3C trace id (16 random bytes, hex): what ties a task's log lines together.
fn trace_id() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The agent's main loop: until `stop` turns true, claim and run tasks; poll when idle. Every
/// log line carries the tenant and the agent kind (the `agent` span).
pub async fn run(
    agent: Arc<Agent>,
    stop: watch::Receiver<bool>,
    healthy: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let span = tracing::info_span!(
        "agent",
        tenant = %agent.config.tenant,
        agent = agent.config.kind.as_str()
    );
    let schedules = tokio::spawn(
        scheduler::run(
            agent.pool.clone(),
            agent.db.clone(),
            agent.config.kind,
            agent.config.schedules.clone(),
            stop.clone(),
        )
        .instrument(span.clone()),
    );
    let result = run_loop(agent, stop, healthy).instrument(span).await;
    let _ = schedules.await;
    result
}

async fn run_loop(
    agent: Arc<Agent>,
    stop: watch::Receiver<bool>,
    healthy: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    healthy.store(true, Ordering::Relaxed);
    let mut stop_wait = stop.clone();
    while !*stop.borrow() {
        match agent.run_one(&stop).await {
            Ok(Some(_)) => continue,
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "task loop error");
                healthy.store(agent.pool.acquire().await.is_ok(), Ordering::Relaxed);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(agent.config.poll) => {}
            _ = stop_wait.changed() => {}
        }
    }
    healthy.store(false, Ordering::Relaxed);
    tracing::info!("stopped claiming work; exiting");
    Ok(())
}
