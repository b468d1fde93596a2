//! Every name OpenClaw gives to an AWS or PostgreSQL resource is derived here, from a validated
//! tenant name and an agent kind, and nowhere else.
//!
//! Owns: the tenant-name rule, and the mapping from (tenant, kind) to resource names and ARNs.
//! Must never: build a name from an unvalidated string, or produce a wildcard that could match
//! another tenant's resource.
//!
//! Why the mapping is collision-free: tenant names match `^[a-z][a-z0-9-]{1,30}[a-z0-9]$` and
//! agent kinds are fixed words without `-`, so every derived AWS name can be parsed back to exactly
//! one (tenant, kind).
//!
//! The PostgreSQL names are the exception, on purpose: every session of the tenant database can
//! read the catalogs (`pg_roles`, `pg_namespace`, the statistics views), so a tenant's role and
//! schema carry no tenant name. They are its [`DbName`], `t` and 32 hex digits (a random UUID, 122
//! random bits) drawn by the
//! control store once per tenant incarnation (control migration 0014); tenants onboarded before
//! keep their legacy `tenant_T`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::api::AgentKind;

/// Longest tenant name: keeps every derived name within its service's limit (see the tests).
pub const TENANT_NAME_MAX: usize = 32;
pub const TENANT_NAME_MIN: usize = 3;

/// Tag keys every managed AWS resource carries.
pub const TAG_TENANT: &str = "openclaw:tenant";
pub const TAG_AGENT: &str = "openclaw:agent";
pub const TAG_MANAGED_BY: &str = "openclaw:managed-by";
/// The cell (account + region + cluster) that manages the resource: orphan detection in one cell
/// never touches another cell's resources in the same account.
pub const TAG_CELL: &str = "openclaw:cell";
/// On an agent's role: its tenant's database user ([`DbName`], opaque), so that the permissions
/// boundary can scope `rds-db:connect` per tenant with `${aws:PrincipalTag/openclaw:db-user}`.
pub const TAG_DB_USER: &str = "openclaw:db-user";
pub const MANAGED_BY_VALUE: &str = "openclaw-operator";

/// IAM path of every tenant role.
pub const TENANT_ROLE_PATH: &str = "/openclaw/tenants/";
/// Prefix of every secret OpenClaw manages.
pub const SECRET_PREFIX: &str = "/openclaw/";
/// Every agent's role, task family and service name starts with this.
pub const AGENT_RESOURCE_PREFIX: &str = "openclaw-";
/// Prefix of every agent log group.
pub const LOG_GROUP_PREFIX: &str = "/openclaw/";
/// The tenant's bucket prefixes start with this; each is `tenants/T/`.
pub const S3_TENANTS_PREFIX: &str = "tenants/";

/// Why a string is not a valid tenant name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantNameError {
    #[error("must be {TENANT_NAME_MIN} to {TENANT_NAME_MAX} characters long (got {0})")]
    Length(usize),
    #[error("must start with a lowercase letter a-z")]
    Start,
    #[error("must end with a lowercase letter or digit")]
    End,
    #[error("may contain only lowercase letters a-z, digits and '-' (found {0:?})")]
    Char(char),
}

/// A tenant name that passed the naming rule. The only way to get one is [`TenantName::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TenantName(String);

