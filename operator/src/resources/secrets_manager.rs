//! Secrets Manager calls both secret kinds share (not a kind itself): listing with tags, and the
//! restore, tag and delete writes, each tolerant of having been done already.
//!
//! Owns: the shape of an observed secret. Must never: read a secret's value.

use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType};

use crate::aws::{AwsError, Clients};
use crate::error::{ReconcileError, Result};
use crate::resources::{tags, Tags};
use crate::throttle::Bucket;

#[derive(Debug, Clone, PartialEq)]
pub struct ObservedSecret {
    pub name: String,
    pub arn: String,
    /// Scheduled for deletion (restorable).
    pub scheduled_for_deletion: bool,
    pub tags: Tags,
}

/// Secrets whose names start with `prefix`, including those scheduled for deletion.
pub async fn list(clients: &Clients, prefix: &str) -> Result<Vec<ObservedSecret>> {
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
                tags: tags::from_secrets_manager(s.tags()),
            });
        }
        token = resp.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}

/// After "already exists": the ARN if the secret carries our tag, else a conflict.
pub async fn verify_ours(c: &Clients, name: &str) -> Result<Option<String>> {
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

pub async fn restore(c: &Clients, name: &str) -> Result<Option<String>> {
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

pub async fn tag(c: &Clients, name: &str, tags: &Tags) -> Result<()> {
    c.throttle.acquire(Bucket::SecretsWrite).await;
    c.secrets
        .tag_resource()
        .secret_id(name)
        .set_tags(Some(tags::to_secrets_manager(tags)))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("SecretsManager", "TagResource", &e))?;
    Ok(())
}

/// Deletes without a recovery window (erasure means gone); a secret already gone is fine.
pub async fn delete(c: &Clients, name: &str) -> Result<()> {
    c.throttle.acquire(Bucket::SecretsWrite).await;
    match c
        .secrets
        .delete_secret()
        .secret_id(name)
        .force_delete_without_recovery(true)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(AwsError::from_sdk("SecretsManager", "DeleteSecret", &e).into()),
    }
}
