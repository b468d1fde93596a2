//! Validation of `Tenant` and `Agent` specs: every problem at once, each naming the field path
//! and the rule.
//!
//! Owns: the rules a spec must meet. Every rule has a name, and the store's CHECK constraint that
//! enforces the same rule carries the same name (see `migrations/`), so a bad `apply` and a bad
//! `INSERT` say the same thing. Must never: touch I/O.

use std::collections::BTreeSet;
use std::fmt;

use crate::api::{Agent, AgentSpec, Schedule, Tenant, TenantSpec, API_VERSION};
use crate::naming::TenantName;
use crate::{fargate, schedule};

pub const DISPLAY_NAME_MAX: usize = 128;
pub const MODEL_ID_MAX: usize = 128;
pub const IMAGE_MAX: usize = 255;
pub const REGION_MAX: usize = 25;
pub const DESIRED_COUNT_MAX: i32 = 10;

/// The named rules. Each `as_str` is also the name of a CHECK constraint in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    ApiVersionKnown,
    KindKnown,
    TenantNameFormat,
    TenantDisplayNameLength,
    TenantDisplayNameChars,
    TenantRegionFormat,
    AgentKindUnique,
    AgentModelFormat,
    AgentDesiredCountRange,
    AgentCpuMemoryFargate,
    AgentImageFormat,
    AgentIntegrationsAllowedForKind,
    AgentSchedulesCount,
    AgentScheduleNameFormat,
    AgentScheduleNameUnique,
    AgentScheduleCronValid,
    AgentScheduleTimeZoneKnown,
    AgentScheduleInputObject,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::ApiVersionKnown => "api_version_known",
            Rule::KindKnown => "kind_known",
            Rule::TenantNameFormat => "tenant_name_format",
            Rule::TenantDisplayNameLength => "tenant_display_name_length",
            Rule::TenantDisplayNameChars => "tenant_display_name_chars",
            Rule::TenantRegionFormat => "tenant_region_format",
            Rule::AgentKindUnique => "agent_kind_unique",
            Rule::AgentModelFormat => "agent_model_format",
            Rule::AgentDesiredCountRange => "agent_desired_count_range",
            Rule::AgentCpuMemoryFargate => "agent_cpu_memory_fargate",
            Rule::AgentImageFormat => "agent_image_format",
            Rule::AgentIntegrationsAllowedForKind => "agent_integrations_allowed_for_kind",
            Rule::AgentSchedulesCount => "agent_schedules_count",
            Rule::AgentScheduleNameFormat => "agent_schedule_name_format",
            Rule::AgentScheduleNameUnique => "agent_schedule_name_unique",
            Rule::AgentScheduleCronValid => "agent_schedule_cron_valid",
            Rule::AgentScheduleTimeZoneKnown => "agent_schedule_time_zone_known",
            Rule::AgentScheduleInputObject => "agent_schedule_input_object",
        }
    }
}

/// One problem: where, which rule, and what is wrong in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub path: String,
    pub rule: Rule,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} [{}]",
            self.path,
            self.message,
            self.rule.as_str()
        )
    }
}

/// Every problem found in one object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl ValidationErrors {
    pub fn rules(&self) -> BTreeSet<Rule> {
        self.0.iter().map(|e| e.rule).collect()
    }
}

#[derive(Default)]
struct Collector(Vec<FieldError>);

impl Collector {
    fn push(&mut self, path: impl Into<String>, rule: Rule, message: impl Into<String>) {
        self.0.push(FieldError {
            path: path.into(),
            rule,
            message: message.into(),
        });
    }

    fn finish(self) -> Result<(), ValidationErrors> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors(self.0))
        }
    }
}

/// Shows a user value safely inside a message: quoted, escaped, and cut short.
fn shown(s: &str) -> String {
    let cut: String = s.chars().take(40).collect();
    let more = if s.chars().count() > 40 { "…" } else { "" };
    format!("{:?}{more}", cut)
}

pub fn validate_tenant(tenant: &Tenant) -> Result<(), ValidationErrors> {
    let mut c = Collector::default();
    header(&mut c, &tenant.api_version, &tenant.kind, "Tenant");
    tenant_name(&mut c, "metadata.name", &tenant.metadata.name);
    tenant_spec(&mut c, "spec", &tenant.spec);
    c.finish()
}