impl<'de> Deserialize<'de> for TenantName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TenantName::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl TenantName {
    /// Checks `^[a-z][a-z0-9-]{1,30}[a-z0-9]$` (the same rule as the store's
    /// `tenant_name_format` constraint).
    pub fn parse(s: &str) -> Result<Self, TenantNameError> {
        let len = s.chars().count();
        if !(TENANT_NAME_MIN..=TENANT_NAME_MAX).contains(&len) {
            return Err(TenantNameError::Length(len));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '-'))
        {
            return Err(TenantNameError::Char(c));
        }
        if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(TenantNameError::Start);
        }
        if s.ends_with('-') {
            return Err(TenantNameError::End);
        }
        Ok(TenantName(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `openclaw-T-A`: IAM role, inline policy, task definition family and ECS service.
    pub fn agent_resource_name(&self, kind: AgentKind) -> String {
        format!("{AGENT_RESOURCE_PREFIX}{}-{}", self.0, kind.as_str())
    }

    pub fn role_name(&self, kind: AgentKind) -> String {
        self.agent_resource_name(kind)
    }

    pub fn policy_name(&self, kind: AgentKind) -> String {
        self.agent_resource_name(kind)
    }

    pub fn task_family(&self, kind: AgentKind) -> String {
        self.agent_resource_name(kind)
    }

    pub fn service_name(&self, kind: AgentKind) -> String {
        self.agent_resource_name(kind)
    }

    /// `/openclaw/T/`: the prefix of this tenant's secrets.
    pub fn secret_prefix(&self) -> String {
        format!("{SECRET_PREFIX}{}/", self.0)
    }

    /// `/openclaw/T/db`: the tenant's database credentials.
    pub fn db_secret_name(&self) -> String {
        format!("{}db", self.secret_prefix())
    }

    /// `/openclaw/T/<integration>-oauth`: one OAuth grant per integration.
    pub fn oauth_secret_name(&self, integration: crate::api::Integration) -> String {
        format!("{}{}-oauth", self.secret_prefix(), integration.as_str())
    }

    /// `/openclaw/T/`: the prefix of every log group of this tenant's agents.
    pub fn log_group_prefix(&self) -> String {
        format!("{LOG_GROUP_PREFIX}{}/", self.0)
    }

    /// `/openclaw/T/A`: the agent's CloudWatch log group.
    pub fn log_group(&self, kind: AgentKind) -> String {
        format!("{}{}", self.log_group_prefix(), kind.as_str())
    }

    /// `tenants/T/`: the tenant's prefix in the shared tenant bucket.
    pub fn s3_prefix(&self) -> String {
        format!("{S3_TENANTS_PREFIX}{}/", self.0)
    }
}

impl fmt::Display for TenantName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a string is not a tenant's database name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be 't' and 32 lowercase hex digits, or a legacy 'tenant_' name (got {0:?})")]
pub struct DbNameError(pub String);

const DB_NAME_LEGACY_PREFIX: &str = "tenant_";
/// [`DbName::parse`]'s rule as a POSIX regular expression, for SQL (`~`): the control store's
/// `tenant_db_name_format`, `shared.session_tenant()` and the catalog reads use exactly this.
pub const DB_NAME_PATTERN: &str = "^(t[0-9a-f]{32}|tenant_[a-z][a-z0-9_]{1,30}[a-z0-9])$";
const DB_NAME_OPAQUE_HEX: usize = 32;

/// A tenant's name in the tenant database: its login role and its schema (one spelling). Opaque,
/// `t` and 32 lowercase hex digits, for every tenant the control store admits since migration
/// 0014; `tenant_T` (the tenant name with `_` for `-`) for tenants onboarded before. The same
/// rule is the store's `tenant_db_name_format` constraint and the tenant database's
/// `shared.session_tenant()`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct DbName(String);

impl DbName {
    pub fn parse(s: &str) -> Result<Self, DbNameError> {
        let opaque = s.strip_prefix('t').is_some_and(|hex| {
            hex.len() == DB_NAME_OPAQUE_HEX
                && hex
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        });
        let legacy = s.strip_prefix(DB_NAME_LEGACY_PREFIX).is_some_and(|rest| {
            !rest.contains('-') && TenantName::parse(&rest.replace('_', "-")).is_ok()
        });
        if opaque || legacy {
            Ok(DbName(s.to_owned()))
        } else {
            Err(DbNameError(s.chars().take(80).collect()))
        }
    }

    /// The name a tenant onboarded before opaque names had: `tenant_T`.
    pub fn legacy(tenant: &TenantName) -> Self {
        DbName(format!(
            "{DB_NAME_LEGACY_PREFIX}{}",
            tenant.0.replace('-', "_")
        ))
    }

    /// A legacy name spells its tenant's name out to every session of the tenant database.
    pub fn is_legacy(&self) -> bool {
        self.0.starts_with(DB_NAME_LEGACY_PREFIX)
    }

    /// The tenant a legacy name spells out; `None` for an opaque one.
    pub fn legacy_tenant(&self) -> Option<TenantName> {
        let rest = self.0.strip_prefix(DB_NAME_LEGACY_PREFIX)?;
        TenantName::parse(&rest.replace('_', "-")).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The tenant's login role.
    pub fn role(&self) -> &str {
        &self.0
    }

    /// The tenant's schema (its role's name: a schema named after its user is PostgreSQL's
    /// `"$user"` default, and one string cannot drift from the other).
    pub fn schema(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DbName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DbName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        DbName::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A tenant as the operator acts on it: its name, for AWS resources and everything people read,
/// and its database name. It reads as its name (`Deref`, `Display`), so only what touches the
/// tenant database asks for `db`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantRef {
    pub name: TenantName,
    pub db: DbName,
}

impl TenantRef {
    pub fn new(name: TenantName, db: DbName) -> Self {
        TenantRef { name, db }
    }

    /// A tenant known only by a legacy database name (`tenant_T`): tests, and orphans.
    pub fn legacy(name: TenantName) -> Self {
        let db = DbName::legacy(&name);
        TenantRef { name, db }
    }
}

impl std::ops::Deref for TenantRef {
    type Target = TenantName;
    fn deref(&self) -> &TenantName {
        &self.name
    }
}

impl fmt::Display for TenantRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.name.fmt(f)
    }
}

/// The AWS partition, account and region a cell lives in; ARNs are built from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArnContext {
    pub partition: String,
    pub region: String,
    pub account_id: String,
}

