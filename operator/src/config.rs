//! Configuration: where the store is, and the cell the operator manages.
//!
//! Owns: reading the YAML configuration file and the environment (errors quoting them go through
//! `redact`). Must never: print or log a password.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crds::api::Tier;
use serde::Deserialize;

pub use crate::prices::{Prices, TokenPrice};
use crate::redact::redact_text;

/// The configuration file (`--config`, or `OPENCLAW_CONFIG`). Its `Debug` hides the URLs'
/// passwords.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The control store's connection string; `DATABASE_URL` wins over it.
    #[serde(default)]
    pub database_url: Option<String>,
    /// The cell's tenant database (tenant schemas, `shared`); `TENANT_DATABASE_URL` wins over it.
    /// Never the control store's database: tenants connect here, and only here.
    #[serde(default)]
    pub tenant_database_url: Option<String>,
    #[serde(default)]
    pub cell: Option<CellConfig>,
    #[serde(default)]
    pub operator: OperatorConfig,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |u: &Option<String>| u.as_deref().map(crate::redact::redact_url);
        f.debug_struct("Config")
            .field("database_url", &shown(&self.database_url))
            .field("tenant_database_url", &shown(&self.tenant_database_url))
            .field("cell", &self.cell)
            .field("operator", &self.operator)
            .finish()
    }
}

/// One cell: an AWS account, region and ECS cluster, with what Terraform made for it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellConfig {
    pub name: String,
    pub region: String,
    pub account_id: String,
    #[serde(default = "default_partition")]
    pub partition: String,
    /// Endpoint override for every AWS service (the local emulator); absent in production.
    #[serde(default)]
    pub aws_endpoint_url: Option<String>,
    pub ecs_cluster: String,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    /// The agent image used when an agent's spec names none.
    pub agent_image: String,
    /// The shared task execution role: pulls images and writes logs, reads no secret.
    pub execution_role_arn: String,
    /// The permissions boundary attached to every tenant role.
    pub permissions_boundary_arn: String,
    /// The shared tenant bucket; each tenant owns the prefix `tenants/T/`.
    pub tenant_bucket: String,
    /// The agents' log groups, which the operator creates.
    pub agent_logs: AgentLogsConfig,
    /// Where agents export their spans (an OTLP/HTTP collector, e.g. ADOT forwarding to X-Ray);
    /// rendered into their environment as `OTEL_EXPORTER_OTLP_ENDPOINT`. None: tracing off.
    #[serde(default)]
    pub agent_otlp_endpoint: Option<String>,
    /// How agents reach the store (host:port/db as the agents see it); defaults to the
    /// operator's own store address.
    #[serde(default)]
    pub agent_database_host: Option<String>,
    /// How agents log in to PostgreSQL: `password` (a generated password in `/openclaw/T/db`) or
    /// `iam` (RDS IAM authentication tokens; no password exists).
    #[serde(default)]
    pub db_auth: DbAuth,
    /// The cell's database as AWS describes it (RDS instance or Aurora cluster), for discovery
    /// and compliance checks.
    #[serde(default)]
    pub database: Option<CellDatabase>,
    /// The database's resource id (`db-…` / `cluster-…`), for `rds-db:connect` ARNs. Discovered
    /// from `database` when not given.
    #[serde(default)]
    pub db_resource_id: Option<String>,
    /// Filled at run time: where agents reach the store.
    #[serde(skip)]
    pub agent_db: Option<DbEndpoint>,
}

/// The agents' CloudWatch log groups, `/openclaw/T/<agent>`: encrypted with the cell's key, kept
/// for the tenant tier's retention.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentLogsConfig {
    /// The cell's KMS key for logs (its key policy lets CloudWatch Logs use it).
    pub kms_key_arn: String,
    /// Days a log event is kept: the cell's default.
    #[serde(default = "default_log_retention_days")]
    pub retention_days: i32,
    /// Days per tier, where a tier keeps its logs longer or shorter than the cell's default.
    #[serde(default)]
    pub retention_days_by_tier: BTreeMap<Tier, i32>,
}

