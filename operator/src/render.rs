//! Render (pure): a tenant's spec and the cell → every resource the tenant should have.
//!
//! Owns: the desired shape of each resource. Must never: do I/O, read the clock or randomness
//! (passwords are generated at apply time, never rendered).

use std::collections::BTreeMap;

use crds::api::{AgentKind, AgentSpec, Integration, Tier};
use crds::naming::{self, TenantRef};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::CellConfig;
pub use crate::config::DbEndpoint;
use crate::policy;

/// The tags every managed resource carries.
pub fn ownership_tags(
    cell: &str,
    tenant: &TenantRef,
    agent: Option<AgentKind>,
) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    tags.insert(naming::TAG_CELL.to_owned(), cell.to_owned());
    tags.insert(naming::TAG_TENANT.to_owned(), tenant.to_string());
    if let Some(kind) = agent {
        tags.insert(naming::TAG_AGENT.to_owned(), kind.as_str().to_owned());
        tags.insert(naming::TAG_DB_USER.to_owned(), tenant.db.role().to_owned());
    }
    tags.insert(
        naming::TAG_MANAGED_BY.to_owned(),
        naming::MANAGED_BY_VALUE.to_owned(),
    );
    tags
}

/// What a secret holds. The operator writes the DB secret's value; it never writes or reads an
/// OAuth grant (the consent flow and the agent do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretPurpose {
    Database,
    OAuth(Integration),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredSecret {
    pub name: String,
    pub purpose: SecretPurpose,
    pub description: String,
    pub tags: BTreeMap<String, String>,
}

/// A rendered task definition; `hash` covers every field, so any change registers a revision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskDefinition {
    pub family: String,
    pub cpu: String,
    pub memory: String,
    pub task_role_arn: String,
    pub execution_role_arn: String,
    pub image: String,
    pub environment: BTreeMap<String, String>,
    pub log_group: String,
    pub region: String,
    /// The version of what `task_definition::container` adds around these fields; a new one
    /// registers every family again (2: ECS no longer creates the log group).
    pub format: u32,
}

/// See [`TaskDefinition::format`].
pub const TASK_FORMAT: u32 = 2;