impl ArnContext {
    pub fn role_arn(&self, tenant: &TenantName, kind: AgentKind) -> String {
        format!(
            "arn:{}:iam::{}:role{}{}",
            self.partition,
            self.account_id,
            TENANT_ROLE_PATH,
            tenant.role_name(kind)
        )
    }

    /// Secrets Manager appends `-` and six random characters to a secret's ARN. `??????` matches
    /// exactly those six, so the pattern names one secret and no other (see the naming tests).
    pub fn secret_arn_pattern(&self, secret_name: &str) -> String {
        format!(
            "arn:{}:secretsmanager:{}:{}:secret:{}-??????",
            self.partition, self.region, self.account_id, secret_name
        )
    }

    pub fn log_group_arn(&self, tenant: &TenantName, kind: AgentKind) -> String {
        format!(
            "arn:{}:logs:{}:{}:log-group:{}",
            self.partition,
            self.region,
            self.account_id,
            tenant.log_group(kind)
        )
    }

    pub fn bucket_arn(&self, bucket: &str) -> String {
        format!("arn:{}:s3:::{}", self.partition, bucket)
    }

    pub fn foundation_model_arn(&self, model_id: &str) -> String {
        format!(
            "arn:{}:bedrock:{}::foundation-model/{}",
            self.partition, self.region, model_id
        )
    }

    /// `arn:…:rds-db:R:ACCT:dbuser:<resource-id>/<db name>`: the one database user a tenant's
    /// agents may connect as with IAM authentication. `None` unless the resource id is one AWS
    /// issues (`db-`/`cluster-` and upper-case letters and digits), so no wildcard can get in.
    pub fn db_user_arn(&self, resource_id: &str, db: &DbName) -> Option<String> {
        let body = resource_id
            .strip_prefix("db-")
            .or_else(|| resource_id.strip_prefix("cluster-"))?;
        if body.is_empty()
            || !body
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            return None;
        }
        Some(format!(
            "arn:{}:rds-db:{}:{}:dbuser:{}/{}",
            self.partition,
            self.region,
            self.account_id,
            resource_id,
            db.role()
        ))
    }
}

/// Recovers (tenant, kind) from an `openclaw-T-A` name; `None` if it is not one of ours.
pub fn parse_agent_resource_name(name: &str) -> Option<(TenantName, AgentKind)> {
    let rest = name.strip_prefix("openclaw-")?;
    let (tenant, kind) = rest.rsplit_once('-')?;
    let kind = AgentKind::parse(kind)?;
    let tenant = TenantName::parse(tenant).ok()?;
    Some((tenant, kind))
}

