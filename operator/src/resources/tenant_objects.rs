//! The tenant's objects in the cell's tenant bucket: everything under `tenants/T/`, every version
//! and every delete marker. Agents write them; the operator only ever erases them, when the
//! tenant is deleted (right to delete: a tenant created later under the same name must find
//! nothing).
//!
//! Owns: observing what is left under the prefix (one page at a time, teardown only), listing which
//! tenants' prefixes hold anything (the resync's search for a deleted tenant's leftovers), and erasing
//! it, in batches of at most 1,000 (DeleteObjects' limit). Each pass erases the page it observed
//! and the next pass looks again, so an erasure cut short resumes where it stopped and skips
//! nothing. Must never: read an object's content, touch a key outside the tenant's prefix, or
//! erase anything of a live tenant.

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use crds::naming::{self, TenantName, TenantRef};

use crate::aws::{AwsError, Clients};
use crate::error::{ReconcileError, Result};
use crate::kind::Kind;
use crate::resources::{Change, Operation, Verb};
use crate::throttle::Bucket;

/// DeleteObjects takes at most this many keys, and ListObjectVersions returns at most this many.
pub const BATCH: usize = 1000;

/// One object version or delete marker under the tenant's prefix.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectVersion {
    pub key: String,
    pub version_id: String,
}

/// What is left under the prefix: the first page (at most [`BATCH`]), and whether more follow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedObjects {
    pub page: Vec<ObjectVersion>,
    pub more: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Erases exactly these versions (one observed page).
    Erase { versions: Vec<ObjectVersion> },
}

impl Operation for Op {
    fn resource(&self, tenant: &TenantRef) -> (Kind, String) {
        (Kind::TenantObjects, tenant.s3_prefix())
    }

    fn verb(&self) -> Verb {
        Verb::Delete
    }

    /// After the roles are gone (rank 2), so no agent can write behind the erasure.
    fn rank(&self) -> u8 {
        1
    }

    fn counts(&self) -> Vec<(&'static str, u64)> {
        let Op::Erase { versions } = self;
        vec![("object_versions", versions.len() as u64)]
    }
}

/// Plans the erasure of what is left (pure): nothing when the prefix is empty.
pub fn teardown(observed: &ObservedObjects) -> Vec<Change<Op>> {
    if observed.page.is_empty() {
        return Vec::new();
    }
    let n = observed.page.len();
    let reason = format!(
        "tenant deleted: {n}{} object versions and delete markers left",
        if observed.more { "+" } else { "" }
    );
    vec![Change::new(
        Op::Erase {
            versions: observed.page.clone(),
        },
        reason,
        false,
    )]
}

/// The first page of versions and delete markers under `prefix` in `bucket`.
pub async fn observe(c: &Clients, bucket: &str, prefix: &str) -> Result<ObservedObjects> {
    if bucket.is_empty() || !prefix.starts_with("tenants/") || !prefix.ends_with('/') {
        return Err(ReconcileError::Internal(format!(
            "refusing to list {bucket:?} under {prefix:?}: not a tenant prefix"
        )));
    }
    c.throttle.acquire(Bucket::S3).await;
    let listed =
        c.s3.list_object_versions()
            .bucket(bucket)
            .prefix(prefix)
            .max_keys(BATCH as i32)
            .send()
            .await;
    let r = match listed {
        Ok(r) => r,
        // No bucket, no objects.
        Err(e) if e.as_service_error().and_then(|s| s.code()) == Some("NoSuchBucket") => {
            return Ok(ObservedObjects::default())
        }
        Err(e) => return Err(AwsError::from_sdk("S3", "ListObjectVersions", &e).into()),
    };
    let versions = r
        .versions()
        .iter()
        .map(|v| (v.key(), v.version_id()))
        .chain(r.delete_markers().iter().map(|m| (m.key(), m.version_id())));
    let mut page: Vec<ObjectVersion> = versions
        .filter_map(|(key, version)| {
            let key = key?;
            // An unversioned bucket reports the version "null", which S3 accepts back.
            let version_id = version.unwrap_or("null");
            key.starts_with(prefix).then(|| ObjectVersion {
                key: key.to_owned(),
                version_id: version_id.to_owned(),
            })
        })
        .collect();
    page.sort();
    page.truncate(BATCH);
    Ok(ObservedObjects {
        page,
        more: r.is_truncated().unwrap_or(false),
    })
}

