//! An agent's ECS Fargate service `openclaw-T-<agent>` in the cell's cluster: private subnets, no
//! public IP, the deployment circuit breaker on, running the agent's current task definition.
//!
//! Owns: creating, updating, tagging and deleting the service. Must never: enable a public IP,
//! act on a service that is not ours, or pick its task definition itself (the engine passes the
//! ARN through `Links`).

use std::collections::BTreeSet;

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, DeploymentCircuitBreaker, DeploymentConfiguration,
    LaunchType, NetworkConfiguration, PropagateTags, ServiceField,
};
use crds::api::AgentKind;
use crds::naming::{TenantName, TenantRef};
use sha2::{Digest, Sha256};

use crate::aws::{AwsError, Clients};
use crate::config::CellConfig;
use crate::error::{ReconcileError, Result};
use crate::kind::Kind;
use crate::render::{DesiredAgent, DesiredTenant};
use crate::resources::{tags, Change, Links, ObservedTenant, Operation, Ownership, Tags, Verb};
use crate::throttle::Bucket;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create { kind: AgentKind },
    Update { kind: AgentKind },
    Tag { kind: AgentKind },
    Delete { kind: AgentKind },
}

impl Op {
    fn kind(&self) -> AgentKind {
        let (Op::Create { kind } | Op::Update { kind } | Op::Tag { kind } | Op::Delete { kind }) =
            self;
        *kind
    }
}

impl Operation for Op {
    fn resource(&self, tenant: &TenantRef) -> (Kind, String) {
        (Kind::EcsService, tenant.service_name(self.kind()))
    }

    fn verb(&self) -> Verb {
        match self {
            Op::Create { .. } => Verb::Create,
            Op::Update { .. } => Verb::Update,
            Op::Tag { .. } => Verb::Tag,
            Op::Delete { .. } => Verb::Delete,
        }
    }

    fn rank(&self) -> u8 {
        4
    }

    fn agent(&self) -> Option<AgentKind> {
        Some(self.kind())
    }
}

