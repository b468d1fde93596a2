//! The agent's configuration, read from the environment the operator's task definition sets.
//!
//! Owns: names and defaults of every variable. Must never: accept a secret as a plain variable
//! (secrets are fetched by name with the task's own role), or a secret name outside the
//! tenant's own prefix.

use std::net::SocketAddr;
use std::time::Duration;

use crds::api::{AgentKind, Integration, Schedule};
use crds::naming::{DbName, TenantName};
use crds::schedule;

/// Variable names (the operator's `render::env` sets the first six).
pub mod var {
    pub const TENANT: &str = "OPENCLAW_TENANT";
    pub const AGENT_KIND: &str = "OPENCLAW_AGENT_KIND";
    pub const MODEL_ID: &str = "OPENCLAW_MODEL_ID";
    pub const REGION: &str = "OPENCLAW_REGION";
    pub const DB_SECRET: &str = "OPENCLAW_DB_SECRET";
    pub const OAUTH_SECRETS: &str = "OPENCLAW_OAUTH_SECRETS";
    pub const SCHEDULES: &str = "OPENCLAW_SCHEDULES";
    pub const AWS_ENDPOINT: &str = "OPENCLAW_AWS_ENDPOINT_URL";
    pub const BEDROCK_ENDPOINT: &str = "OPENCLAW_BEDROCK_ENDPOINT_URL";
    pub const GMAIL_BASE: &str = "OPENCLAW_GMAIL_BASE_URL";
    pub const CALENDAR_BASE: &str = "OPENCLAW_CALENDAR_BASE_URL";
    pub const HUBSPOT_BASE: &str = "OPENCLAW_HUBSPOT_BASE_URL";
    /// Overrides the Salesforce grant's `instance_url` (tests point it at a local fake).
    pub const SALESFORCE_BASE: &str = "OPENCLAW_SALESFORCE_BASE_URL";
    pub const HEALTH_ADDR: &str = "OPENCLAW_HEALTH_ADDR";
    pub const MAX_TURNS: &str = "OPENCLAW_MAX_TURNS";
    pub const POLL_MS: &str = "OPENCLAW_POLL_MS";
    pub const RETRY_BASE_MS: &str = "OPENCLAW_RETRY_BASE_MS";
    pub const STOP_GRACE_SECS: &str = "OPENCLAW_STOP_GRACE_SECONDS";
    pub const TASK_TIMEOUT_SECS: &str = "OPENCLAW_TASK_TIMEOUT_SECONDS";
    pub const WORKER_ID: &str = "OPENCLAW_WORKER_ID";
    pub const DB_AUTH: &str = "OPENCLAW_DB_AUTH";
    pub const DB_HOST: &str = "OPENCLAW_DB_HOST";
    pub const DB_PORT: &str = "OPENCLAW_DB_PORT";
    pub const DB_NAME: &str = "OPENCLAW_DB_NAME";
    pub const DB_USER: &str = "OPENCLAW_DB_USER";
}

/// How the agent logs in to PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbLogin {
    /// Credentials from the tenant's `/openclaw/T/db` secret, whose user must be `user` when the
    /// task definition names one.
    Secret { name: String, user: Option<DbName> },
    /// An IAM authentication token built with the task's credentials, over TLS.
    Iam {
        host: String,
        port: u16,
        dbname: String,
        /// The tenant's database name: the only user its role's IAM policy lets it connect as.
        user: DbName,
    },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub tenant: TenantName,
    pub kind: AgentKind,
    pub model: String,
    pub region: String,
    pub db: DbLogin,
    /// (integration, secret name)
    pub oauth_secrets: Vec<(Integration, String)>,
    pub aws_endpoint: Option<String>,
    pub bedrock_endpoint: Option<String>,
    pub gmail_base: String,
    pub calendar_base: String,
    pub hubspot_base: String,
    /// Salesforce's API base: the org's `instance_url` from the grant unless this overrides it.
    pub salesforce_base: Option<String>,
    pub health_addr: SocketAddr,
    pub max_turns: usize,
    pub poll: Duration,
    /// First retry delay for Bedrock throttling and 5xx; doubles per retry.
    pub retry_base: Duration,
    /// How long a running task may take to finish after SIGTERM before it is released.
    pub stop_grace: Duration,
    /// Longest a task may run: past it the agent gives the task back, and a task still
    /// `running` twice as long after its claim is taken as abandoned (its worker was killed) and
    /// claimed again.
    pub task_timeout: Duration,
    pub worker_id: String,
    /// The agent's schedules (`spec.schedules`), each checked by the same rules as `apply`.
    pub schedules: Vec<Scheduled>,
}