/// Every `tenants/T/` prefix that holds anything (a version or a delete marker), by tenant: one
/// ListObjectVersions with the delimiter per 1,000 prefixes, so the resync finds what a tenant
/// without a row left behind. A prefix that names no valid tenant is not ours and is skipped.
pub async fn list_prefixes(c: &Clients, bucket: &str) -> Result<Vec<TenantName>> {
    let mut out = Vec::new();
    if bucket.is_empty() {
        return Ok(out);
    }
    let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
    loop {
        c.throttle.acquire(Bucket::S3).await;
        let listed =
            c.s3.list_object_versions()
                .bucket(bucket)
                .prefix(naming::S3_TENANTS_PREFIX)
                .delimiter("/")
                .max_keys(BATCH as i32)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await;
        let r = match listed {
            Ok(r) => r,
            Err(e) if e.as_service_error().and_then(|s| s.code()) == Some("NoSuchBucket") => {
                return Ok(out)
            }
            Err(e) => return Err(AwsError::from_sdk("S3", "ListObjectVersions", &e).into()),
        };
        out.extend(
            r.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().and_then(naming::parse_s3_prefix)),
        );
        if !r.is_truncated().unwrap_or(false) || r.next_key_marker().is_none() {
            break;
        }
        key_marker = r.next_key_marker().map(str::to_owned);
        version_marker = r.next_version_id_marker().map(str::to_owned);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

pub async fn apply(c: &Clients, bucket: &str, tenant: &TenantRef, op: &Op) -> Result<()> {
    let Op::Erase { versions } = op;
    let prefix = tenant.s3_prefix();
    if let Some(v) = versions.iter().find(|v| !v.key.starts_with(&prefix)) {
        return Err(ReconcileError::Internal(format!(
            "refusing to erase {:?}: outside {prefix}",
            v.key
        )));
    }
    for chunk in versions.chunks(BATCH) {
        let objects = chunk
            .iter()
            .map(|v| {
                ObjectIdentifier::builder()
                    .key(&v.key)
                    .version_id(&v.version_id)
                    .build()
                    .map_err(|e| ReconcileError::Internal(format!("object identifier: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| ReconcileError::Internal(format!("DeleteObjects request: {e}")))?;
        c.throttle.acquire(Bucket::S3).await;
        let r =
            c.s3.delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("S3", "DeleteObjects", &e))?;
        // A key S3 could not delete stays; the next pass observes it and tries again.
        if let Some(e) = r.errors().first() {
            return Err(AwsError {
                service: "S3",
                operation: "DeleteObjects",
                code: e.code().unwrap_or("Unknown").to_owned(),
                message: format!("{} of {} keys not erased", r.errors().len(), chunk.len()),
            }
            .into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::fixtures::{lines, tenant};

    fn v(key: &str, version: &str) -> ObjectVersion {
        ObjectVersion {
            key: key.into(),
            version_id: version.into(),
        }
    }

    #[test]
    fn an_empty_prefix_plans_nothing_and_a_page_is_erased_whole() {
        assert!(teardown(&ObservedObjects::default()).is_empty());
        let observed = ObservedObjects {
            page: vec![v("tenants/acme/a", "1"), v("tenants/acme/a", "2")],
            more: true,
        };
        let got = teardown(&observed);
        assert_eq!(lines(&got), ["delete tenant_objects tenants/acme/"]);
        assert_eq!(got[0].op.counts(), [("object_versions", 2)]);
        assert!(got[0].reason.contains("2+"), "{}", got[0].reason);
        assert!(!got[0].security);
    }

    #[tokio::test]
    async fn a_key_outside_the_tenants_prefix_is_refused_before_any_call() {
        let clients = crate::resources::fixtures::clients().await;
        let op = Op::Erase {
            versions: vec![v("tenants/acme/ok", "1"), v("tenants/acme-b/theirs", "1")],
        };
        let err = apply(&clients, "bucket", &tenant(), &op)
            .await
            .expect_err("refused");
        assert!(err.to_string().contains("outside tenants/acme/"), "{err}");
        assert_eq!(clients.counter.snapshot(), (0, 0), "no call was made");
    }
}