fn default_log_retention_days() -> i32 {
    30
}

/// The retention periods CloudWatch Logs accepts (PutRetentionPolicy), in days.
pub const LOG_RETENTION_DAYS: [i32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

impl AgentLogsConfig {
    /// The retention of a tenant of `tier`: the tier's own, else the cell's default.
    pub fn retention_days(&self, tier: Tier) -> i32 {
        self.retention_days_by_tier
            .get(&tier)
            .copied()
            .unwrap_or(self.retention_days)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let invalid = |field: String, rule: String| ConfigError::Invalid {
            field: format!("cell.agent_logs.{field}"),
            rule,
        };
        if !self.kms_key_arn.starts_with("arn:") || !self.kms_key_arn.contains(":kms:") {
            return Err(invalid(
                "kms_key_arn".into(),
                "must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)".into(),
            ));
        }
        let periods = || {
            LOG_RETENTION_DAYS
                .iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let allowed = |days: i32| LOG_RETENTION_DAYS.contains(&days);
        if !allowed(self.retention_days) {
            return Err(invalid(
                "retention_days".into(),
                format!("must be a period CloudWatch Logs accepts: {}", periods()),
            ));
        }
        for (tier, days) in &self.retention_days_by_tier {
            if !allowed(*days) {
                return Err(invalid(
                    format!("retention_days_by_tier.{}", tier.as_str()),
                    format!("must be a period CloudWatch Logs accepts: {}", periods()),
                ));
            }
        }
        Ok(())
    }
}

/// Where agents reach the tenant database: in their DB secret (password mode) or their
/// environment (IAM mode, where nothing about it is secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbEndpoint {
    pub host: String,
    pub port: u16,
    pub dbname: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DbAuth {
    #[default]
    Password,
    Iam,
}

/// The cell's database in RDS terms.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellDatabase {
    #[serde(default)]
    pub rds_instance: Option<String>,
    #[serde(default)]
    pub aurora_cluster: Option<String>,
    /// IAM authentication must be on (always required when `db_auth: iam`).
    #[serde(default)]
    pub require_iam_auth: bool,
    /// Onboard new tenants even when the database fails a compliance check.
    #[serde(default)]
    pub allow_noncompliant_onboarding: bool,
}

fn default_partition() -> String {
    "aws".into()
}

/// How long an AWS call may take: to connect, per attempt, and in all (retries included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwsTimeouts {
    pub connect: Duration,
    pub attempt: Duration,
    pub operation: Duration,
}

/// Knobs of the control loop.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OperatorConfig {
    /// Full resync (drift repair) interval.
    pub resync_interval_seconds: u64,
    /// Fallback poll of the store for changes (NOTIFY can be lost).
    pub poll_interval_seconds: u64,
    /// Most tenants reconciled at once.
    pub concurrency: usize,
    /// Address of /metrics, /healthz and /readyz.
    pub listen: String,
    /// Lease duration for leader election.
    pub lease_seconds: u64,
    /// Grace period before an orphaned resource is removed.
    pub orphan_grace_seconds: u64,
    /// Multiplies the client-side AWS rate limits (1.0 = the published quotas). Only for the
    /// local emulator, which has no quotas.
    pub aws_rate_scale: f64,
    /// Longest wait for one attempt of an AWS call; a retry follows.
    pub aws_attempt_timeout_seconds: u64,
    /// Longest wait for an AWS call with all its retries.
    pub aws_operation_timeout_seconds: u64,
    /// Prices for the cost figures.
    pub prices: Prices,
}

impl Default for OperatorConfig {
    fn default() -> Self {
        OperatorConfig {
            resync_interval_seconds: 300,
            poll_interval_seconds: 10,
            concurrency: 8,
            listen: "127.0.0.1:9464".into(),
            lease_seconds: 15,
            orphan_grace_seconds: 3600,
            aws_rate_scale: 1.0,
            aws_attempt_timeout_seconds: 20,
            aws_operation_timeout_seconds: 90,
            prices: Prices::default(),
        }
    }
}

