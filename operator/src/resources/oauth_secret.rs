//! OAuth grant secrets, `/openclaw/T/<integration>-oauth`: one per integration that a live agent
//! of the tenant declares. The operator creates them empty; the consent flow writes the grant and
//! the agent refreshes it.
//!
//! Owns: their existence, tags and removal when no agent uses the integration any more (data
//! minimisation). Must never: write or read a grant's value.

use crds::naming::TenantRef;

use crate::aws::{AwsError, Clients};
use crate::error::{ReconcileError, Result};
use crate::kind::Kind;
use crate::render::{DesiredSecret, DesiredTenant, SecretPurpose};
use crate::resources::secrets_manager::{self, ObservedSecret};
use crate::resources::{tags, Change, ObservedTenant, Operation, Ownership, Verb};
use crate::throttle::Bucket;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Create { name: String },
    Restore { name: String },
    Tag { name: String },
    Delete { name: String },
}

impl Op {
    fn name(&self) -> &str {
        match self {
            Op::Create { name } | Op::Restore { name } | Op::Tag { name } | Op::Delete { name } => {
                name
            }
        }
    }
}

impl Operation for Op {
    fn resource(&self, _tenant: &TenantRef) -> (Kind, String) {
        (Kind::Secret, self.name().to_owned())
    }

    fn verb(&self) -> Verb {
        match self {
            Op::Create { .. } => Verb::Create,
            Op::Restore { .. } => Verb::Restore,
            Op::Tag { .. } => Verb::Tag,
            Op::Delete { .. } => Verb::Delete,
        }
    }

    fn rank(&self) -> u8 {
        1
    }
}

/// Plans the grant secrets (pure). `desired` is `None` when the tenant is deleted; `observed`
/// holds the tenant's secrets other than the database one.
pub fn diff<'a>(
    own: &Ownership<'_>,
    desired: Option<&[&DesiredSecret]>,
    observed: impl Iterator<Item = &'a ObservedSecret>,
) -> Result<Vec<Change<Op>>> {
    let observed: Vec<&ObservedSecret> = observed.collect();
    let find = |name: &str| observed.iter().copied().find(|o| o.name == name);
    let mut out = Vec::new();
    for s in desired.unwrap_or_default() {
        let name = s.name.clone();
        let Some(o) = find(&s.name) else {
            let integration = match s.purpose {
                SecretPurpose::OAuth(i) => i.to_string(),
                SecretPurpose::Database => "database".into(),
            };
            out.push(Change::new(
                Op::Create { name },
                format!(
                    "{integration} grant secret missing (its value is written by the consent flow)"
                ),
                false,
            ));
            continue;
        };
        own.require_owned(Kind::Secret, &s.name, &o.tags)?;
        if o.scheduled_for_deletion {
            out.push(Change::new(
                Op::Restore { name: name.clone() },
                "secret scheduled for deletion",
                false,
            ));
        }
        out.extend(tags::change(Op::Tag { name }, &o.tags, &s.tags));
    }
    for o in &observed {
        let wanted = desired.unwrap_or_default().iter().any(|s| s.name == o.name);
        if !wanted && own.owned(Kind::Secret, &o.name, &o.tags) {
            let reason = if desired.is_none() {
                "tenant deleted"
            } else {
                "no agent of the tenant uses this integration"
            };
            out.push(Change::new(
                Op::Delete {
                    name: o.name.clone(),
                },
                reason,
                false,
            ));
        }
    }
    Ok(out)
}

