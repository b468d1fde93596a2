//! Apply: carry out a plan's actions against AWS and PostgreSQL, in order, idempotently, and
//! record each one (inventory, audit log, metrics).
//!
//! Owns: the write calls. Every action tolerates having been done already: deterministic names,
//! client tokens where the API takes one, and "already exists" read back and verified.
//! Must never: read an OAuth secret's value, or put a secret into a log, an error or the audit log.

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, Compatibility, ContainerDefinition,
    DeploymentCircuitBreaker, DeploymentConfiguration, KernelCapabilities, KeyValuePair,
    LaunchType, LinuxParameters, LogConfiguration, LogDriver, NetworkConfiguration, NetworkMode,
    PropagateTags, TaskDefinitionStatus,
};
use crds::api::AgentKind;
use crds::naming::TenantName;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::aws::{AwsError, Clients};
use crate::config::CellConfig;
use crate::diff::{Action, Planned};
use crate::error::{ReconcileError, Result};
use crate::kind::Kind;
use crate::observe::{ObservedTenant, TAG_SPEC_HASH};
use crate::pg_tenant;
use crate::render::{DbEndpoint, DesiredAgent, DesiredTenant};
use crate::store::{self, AuditEntry};
use crate::throttle::Bucket;

/// What `execute` needs besides the plan.
pub struct Env<'a> {
    pub clients: &'a Clients,
    pub pool: &'a PgPool,
    pub cell: &'a CellConfig,
    pub db: &'a DbEndpoint,
    pub actor: &'a str,
    pub metrics: &'a crate::metrics::Metrics,
    pub td_cache: &'a crate::inventory::TaskDefinitionCache,
}

fn build_err(what: &str, e: impl std::fmt::Display) -> ReconcileError {
    ReconcileError::Internal(format!("cannot build {what} request: {e}"))
}

fn agent(desired: Option<&DesiredTenant>, kind: AgentKind) -> Result<&DesiredAgent> {
    desired
        .and_then(|d| d.agents.iter().find(|a| a.kind == kind))
        .ok_or_else(|| ReconcileError::Internal(format!("no rendered {kind} agent")))
}

fn iam_tags(tags: &BTreeMap<String, String>) -> Result<Vec<aws_sdk_iam::types::Tag>> {
    tags.iter()
        .map(|(k, v)| {
            aws_sdk_iam::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| build_err("IAM tag", e))
        })
        .collect()
}

fn ecs_tags(tags: &BTreeMap<String, String>) -> Vec<aws_sdk_ecs::types::Tag> {
    tags.iter()
        .map(|(k, v)| aws_sdk_ecs::types::Tag::builder().key(k).value(v).build())
        .collect()
}

fn sm_tags(tags: &BTreeMap<String, String>) -> Vec<aws_sdk_secretsmanager::types::Tag> {
    tags.iter()
        .map(|(k, v)| {
            aws_sdk_secretsmanager::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
        })
        .collect()
}

/// Carries out `actions` in order. `observed` supplies ARNs of existing resources. Returns the
/// number of actions applied; stops at the first error.
pub async fn execute(
    env: &Env<'_>,
    tenant: &TenantName,
    desired: Option<&DesiredTenant>,
    observed: &ObservedTenant,
    actions: &[Planned],
    drift: bool,
) -> Result<usize> {
    // Task definition ARNs to run: the observed ones whose content matches, replaced as new
    // revisions are registered in this pass.
    let mut task_arns: BTreeMap<AgentKind, String> = BTreeMap::new();
    if let Some(d) = desired {
        for a in &d.agents {
            if let Some(td) = observed.task_definitions.get(&a.task.family) {
                if td.spec_hash() == Some(a.task.hash().as_str()) {
                    task_arns.insert(a.kind, td.arn.clone());
                }
            }
        }
    }
    let mut done = 0;
    for p in actions {
        let (kind, name) = p.action.resource(tenant);
        let result = apply_one(env, tenant, desired, observed, &mut task_arns, &p.action).await;
        match result {
            Ok(arn) => {
                record(env, tenant, p, kind.as_str(), &name, arn, drift).await?;
                env.metrics
                    .actions
                    .with_label_values(&[kind.as_str(), p.action.verb()])
                    .inc();
                if drift {
                    env.metrics.record_repair(kind, p.security);
                }
                done += 1;
            }
            Err(e) => {
                let mut conn = env.pool.acquire().await.map_err(store::StoreError::from)?;
                store::note_resource_error(
                    &mut conn,
                    tenant.as_str(),
                    kind.as_str(),
                    &name,
                    &e.to_string(),
                )
                .await?;
                return Err(e);
            }
        }
    }
    Ok(done)
}