/// Recovers the tenant from a `/openclaw/T/...` secret name.
pub fn parse_secret_name(name: &str) -> Option<TenantName> {
    let rest = name.strip_prefix(SECRET_PREFIX)?;
    let (tenant, _) = rest.split_once('/')?;
    TenantName::parse(tenant).ok()
}

/// Recovers (tenant, kind) from an agent's `/openclaw/T/A` log group name.
pub fn parse_log_group_name(name: &str) -> Option<(TenantName, AgentKind)> {
    let rest = name.strip_prefix(LOG_GROUP_PREFIX)?;
    let (tenant, kind) = rest.split_once('/')?;
    Some((TenantName::parse(tenant).ok()?, AgentKind::parse(kind)?))
}

/// Recovers the tenant from a `tenants/T/` prefix of the tenant bucket.
pub fn parse_s3_prefix(prefix: &str) -> Option<TenantName> {
    let tenant = prefix.strip_prefix(S3_TENANTS_PREFIX)?.strip_suffix('/')?;
    TenantName::parse(tenant).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Integration;
    use proptest::prelude::*;

    fn t(s: &str) -> TenantName {
        TenantName::parse(s).expect("valid tenant name")
    }

    fn db(s: &str) -> DbName {
        DbName::parse(s).expect("valid db name")
    }

    const OPAQUE: &str = "t0123456789abcdef0123456789abcdef";

    #[test]
    fn db_name_rule_table() {
        let cases: &[(&str, bool)] = &[
            (OPAQUE, true),
            ("tenant_acme", true),
            ("tenant_acme_corp_2", true),
            // Not opaque: wrong length, upper case, not hex.
            ("t0123456789abcdef0123456789abcde", false),
            ("t0123456789abcdef0123456789abcdef0", false),
            ("t0123456789ABCDEF0123456789abcdef", false),
            ("t0123456789abcdeg0123456789abcdef", false),
            // Not legacy: no tenant name behind it.
            ("tenant_", false),
            ("tenant_ab-c", false),
            ("tenant_Acme", false),
            ("tenant_acme_", false),
            ("tenant__acme", false),
            ("tenant_acme;drop", false),
            ("openclaw_tenant", false),
            ("openclaw_operator", false),
            ("postgres", false),
            ("public", false),
            ("shared", false),
            ("", false),
        ];
        for (input, ok) in cases {
            assert_eq!(DbName::parse(input).is_ok(), *ok, "input {input:?}");
        }
        assert!(!db(OPAQUE).is_legacy());
        assert_eq!(db(OPAQUE).legacy_tenant(), None);
        assert!(db("tenant_acme_corp").is_legacy());
        assert_eq!(db("tenant_acme_corp").legacy_tenant(), Some(t("acme-corp")));
        assert_eq!(db(OPAQUE).role(), db(OPAQUE).schema());
    }

    #[test]
    fn the_migrations_use_the_one_db_name_pattern() {
        let control = include_str!("../migrations/control/0014_opaque_database_names.sql");
        let tenant = include_str!("../migrations/tenant/0015_usage_keyed_by_database_user.sql");
        assert!(control.contains(&format!("'{DB_NAME_PATTERN}'")));
        assert!(tenant.contains(&format!("'{DB_NAME_PATTERN}'")));
    }

    #[test]
    fn a_tenant_ref_reads_as_its_name() {
        let r = TenantRef::new(t("acme"), db(OPAQUE));
        assert_eq!(r.to_string(), "acme");
        assert_eq!(r.role_name(AgentKind::Butler), "openclaw-acme-butler");
        assert_eq!(r.db.role(), OPAQUE);
        assert_eq!(TenantRef::legacy(t("a-b")).db.as_str(), "tenant_a_b");
    }

    #[test]
    fn tenant_name_rule_table() {
        let cases: &[(&str, Result<(), TenantNameError>)] = &[
            ("acme", Ok(())),
            ("a1b", Ok(())),
            ("acme-corp-2", Ok(())),
            ("a--b", Ok(())),
            ("ab", Err(TenantNameError::Length(2))),
            ("a234567890123456789012345678901b", Ok(())),
            (
                "a2345678901234567890123456789012b",
                Err(TenantNameError::Length(33)),
            ),
            ("1acme", Err(TenantNameError::Start)),
            ("-acme", Err(TenantNameError::Start)),
            ("acme-", Err(TenantNameError::End)),
            ("Acme", Err(TenantNameError::Char('A'))),
            ("ac_me", Err(TenantNameError::Char('_'))),
            ("acme;drop", Err(TenantNameError::Char(';'))),
            ("ac'me", Err(TenantNameError::Char('\''))),
            ("ac/../me", Err(TenantNameError::Char('/'))),
            ("acm*", Err(TenantNameError::Char('*'))),
            ("аcme", Err(TenantNameError::Char('а'))), // Cyrillic 'а'
            ("acme\u{0}x", Err(TenantNameError::Char('\u{0}'))),
            ("", Err(TenantNameError::Length(0))),
        ];
        for (input, want) in cases {
            assert_eq!(
                TenantName::parse(input).map(|_| ()),
                *want,
                "input {input:?}"
            );
        }
    }

    #[test]
    fn derived_names_for_one_tenant() {
        let tenant = t("acme-corp");
        assert_eq!(
            tenant.role_name(AgentKind::Butler),
            "openclaw-acme-corp-butler"
        );
        assert_eq!(
            tenant.task_family(AgentKind::Scout),
            "openclaw-acme-corp-scout"
        );
        assert_eq!(tenant.db_secret_name(), "/openclaw/acme-corp/db");
        assert_eq!(
            tenant.oauth_secret_name(Integration::Gmail),
            "/openclaw/acme-corp/gmail-oauth"
        );
        assert_eq!(DbName::legacy(&tenant).as_str(), "tenant_acme_corp");
        assert_eq!(tenant.s3_prefix(), "tenants/acme-corp/");
        let ctx = ArnContext {
            partition: "aws".into(),
            region: "eu-west-1".into(),
            account_id: "111122223333".into(),
        };
        assert_eq!(
            ctx.role_arn(&tenant, AgentKind::Strategist),
            "arn:aws:iam::111122223333:role/openclaw/tenants/openclaw-acme-corp-strategist"
        );
        assert_eq!(
            ctx.secret_arn_pattern(&tenant.db_secret_name()),
            "arn:aws:secretsmanager:eu-west-1:111122223333:secret:/openclaw/acme-corp/db-??????"
        );
    }

    #[test]
    fn db_user_arns_name_one_user_and_refuse_odd_resource_ids() {
        let ctx = ArnContext {
            partition: "aws".into(),
            region: "eu-west-1".into(),
            account_id: "111122223333".into(),
        };
        assert_eq!(
            ctx.db_user_arn("db-ABC123", &db(OPAQUE)).as_deref(),
            Some(
                "arn:aws:rds-db:eu-west-1:111122223333:dbuser:db-ABC123/t0123456789abcdef0123456789abcdef"
            )
        );
        for bad in [
            "*",
            "db-*",
            "db-abc",
            "db-",
            "x-ABC",
            "db-ABC/tenant_x",
            "cluster-A?",
        ] {
            assert_eq!(ctx.db_user_arn(bad, &db(OPAQUE)), None, "{bad}");
        }
    }

    #[test]
    fn parse_back_rejects_foreign_names() {
        assert_eq!(parse_agent_resource_name("openclaw-acme-gardener"), None);
        assert_eq!(parse_agent_resource_name("other-acme-butler"), None);
        assert_eq!(parse_secret_name("/other/acme/db"), None);
        assert_eq!(parse_log_group_name("/openclaw/acme/gardener"), None);
        assert_eq!(parse_log_group_name("/ecs/acme/butler"), None);
        assert_eq!(parse_log_group_name("/openclaw/acme"), None);
        assert_eq!(parse_s3_prefix("tenants/acme"), None);
        assert_eq!(parse_s3_prefix("tenants/acme/x/"), None);
        assert_eq!(parse_s3_prefix("shared/acme/"), None);
        assert_eq!(parse_s3_prefix("tenants//"), None);
        assert_eq!(
            parse_agent_resource_name("openclaw-a-scout-butler"),
            Some((t("a-scout"), AgentKind::Butler))
        );
    }

    /// Strategy for any valid tenant name.
    fn tenant_name() -> impl Strategy<Value = String> {
        "[a-z][a-z0-9-]{1,30}[a-z0-9]"
    }

    fn sql_ident_ok(s: &str) -> bool {
        s.len() <= 63
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    }

    proptest! {
        #[test]
        fn every_opaque_name_parses_and_is_a_plain_identifier(hex in "[0-9a-f]{32}") {
            let d = DbName::parse(&format!("t{hex}")).expect("an opaque name");
            prop_assert!(sql_ident_ok(d.as_str()));
        }

        #[test]
        fn every_valid_name_parses(s in tenant_name()) {
            prop_assert!(TenantName::parse(&s).is_ok());
        }

        #[test]
        fn derived_names_meet_service_limits(s in tenant_name()) {
            let tenant = t(&s);
            for kind in AgentKind::ALL {
                let role = tenant.role_name(kind);
                // IAM role names: 64 chars of [\w+=,.@-]; ECS family/service: 255 of [A-Za-z0-9_-].
                prop_assert!(role.len() <= 64, "role {role}");
                prop_assert!(role.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
                prop_assert!(tenant.policy_name(kind).len() <= 128);
                prop_assert!(tenant.log_group(kind).len() <= 512);
                prop_assert_eq!(parse_agent_resource_name(&role), Some((tenant.clone(), kind)));
                prop_assert_eq!(parse_log_group_name(&tenant.log_group(kind)), Some((tenant.clone(), kind)));
            }
            prop_assert_eq!(parse_s3_prefix(&tenant.s3_prefix()), Some(tenant.clone()));
            // Secrets Manager names: 512 chars of [A-Za-z0-9/_+=.@-].
            for integ in Integration::ALL {
                let name = tenant.oauth_secret_name(integ);
                prop_assert!(name.len() <= 512);
                prop_assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c)));
                prop_assert_eq!(parse_secret_name(&name), Some(tenant.clone()));
            }
            let legacy = DbName::legacy(&tenant);
            prop_assert!(sql_ident_ok(legacy.as_str()), "schema {}", legacy);
            prop_assert_eq!(DbName::parse(legacy.as_str()).map(|d| d.legacy_tenant()), Ok(Some(tenant.clone())));
        }

        #[test]
        fn two_tenants_never_collide(a in tenant_name(), b in tenant_name()) {
            prop_assume!(a != b);
            let (ta, tb) = (t(&a), t(&b));
            prop_assert_ne!(DbName::legacy(&ta), DbName::legacy(&tb));
            prop_assert_ne!(ta.secret_prefix(), tb.secret_prefix());
            prop_assert_ne!(ta.s3_prefix(), tb.s3_prefix());
            // No tenant's prefix is a prefix of another's: a prefix grant can never spill over.
            prop_assert!(!tb.secret_prefix().starts_with(&ta.secret_prefix()));
            prop_assert!(!tb.s3_prefix().starts_with(&ta.s3_prefix()));
            prop_assert!(!tb.log_group_prefix().starts_with(&ta.log_group_prefix()));
            for ka in AgentKind::ALL {
                for kb in AgentKind::ALL {
                    prop_assert_ne!(ta.role_name(ka), tb.role_name(kb));
                    prop_assert_ne!(ta.log_group(ka), tb.log_group(kb));
                }
            }
        }

        #[test]
        fn secret_pattern_matches_only_its_own_secret(a in tenant_name(), b in tenant_name(), suffix in "[A-Za-z0-9]{6}") {
            let ctx = ArnContext { partition: "aws".into(), region: "us-east-1".into(), account_id: "123456789012".into() };
            let (ta, tb) = (t(&a), t(&b));
            let pattern = ctx.secret_arn_pattern(&ta.db_secret_name());
            let own = format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{}-{suffix}", ta.db_secret_name());
            prop_assert!(crate::policy_match::arn_like(&pattern, &own));
            if a != b {
                let other = format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{}-{suffix}", tb.db_secret_name());
                prop_assert!(!crate::policy_match::arn_like(&pattern, &other));
            }
        }
    }
}