impl OperatorConfig {
    pub fn resync_interval(&self) -> Duration {
        Duration::from_secs(self.resync_interval_seconds.max(1))
    }
    pub fn poll_interval(&self) -> Duration {
        Duration::from_secs(self.poll_interval_seconds.max(1))
    }
    pub fn lease_duration(&self) -> Duration {
        Duration::from_secs(self.lease_seconds.max(2))
    }
    /// The AWS call timeouts (an attempt never longer than the whole operation).
    pub fn aws_timeouts(&self) -> AwsTimeouts {
        let operation = Duration::from_secs(self.aws_operation_timeout_seconds.max(1));
        let attempt = Duration::from_secs(self.aws_attempt_timeout_seconds.max(1)).min(operation);
        AwsTimeouts {
            connect: Duration::from_secs(5).min(attempt),
            attempt,
            operation,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("configuration file {path} is not valid: {message}")]
    Parse { path: String, message: String },
    #[error("no store configured: set DATABASE_URL, or database_url in the configuration file")]
    NoDatabase,
    #[error(
        "no tenant database configured: set TENANT_DATABASE_URL, or tenant_database_url in the \
         configuration file (the control store and the tenant database are two databases; see \
         docs/UPGRADE.md)"
    )]
    NoTenantDatabase,
    #[error("no cell configured: the configuration file needs a `cell:` section for this command")]
    NoCell,
    #[error("configuration: {field}: {rule}")]
    Invalid { field: String, rule: String },
}

impl Config {
    /// Reads the file at `path` when given; an absent path means defaults.
    /// Reads the file at `path`; without one, the text of `OPENCLAW_CONFIG_YAML` (how an ECS
    /// task with a read-only root filesystem gets its configuration); else defaults.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let (shown, text) = match path {
            Some(path) => {
                let shown = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: shown.clone(),
                    source,
                })?;
                (shown, text)
            }
            None => match std::env::var("OPENCLAW_CONFIG_YAML") {
                Ok(text) if !text.trim().is_empty() => ("$OPENCLAW_CONFIG_YAML".to_owned(), text),
                _ => return Ok(Config::default()),
            },
        };
        let config: Config = serde_yaml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: shown.clone(),
            message: redact_text(&e.to_string()),
        })?;
        if let Some(cell) = &config.cell {
            cell.check()?;
        }
        Ok(config)
    }

    /// `DATABASE_URL` from the environment wins over the file.
    pub fn database_url(&self) -> Result<String, ConfigError> {
        std::env::var("DATABASE_URL")
            .ok()
            .filter(|s| !s.is_empty())
            .or_else(|| self.database_url.clone())
            .ok_or(ConfigError::NoDatabase)
    }

    /// `TENANT_DATABASE_URL` from the environment wins over the file. Refused when it names the
    /// control store's database.
    pub fn tenant_database_url(&self) -> Result<String, ConfigError> {
        let url = std::env::var("TENANT_DATABASE_URL")
            .ok()
            .filter(|s| !s.is_empty())
            .or_else(|| self.tenant_database_url.clone())
            .ok_or(ConfigError::NoTenantDatabase)?;
        if let Ok(control) = self.database_url() {
            if same_database(&control, &url) {
                return Err(ConfigError::Invalid {
                    field: "tenant_database_url".into(),
                    rule: "must name another database than database_url: tenants connect to it, \
                           and never to the control store"
                        .into(),
                });
            }
        }
        Ok(url)
    }

    pub fn cell(&self) -> Result<&CellConfig, ConfigError> {
        self.cell.as_ref().ok_or(ConfigError::NoCell)
    }
}

/// Whether two connection strings name one database (host, port and database name; the user
/// and options do not matter).
pub fn same_database(a: &str, b: &str) -> bool {
    use std::str::FromStr;
    let key = |url: &str| {
        sqlx::postgres::PgConnectOptions::from_str(url)
            .ok()
            .map(|o| {
                (
                    o.get_host().to_ascii_lowercase(),
                    o.get_port(),
                    o.get_database().map(str::to_owned),
                )
            })
    };
    matches!((key(a), key(b)), (Some(x), Some(y)) if x == y)
}