/// Inventory and audit log for one applied action.
async fn record(
    env: &Env<'_>,
    tenant: &TenantName,
    p: &Planned,
    kind: &str,
    name: &str,
    arn: Option<String>,
    drift: bool,
) -> Result<()> {
    let mut tx = env.pool.begin().await.map_err(store::StoreError::from)?;
    let agent = match &p.action {
        Action::CreateRole { kind }
        | Action::UpdateTrustPolicy { kind }
        | Action::PutBoundary { kind }
        | Action::PutInlinePolicy { kind }
        | Action::TagRole { kind }
        | Action::RegisterTaskDefinition { kind }
        | Action::CreateService { kind }
        | Action::UpdateService { kind }
        | Action::TagService { kind } => Some(kind.as_str()),
        _ => None,
    };
    match p.action.verb() {
        "delete" | "deregister" => {
            store::forget_resource(&mut tx, kind, name).await?;
            if matches!(p.action, Action::DeleteRole { .. }) {
                store::forget_resource(&mut tx, Kind::IamInlinePolicy.as_str(), name).await?;
            }
            if matches!(p.action, Action::DropPg) {
                store::forget_resource(&mut tx, Kind::PgSchema.as_str(), &tenant.pg_schema())
                    .await?;
            }
        }
        _ => {
            let repair = p.security || matches!(p.action.verb(), "restore" | "tag" | "revoke");
            store::remember_resource(
                &mut tx,
                tenant.as_str(),
                agent,
                kind,
                name,
                arn.as_deref(),
                repair,
            )
            .await?;
        }
    }
    store::append_audit(
        &mut tx,
        &AuditEntry {
            tenant: Some(tenant.as_str()),
            actor: env.actor,
            action: p.action.verb(),
            resource_kind: Some(kind),
            resource_name: Some(name),
            detail: serde_json::json!({"reason": p.reason, "security": p.security, "drift": drift}),
        },
    )
    .await?;
    tx.commit().await.map_err(store::StoreError::from)?;
    Ok(())
}