/// One schedule as written, and parsed.
#[derive(Debug, Clone)]
pub struct Scheduled {
    pub spec: Schedule,
    pub parsed: schedule::Parsed,
}

/// `OPENCLAW_SCHEDULES`: a JSON array of schedules; every rule `apply` checks holds.
fn schedules(raw: Option<String>, problems: &mut Vec<String>) -> Vec<Scheduled> {
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
        return Vec::new();
    };
    let list: Vec<Schedule> = match serde_json::from_str(&raw) {
        Ok(l) => l,
        Err(e) => {
            problems.push(format!("{}: not a list of schedules: {e}", var::SCHEDULES));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for s in list {
        match schedule::parse(&s) {
            Ok(parsed) => out.push(Scheduled { spec: s, parsed }),
            Err(e) => problems.push(format!("{}: schedule {:?}: {e}", var::SCHEDULES, s.name)),
        }
    }
    out
}

impl Config {
    /// Reads every variable; reports every problem at once.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Config, Vec<String>> {
        let mut problems = Vec::new();
        let mut need = |name: &str| -> String {
            match get(name).filter(|v| !v.is_empty()) {
                Some(v) => v,
                None => {
                    problems.push(format!(
                        "{name}: missing (set by the operator's task definition)"
                    ));
                    String::new()
                }
            }
        };
        let tenant_s = need(var::TENANT);
        let kind_s = need(var::AGENT_KIND);
        let model = need(var::MODEL_ID);
        let region = need(var::REGION);
        let iam = get(var::DB_AUTH).as_deref() == Some("iam");
        let db_secret = if iam {
            String::new()
        } else {
            need(var::DB_SECRET)
        };
        let (db_host, db_port, db_name, db_user) = if iam {
            (
                need(var::DB_HOST),
                need(var::DB_PORT),
                need(var::DB_NAME),
                need(var::DB_USER),
            )
        } else {
            let user = get(var::DB_USER).unwrap_or_default();
            (String::new(), String::new(), String::new(), user)
        };
        let oauth = get(var::OAUTH_SECRETS).unwrap_or_default();
        let schedules = schedules(get(var::SCHEDULES), &mut problems);

        let tenant = match TenantName::parse(&tenant_s) {
            Ok(t) => Some(t),
            Err(e) if !tenant_s.is_empty() => {
                problems.push(format!("{}: tenant name {e}", var::TENANT));
                None
            }
            Err(_) => None,
        };
        // Opaque, so the name alone cannot say whose it is: the task role's rds-db:connect names
        // exactly one user, so another tenant's would be refused at login.
        let db_user = match DbName::parse(&db_user) {
            Ok(u) => Some(u),
            Err(e) if !db_user.is_empty() => {
                problems.push(format!("{}: {e}", var::DB_USER));
                None
            }
            Err(_) => None,
        };
        let kind = AgentKind::parse(&kind_s);
        if kind.is_none() && !kind_s.is_empty() {
            problems.push(format!(
                "{}: must be butler, scout or strategist (got {kind_s:?})",
                var::AGENT_KIND
            ));
        }
        if !model.is_empty() && !crds::validate::model_ok(&model) {
            problems.push(format!("{}: not a Bedrock model id", var::MODEL_ID));
        }
        let mut oauth_secrets = Vec::new();
        if let Some(t) = &tenant {
            if !db_secret.is_empty() && db_secret != t.db_secret_name() {
                problems.push(format!(
                    "{}: must be this tenant's own secret {}",
                    var::DB_SECRET,
                    t.db_secret_name()
                ));
            }
            for name in oauth.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                match Integration::ALL
                    .into_iter()
                    .find(|i| t.oauth_secret_name(*i) == name)
                {
                    Some(i) => oauth_secrets.push((i, name.to_owned())),
                    None => problems.push(format!(
                        "{}: {name:?} is not one of this tenant's OAuth secrets",
                        var::OAUTH_SECRETS
                    )),
                }
            }
        }
        let number = |name: &str, default: u64, problems: &mut Vec<String>| -> u64 {
            match get(name) {
                None => default,
                Some(v) => v.parse().unwrap_or_else(|_| {
                    problems.push(format!("{name}: must be a whole number (got {v:?})"));
                    default
                }),
            }
        };
        let max_turns = number(var::MAX_TURNS, 6, &mut problems) as usize;
        let poll = Duration::from_millis(number(var::POLL_MS, 2000, &mut problems));
        let retry_base = Duration::from_millis(number(var::RETRY_BASE_MS, 500, &mut problems));
        let stop_grace = Duration::from_secs(number(var::STOP_GRACE_SECS, 20, &mut problems));
        let task_timeout =
            Duration::from_secs(number(var::TASK_TIMEOUT_SECS, 900, &mut problems).max(1));
        let port: u16 = if iam {
            db_port.parse().unwrap_or_else(|_| {
                problems.push(format!("{}: must be a port number", var::DB_PORT));
                0
            })
        } else {
            0
        };
        let health_addr = get(var::HEALTH_ADDR)
            .unwrap_or_else(|| "127.0.0.1:8081".into())
            .parse()
            .unwrap_or_else(|_| {
                problems.push(format!("{}: must be host:port", var::HEALTH_ADDR));
                SocketAddr::from(([127, 0, 0, 1], 8081))
            });
        if !problems.is_empty() {
            return Err(problems);
        }
        let (Some(tenant), Some(kind)) = (tenant, kind) else {
            return Err(vec!["tenant or agent kind missing".into()]);
        };
        Ok(Config {
            tenant,
            kind,
            model,
            region,
            db: if iam {
                DbLogin::Iam {
                    host: db_host,
                    port,
                    dbname: db_name,
                    user: db_user.ok_or_else(|| vec![format!("{}: missing", var::DB_USER)])?,
                }
            } else {
                DbLogin::Secret {
                    name: db_secret,
                    user: db_user,
                }
            },
            oauth_secrets,
            aws_endpoint: get(var::AWS_ENDPOINT).or_else(|| get("AWS_ENDPOINT_URL")),
            bedrock_endpoint: get(var::BEDROCK_ENDPOINT),
            gmail_base: get(var::GMAIL_BASE)
                .unwrap_or_else(|| "https://gmail.googleapis.com".into()),
            calendar_base: get(var::CALENDAR_BASE)
                .unwrap_or_else(|| "https://www.googleapis.com".into()),
            hubspot_base: get(var::HUBSPOT_BASE).unwrap_or_else(|| "https://api.hubapi.com".into()),
            salesforce_base: get(var::SALESFORCE_BASE).filter(|v| !v.is_empty()),
            health_addr,
            max_turns: max_turns.clamp(1, 20),
            poll,
            retry_base,
            stop_grace,
            task_timeout,
            // Random, not the pid: every Fargate container's process is pid 1.
            worker_id: get(var::WORKER_ID).unwrap_or_else(|| {
                use rand::Rng;
                let n: u32 = rand::rng().random();
                format!("{}-{n:08x}", kind.as_str())
            }),
            schedules,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    fn good() -> Vec<(&'static str, &'static str)> {
        vec![
            (var::TENANT, "acme"),
            (var::AGENT_KIND, "butler"),
            (var::MODEL_ID, "amazon.nova-lite-v1:0"),
            (var::REGION, "us-east-1"),
            (var::DB_SECRET, "/openclaw/acme/db"),
            (
                var::OAUTH_SECRETS,
                "/openclaw/acme/gmail-oauth,/openclaw/acme/calendar-oauth",
            ),
        ]
    }

    #[test]
    fn a_complete_environment_parses() {
        let c = Config::from_env(env(&good())).expect("config");
        assert_eq!(c.kind, AgentKind::Butler);
        assert_eq!(
            c.oauth_secrets,
            vec![
                (Integration::Gmail, "/openclaw/acme/gmail-oauth".to_owned()),
                (
                    Integration::Calendar,
                    "/openclaw/acme/calendar-oauth".to_owned()
                )
            ]
        );
    }

    #[test]
    fn every_missing_variable_is_named_at_once() {
        let errs = Config::from_env(env(&[])).expect_err("empty");
        for v in [
            var::TENANT,
            var::AGENT_KIND,
            var::MODEL_ID,
            var::REGION,
            var::DB_SECRET,
        ] {
            assert!(
                errs.iter().any(|e| e.starts_with(v)),
                "{v} not reported: {errs:?}"
            );
        }
    }

    #[test]
    fn iam_login_needs_no_secret_but_its_own_user() {
        let mut e: Vec<(&str, &str)> = good()
            .into_iter()
            .filter(|(k, _)| *k != var::DB_SECRET)
            .collect();
        e.extend([
            (var::DB_AUTH, "iam"),
            (var::DB_HOST, "db.cell.internal"),
            (var::DB_PORT, "5432"),
            (var::DB_NAME, "openclaw"),
            (var::DB_USER, "t0123456789abcdef0123456789abcdef"),
        ]);
        let c = Config::from_env(env(&e)).expect("config");
        assert_eq!(
            c.db,
            DbLogin::Iam {
                host: "db.cell.internal".into(),
                port: 5432,
                dbname: "openclaw".into(),
                user: DbName::parse("t0123456789abcdef0123456789abcdef").expect("db")
            }
        );
        let i = e.len() - 1;
        for not_a_tenant in ["postgres", "openclaw_operator", "t0123", "tenant_a\"b"] {
            e[i] = (var::DB_USER, not_a_tenant);
            let errs = Config::from_env(env(&e)).expect_err(not_a_tenant);
            assert!(errs.iter().any(|m| m.starts_with(var::DB_USER)), "{errs:?}");
        }
    }

    #[test]
    fn schedules_are_read_with_the_rules_apply_checks() {
        let mut e = good();
        let list = r#"[{"name":"digest","cron":"0 8 * * 1-5","timeZone":"Europe/Berlin","input":{"query":"is:unread"}}]"#;
        e.push((var::SCHEDULES, list));
        let c = Config::from_env(env(&e)).expect("config");
        assert_eq!(c.schedules.len(), 1);
        assert_eq!(c.schedules[0].spec.name, "digest");
        assert_eq!(c.schedules[0].parsed.zone, chrono_tz::Europe::Berlin);
        let i = e.len() - 1;
        e[i] = (
            var::SCHEDULES,
            r#"[{"name":"digest","cron":"0 8 * *","timeZone":"Mars/Olympus"}]"#,
        );
        let errs = Config::from_env(env(&e)).expect_err("bad schedule");
        assert!(
            errs.iter()
                .any(|m| m.starts_with(var::SCHEDULES) && m.contains("cron")),
            "{errs:?}"
        );
        e[i] = (var::SCHEDULES, "{}");
        let errs = Config::from_env(env(&e)).expect_err("not a list");
        assert!(errs[0].contains("not a list of schedules"), "{errs:?}");
    }

    #[test]
    fn another_tenants_secret_is_refused() {
        let mut e = good();
        e[4] = (var::DB_SECRET, "/openclaw/globex/db");
        e[5] = (var::OAUTH_SECRETS, "/openclaw/globex/gmail-oauth");
        let errs = Config::from_env(env(&e)).expect_err("foreign secrets");
        assert_eq!(errs.len(), 2, "{errs:?}");
    }
}
