//! The OpenClaw API, `openclaw.io/v1alpha1`: the `Tenant` and `Agent` kinds as users write them
//! (YAML manifests) and as the store keeps them (rows).
//!
//! Owns: the shape of the spec and status. Must never: decide whether a value is valid (that is
//! `validate`) or how a resource is named (that is `naming`).

use std::collections::BTreeSet;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub const API_VERSION: &str = "openclaw.io/v1alpha1";

/// The three agents OpenClaw runs for each tenant.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum AgentKind {
    /// The personal assistant: mail and calendar.
    Butler,
    /// Scores accounts from intent signals.
    Scout,
    /// Account briefs from CRM data.
    Strategist,
}

impl AgentKind {
    pub const ALL: [AgentKind; 3] = [AgentKind::Butler, AgentKind::Scout, AgentKind::Strategist];

    pub fn as_str(self) -> &'static str {
        match self {
            AgentKind::Butler => "butler",
            AgentKind::Scout => "scout",
            AgentKind::Strategist => "strategist",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Integrations this kind of agent may be granted. A grant outside this set is refused, so no
    /// agent holds a credential its code never uses.
    pub fn allowed_integrations(self) -> &'static [Integration] {
        match self {
            AgentKind::Butler => &[Integration::Gmail, Integration::Calendar],
            AgentKind::Scout => &[],
            AgentKind::Strategist => &[Integration::Hubspot, Integration::Salesforce],
        }
    }
}

impl fmt::Display for AgentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// External systems an agent reaches with an OAuth grant stored in its tenant's secret.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Integration {
    Gmail,
    Calendar,
    Hubspot,
    Salesforce,
}

impl Integration {
    pub const ALL: [Integration; 4] = [
        Integration::Gmail,
        Integration::Calendar,
        Integration::Hubspot,
        Integration::Salesforce,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Integration::Gmail => "gmail",
            Integration::Calendar => "calendar",
            Integration::Hubspot => "hubspot",
            Integration::Salesforce => "salesforce",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|i| i.as_str() == s)
    }
}

impl fmt::Display for Integration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Service tier: recorded for placement and cost reports.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    #[default]
    Standard,
    Premium,
    Enterprise,
}

/// How long one database session of a tenant may run a statement, or sit idle inside a
/// transaction, before the operator ends it. A session can lift its own `statement_timeout`;
/// it cannot stop the operator from ending it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    pub statement: std::time::Duration,
    pub idle_in_transaction: std::time::Duration,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Standard, Tier::Premium, Tier::Enterprise];

    pub fn session_limits(self) -> SessionLimits {
        let secs = std::time::Duration::from_secs;
        match self {
            Tier::Standard => SessionLimits {
                statement: secs(60),
                idle_in_transaction: secs(60),
            },
            Tier::Premium => SessionLimits {
                statement: secs(300),
                idle_in_transaction: secs(120),
            },
            Tier::Enterprise => SessionLimits {
                statement: secs(900),
                idle_in_transaction: secs(300),
            },
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Standard => "standard",
            Tier::Premium => "premium",
            Tier::Enterprise => "enterprise",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Object metadata of a `Tenant`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantMeta {
    /// The tenant's name: `^[a-z][a-z0-9-]{1,30}[a-z0-9]$`. Every resource name derives from it.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$"))]
    pub name: String,
}

/// Object metadata of an `Agent`: an agent is identified by its tenant and its kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentMeta {
    /// The owning tenant's name.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$"))]
    pub tenant: String,
}

/// What a user asks for one agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentSpec {
    /// butler, scout or strategist. One agent of each kind per tenant at most.
    pub kind: AgentKind,
    /// Bedrock model id or inference profile id, e.g. `anthropic.claude-3-5-haiku-20241022-v1:0`.
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9.:-]{2,127}$"))]
    pub model: String,
    /// Number of running tasks.
    #[serde(default = "default_desired_count")]
    #[schemars(range(min = 0, max = 10))]
    pub desired_count: i32,
    /// Fargate CPU units (256, 512, 1024, 2048, 4096, 8192, 16384).
    #[serde(default = "default_cpu")]
    pub cpu: i32,
    /// Fargate memory in MiB; must be valid for the CPU size.
    #[serde(default = "default_memory")]
    pub memory: i32,
    /// Container image; the cell's agent image when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-z0-9][A-Za-z0-9./:@_-]{0,254}$"))]
    pub image: Option<String>,
    /// OAuth integrations the agent may use.
    #[serde(default)]
    pub integrations: BTreeSet<Integration>,
    /// Work the agent gives itself: one task per slot of each schedule, however many replicas
    /// run. At most 10.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10))]
    pub schedules: Vec<Schedule>,
}