pub fn validate_agent(agent: &Agent) -> Result<(), ValidationErrors> {
    let mut c = Collector::default();
    header(&mut c, &agent.api_version, &agent.kind, "Agent");
    tenant_name(&mut c, "metadata.tenant", &agent.metadata.tenant);
    agent_spec(&mut c, "spec", &agent.spec);
    c.finish()
}

/// Validates a tenant's spec alone (used for rows read back from the store as well).
pub fn validate_tenant_spec(spec: &TenantSpec) -> Result<(), ValidationErrors> {
    let mut c = Collector::default();
    tenant_spec(&mut c, "spec", spec);
    c.finish()
}

pub fn validate_agent_spec(spec: &AgentSpec) -> Result<(), ValidationErrors> {
    let mut c = Collector::default();
    agent_spec(&mut c, "spec", spec);
    c.finish()
}

fn header(c: &mut Collector, api_version: &str, kind: &str, want_kind: &str) {
    if api_version != API_VERSION {
        c.push(
            "apiVersion",
            Rule::ApiVersionKnown,
            format!("must be {API_VERSION} (got {})", shown(api_version)),
        );
    }
    if kind != want_kind {
        c.push(
            "kind",
            Rule::KindKnown,
            format!("must be {want_kind} (got {})", shown(kind)),
        );
    }
}

fn tenant_name(c: &mut Collector, path: &str, name: &str) {
    if let Err(e) = TenantName::parse(name) {
        c.push(
            path,
            Rule::TenantNameFormat,
            format!("tenant name {} {e}", shown(name)),
        );
    }
}

fn tenant_spec(c: &mut Collector, path: &str, spec: &TenantSpec) {
    let len = spec.display_name.chars().count();
    if !(1..=DISPLAY_NAME_MAX).contains(&len) {
        c.push(
            format!("{path}.displayName"),
            Rule::TenantDisplayNameLength,
            format!("must be 1 to {DISPLAY_NAME_MAX} characters (got {len})"),
        );
    }
    if spec.display_name.chars().any(char::is_control) {
        c.push(
            format!("{path}.displayName"),
            Rule::TenantDisplayNameChars,
            "must not contain control characters",
        );
    }
    if !region_ok(&spec.region) {
        c.push(
            format!("{path}.region"),
            Rule::TenantRegionFormat,
            format!(
                "must be an AWS region such as us-east-1 or eu-west-2 (got {})",
                shown(&spec.region)
            ),
        );
    }
    if let Some(agents) = &spec.agents {
        let mut seen = BTreeSet::new();
        for (i, agent) in agents.iter().enumerate() {
            let apath = format!("{path}.agents[{i}]");
            if !seen.insert(agent.kind) {
                c.push(
                    format!("{apath}.kind"),
                    Rule::AgentKindUnique,
                    format!("a tenant has at most one {} agent", agent.kind),
                );
            }
            agent_spec(c, &apath, agent);
        }
    }
}

fn agent_spec(c: &mut Collector, path: &str, spec: &AgentSpec) {
    if !model_ok(&spec.model) {
        c.push(
            format!("{path}.model"),
            Rule::AgentModelFormat,
            format!(
                "must be a Bedrock model id of 3 to {MODEL_ID_MAX} characters [a-z0-9.:-], \
                 starting with a letter or digit (got {})",
                shown(&spec.model)
            ),
        );
    }
    if !(0..=DESIRED_COUNT_MAX).contains(&spec.desired_count) {
        c.push(
            format!("{path}.desiredCount"),
            Rule::AgentDesiredCountRange,
            format!(
                "must be between 0 and {DESIRED_COUNT_MAX} (got {})",
                spec.desired_count
            ),
        );
    }
    if !fargate::is_valid(spec.cpu, spec.memory) {
        c.push(
            format!("{path}.memory"),
            Rule::AgentCpuMemoryFargate,
            format!(
                "cpu {} with memory {} MiB is not a Fargate size; {}",
                spec.cpu,
                spec.memory,
                fargate::describe_valid(spec.cpu)
            ),
        );
    }
    if let Some(image) = &spec.image {
        if !image_ok(image) {
            c.push(
                format!("{path}.image"),
                Rule::AgentImageFormat,
                format!(
                    "must be an image reference of 1 to {IMAGE_MAX} characters [A-Za-z0-9./:@_-] \
                     (got {})",
                    shown(image)
                ),
            );
        }
    }
    let allowed = spec.kind.allowed_integrations();
    for integ in &spec.integrations {
        if !allowed.contains(integ) {
            let names: Vec<&str> = allowed.iter().map(|i| i.as_str()).collect();
            c.push(
                format!("{path}.integrations"),
                Rule::AgentIntegrationsAllowedForKind,
                format!(
                    "a {} agent may not use {integ}; allowed: [{}]",
                    spec.kind,
                    names.join(", ")
                ),
            );
        }
    }
    schedules(c, path, &spec.schedules);
}