impl CellConfig {
    fn check(&self) -> Result<(), ConfigError> {
        let invalid = |field: &str, rule: &str| ConfigError::Invalid {
            field: format!("cell.{field}"),
            rule: rule.into(),
        };
        if !crds::validate::region_ok(&self.region) {
            return Err(invalid("region", "must be an AWS region such as us-east-1"));
        }
        if self.account_id.len() != 12 || !self.account_id.chars().all(|c| c.is_ascii_digit()) {
            return Err(invalid(
                "account_id",
                "must be 12 digits (quote it in YAML)",
            ));
        }
        if self.subnets.is_empty() {
            return Err(invalid("subnets", "needs at least one private subnet"));
        }
        if self.security_groups.is_empty() {
            return Err(invalid(
                "security_groups",
                "needs at least one security group",
            ));
        }
        if !self.permissions_boundary_arn.starts_with("arn:") {
            return Err(invalid("permissions_boundary_arn", "must be a policy ARN"));
        }
        if !self.execution_role_arn.starts_with("arn:") {
            return Err(invalid("execution_role_arn", "must be a role ARN"));
        }
        if !crds::validate::image_ok(&self.agent_image) {
            return Err(invalid("agent_image", "must be an image reference"));
        }
        self.agent_logs.check()?;
        if let Some(e) = &self.agent_otlp_endpoint {
            let ok = (e.starts_with("http://") || e.starts_with("https://"))
                && !e.contains(char::is_whitespace)
                && !e.contains('@');
            if !ok {
                return Err(invalid(
                    "agent_otlp_endpoint",
                    "must be an http(s) URL without credentials, such as http://127.0.0.1:4318",
                ));
            }
        }
        if let Some(d) = &self.database {
            if d.rds_instance.is_some() == d.aurora_cluster.is_some() {
                return Err(invalid(
                    "database",
                    "name exactly one of rds_instance or aurora_cluster",
                ));
            }
        }
        if self.db_auth == DbAuth::Iam && self.database.is_none() && self.db_resource_id.is_none() {
            return Err(invalid(
                "db_auth",
                "iam needs cell.database (to discover the resource id) or cell.db_resource_id",
            ));
        }
        Ok(())
    }