impl TaskDefinition {
    pub fn hash(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(json))[..16].to_owned()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DesiredService {
    pub name: String,
    pub desired_count: i32,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
}

/// An agent's log group: the operator creates it (ECS does not), encrypted and with a retention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredLogGroup {
    pub name: String,
    pub retention_days: i32,
    pub kms_key_arn: String,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DesiredAgent {
    pub kind: AgentKind,
    pub role_name: String,
    pub role_arn: String,
    pub trust_policy: Value,
    pub inline_policy_name: String,
    pub inline_policy: Value,
    pub boundary_arn: String,
    pub task: TaskDefinition,
    pub service: DesiredService,
    pub log_group: DesiredLogGroup,
    pub tags: BTreeMap<String, String>,
}

/// The tenant's PostgreSQL footprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredPg {
    pub schema: String,
    pub role: String,
    /// Agents log in with IAM tokens (membership in `rds_iam`, no password).
    pub iam_auth: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DesiredTenant {
    pub tenant: TenantRef,
    pub secrets: Vec<DesiredSecret>,
    pub agents: Vec<DesiredAgent>,
    pub pg: DesiredPg,
    pub tags: BTreeMap<String, String>,
}

/// Environment variable names the agent binary reads (agent-image must agree).
pub mod env {
    pub const TENANT: &str = "OPENCLAW_TENANT";
    pub const AGENT_KIND: &str = "OPENCLAW_AGENT_KIND";
    pub const MODEL_ID: &str = "OPENCLAW_MODEL_ID";
    pub const REGION: &str = "OPENCLAW_REGION";
    pub const DB_SECRET: &str = "OPENCLAW_DB_SECRET";
    pub const OAUTH_SECRETS: &str = "OPENCLAW_OAUTH_SECRETS";
    /// `spec.schedules` as JSON; absent when there are none, so agents without schedules keep
    /// their task definition.
    pub const SCHEDULES: &str = "OPENCLAW_SCHEDULES";
    pub const TENANT_BUCKET: &str = "OPENCLAW_TENANT_BUCKET";
    pub const S3_PREFIX: &str = "OPENCLAW_S3_PREFIX";
    /// `password` or `iam`; with `iam`, where to connect is given here (nothing is secret).
    pub const DB_AUTH: &str = "OPENCLAW_DB_AUTH";
    pub const DB_HOST: &str = "OPENCLAW_DB_HOST";
    pub const DB_PORT: &str = "OPENCLAW_DB_PORT";
    pub const DB_NAME: &str = "OPENCLAW_DB_NAME";
    pub const DB_USER: &str = "OPENCLAW_DB_USER";
    /// The collector the agent exports spans to (the OpenTelemetry SDKs' own variable).
    pub const OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
}

/// True when agents of this cell log in with IAM tokens.
pub fn iam_db(cell: &CellConfig) -> bool {
    cell.db_auth == crate::config::DbAuth::Iam
}

pub fn render_agent(
    cell: &CellConfig,
    tenant: &TenantRef,
    tier: Tier,
    spec: &AgentSpec,
) -> DesiredAgent {
    let arn = cell.arn_context();
    let kind = spec.kind;
    let role_arn = arn.role_arn(tenant, kind);
    let mut environment = BTreeMap::new();
    environment.insert(env::TENANT.to_owned(), tenant.to_string());
    environment.insert(env::AGENT_KIND.to_owned(), kind.as_str().to_owned());
    environment.insert(env::MODEL_ID.to_owned(), spec.model.clone());
    environment.insert(env::REGION.to_owned(), cell.region.clone());
    environment.insert(env::DB_SECRET.to_owned(), tenant.db_secret_name());
    environment.insert(
        env::OAUTH_SECRETS.to_owned(),
        spec.integrations
            .iter()
            .map(|i| tenant.oauth_secret_name(*i))
            .collect::<Vec<_>>()
            .join(","),
    );
    if !spec.schedules.is_empty() {
        environment.insert(
            env::SCHEDULES.to_owned(),
            serde_json::to_string(&spec.schedules).unwrap_or_default(),
        );
    }
    environment.insert(env::TENANT_BUCKET.to_owned(), cell.tenant_bucket.clone());
    environment.insert(env::S3_PREFIX.to_owned(), tenant.s3_prefix());
    // The one database user the agent may be: in password mode it checks the secret names it.
    environment.insert(env::DB_USER.to_owned(), tenant.db.role().to_owned());
    if let Some(e) = &cell.agent_otlp_endpoint {
        environment.insert(env::OTLP_ENDPOINT.to_owned(), e.clone());
    }
    let db_user_arn = if iam_db(cell) {
        environment.insert(env::DB_AUTH.to_owned(), "iam".to_owned());
        environment.remove(env::DB_SECRET);
        if let Some(db) = &cell.agent_db {
            environment.insert(env::DB_HOST.to_owned(), db.host.clone());
            environment.insert(env::DB_PORT.to_owned(), db.port.to_string());
            environment.insert(env::DB_NAME.to_owned(), db.dbname.clone());
        }
        cell.db_resource_id
            .as_deref()
            .and_then(|id| arn.db_user_arn(id, &tenant.db))
    } else {
        None
    };
    DesiredAgent {
        kind,
        role_name: tenant.role_name(kind),
        role_arn: role_arn.clone(),
        trust_policy: policy::trust_policy(&arn),
        inline_policy_name: tenant.policy_name(kind),
        inline_policy: policy::agent_policy(&policy::PolicyInputs {
            arn: &arn,
            tenant,
            agent: spec,
            tenant_bucket: &cell.tenant_bucket,
            db_user_arn: db_user_arn.as_deref(),
        }),
        boundary_arn: cell.permissions_boundary_arn.clone(),
        task: TaskDefinition {
            family: tenant.task_family(kind),
            cpu: spec.cpu.to_string(),
            memory: spec.memory.to_string(),
            task_role_arn: role_arn,
            execution_role_arn: cell.execution_role_arn.clone(),
            image: spec
                .image
                .clone()
                .unwrap_or_else(|| cell.agent_image.clone()),
            environment,
            log_group: tenant.log_group(kind),
            region: cell.region.clone(),
            format: TASK_FORMAT,
        },
        service: DesiredService {
            name: tenant.service_name(kind),
            desired_count: spec.desired_count,
            subnets: cell.subnets.clone(),
            security_groups: cell.security_groups.clone(),
        },
        log_group: DesiredLogGroup {
            name: tenant.log_group(kind),
            retention_days: cell.agent_logs.retention_days(tier),
            kms_key_arn: cell.agent_logs.kms_key_arn.clone(),
            tags: ownership_tags(&cell.name, tenant, Some(kind)),
        },
        tags: ownership_tags(&cell.name, tenant, Some(kind)),
    }
}

/// Renders the whole tenant. `agents` are the live (not deleting) agents of the tenant.
pub fn render_tenant(
    cell: &CellConfig,
    tenant: &TenantRef,
    tier: Tier,
    agents: &[AgentSpec],
) -> DesiredTenant {
    let tags = ownership_tags(&cell.name, tenant, None);
    // With IAM database authentication there is no password, so no database secret.
    let mut secrets = Vec::new();
    if !iam_db(cell) {
        secrets.push(DesiredSecret {
            name: tenant.db_secret_name(),
            purpose: SecretPurpose::Database,
            description: format!("OpenClaw: database login of tenant {tenant}"),
            tags: tags.clone(),
        });
    }
    let mut integrations: Vec<Integration> = agents
        .iter()
        .flat_map(|a| a.integrations.iter().copied())
        .collect();
    integrations.sort();
    integrations.dedup();
    for integ in integrations {
        secrets.push(DesiredSecret {
            name: tenant.oauth_secret_name(integ),
            purpose: SecretPurpose::OAuth(integ),
            description: format!("OpenClaw: {integ} OAuth grant of tenant {tenant}"),
            tags: tags.clone(),
        });
    }
    let mut agents: Vec<DesiredAgent> = agents
        .iter()
        .map(|a| render_agent(cell, tenant, tier, a))
        .collect();
    agents.sort_by_key(|a| a.kind);
    DesiredTenant {
        tenant: tenant.clone(),
        secrets,
        agents,
        pg: DesiredPg {
            schema: tenant.db.schema().to_owned(),
            role: tenant.db.role().to_owned(),
            iam_auth: iam_db(cell),
        },
        tags,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    pub use crate::config::fixtures::cell;

    pub fn acme() -> TenantRef {
        TenantRef::new(
            naming::TenantName::parse("acme").expect("name"),
            naming::DbName::parse("t0123456789abcdef0123456789abcdef").expect("db name"),
        )
    }

    pub fn agent(kind: AgentKind) -> AgentSpec {
        AgentSpec {
            kind,
            model: "amazon.nova-lite-v1:0".into(),
            desired_count: 1,
            cpu: 256,
            memory: 512,
            image: None,
            integrations: Default::default(),
            schedules: Vec::new(),
        }
    }

    #[test]
    fn secrets_follow_the_integrations_of_live_agents() {
        let t = acme();
        let mut butler = agent(AgentKind::Butler);
        butler.integrations = [Integration::Gmail, Integration::Calendar].into();
        let mut strat = agent(AgentKind::Strategist);
        strat.integrations = [Integration::Hubspot].into();
        let d = render_tenant(&cell(), &t, Tier::Standard, &[butler, strat]);
        let names: Vec<&str> = d.secrets.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "/openclaw/acme/db",
                "/openclaw/acme/gmail-oauth",
                "/openclaw/acme/calendar-oauth",
                "/openclaw/acme/hubspot-oauth"
            ]
        );
    }