fn schedules(c: &mut Collector, path: &str, list: &[Schedule]) {
    if list.len() > schedule::SCHEDULES_MAX {
        c.push(
            format!("{path}.schedules"),
            Rule::AgentSchedulesCount,
            format!(
                "at most {} schedules per agent (got {})",
                schedule::SCHEDULES_MAX,
                list.len()
            ),
        );
    }
    let mut seen = BTreeSet::new();
    for (i, s) in list.iter().enumerate() {
        let spath = format!("{path}.schedules[{i}]");
        if !schedule_name_ok(&s.name) {
            c.push(
                format!("{spath}.name"),
                Rule::AgentScheduleNameFormat,
                format!(
                    "must be 2 to 32 characters [a-z0-9-], starting with a letter and not ending \
                     with a hyphen (got {})",
                    shown(&s.name)
                ),
            );
        } else if !seen.insert(s.name.as_str()) {
            c.push(
                format!("{spath}.name"),
                Rule::AgentScheduleNameUnique,
                format!("another schedule of this agent is named {}", shown(&s.name)),
            );
        }
        if let Err(e) = schedule::parse_cron(&s.cron) {
            c.push(
                format!("{spath}.cron"),
                Rule::AgentScheduleCronValid,
                format!("{} {e}", shown(&s.cron)),
            );
        }
        if let Err(e) = schedule::parse_zone(&s.time_zone) {
            c.push(
                format!("{spath}.timeZone"),
                Rule::AgentScheduleTimeZoneKnown,
                format!("{} {e}", shown(&s.time_zone)),
            );
        }
        let size = s.input.to_string().len();
        if !s.input.is_object() || size > schedule::INPUT_MAX {
            c.push(
                format!("{spath}.input"),
                Rule::AgentScheduleInputObject,
                format!(
                    "must be a JSON object of at most {} bytes (got {}, {size} bytes)",
                    schedule::INPUT_MAX,
                    json_type(&s.input)
                ),
            );
        }
    }
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// `^[a-z][a-z0-9-]{0,30}[a-z0-9]$`.
pub fn schedule_name_ok(s: &str) -> bool {
    let b = s.as_bytes();
    (2..=32).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && !b.ends_with(b"-")
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// `^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`, at most 25 characters.
pub fn region_ok(s: &str) -> bool {
    if s.len() > REGION_MAX {
        return false;
    }
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[0].chars().all(|c| c.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && {
            let last = parts[parts.len() - 1];
            (1..=2).contains(&last.len()) && last.chars().all(|c| c.is_ascii_digit())
        }
}

/// `^[a-z0-9][a-z0-9.:-]{2,127}$`.
pub fn model_ok(s: &str) -> bool {
    (3..=MODEL_ID_MAX).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".:-".contains(c))
}

/// `^[a-z0-9][A-Za-z0-9./:@_-]{0,254}$`.
pub fn image_ok(s: &str) -> bool {
    (1..=IMAGE_MAX).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "./:@_-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{AgentKind, Integration, Tier};

    fn agent(kind: AgentKind) -> AgentSpec {
        AgentSpec {
            kind,
            model: "anthropic.claude-3-5-haiku-20241022-v1:0".into(),
            desired_count: 1,
            cpu: 256,
            memory: 512,
            image: None,
            integrations: Default::default(),
            schedules: Vec::new(),
        }
    }

    fn digest(name: &str, cron: &str, zone: &str) -> Schedule {
        Schedule {
            name: name.into(),
            cron: cron.into(),
            time_zone: zone.into(),
            input: serde_json::json!({"query": "is:unread"}),
        }
    }

    fn tenant() -> Tenant {
        Tenant::new(
            "acme",
            TenantSpec {
                display_name: "Acme Corp".into(),
                region: "us-east-1".into(),
                tier: Tier::Standard,
                agents: Some(vec![agent(AgentKind::Butler), agent(AgentKind::Scout)]),
                paused: false,
            },
        )
    }

    #[test]
    fn a_good_tenant_passes() {
        assert_eq!(validate_tenant(&tenant()), Ok(()));
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_path() {
        let mut t = tenant();
        t.api_version = "v1".into();
        t.metadata.name = "Bad Name".into();
        t.spec.display_name = String::new();
        t.spec.region = "mars".into();
        let agents = t.spec.agents.as_mut().expect("agents");
        agents[1].kind = AgentKind::Butler;
        agents[1].memory = 4096;
        agents[1].integrations.insert(Integration::Hubspot);
        let errs = validate_tenant(&t).expect_err("invalid");
        let got: Vec<(String, &str)> = errs
            .0
            .iter()
            .map(|e| (e.path.clone(), e.rule.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("apiVersion".into(), "api_version_known"),
                ("metadata.name".into(), "tenant_name_format"),
                ("spec.displayName".into(), "tenant_display_name_length"),
                ("spec.region".into(), "tenant_region_format"),
                ("spec.agents[1].kind".into(), "agent_kind_unique"),
                ("spec.agents[1].memory".into(), "agent_cpu_memory_fargate"),
                (
                    "spec.agents[1].integrations".into(),
                    "agent_integrations_allowed_for_kind"
                ),
            ]
        );
    }

    #[test]
    fn agent_field_rules_table() {
        type Edit = fn(&mut AgentSpec);
        let cases: &[(&str, Edit, Option<Rule>)] = &[
            ("defaults", |_| {}, None),
            (
                "model with profile prefix",
                |a| a.model = "us.anthropic.claude-3-haiku-20240307-v1:0".into(),
                None,
            ),
            (
                "model empty",
                |a| a.model = String::new(),
                Some(Rule::AgentModelFormat),
            ),
            (
                "model uppercase",
                |a| a.model = "Anthropic.Claude".into(),
                Some(Rule::AgentModelFormat),
            ),
            (
                "model with quote",
                |a| a.model = "x'; drop table x; --".into(),
                Some(Rule::AgentModelFormat),
            ),
            (
                "model wildcard",
                |a| a.model = "anthropic.*".into(),
                Some(Rule::AgentModelFormat),
            ),
            (
                "model arn",
                |a| a.model = "arn:aws:bedrock:us-east-1::foundation-model/x".into(),
                Some(Rule::AgentModelFormat),
            ),
            (
                "model too long",
                |a| a.model = "a".repeat(129),
                Some(Rule::AgentModelFormat),
            ),
            ("count zero", |a| a.desired_count = 0, None),
            ("count max", |a| a.desired_count = DESIRED_COUNT_MAX, None),
            (
                "count negative",
                |a| a.desired_count = -1,
                Some(Rule::AgentDesiredCountRange),
            ),
            (
                "count too high",
                |a| a.desired_count = DESIRED_COUNT_MAX + 1,
                Some(Rule::AgentDesiredCountRange),
            ),
            (
                "cpu 1024 mem 2048",
                |a| {
                    a.cpu = 1024;
                    a.memory = 2048
                },
                None,
            ),
            (
                "cpu 256 mem 4096",
                |a| a.memory = 4096,
                Some(Rule::AgentCpuMemoryFargate),
            ),
            (
                "cpu 300",
                |a| a.cpu = 300,
                Some(Rule::AgentCpuMemoryFargate),
            ),
            (
                "image ecr digest",
                |a| {
                    a.image = Some(
                        "123456789012.dkr.ecr.us-east-1.amazonaws.com/openclaw/agent@sha256:abc"
                            .into(),
                    )
                },
                None,
            ),
            (
                "image with space",
                |a| a.image = Some("evil image".into()),
                Some(Rule::AgentImageFormat),
            ),
            (
                "image with newline",
                |a| a.image = Some("x\nUSER root".into()),
                Some(Rule::AgentImageFormat),
            ),
            (
                "image empty",
                |a| a.image = Some(String::new()),
                Some(Rule::AgentImageFormat),
            ),
            (
                "butler gmail",
                |a| {
                    a.integrations.insert(Integration::Gmail);
                },
                None,
            ),
            (
                "butler salesforce",
                |a| {
                    a.integrations.insert(Integration::Salesforce);
                },
                Some(Rule::AgentIntegrationsAllowedForKind),
            ),
            (
                "scout anything",
                |a| {
                    a.kind = AgentKind::Scout;
                    a.integrations.insert(Integration::Calendar);
                },
                Some(Rule::AgentIntegrationsAllowedForKind),
            ),
            (
                "strategist hubspot",
                |a| {
                    a.kind = AgentKind::Strategist;
                    a.integrations.insert(Integration::Hubspot);
                },
                None,
            ),
            (
                "weekday digest in Berlin",
                |a| a.schedules = vec![digest("digest", "0 8 * * 1-5", "Europe/Berlin")],
                None,
            ),
            (
                "eleven schedules",
                |a| {
                    a.schedules = (0..11)
                        .map(|i| digest(&format!("s{i}"), "0 8 * * *", "UTC"))
                        .collect()
                },
                Some(Rule::AgentSchedulesCount),
            ),
            (
                "schedule name with a slash",
                |a| a.schedules = vec![digest("../x", "0 8 * * *", "UTC")],
                Some(Rule::AgentScheduleNameFormat),
            ),
            (
                "two schedules of one name",
                |a| {
                    a.schedules = vec![
                        digest("digest", "0 8 * * *", "UTC"),
                        digest("digest", "0 9 * * *", "UTC"),
                    ]
                },
                Some(Rule::AgentScheduleNameUnique),
            ),
            (
                "every second",
                |a| a.schedules = vec![digest("fast", "* * * * * *", "UTC")],
                Some(Rule::AgentScheduleCronValid),
            ),
            (
                "hour 24",
                |a| a.schedules = vec![digest("late", "0 24 * * *", "UTC")],
                Some(Rule::AgentScheduleCronValid),
            ),
            (
                "an abbreviation for a zone",
                |a| a.schedules = vec![digest("digest", "0 8 * * *", "CEST")],
                Some(Rule::AgentScheduleTimeZoneKnown),
            ),
            (
                "input a string",
                |a| {
                    let mut s = digest("digest", "0 8 * * *", "UTC");
                    s.input = serde_json::json!("is:unread");
                    a.schedules = vec![s]
                },
                Some(Rule::AgentScheduleInputObject),
            ),
            (
                "input too large",
                |a| {
                    let mut s = digest("digest", "0 8 * * *", "UTC");
                    s.input = serde_json::json!({"query": "x".repeat(1100)});
                    a.schedules = vec![s]
                },
                Some(Rule::AgentScheduleInputObject),
            ),
        ];
        for (name, edit, want) in cases {
            let mut spec = agent(AgentKind::Butler);
            edit(&mut spec);
            let got = validate_agent_spec(&spec).err().map(|e| {
                assert_eq!(e.0.len(), 1, "{name}: {e}");
                e.0[0].rule
            });
            assert_eq!(got, *want, "case {name}");
        }
    }

    #[test]
    fn region_rule_table() {
        for good in [
            "us-east-1",
            "eu-west-2",
            "ap-southeast-1",
            "us-gov-west-1",
            "il-central-1",
        ] {
            assert!(region_ok(good), "{good}");
        }
        for bad in [
            "",
            "us",
            "useast1",
            "US-EAST-1",
            "us-east-",
            "us--1",
            "us-east-1a",
            "us-east-1;",
            "u-east-1",
        ] {
            assert!(!region_ok(bad), "{bad}");
        }
    }

    #[test]
    fn display_name_rules() {
        let mut t = tenant();
        t.spec.display_name = "x".repeat(DISPLAY_NAME_MAX + 1);
        assert_eq!(
            validate_tenant(&t).expect_err("too long").rules(),
            [Rule::TenantDisplayNameLength].into()
        );
        t.spec.display_name = "Acme\u{7}Corp".into();
        assert_eq!(
            validate_tenant(&t).expect_err("control").rules(),
            [Rule::TenantDisplayNameChars].into()
        );
        t.spec.display_name = "Ünïcødé Corp 株式会社".into();
        assert_eq!(validate_tenant(&t), Ok(()));
    }

    #[test]
    fn messages_quote_user_input_and_cut_it_short() {
        let mut t = tenant();
        t.metadata.name = format!("\"; DROP TABLE x; --{}", "y".repeat(100));
        let msg = validate_tenant(&t).expect_err("bad").to_string();
        assert!(msg.contains("\\\"; DROP TABLE x; --"), "{msg}");
        assert!(msg.len() < 200, "{msg}");
    }
}