/// One action; returns the resource's ARN when the call reveals it.
async fn apply_one(
    env: &Env<'_>,
    tenant: &TenantName,
    desired: Option<&DesiredTenant>,
    observed: &ObservedTenant,
    task_arns: &mut BTreeMap<AgentKind, String>,
    action: &Action,
) -> Result<Option<String>> {
    let c = env.clients;
    match action {
        Action::Pg(step) => {
            pg_tenant::apply_step(env.pool, tenant, step).await?;
            Ok(None)
        }
        Action::DropPg => {
            pg_tenant::drop_all(env.pool, tenant).await?;
            Ok(None)
        }
        Action::SetDbPassword { create_secret } => {
            set_db_password(env, tenant, desired, *create_secret).await
        }
        Action::CreateSecret { name } => {
            let d = desired
                .and_then(|d| d.secrets.iter().find(|s| &s.name == name))
                .ok_or_else(|| ReconcileError::Internal(format!("no rendered secret {name}")))?;
            c.throttle.acquire(Bucket::SecretsWrite).await;
            // No value: the consent flow writes the grant; the operator never does.
            match c
                .secrets
                .create_secret()
                .name(name)
                .description(&d.description)
                .set_tags(Some(sm_tags(&d.tags)))
                .send()
                .await
            {
                Ok(r) => Ok(r.arn().map(str::to_owned)),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_exists_exception()) =>
                {
                    verify_secret_ours(c, name).await
                }
                Err(e) => Err(AwsError::from_sdk("SecretsManager", "CreateSecret", &e).into()),
            }
        }
        Action::RestoreSecret { name } => {
            c.throttle.acquire(Bucket::SecretsWrite).await;
            let r = c
                .secrets
                .restore_secret()
                .secret_id(name)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("SecretsManager", "RestoreSecret", &e))?;
            Ok(r.arn().map(str::to_owned))
        }
        Action::TagSecret { name } => {
            let tags = desired.map(|d| d.tags.clone()).unwrap_or_default();
            c.throttle.acquire(Bucket::SecretsWrite).await;
            c.secrets
                .tag_resource()
                .secret_id(name)
                .set_tags(Some(sm_tags(&tags)))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("SecretsManager", "TagResource", &e))?;
            Ok(observed.secrets.get(name).map(|s| s.arn.clone()))
        }
        Action::DeleteSecret { name } => {
            c.throttle.acquire(Bucket::SecretsWrite).await;
            match c
                .secrets
                .delete_secret()
                .secret_id(name)
                .force_delete_without_recovery(true)
                .send()
                .await
            {
                Ok(_) => Ok(None),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_not_found_exception()) =>
                {
                    Ok(None)
                }
                Err(e) => Err(AwsError::from_sdk("SecretsManager", "DeleteSecret", &e).into()),
            }
        }
        Action::CreateRole { kind } => {
            let a = agent(desired, *kind)?;
            c.throttle.acquire(Bucket::Iam).await;
            match c
                .iam
                .create_role()
                .role_name(&a.role_name)
                .path(crds::naming::TENANT_ROLE_PATH)
                .assume_role_policy_document(a.trust_policy.to_string())
                .permissions_boundary(&a.boundary_arn)
                .description(format!("OpenClaw {} agent of tenant {tenant}", a.kind))
                .set_tags(Some(iam_tags(&a.tags)?))
                .send()
                .await
            {
                Ok(r) => Ok(r.role().map(|r| r.arn().to_owned())),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_entity_already_exists_exception()) =>
                {
                    // Created by an earlier pass that died before recording it: verify it is ours.
                    match crate::observe::get_role(c, &a.role_name).await? {
                        Some(r)
                            if r.tags.get(crds::naming::TAG_MANAGED_BY).map(String::as_str)
                                == Some(crds::naming::MANAGED_BY_VALUE) =>
                        {
                            Ok(Some(r.arn))
                        }
                        _ => Err(ReconcileError::Conflict {
                            resource: format!("iam_role {}", a.role_name),
                            tag: crds::naming::TAG_MANAGED_BY,
                        }),
                    }
                }
                Err(e) => Err(AwsError::from_sdk("IAM", "CreateRole", &e).into()),
            }
        }
        Action::UpdateTrustPolicy { kind } => {
            let a = agent(desired, *kind)?;
            c.throttle.acquire(Bucket::Iam).await;
            c.iam
                .update_assume_role_policy()
                .role_name(&a.role_name)
                .policy_document(a.trust_policy.to_string())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("IAM", "UpdateAssumeRolePolicy", &e))?;
            Ok(Some(a.role_arn.clone()))
        }
        Action::PutBoundary { kind } => {
            let a = agent(desired, *kind)?;
            c.throttle.acquire(Bucket::Iam).await;
            c.iam
                .put_role_permissions_boundary()
                .role_name(&a.role_name)
                .permissions_boundary(&a.boundary_arn)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("IAM", "PutRolePermissionsBoundary", &e))?;
            Ok(Some(a.role_arn.clone()))
        }
        Action::PutInlinePolicy { kind } => {
            let a = agent(desired, *kind)?;
            c.throttle.acquire(Bucket::Iam).await;
            c.iam
                .put_role_policy()
                .role_name(&a.role_name)
                .policy_name(&a.inline_policy_name)
                .policy_document(a.inline_policy.to_string())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("IAM", "PutRolePolicy", &e))?;
            Ok(None)
        }
        Action::DeleteForeignInlinePolicy { kind, policy } => {
            c.throttle.acquire(Bucket::Iam).await;
            c.iam
                .delete_role_policy()
                .role_name(tenant.role_name(*kind))
                .policy_name(policy)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("IAM", "DeleteRolePolicy", &e))?;
            Ok(None)
        }
        Action::DetachPolicy { kind, arn } => {
            c.throttle.acquire(Bucket::Iam).await;
            c.iam
                .detach_role_policy()
                .role_name(tenant.role_name(*kind))
                .policy_arn(arn)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("IAM", "DetachRolePolicy", &e))?;
            Ok(None)
        }
        Action::TagRole { kind } => {
            let a = agent(desired, *kind)?;
            c.throttle.acquire(Bucket::Iam).await;
            c.iam
                .tag_role()
                .role_name(&a.role_name)
                .set_tags(Some(iam_tags(&a.tags)?))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("IAM", "TagRole", &e))?;
            Ok(Some(a.role_arn.clone()))
        }
        Action::DeleteRole { name } => delete_role(c, name).await,
        Action::RegisterTaskDefinition { kind } => {
            let a = agent(desired, *kind)?;
            let (arn, revision) = register_task_definition(c, a).await?;
            let mut tags = a.tags.clone();
            tags.insert(TAG_SPEC_HASH.to_owned(), a.task.hash());
            env.td_cache.insert(crate::observe::ObservedTaskDefinition {
                arn: arn.clone(),
                family: a.task.family.clone(),
                revision,
                tags,
            });
            task_arns.insert(*kind, arn.clone());
            Ok(Some(arn))
        }
        Action::DeregisterTaskDefinitions { family } => {
            deregister_family(c, family).await?;
            Ok(None)
        }
        Action::CreateService { kind } => {
            let a = agent(desired, *kind)?;
            let td = task_arns.get(kind).cloned().ok_or_else(|| {
                ReconcileError::Internal(format!("no task definition for {kind}"))
            })?;
            create_service(env, a, &td).await.map(Some)
        }
        Action::UpdateService { kind } => {
            let a = agent(desired, *kind)?;
            let td = task_arns.get(kind).cloned().ok_or_else(|| {
                ReconcileError::Internal(format!("no task definition for {kind}"))
            })?;
            c.throttle.acquire(Bucket::EcsServiceWrite).await;
            let r = c
                .ecs
                .update_service()
                .cluster(&env.cell.ecs_cluster)
                .service(&a.service.name)
                .task_definition(td)
                .desired_count(a.service.desired_count)
                .network_configuration(network(a)?)
                .deployment_configuration(deployment())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ECS", "UpdateService", &e))?;
            Ok(r.service().and_then(|s| s.service_arn()).map(str::to_owned))
        }
        Action::TagService { kind } => {
            let a = agent(desired, *kind)?;
            let arn = observed
                .services
                .get(&a.service.name)
                .map(|s| s.arn.clone())
                .unwrap_or_default();
            c.throttle.acquire(Bucket::EcsTag).await;
            c.ecs
                .tag_resource()
                .resource_arn(&arn)
                .set_tags(Some(ecs_tags(&a.tags)))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ECS", "TagResource", &e))?;
            Ok(Some(arn))
        }
        Action::DeleteService { name } => {
            c.throttle.acquire(Bucket::EcsServiceWrite).await;
            match c
                .ecs
                .delete_service()
                .cluster(&env.cell.ecs_cluster)
                .service(name)
                .force(true)
                .send()
                .await
            {
                Ok(_) => Ok(None),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_service_not_found_exception()) =>
                {
                    Ok(None)
                }
                Err(e) => Err(AwsError::from_sdk("ECS", "DeleteService", &e).into()),
            }
        }
    }
}