    #[test]
    fn log_groups_take_the_tiers_retention_and_the_cells_key() {
        let t = acme();
        let standard = render_agent(&cell(), &t, Tier::Standard, &agent(AgentKind::Scout));
        assert_eq!(standard.log_group.name, "/openclaw/acme/scout");
        assert_eq!(standard.log_group.name, standard.task.log_group);
        assert_eq!(standard.log_group.retention_days, 30, "the cell's default");
        assert_eq!(
            standard.log_group.kms_key_arn,
            cell().agent_logs.kms_key_arn
        );
        assert_eq!(standard.log_group.tags, standard.tags);
        assert!(!standard.task.environment.contains_key(env::OTLP_ENDPOINT));
        let mut traced = cell();
        traced.agent_otlp_endpoint = Some("http://127.0.0.1:4318".into());
        let a = render_agent(&traced, &t, Tier::Standard, &agent(AgentKind::Scout));
        assert_eq!(
            a.task
                .environment
                .get(env::OTLP_ENDPOINT)
                .map(String::as_str),
            Some("http://127.0.0.1:4318"),
            "the cell's collector, when it has one"
        );
        let enterprise = render_agent(&cell(), &t, Tier::Enterprise, &agent(AgentKind::Scout));
        assert_eq!(enterprise.log_group.retention_days, 365, "the tier's own");
        assert_eq!(
            enterprise.task.hash(),
            standard.task.hash(),
            "retention is the group's, not the task definition's"
        );
    }

