//! API tokens of the tenant gateway, in the tenant database's `gateway` schema: created,
//! listed and revoked by the operator's CLI, checked only inside the gateway's functions.
//!
//! Must never: store or log a token; a token exists in clear only in the answer to `create`.

use base64::Engine;
use chrono::{DateTime, Utc};
use crds::naming::TenantRef;
use rand::Rng;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::*;

/// What every token starts with, so a leaked one is recognisable (secret scanners, logs).
pub const TOKEN_PREFIX: &str = "oct_";

/// A token as listed: never its value.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct TokenRow {
    pub id: i64,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A new token: 32 random bytes, base64url, behind [`TOKEN_PREFIX`] (pure but for the RNG).
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// What the store keeps of a token: its SHA-256 (the gateway's functions hash the same way).
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Creates a token for the tenant whose database name is `db_name`; returns its id and the
/// token, which is shown once.
pub async fn create_token(
    tenants: &PgPool,
    tenant: &TenantRef,
    label: &str,
) -> Result<(i64, String), StoreError> {
    let token = new_token();
    // The name lets the gateway name the tenant's grant secrets (integrations).
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO gateway.tokens (db_name, tenant, label, token_hash) VALUES ($1, $2, $3, $4) \
         RETURNING id",
    )
    .bind(tenant.db.as_str())
    .bind(tenant.name.as_str())
    .bind(label)
    .bind(token_hash(&token))
    .fetch_one(tenants)
    .await?;
    Ok((id, token))
}

pub async fn list_tokens(tenants: &PgPool, db_name: &str) -> Result<Vec<TokenRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, label, created_at, revoked_at FROM gateway.tokens WHERE db_name = $1 \
         ORDER BY id",
    )
    .bind(db_name)
    .fetch_all(tenants)
    .await?)
}

/// Revokes one of the tenant's tokens; false when it has no live token of that id.
pub async fn revoke_token(tenants: &PgPool, db_name: &str, id: i64) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "UPDATE gateway.tokens SET revoked_at = now() \
         WHERE db_name = $1 AND id = $2 AND revoked_at IS NULL",
    )
    .bind(db_name)
    .bind(id)
    .execute(tenants)
    .await?
    .rows_affected();
    Ok(n == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_prefixed_and_kept_only_as_a_hash() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(
            a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 43,
            "{a}"
        );
        assert_eq!(token_hash(&a).len(), 32);
        assert_ne!(token_hash(&a), token_hash(&b));
        // SHA-256 as PostgreSQL's sha256(convert_to(token, 'UTF8')) computes it.
        assert_eq!(
            hex::encode(token_hash("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
