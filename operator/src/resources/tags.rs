//! Tags: the SDKs' three tag types to and from one map, and the "tags missing" change every
//! tagged kind plans (not a kind itself).

use crate::error::{ReconcileError, Result};
use crate::resources::{Change, Tags};

/// The ownership tags `want` has that `have` lacks (or holds with another value).
pub fn missing(have: &Tags, want: &Tags) -> Vec<String> {
    want.iter()
        .filter(|(k, v)| have.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect()
}

/// `op`, to put back the tags `want` has that `have` lacks; `None` when none is missing.
pub fn change<O>(op: O, have: &Tags, want: &Tags) -> Option<Change<O>> {
    let missing = missing(have, want);
    (!missing.is_empty())
        .then(|| Change::new(op, format!("tags missing: {}", missing.join(", ")), false))
}

pub fn to_ecs(tags: &Tags) -> Vec<aws_sdk_ecs::types::Tag> {
    tags.iter()
        .map(|(k, v)| aws_sdk_ecs::types::Tag::builder().key(k).value(v).build())
        .collect()
}

pub fn from_ecs(tags: &[aws_sdk_ecs::types::Tag]) -> Tags {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
        .collect()
}

pub fn to_iam(tags: &Tags) -> Result<Vec<aws_sdk_iam::types::Tag>> {
    tags.iter()
        .map(|(k, v)| {
            aws_sdk_iam::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| ReconcileError::unbuildable("IAM tag", e))
        })
        .collect()
}

pub fn from_iam(tags: &[aws_sdk_iam::types::Tag]) -> Tags {
    tags.iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect()
}

pub fn to_secrets_manager(tags: &Tags) -> Vec<aws_sdk_secretsmanager::types::Tag> {
    tags.iter()
        .map(|(k, v)| {
            aws_sdk_secretsmanager::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
        })
        .collect()
}

pub fn from_secrets_manager(tags: &[aws_sdk_secretsmanager::types::Tag]) -> Tags {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_missing_or_changed_tags_are_put_back() {
        let want: Tags = [
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "2".to_owned()),
        ]
        .into();
        let have: Tags = [
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "x".to_owned()),
        ]
        .into();
        assert!(change((), &want, &want).is_none());
        let c = change((), &have, &want).expect("b differs");
        assert_eq!(c.reason, "tags missing: b");
        assert!(!c.security);
        // Extra tags someone added are theirs to keep.
        let mut more = want.clone();
        more.insert("c".into(), "3".into());
        assert!(change((), &more, &want).is_none());
    }
}