    #[test]
    fn task_hash_changes_with_content_only() {
        let t = acme();
        let a = render_agent(&cell(), &t, Tier::Standard, &agent(AgentKind::Scout));
        let b = render_agent(&cell(), &t, Tier::Standard, &agent(AgentKind::Scout));
        assert_eq!(a.task.hash(), b.task.hash());
        let mut more = agent(AgentKind::Scout);
        more.desired_count = 5;
        assert_eq!(
            render_agent(&cell(), &t, Tier::Standard, &more).task.hash(),
            a.task.hash(),
            "the desired count is the service's, not the task definition's"
        );
        let mut bigger = agent(AgentKind::Scout);
        bigger.cpu = 512;
        bigger.memory = 1024;
        assert_ne!(
            render_agent(&cell(), &t, Tier::Standard, &bigger)
                .task
                .hash(),
            a.task.hash()
        );
        let mut model = agent(AgentKind::Scout);
        model.model = "amazon.nova-pro-v1:0".into();
        assert_ne!(
            render_agent(&cell(), &t, Tier::Standard, &model)
                .task
                .hash(),
            a.task.hash()
        );
    }

    #[test]
    fn the_environment_names_secrets_but_holds_no_secret() {
        let t = acme();
        let mut butler = agent(AgentKind::Butler);
        butler.integrations = [Integration::Gmail].into();
        let a = render_agent(&cell(), &t, Tier::Standard, &butler);
        let env = &a.task.environment;
        assert_eq!(env[env::DB_SECRET], "/openclaw/acme/db");
        assert_eq!(env[env::OAUTH_SECRETS], "/openclaw/acme/gmail-oauth");
        for (k, _) in env.iter() {
            assert!(!k.contains("PASSWORD") && !k.contains("TOKEN"), "{k}");
        }
        assert_eq!(a.tags[naming::TAG_AGENT], "butler");
        assert_eq!(a.service.desired_count, 1);
        assert_eq!(a.role_name, "openclaw-acme-butler");
    }

    #[test]
    fn schedules_reach_the_agent_and_change_the_task_only_when_present() {
        let t = acme();
        let plain = render_agent(&cell(), &t, Tier::Standard, &agent(AgentKind::Butler));
        assert!(!plain.task.environment.contains_key(env::SCHEDULES));
        let mut butler = agent(AgentKind::Butler);
        butler.schedules = vec![crds::api::Schedule {
            name: "digest".into(),
            cron: "0 8 * * 1-5".into(),
            time_zone: "Europe/Berlin".into(),
            input: serde_json::json!({"query": "is:unread"}),
        }];
        let a = render_agent(&cell(), &t, Tier::Standard, &butler);
        let got: Vec<crds::api::Schedule> =
            serde_json::from_str(&a.task.environment[env::SCHEDULES]).expect("json");
        assert_eq!(got, butler.schedules);
        assert_ne!(
            a.task.hash(),
            plain.task.hash(),
            "a new revision carries them"
        );
    }

    #[test]
    fn the_database_identity_is_the_opaque_name_everywhere() {
        let t = acme();
        let d = render_tenant(&cell(), &t, Tier::Standard, &[agent(AgentKind::Butler)]);
        assert_eq!(d.pg.role, t.db.role());
        assert_eq!(d.pg.schema, t.db.schema());
        // The boundary scopes rds-db:connect by this tag.
        assert_eq!(d.agents[0].tags[naming::TAG_DB_USER], t.db.role());
        let mut iam = cell();
        iam.db_auth = crate::config::DbAuth::Iam;
        iam.db_resource_id = Some("db-ABC123".into());
        let a = render_agent(&iam, &t, Tier::Standard, &agent(AgentKind::Butler));
        assert_eq!(a.task.environment[env::DB_USER], t.db.role());
        let a = render_agent(&cell(), &t, Tier::Standard, &agent(AgentKind::Butler));
        assert_eq!(a.task.environment[env::DB_USER], t.db.role());
    }
}