/// Plans one live agent's service (pure). `current_td` is the ARN of the task definition
/// revision whose content is the rendered one, or `None` when a new one is registered first.
pub fn diff(
    own: &Ownership<'_>,
    a: &DesiredAgent,
    observed: Option<&ObservedService>,
    current_td: Option<&str>,
) -> Result<Vec<Change<Op>>> {
    let kind = a.kind;
    let s = match observed {
        Some(s) if s.status != "INACTIVE" => s,
        _ => {
            return Ok(vec![Change::new(
                Op::Create { kind },
                "service missing",
                false,
            )])
        }
    };
    own.require_owned(Kind::EcsService, &a.service.name, &s.tags)?;
    if !s.is_active() {
        // DRAINING: ECS is still deleting it; act once it is gone.
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let mut reasons = Vec::new();
    let mut security = false;
    if s.public_ip {
        reasons.push("a public IP was enabled".to_owned());
        security = true;
    }
    match current_td {
        Some(arn) if arn == s.task_definition => {}
        Some(arn) => reasons.push(format!("runs {} instead of {arn}", s.task_definition)),
        None => reasons.push("a new task definition revision rolls out".to_owned()),
    }
    if s.desired_count != a.service.desired_count {
        reasons.push(format!(
            "desired count is {} instead of {}",
            s.desired_count, a.service.desired_count
        ));
    }
    let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<_>>();
    if set(&s.subnets) != set(&a.service.subnets)
        || set(&s.security_groups) != set(&a.service.security_groups)
    {
        reasons.push("network configuration differs".to_owned());
    }
    if !s.circuit_breaker {
        reasons.push("deployment circuit breaker is off".to_owned());
    }
    if !reasons.is_empty() {
        let before = serde_json::json!({
            "assignPublicIp": s.public_ip,
            "taskDefinition": s.task_definition,
            "desiredCount": s.desired_count,
            "subnets": set(&s.subnets),
            "securityGroups": set(&s.security_groups),
            "deploymentCircuitBreaker": s.circuit_breaker,
        });
        let after = serde_json::json!({
            "assignPublicIp": false,
            "taskDefinition": current_td.unwrap_or("(the new revision)"),
            "desiredCount": a.service.desired_count,
            "subnets": set(&a.service.subnets),
            "securityGroups": set(&a.service.security_groups),
            "deploymentCircuitBreaker": true,
        });
        out.push(
            Change::new(Op::Update { kind }, reasons.join("; "), security)
                .with_fields(crds::diff::fields("", &before, &after)),
        );
    }
    out.extend(tags::change(Op::Tag { kind }, &s.tags, &a.tags));
    Ok(out)
}

/// Plans the deletion of an agent's service, if it exists and is ours (pure).
pub fn teardown(
    own: &Ownership<'_>,
    kind: AgentKind,
    observed: Option<&ObservedService>,
    why: &str,
) -> Vec<Change<Op>> {
    match observed {
        Some(s) if s.status != "INACTIVE" && own.owned(Kind::EcsService, &s.name, &s.tags) => {
            vec![Change::new(Op::Delete { kind }, why, false)]
        }
        _ => Vec::new(),
    }
}

fn network(a: &DesiredAgent) -> Result<NetworkConfiguration> {
    Ok(NetworkConfiguration::builder()
        .awsvpc_configuration(
            AwsVpcConfiguration::builder()
                .set_subnets(Some(a.service.subnets.clone()))
                .set_security_groups(Some(a.service.security_groups.clone()))
                .assign_public_ip(AssignPublicIp::Disabled)
                .build()
                .map_err(|e| ReconcileError::unbuildable("network configuration", e))?,
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

pub async fn apply(
    c: &Clients,
    cell: &CellConfig,
    tenant: &TenantName,
    desired: Option<&DesiredTenant>,
    observed: &ObservedTenant,
    links: &Links,
    op: &Op,
) -> Result<Option<String>> {
    let agent = || {
        let kind = op.kind();
        desired
            .and_then(|d| d.agents.iter().find(|a| a.kind == kind))
            .ok_or_else(|| ReconcileError::Internal(format!("no rendered {kind} agent")))
    };
    let task_definition = |a: &DesiredAgent| {
        links
            .get(Kind::TaskDefinition, &a.task.family)
            .map(str::to_owned)
            .ok_or_else(|| ReconcileError::Internal(format!("no task definition for {}", a.kind)))
    };
    match op {
        Op::Create { .. } => {
            let a = agent()?;
            let td = task_definition(a)?;
            create(c, cell, a, &td).await.map(Some)
        }
        Op::Update { .. } => {
            let a = agent()?;
            let td = task_definition(a)?;
            c.throttle.acquire(Bucket::EcsServiceWrite).await;
            let r = c
                .ecs
                .update_service()
                .cluster(&cell.ecs_cluster)
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
        Op::Tag { .. } => {
            let a = agent()?;
            let arn = observed
                .services
                .get(&a.service.name)
                .map(|s| s.arn.clone())
                .unwrap_or_default();
            c.throttle.acquire(Bucket::EcsTag).await;
            c.ecs
                .tag_resource()
                .resource_arn(&arn)
                .set_tags(Some(tags::to_ecs(&a.tags)))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ECS", "TagResource", &e))?;
            Ok(Some(arn))
        }
        Op::Delete { kind } => {
            c.throttle.acquire(Bucket::EcsServiceWrite).await;
            match c
                .ecs
                .delete_service()
                .cluster(&cell.ecs_cluster)
                .service(tenant.service_name(*kind))
                .force(true)
                .send()
                .await
            {
                Ok(_) => Ok(None),
                // Gone (a retry of a delete that committed): done.
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

async fn create(
    c: &Clients,
    cell: &CellConfig,
    a: &DesiredAgent,
    task_definition: &str,
) -> Result<String> {
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
        .cluster(&cell.ecs_cluster)
        .service_name(&a.service.name)
        .task_definition(task_definition)
        .desired_count(a.service.desired_count)
        .launch_type(LaunchType::Fargate)
        .network_configuration(network(a)?)
        .deployment_configuration(deployment())
        .propagate_tags(PropagateTags::Service)
        .enable_ecs_managed_tags(true)
        .client_token(token)
        .set_tags(Some(tags::to_ecs(&a.tags)))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ECS", "CreateService", &e))?;
    Ok(r.service()
        .and_then(|s| s.service_arn())
        .unwrap_or_default()
        .to_owned())
}

pub fn from_sdk(s: &aws_sdk_ecs::types::Service) -> Option<ObservedService> {
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
        tags: tags::from_ecs(s.tags()),
    })
}

/// Describes services by name or ARN, ten per call (the API's page size), tags included.
pub async fn describe(
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
        out.extend(resp.services().iter().filter_map(from_sdk));
    }
    Ok(out)
}

/// Every OpenClaw-named service of the cluster that is not INACTIVE (the batched observation).
pub async fn list_ours(clients: &Clients, cluster: &str) -> Result<Vec<ObservedService>> {
    let mut arns = Vec::new();
    let mut token: Option<String> = None;
    loop {
        clients.throttle.acquire(Bucket::EcsRead).await;
        let r = clients
            .ecs
            .list_services()
            .cluster(cluster)
            .max_results(100)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ECS", "ListServices", &e))?;
        arns.extend(
            r.service_arns()
                .iter()
                .filter(|a| {
                    a.rsplit('/')
                        .next()
                        .is_some_and(|n| n.starts_with("openclaw-"))
                })
                .cloned(),
        );
        token = r.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    let mut out = describe(clients, cluster, &arns).await?;
    // The emulator lists deleted services; an INACTIVE one is as good as absent.
    out.retain(|s| s.status != "INACTIVE");
    Ok(out)
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    /// The service as it runs once `a` is converged on `task_definition`.
    pub fn converged(a: &DesiredAgent, task_definition: &str) -> ObservedService {
        ObservedService {
            name: a.service.name.clone(),
            arn: format!("arn:svc/{}", a.service.name),
            status: "ACTIVE".into(),
            task_definition: task_definition.into(),
            desired_count: a.service.desired_count,
            running_count: a.service.desired_count,
            subnets: a.service.subnets.clone(),
            security_groups: a.service.security_groups.clone(),
            public_ip: false,
            circuit_breaker: true,
            tags: a.tags.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::fixtures::{desired, lines};
    use crate::resources::Recorded;

    #[test]
    fn diff_table() {
        let d = desired();
        let a = &d.agents[0];
        let td = "arn:td/openclaw-acme-scout:1";
        let ok = fixtures::converged(a, td);
        let with = |f: &dyn Fn(&mut ObservedService)| {
            let mut s = ok.clone();
            f(&mut s);
            s
        };
        let update = "update ecs_service openclaw-acme-scout";
        // (case, observed, current task definition, expected lines, reason contains, security)
        type Case<'a> = (
            &'a str,
            Option<ObservedService>,
            Option<&'a str>,
            Vec<&'a str>,
            &'a str,
            bool,
        );
        let cases: Vec<Case<'_>> = vec![
            (
                "missing",
                None,
                Some(td),
                vec!["create ecs_service openclaw-acme-scout"],
                "service missing",
                false,
            ),
            (
                "INACTIVE is missing",
                Some(with(&|s| s.status = "INACTIVE".into())),
                Some(td),
                vec!["create ecs_service openclaw-acme-scout"],
                "",
                false,
            ),
            ("converged", Some(ok.clone()), Some(td), vec![], "", false),
            (
                "DRAINING waits",
                Some(with(&|s| s.status = "DRAINING".into())),
                None,
                vec![],
                "",
                false,
            ),
            (
                "new revision",
                Some(ok.clone()),
                None,
                vec![update],
                "a new task definition revision rolls out",
                false,
            ),
            (
                "runs another revision",
                Some(with(&|s| s.task_definition = "arn:td/other:9".into())),
                Some(td),
                vec![update],
                "runs arn:td/other:9 instead of",
                false,
            ),
            (
                "public IP",
                Some(with(&|s| s.public_ip = true)),
                Some(td),
                vec![update],
                "a public IP was enabled",
                true,
            ),
            (
                "scaled by hand",
                Some(with(&|s| s.desired_count = 3)),
                Some(td),
                vec![update],
                "desired count is 3 instead of 1",
                false,
            ),
            (
                "network changed",
                Some(with(&|s| s.security_groups = vec!["sg-open".into()])),
                Some(td),
                vec![update],
                "network configuration differs",
                false,
            ),
            (
                "circuit breaker off",
                Some(with(&|s| s.circuit_breaker = false)),
                Some(td),
                vec![update],
                "deployment circuit breaker is off",
                false,
            ),
            (
                "tags stripped but recorded",
                Some(with(&|s| s.tags.clear())),
                Some(td),
                vec!["tag ecs_service openclaw-acme-scout"],
                "tags missing",
                false,
            ),
        ];
        let recorded: Recorded = [("ecs_service".to_owned(), a.service.name.clone())].into();
        let own = Ownership {
            recorded: &recorded,
        };
        for (case, obs, current, expect, reason, security) in cases {
            let got = diff(&own, a, obs.as_ref(), current).expect(case);
            assert_eq!(lines(&got), expect, "{case}");
            assert!(
                got.iter().all(|c| c.reason.contains(reason)),
                "{case}: {got:?}"
            );
            assert!(got.iter().all(|c| c.security == security), "{case}");
        }
    }

    #[test]
    fn services_get_no_public_ip_and_a_rolling_back_circuit_breaker() {
        let d = desired();
        let a = &d.agents[0];
        let net = network(a).expect("network");
        let vpc = net.awsvpc_configuration().expect("awsvpc");
        assert_eq!(vpc.assign_public_ip(), Some(&AssignPublicIp::Disabled));
        assert_eq!(vpc.subnets(), a.service.subnets.as_slice());
        assert_eq!(vpc.security_groups(), a.service.security_groups.as_slice());
        let dep = deployment();
        let breaker = dep.deployment_circuit_breaker().expect("breaker");
        assert!(breaker.enable() && breaker.rollback());
        assert_eq!(dep.minimum_healthy_percent(), Some(100));
    }

    #[test]
    fn a_service_that_is_not_ours_is_left_alone() {
        let d = desired();
        let a = &d.agents[0];
        let mut foreign = fixtures::converged(a, "x");
        foreign.tags.clear();
        let recorded = Recorded::new();
        let own = Ownership {
            recorded: &recorded,
        };
        assert!(diff(&own, a, Some(&foreign), Some("x")).is_err());
        assert!(teardown(&own, a.kind, Some(&foreign), "agent deleted").is_empty());
        let mut gone = fixtures::converged(a, "x");
        gone.status = "INACTIVE".into();
        assert!(teardown(&own, a.kind, Some(&gone), "agent deleted").is_empty());
    }
}