/// Generates a password, sets it on the role (as a SCRAM verifier), then stores it. Role first:
/// a crash in between leaves a secret that is re-written on the next pass, never a secret that
/// does not work.
async fn set_db_password(
    env: &Env<'_>,
    tenant: &TenantName,
    desired: Option<&DesiredTenant>,
    create: bool,
) -> Result<Option<String>> {
    let c = env.clients;
    let d = desired
        .and_then(|d| {
            d.secrets
                .iter()
                .find(|s| s.purpose == crate::render::SecretPurpose::Database)
        })
        .ok_or_else(|| ReconcileError::Internal("no rendered database secret".into()))?;
    let password = pg_tenant::generate_password();
    pg_tenant::set_password(env.pool, tenant, &password).await?;
    let value = serde_json::json!({
        "engine": "postgres",
        "host": env.db.host,
        "port": env.db.port,
        "dbname": env.db.dbname,
        "username": tenant.pg_role(),
        "password": password,
    })
    .to_string();
    c.throttle.acquire(Bucket::SecretsWrite).await;
    if create {
        match c
            .secrets
            .create_secret()
            .name(&d.name)
            .description(&d.description)
            .secret_string(&value)
            .set_tags(Some(sm_tags(&d.tags)))
            .send()
            .await
        {
            Ok(r) => return Ok(r.arn().map(str::to_owned)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_exists_exception()) =>
            {
                verify_secret_ours(c, &d.name).await?;
            }
            Err(e) => return Err(AwsError::from_sdk("SecretsManager", "CreateSecret", &e).into()),
        }
    }
    let r = c
        .secrets
        .put_secret_value()
        .secret_id(&d.name)
        .secret_string(&value)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("SecretsManager", "PutSecretValue", &e))?;
    Ok(r.arn().map(str::to_owned))
}