    pub fn arn_context(&self) -> crds::naming::ArnContext {
        crds::naming::ArnContext {
            partition: self.partition.clone(),
            region: self.region.clone(),
            account_id: self.account_id.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_never_outlasts_its_operation() {
        let mut o = OperatorConfig::default();
        let t = o.aws_timeouts();
        assert_eq!(
            (t.attempt, t.operation),
            (Duration::from_secs(20), Duration::from_secs(90))
        );
        o.aws_attempt_timeout_seconds = 300;
        o.aws_operation_timeout_seconds = 30;
        let t = o.aws_timeouts();
        assert_eq!(t.attempt, Duration::from_secs(30));
        assert!(t.connect <= t.attempt);
    }

    #[test]
    fn debug_output_hides_both_passwords() {
        let config = Config {
            database_url: Some("postgres://op:control-pw@db1:5432/control".into()),
            tenant_database_url: Some("postgres://op:tenant-pw@db2:5432/tenants".into()),
            ..Default::default()
        };
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("control-pw") && !shown.contains("tenant-pw"),
            "{shown}"
        );
        assert!(shown.contains("db1:5432/control") && shown.contains("db2:5432/tenants"));
    }

    #[test]
    fn one_database_under_the_same_address_is_the_same_database() {
        assert!(same_database(
            "postgres://a@Db:5432/x",
            "postgres://b:pw@db:5432/x?sslmode=require"
        ));
        assert!(!same_database(
            "postgres://a@db:5432/x",
            "postgres://a@db:5432/y"
        ));
        assert!(!same_database(
            "postgres://a@db:5432/x",
            "postgres://a@db:5433/x"
        ));
        assert!(!same_database("not a url", "not a url"));
    }

    #[test]
    fn cell_rules_name_the_field() {
        let text = r#"
cell:
  name: local
  region: us-east-1
  account_id: 12345
  ecs_cluster: openclaw
  subnets: [subnet-1]
  security_groups: [sg-1]
  agent_image: openclaw/agent:dev
  execution_role_arn: arn:aws:iam::123456789012:role/x
  permissions_boundary_arn: arn:aws:iam::123456789012:policy/b
  tenant_bucket: b
  agent_logs:
    kms_key_arn: arn:aws:kms:us-east-1:999999999999:key/k
"#;
        let dir = std::env::temp_dir().join(format!("openclaw-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("c.yaml");
        std::fs::write(&path, text).expect("write");
        let err = Config::load(Some(&path)).expect_err("bad account");
        assert!(err.to_string().contains("cell.account_id"), "{err}");
        std::fs::write(&path, text.replace("12345", "\"123456789012\"")).expect("write");
        let cfg = Config::load(Some(&path)).expect("good");
        assert_eq!(cfg.operator, OperatorConfig::default());
        assert_eq!(
            cfg.cell()
                .expect("cell")
                .agent_logs
                .retention_days(Tier::Premium),
            30,
            "the cell's default"
        );
        for (bad, field) in [
            ("    retention_days: 31\n", "cell.agent_logs.retention_days"),
            (
                "    retention_days_by_tier: {premium: 0}\n",
                "cell.agent_logs.retention_days_by_tier.premium",
            ),
        ] {
            let good = text.replace("12345", "\"123456789012\"");
            std::fs::write(&path, format!("{good}{bad}")).expect("write");
            let err = Config::load(Some(&path)).expect_err(bad);
            assert!(err.to_string().contains(field), "{err}");
            assert!(err.to_string().contains("1, 3, 5, 7, 14, 30"), "{err}");
        }
        let good = text.replace("12345", "\"123456789012\"");
        std::fs::write(
            &path,
            format!("{good}  agent_otlp_endpoint: ftp://collector\n"),
        )
        .expect("write");
        let err = Config::load(Some(&path)).expect_err("ftp");
        assert!(
            err.to_string().contains("cell.agent_otlp_endpoint"),
            "{err}"
        );
        let no_key = text
            .replace("12345", "\"123456789012\"")
            .replace("arn:aws:kms:us-east-1:999999999999:key/k", "alias/logs");
        std::fs::write(&path, no_key).expect("write");
        let err = Config::load(Some(&path)).expect_err("alias");
        assert!(
            err.to_string().contains("cell.agent_logs.kms_key_arn"),
            "{err}"
        );
        std::fs::write(&path, format!("{text}\nextra: 1\n")).expect("write");
        let err = Config::load(Some(&path)).expect_err("unknown field");
        assert!(err.to_string().contains("unknown field `extra`"), "{err}");
    }
}

/// The cell the unit tests render against.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    pub fn cell() -> CellConfig {
        CellConfig {
            name: "test".into(),
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            partition: "aws".into(),
            aws_endpoint_url: None,
            ecs_cluster: "openclaw".into(),
            subnets: vec!["subnet-a".into(), "subnet-b".into()],
            security_groups: vec!["sg-1".into()],
            agent_image: "openclaw/agent:1".into(),
            execution_role_arn: "arn:aws:iam::123456789012:role/openclaw-task-execution".into(),
            permissions_boundary_arn: "arn:aws:iam::123456789012:policy/openclaw/boundary".into(),
            tenant_bucket: "openclaw-tenants-test".into(),
            agent_logs: AgentLogsConfig {
                kms_key_arn: "arn:aws:kms:us-east-1:123456789012:key/logs".into(),
                retention_days: 30,
                retention_days_by_tier: [(Tier::Enterprise, 365)].into(),
            },
            agent_otlp_endpoint: None,
            agent_database_host: None,
            db_auth: Default::default(),
            database: None,
            db_resource_id: None,
            agent_db: None,
        }
    }
}
