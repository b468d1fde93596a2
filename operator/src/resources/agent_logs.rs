//! The agents' CloudWatch log groups, `/openclaw/T/<agent>`: what the agents logged, which is the
//! tenant's data too. ECS creates them for the task definitions (`awslogs-create-group`); the
//! operator deletes them when the tenant is deleted, so nothing of it outlives the erasure.
//!
//! Owns: observing the tenant's log groups (teardown only) and deleting them. Must never: delete a
//! group outside `/openclaw/T/` of the tenant being torn down, or read a log event.

use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata;
use crds::naming::TenantRef;

use crate::aws::{AwsError, Clients};
use crate::error::{ReconcileError, Result};
use crate::kind::Kind;
use crate::resources::{Change, Operation, Verb};
use crate::throttle::Bucket;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Delete { name: String },
}

impl Operation for Op {
    fn resource(&self, _tenant: &TenantRef) -> (Kind, String) {
        let Op::Delete { name } = self;
        (Kind::LogGroup, name.clone())
    }

    fn verb(&self) -> Verb {
        Verb::Delete
    }

    /// After the services (rank 4) stopped writing.
    fn rank(&self) -> u8 {
        1
    }
}

/// Plans the deletion of every observed group (pure).
pub fn teardown(observed: &[String]) -> Vec<Change<Op>> {
    observed
        .iter()
        .map(|name| Change::new(Op::Delete { name: name.clone() }, "tenant deleted", false))
        .collect()
}

/// The tenant's log groups: every group under `/openclaw/T/`.
pub async fn observe(c: &Clients, tenant: &TenantRef) -> Result<Vec<String>> {
    let prefix = tenant.log_group_prefix();
    let mut token: Option<String> = None;
    let mut out = Vec::new();
    loop {
        c.throttle.acquire(Bucket::Logs).await;
        let r = c
            .logs
            .describe_log_groups()
            .log_group_name_prefix(&prefix)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CloudWatchLogs", "DescribeLogGroups", &e))?;
        out.extend(
            r.log_groups()
                .iter()
                .filter_map(|g| g.log_group_name())
                .filter(|n| n.starts_with(&prefix))
                .map(str::to_owned),
        );
        token = r.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    out.sort();
    Ok(out)
}

pub async fn apply(c: &Clients, tenant: &TenantRef, op: &Op) -> Result<()> {
    let Op::Delete { name } = op;
    let prefix = tenant.log_group_prefix();
    if !name.starts_with(&prefix) {
        return Err(ReconcileError::Internal(format!(
            "refusing to delete log group {name}: not under {prefix}"
        )));
    }
    c.throttle.acquire(Bucket::Logs).await;
    match c.logs.delete_log_group().log_group_name(name).send().await {
        Ok(_) => Ok(()),
        // Gone already: a retry after a delete that committed.
        Err(e)
            if e.as_service_error().and_then(|s| s.code()) == Some("ResourceNotFoundException") =>
        {
            Ok(())
        }
        Err(e) => Err(AwsError::from_sdk("CloudWatchLogs", "DeleteLogGroup", &e).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::fixtures::{lines, tenant};

    #[test]
    fn every_observed_group_of_the_tenant_is_deleted() {
        assert!(teardown(&[]).is_empty());
        let got = teardown(&[
            "/openclaw/acme/butler".into(),
            "/openclaw/acme/scout".into(),
        ]);
        assert_eq!(
            lines(&got),
            [
                "delete log_group /openclaw/acme/butler",
                "delete log_group /openclaw/acme/scout"
            ]
        );
    }

    #[tokio::test]
    async fn a_group_of_another_tenant_is_refused_before_any_call() {
        let clients = crate::resources::fixtures::clients().await;
        for other in [
            "/openclaw/acme-b/scout",
            "/openclaw/acmex",
            "/other/acme/scout",
        ] {
            let op = Op::Delete { name: other.into() };
            let err = apply(&clients, &tenant(), &op).await.expect_err(other);
            assert!(err.to_string().contains("refusing"), "{err}");
        }
        assert_eq!(clients.counter.snapshot(), (0, 0), "no call was made");
    }
}