async fn verify_secret_ours(c: &Clients, name: &str) -> Result<Option<String>> {
    c.throttle.acquire(Bucket::SecretsRead).await;
    let d = c
        .secrets
        .describe_secret()
        .secret_id(name)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("SecretsManager", "DescribeSecret", &e))?;
    let ours = d.tags().iter().any(|t| {
        t.key() == Some(crds::naming::TAG_MANAGED_BY)
            && t.value() == Some(crds::naming::MANAGED_BY_VALUE)
    });
    if ours {
        Ok(d.arn().map(str::to_owned))
    } else {
        Err(ReconcileError::Conflict {
            resource: format!("secret {name}"),
            tag: crds::naming::TAG_MANAGED_BY,
        })
    }
}

async fn delete_role(c: &Clients, name: &str) -> Result<Option<String>> {
    // Gone already: nothing to do (a retried teardown).
    if let Some((policies, attached)) = crate::observe::role_policy_names(c, name).await? {
        for p in policies {
            c.throttle.acquire(Bucket::Iam).await;
            c.iam
                .delete_role_policy()
                .role_name(name)
                .policy_name(p)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("IAM", "DeleteRolePolicy", &e))?;
        }
        for arn in attached {
            c.throttle.acquire(Bucket::Iam).await;
            c.iam
                .detach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("IAM", "DetachRolePolicy", &e))?;
        }
    } else {
        return Ok(None);
    }
    c.throttle.acquire(Bucket::Iam).await;
    match c.iam.delete_role().role_name(name).send().await {
        Ok(_) => Ok(None),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(AwsError::from_sdk("IAM", "DeleteRole", &e).into()),
    }
}