pub async fn apply(
    c: &Clients,
    desired: Option<&DesiredTenant>,
    observed: &ObservedTenant,
    op: &Op,
) -> Result<Option<String>> {
    let name = op.name();
    let rendered = || {
        desired
            .and_then(|d| d.secrets.iter().find(|s| s.name == name))
            .ok_or_else(|| ReconcileError::Internal(format!("no rendered secret {name}")))
    };
    match op {
        Op::Create { .. } => {
            let d = rendered()?;
            c.throttle.acquire(Bucket::SecretsWrite).await;
            // No value: the consent flow writes the grant; the operator never does.
            match c
                .secrets
                .create_secret()
                .name(name)
                .description(&d.description)
                .set_tags(Some(tags::to_secrets_manager(&d.tags)))
                .send()
                .await
            {
                Ok(r) => Ok(r.arn().map(str::to_owned)),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_exists_exception()) =>
                {
                    secrets_manager::verify_ours(c, name).await
                }
                Err(e) => Err(AwsError::from_sdk("SecretsManager", "CreateSecret", &e).into()),
            }
        }
        Op::Restore { .. } => secrets_manager::restore(c, name).await,
        Op::Tag { .. } => {
            secrets_manager::tag(c, name, &rendered()?.tags).await?;
            Ok(observed.secrets.get(name).map(|s| s.arn.clone()))
        }
        Op::Delete { .. } => secrets_manager::delete(c, name).await.map(|()| None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::fixtures::{lines, tenant};
    use crate::resources::{Recorded, Tags};
    use crds::api::Integration;

    fn rendered(i: Integration) -> DesiredSecret {
        let t = tenant();
        DesiredSecret {
            name: t.oauth_secret_name(i),
            purpose: SecretPurpose::OAuth(i),
            description: String::new(),
            tags: crate::render::ownership_tags("cell", &t, None),
        }
    }

    fn seen(s: &DesiredSecret, scheduled: bool, tags: Tags) -> ObservedSecret {
        ObservedSecret {
            name: s.name.clone(),
            arn: format!("arn:{}", s.name),
            scheduled_for_deletion: scheduled,
            tags,
        }
    }

    #[test]
    fn diff_table() {
        let gmail = rendered(Integration::Gmail);
        let hubspot = rendered(Integration::Hubspot);
        let ours = gmail.tags.clone();
        let manual = ObservedSecret {
            name: "/openclaw/acme/manual".into(),
            arn: "x".into(),
            scheduled_for_deletion: false,
            tags: Tags::new(),
        };
        type Case<'a> = (
            &'a str,
            Option<Vec<&'a DesiredSecret>>,
            Vec<ObservedSecret>,
            Vec<&'a str>,
        );
        let cases: Vec<Case<'_>> = vec![
            ("nothing", Some(vec![]), vec![], vec![]),
            (
                "missing",
                Some(vec![&gmail]),
                vec![],
                vec!["create secret /openclaw/acme/gmail-oauth"],
            ),
            (
                "converged",
                Some(vec![&gmail]),
                vec![seen(&gmail, false, ours.clone())],
                vec![],
            ),
            (
                "scheduled and untagged",
                Some(vec![&gmail]),
                vec![seen(
                    &gmail,
                    true,
                    [("openclaw:tenant".to_owned(), "acme".to_owned())].into(),
                )],
                vec![
                    "restore secret /openclaw/acme/gmail-oauth",
                    "tag secret /openclaw/acme/gmail-oauth",
                ],
            ),
            (
                "an integration no agent declares any more",
                Some(vec![&gmail]),
                vec![
                    seen(&gmail, false, ours.clone()),
                    seen(&hubspot, false, ours.clone()),
                ],
                vec!["delete secret /openclaw/acme/hubspot-oauth"],
            ),
            (
                "a secret someone else put under the prefix stays",
                Some(vec![]),
                vec![manual.clone()],
                vec![],
            ),
            (
                "tenant deleted",
                None,
                vec![seen(&gmail, false, ours.clone()), manual.clone()],
                vec!["delete secret /openclaw/acme/gmail-oauth"],
            ),
        ];
        // The inventory records the gmail secret as ours (its tags may be stripped).
        let recorded: Recorded = [("secret".to_owned(), gmail.name.clone())].into();
        let own = Ownership {
            recorded: &recorded,
        };
        for (case, want, obs, expect) in cases {
            let got = diff(&own, want.as_deref(), obs.iter()).expect(case);
            assert_eq!(lines(&got), expect, "{case}");
        }
        // Ours by name only, not by tag or record: a conflict, not an adoption.
        let none = Recorded::new();
        let err = diff(
            &Ownership { recorded: &none },
            Some(&[&gmail]),
            [seen(&gmail, false, Tags::new())].iter(),
        )
        .expect_err("conflict");
        assert_eq!(err.code(), "ResourceConflict");
    }
}
