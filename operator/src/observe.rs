//! Observe: read what exists for one tenant, with targeted reads (the resync builds the same
//! structures from batched inventory reads).
//!
//! Owns: turning AWS and catalog answers into `Observed*` values. Must never: write anything,
//! or read a secret's value.

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{ServiceField, TaskDefinitionField};
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType};
use crds::api::AgentKind;
use crds::naming::TenantName;
use serde_json::Value;

use crate::aws::{AwsError, Clients};
use crate::config::CellConfig;
use crate::error::Result;
use crate::pg_tenant::{self, ObservedPg};
use crate::policy;
use crate::throttle::Bucket;

/// The tag that records a task definition's rendered content hash.
pub const TAG_SPEC_HASH: &str = "openclaw:spec-hash";

pub type Tags = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq)]
pub struct ObservedSecret {
    pub name: String,
    pub arn: String,
    /// Scheduled for deletion (restorable).
    pub scheduled_for_deletion: bool,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ObservedRole {
    pub name: String,
    pub arn: String,
    pub path: String,
    pub boundary_arn: Option<String>,
    pub trust_policy: Option<Value>,
    pub tags: Tags,
    /// Inline policies by name, decoded.
    pub inline_policies: BTreeMap<String, Option<Value>>,
    /// Managed policies attached to the role (we attach none).
    pub attached_policies: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ObservedTaskDefinition {
    pub arn: String,
    pub family: String,
    pub revision: i32,
    pub tags: Tags,
}

impl ObservedTaskDefinition {
    pub fn spec_hash(&self) -> Option<&str> {
        self.tags.get(TAG_SPEC_HASH).map(String::as_str)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ObservedService {
    pub name: String,
    pub arn: String,
    /// ACTIVE, DRAINING or INACTIVE.
    pub status: String,
    pub task_definition: String,
    pub desired_count: i32,
    pub running_count: i32,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub public_ip: bool,
    pub circuit_breaker: bool,
    pub tags: Tags,
}

impl ObservedService {
    pub fn is_active(&self) -> bool {
        self.status == "ACTIVE"
    }
}

/// Everything that exists for one tenant, keyed by resource name (task definitions by family).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObservedTenant {
    pub secrets: BTreeMap<String, ObservedSecret>,
    pub roles: BTreeMap<String, ObservedRole>,
    pub task_definitions: BTreeMap<String, ObservedTaskDefinition>,
    pub services: BTreeMap<String, ObservedService>,
    pub pg: ObservedPg,
}

fn sm_tags(tags: &[aws_sdk_secretsmanager::types::Tag]) -> Tags {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
        .collect()
}

fn ecs_tags(tags: &[aws_sdk_ecs::types::Tag]) -> Tags {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
        .collect()
}

fn iam_tags(tags: &[aws_sdk_iam::types::Tag]) -> Tags {
    tags.iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect()
}

/// Secrets whose names start with `prefix`, including those scheduled for deletion.
pub async fn list_secrets(clients: &Clients, prefix: &str) -> Result<Vec<ObservedSecret>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        clients.throttle.acquire(Bucket::SecretsRead).await;
        let resp = clients
            .secrets
            .list_secrets()
            .filters(
                Filter::builder()
                    .key(FilterNameStringType::Name)
                    .values(prefix)
                    .build(),
            )
            .include_planned_deletion(true)
            .max_results(100)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("SecretsManager", "ListSecrets", &e))?;
        for s in resp.secret_list() {
            let (Some(name), Some(arn)) = (s.name(), s.arn()) else {
                continue;
            };
            // The filter is a prefix match; keep exact children of the prefix only.
            if !name.starts_with(prefix) {
                continue;
            }
            out.push(ObservedSecret {
                name: name.to_owned(),
                arn: arn.to_owned(),
                scheduled_for_deletion: s.deleted_date().is_some(),
                tags: sm_tags(s.tags()),
            });
        }
        token = resp.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}

/// One role with its inline and attached policies; `None` if it does not exist.
pub async fn get_role(clients: &Clients, name: &str) -> Result<Option<ObservedRole>> {
    clients.throttle.acquire(Bucket::Iam).await;
    let resp = match clients.iam.get_role().role_name(name).send().await {
        Ok(r) => r,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(AwsError::from_sdk("IAM", "GetRole", &e).into()),
    };
    let Some(role) = resp.role() else {
        return Ok(None);
    };
    let mut observed = ObservedRole {
        name: role.role_name().to_owned(),
        arn: role.arn().to_owned(),
        path: role.path().to_owned(),
        boundary_arn: role
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn())
            .map(str::to_owned),
        trust_policy: role
            .assume_role_policy_document()
            .and_then(policy::decode_document),
        tags: iam_tags(role.tags()),
        inline_policies: BTreeMap::new(),
        attached_policies: Vec::new(),
    };
    // Deleted between the two reads: as good as absent.
    let Some((names, attached)) = role_policy_names(clients, name).await? else {
        return Ok(None);
    };
    for pname in names {
        clients.throttle.acquire(Bucket::Iam).await;
        let doc = clients
            .iam
            .get_role_policy()
            .role_name(name)
            .policy_name(&pname)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("IAM", "GetRolePolicy", &e))?;
        observed
            .inline_policies
            .insert(pname, policy::decode_document(doc.policy_document()));
    }
    observed.attached_policies = attached;
    Ok(Some(observed))
}