async fn register_task_definition(c: &Clients, a: &DesiredAgent) -> Result<(String, i32)> {
    let t = &a.task;
    let log = LogConfiguration::builder()
        .log_driver(LogDriver::Awslogs)
        .options("awslogs-group", &t.log_group)
        .options("awslogs-region", &t.region)
        .options("awslogs-stream-prefix", "agent")
        .options("awslogs-create-group", "true")
        .build()
        .map_err(|e| build_err("log configuration", e))?;
    let container = ContainerDefinition::builder()
        .name("agent")
        .image(&t.image)
        .essential(true)
        .set_environment(Some(
            t.environment
                .iter()
                .map(|(k, v)| KeyValuePair::builder().name(k).value(v).build())
                .collect(),
        ))
        .log_configuration(log)
        .readonly_root_filesystem(true)
        .user("10001:10001")
        .privileged(false)
        .linux_parameters(
            LinuxParameters::builder()
                .capabilities(KernelCapabilities::builder().drop("ALL").build())
                .init_process_enabled(true)
                .build(),
        )
        .build();
    let mut tags = a.tags.clone();
    tags.insert(TAG_SPEC_HASH.to_owned(), t.hash());
    c.throttle.acquire(Bucket::EcsTaskDefinitionWrite).await;
    let r = c
        .ecs
        .register_task_definition()
        .family(&t.family)
        .network_mode(NetworkMode::Awsvpc)
        .requires_compatibilities(Compatibility::Fargate)
        .cpu(&t.cpu)
        .memory(&t.memory)
        .task_role_arn(&t.task_role_arn)
        .execution_role_arn(&t.execution_role_arn)
        .container_definitions(container)
        .set_tags(Some(ecs_tags(&tags)))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ECS", "RegisterTaskDefinition", &e))?;
    r.task_definition()
        .and_then(|td| Some((td.task_definition_arn()?.to_owned(), td.revision())))
        .ok_or_else(|| ReconcileError::Internal("RegisterTaskDefinition returned no ARN".into()))
}

async fn deregister_family(c: &Clients, family: &str) -> Result<()> {
    let mut token: Option<String> = None;
    let mut arns = Vec::new();
    loop {
        c.throttle.acquire(Bucket::EcsRead).await;
        let r = c
            .ecs
            .list_task_definitions()
            .family_prefix(family)
            .status(TaskDefinitionStatus::Active)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ECS", "ListTaskDefinitions", &e))?;
        // The filter is a prefix: keep this family's revisions only.
        arns.extend(
            r.task_definition_arns()
                .iter()
                .filter(|a| {
                    a.rsplit_once('/')
                        .and_then(|(_, fr)| fr.rsplit_once(':'))
                        .is_some_and(|(f, _)| f == family)
                })
                .cloned(),
        );
        token = r.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    for arn in arns {
        c.throttle.acquire(Bucket::EcsTaskDefinitionWrite).await;
        c.ecs
            .deregister_task_definition()
            .task_definition(&arn)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ECS", "DeregisterTaskDefinition", &e))?;
    }
    Ok(())
}

fn network(a: &DesiredAgent) -> Result<NetworkConfiguration> {
    Ok(NetworkConfiguration::builder()
        .awsvpc_configuration(
            AwsVpcConfiguration::builder()
                .set_subnets(Some(a.service.subnets.clone()))
                .set_security_groups(Some(a.service.security_groups.clone()))
                .assign_public_ip(AssignPublicIp::Disabled)
                .build()
                .map_err(|e| build_err("network configuration", e))?,
        )
        .build())
}

fn deployment() -> DeploymentConfiguration {
    DeploymentConfiguration::builder()
        .deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder()
                .enable(true)
                .rollback(true)
                .build(),
        )
        .maximum_percent(200)
        .minimum_healthy_percent(100)
        .build()
}

async fn create_service(env: &Env<'_>, a: &DesiredAgent, task_definition: &str) -> Result<String> {
    let c = env.clients;
    // Same service and revision → same token: a retried create is idempotent in ECS.
    let token = hex::encode(Sha256::digest(format!(
        "{}|{task_definition}",
        a.service.name
    )))[..32]
        .to_owned();
    c.throttle.acquire(Bucket::EcsServiceWrite).await;
    let r = c
        .ecs
        .create_service()
        .cluster(&env.cell.ecs_cluster)
        .service_name(&a.service.name)
        .task_definition(task_definition)
        .desired_count(a.service.desired_count)
        .launch_type(LaunchType::Fargate)
        .network_configuration(network(a)?)
        .deployment_configuration(deployment())
        .propagate_tags(PropagateTags::Service)
        .enable_ecs_managed_tags(true)
        .client_token(token)
        .set_tags(Some(ecs_tags(&a.tags)))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ECS", "CreateService", &e))?;
    Ok(r.service()
        .and_then(|s| s.service_arn())
        .unwrap_or_default()
        .to_owned())
}