/// A recurring task: at each slot of `cron`, read in `timeZone`, the agent queues one task with
/// `input`. A slot missed while no replica ran is run once when one returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Schedule {
    /// Unique among the agent's schedules: `^[a-z][a-z0-9-]{0,30}[a-z0-9]$`.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$"))]
    pub name: String,
    /// Five fields: minute hour day-of-month month day-of-week, e.g. `0 8 * * 1-5`.
    pub cron: String,
    /// IANA time zone the pattern is read in, e.g. `Europe/Berlin`. Butler also takes its
    /// working hours from it.
    pub time_zone: String,
    /// The task's input: a JSON object of at most 1,024 bytes. Not a place for secrets: it is
    /// part of the task definition.
    #[serde(default = "empty_object")]
    pub input: serde_json::Value,
}

pub fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

pub fn default_desired_count() -> i32 {
    1
}
pub fn default_cpu() -> i32 {
    256
}
pub fn default_memory() -> i32 {
    512
}

/// What a user asks for one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantSpec {
    /// Human-readable name, 1 to 128 characters, no control characters.
    #[schemars(length(min = 1, max = 128))]
    pub display_name: String,
    /// AWS region the tenant lives in (data residency), e.g. `eu-west-1`.
    #[schemars(regex(pattern = r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$"), length(max = 25))]
    pub region: String,
    /// Service tier.
    #[serde(default)]
    pub tier: Tier,
    /// The tenant's agents. When present, this list is the whole set: `apply` removes agents that
    /// are not in it. When absent, `apply` leaves the tenant's agents as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<Vec<AgentSpec>>,
    /// Observe only: the operator still reads the tenant's resources and reports drift (status,
    /// metrics, `plan`) but changes nothing until this is false again. Deleting the tenant is
    /// never paused (right to delete).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
}

/// A condition, as in Kubernetes: a named fact about the object with the reason it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    /// "True", "False" or "Unknown".
    pub status: String,
    pub reason: String,
    pub message: String,
    pub last_transition_time: String,
}

/// What the operator last observed; written by the operator only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    #[serde(default)]
    pub observed_generation: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// The `Tenant` kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tenant {
    /// Always `openclaw.io/v1alpha1`.
    pub api_version: String,
    /// Always `Tenant`.
    pub kind: String,
    pub metadata: TenantMeta,
    pub spec: TenantSpec,
    /// Ignored by `apply`; shown by `get`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
}

/// The `Agent` kind: one agent of a tenant, managed on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Agent {
    /// Always `openclaw.io/v1alpha1`.
    pub api_version: String,
    /// Always `Agent`.
    pub kind: String,
    pub metadata: AgentMeta,
    pub spec: AgentSpec,
    /// Ignored by `apply`; shown by `get`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
}

impl Tenant {
    pub fn new(name: &str, spec: TenantSpec) -> Self {
        Tenant {
            api_version: API_VERSION.into(),
            kind: "Tenant".into(),
            metadata: TenantMeta { name: name.into() },
            spec,
            status: None,
        }
    }
}

impl Agent {
    pub fn new(tenant: &str, spec: AgentSpec) -> Self {
        Agent {
            api_version: API_VERSION.into(),
            kind: "Agent".into(),
            metadata: AgentMeta {
                tenant: tenant.into(),
            },
            spec,
            status: None,
        }
    }
}