/// A role's inline policy names and attached managed policy ARNs; `None` if it does not exist.
pub async fn role_policy_names(
    clients: &Clients,
    name: &str,
) -> Result<Option<(Vec<String>, Vec<String>)>> {
    clients.throttle.acquire(Bucket::Iam).await;
    let names = match clients
        .iam
        .list_role_policies()
        .role_name(name)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(AwsError::from_sdk("IAM", "ListRolePolicies", &e).into()),
    };
    clients.throttle.acquire(Bucket::Iam).await;
    let attached = clients
        .iam
        .list_attached_role_policies()
        .role_name(name)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("IAM", "ListAttachedRolePolicies", &e))?;
    Ok(Some((
        names.policy_names().to_vec(),
        attached
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_owned))
            .collect(),
    )))
}

/// The latest ACTIVE revision of a family, with its tags; `None` if the family has none.
pub async fn latest_task_definition(
    clients: &Clients,
    family: &str,
) -> Result<Option<ObservedTaskDefinition>> {
    clients.throttle.acquire(Bucket::EcsRead).await;
    let resp = match clients
        .ecs
        .describe_task_definition()
        .task_definition(family)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
    {
        Ok(r) => r,
        // ECS answers a missing family with a ClientException.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_client_exception()) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(AwsError::from_sdk("ECS", "DescribeTaskDefinition", &e).into()),
    };
    let Some(td) = resp.task_definition() else {
        return Ok(None);
    };
    if td.status().is_some_and(|s| s.as_str() != "ACTIVE") {
        return Ok(None);
    }
    Ok(Some(ObservedTaskDefinition {
        arn: td.task_definition_arn().unwrap_or_default().to_owned(),
        family: td.family().unwrap_or_default().to_owned(),
        revision: td.revision(),
        tags: ecs_tags(resp.tags()),
    }))
}

pub fn service_from(s: &aws_sdk_ecs::types::Service) -> Option<ObservedService> {
    let net = s
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration());
    Some(ObservedService {
        name: s.service_name()?.to_owned(),
        arn: s.service_arn().unwrap_or_default().to_owned(),
        status: s.status().unwrap_or_default().to_owned(),
        task_definition: s.task_definition().unwrap_or_default().to_owned(),
        desired_count: s.desired_count(),
        running_count: s.running_count(),
        subnets: net.map(|n| n.subnets().to_vec()).unwrap_or_default(),
        security_groups: net
            .map(|n| n.security_groups().to_vec())
            .unwrap_or_default(),
        public_ip: net
            .and_then(|n| n.assign_public_ip())
            .is_some_and(|a| a.as_str() == "ENABLED"),
        circuit_breaker: s
            .deployment_configuration()
            .and_then(|d| d.deployment_circuit_breaker())
            .is_some_and(|c| c.enable() && c.rollback()),
        tags: ecs_tags(s.tags()),
    })
}

/// Describes services by name, ten per call (the API's page size), tags included.
pub async fn describe_services(
    clients: &Clients,
    cluster: &str,
    names: &[String],
) -> Result<Vec<ObservedService>> {
    let mut out = Vec::new();
    for chunk in names.chunks(10) {
        clients.throttle.acquire(Bucket::EcsRead).await;
        let resp = clients
            .ecs
            .describe_services()
            .cluster(cluster)
            .set_services(Some(chunk.to_vec()))
            .include(ServiceField::Tags)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ECS", "DescribeServices", &e))?;
        out.extend(resp.services().iter().filter_map(service_from));
    }
    Ok(out)
}

/// Targeted observation of one tenant: every kind of agent is looked at, so that strays and
/// agents being torn down are seen too.
pub async fn observe_tenant(
    clients: &Clients,
    pool: &sqlx::PgPool,
    cell: &CellConfig,
    tenant: &TenantName,
) -> Result<ObservedTenant> {
    let mut observed = ObservedTenant::default();
    for s in list_secrets(clients, &tenant.secret_prefix()).await? {
        observed.secrets.insert(s.name.clone(), s);
    }
    let mut service_names = Vec::new();
    for kind in AgentKind::ALL {
        if let Some(role) = get_role(clients, &tenant.role_name(kind)).await? {
            observed.roles.insert(role.name.clone(), role);
        }
        if let Some(td) = latest_task_definition(clients, &tenant.task_family(kind)).await? {
            observed
                .task_definitions
                .insert(tenant.task_family(kind), td);
        }
        service_names.push(tenant.service_name(kind));
    }
    for s in describe_services(clients, &cell.ecs_cluster, &service_names).await? {
        observed.services.insert(s.name.clone(), s);
    }
    observed.pg = pg_tenant::observe(pool, tenant).await?;
    Ok(observed)
}
