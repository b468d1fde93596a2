//! The audit log's hash chain, recomputed independently of the database.
//!
//! Owns: the canonical encoding of an audit row and the chain check. The store's
//! `openclaw.audit_canonical` SQL function must encode a row exactly as [`canonical`] does.

use sha2::{Digest, Sha256};

/// One audit row as read back from the store (`detail` as PostgreSQL's jsonb text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub seq: i64,
    pub at_micros: i64,
    pub tenant: Option<String>,
    pub actor: String,
    pub action: String,
    pub resource_kind: Option<String>,
    pub resource_name: Option<String>,
    pub detail: String,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// Fields joined by the ASCII unit separator, so no field can pose as two.
pub fn canonical(row: &AuditRow) -> String {
    [
        row.seq.to_string(),
        row.at_micros.to_string(),
        row.tenant.clone().unwrap_or_default(),
        row.actor.clone(),
        row.action.clone(),
        row.resource_kind.clone().unwrap_or_default(),
        row.resource_name.clone().unwrap_or_default(),
        row.detail.clone(),
    ]
    .join("\u{1f}")
}

pub fn row_hash(prev_hash: &[u8], row: &AuditRow) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(prev_hash);
    h.update(canonical(row).as_bytes());
    h.finalize().to_vec()
}

/// Why the chain does not verify, at the first row that breaks it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("audit row {seq}: sequence gap (expected {expected})")]
    Gap { seq: i64, expected: i64 },
    #[error("audit row {seq}: prev_hash does not match the hash of row {prev}")]
    Link { seq: i64, prev: i64 },
    #[error("audit row {seq}: content does not match its hash (the row was altered)")]
    Content { seq: i64 },
}

/// Verifies rows in `seq` order, starting from the first row of the log.
pub fn verify_chain(rows: &[AuditRow]) -> Result<usize, ChainError> {
    let mut prev = vec![0u8; 32];
    for (expected, row) in (1..).zip(rows) {
        if row.seq != expected {
            return Err(ChainError::Gap {
                seq: row.seq,
                expected,
            });
        }
        if row.prev_hash != prev {
            return Err(ChainError::Link {
                seq: row.seq,
                prev: row.seq - 1,
            });
        }
        if row_hash(&prev, row) != row.hash {
            return Err(ChainError::Content { seq: row.seq });
        }
        prev = row.hash.clone();
    }
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditRow> {
        let mut rows = Vec::new();
        let mut prev = vec![0u8; 32];
        for seq in 1..=n {
            let mut row = AuditRow {
                seq,
                at_micros: 1_700_000_000_000_000 + seq,
                tenant: Some("acme".into()),
                actor: "operator".into(),
                action: "create".into(),
                resource_kind: Some("secret".into()),
                resource_name: Some(format!("/openclaw/acme/{seq}")),
                detail: "{}".into(),
                prev_hash: prev.clone(),
                hash: vec![],
            };
            row.hash = row_hash(&prev, &row);
            prev = row.hash.clone();
            rows.push(row);
        }
        rows
    }

    #[test]
    fn an_untouched_chain_verifies() {
        assert_eq!(verify_chain(&chain(5)), Ok(5));
        assert_eq!(verify_chain(&[]), Ok(0));
    }

    #[test]
    fn an_altered_row_is_found() {
        let mut rows = chain(5);
        rows[2].action = "delete".into();
        assert_eq!(verify_chain(&rows), Err(ChainError::Content { seq: 3 }));
    }

    #[test]
    fn a_removed_row_is_found() {
        let mut rows = chain(5);
        rows.remove(1);
        assert_eq!(
            verify_chain(&rows),
            Err(ChainError::Gap {
                seq: 3,
                expected: 2
            })
        );
    }

    #[test]
    fn a_rehashed_row_breaks_the_next_link() {
        let mut rows = chain(5);
        rows[1].action = "delete".into();
        let prev = rows[0].hash.clone();
        rows[1].hash = row_hash(&prev, &rows[1]);
        assert_eq!(
            verify_chain(&rows),
            Err(ChainError::Link { seq: 3, prev: 2 })
        );
    }

    #[test]
    fn fields_cannot_pose_as_each_other() {
        let mut a = chain(1).remove(0);
        let mut b = a.clone();
        a.actor = "op".into();
        a.action = "erator\u{1f}x".into();
        b.actor = "operator".into();
        b.action = "x".into();
        // The separator cannot be smuggled in: distinct fields give distinct encodings unless a
        // field itself contains U+001F, which the store never writes for actor or action.
        assert_ne!(canonical(&a), canonical(&chain(1)[0]));
        assert_ne!(row_hash(&[0; 32], &b), row_hash(&[0; 32], &chain(1)[0]));
    }
}
