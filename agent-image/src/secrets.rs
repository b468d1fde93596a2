//! The agent's secrets, fetched by name with the task's own role: the tenant's DB credentials and
//! the OAuth grants its kind uses. Rotated OAuth tokens are written back to the same secret.
//!
//! Must never: print a secret. The types below redact themselves in `Debug`, and no error built
//! here carries a secret's value.

use std::fmt;

use anyhow::{anyhow, Context};
use serde::{Deserialize, Serialize};

/// `/openclaw/T/db` as the operator writes it.
#[derive(Clone, Deserialize)]
pub struct DbCredentials {
    pub host: String,
    pub port: u16,
    pub dbname: String,
    pub username: String,
    pub password: String,
}

impl fmt::Debug for DbCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbCredentials")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("dbname", &self.dbname)
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// An OAuth 2.0 grant as the consent flow stores it: a refresh token and the token endpoint.
/// The agent holds no user password, only delegated tokens.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct OAuthGrant {
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub refresh_token: String,
    #[serde(default)]
    pub access_token: String,
    /// Unix seconds when `access_token` expires.
    #[serde(default)]
    pub expires_at: i64,
    /// Salesforce only: the org's API host, as the token endpoint names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_url: Option<String>,
}

impl fmt::Debug for OAuthGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthGrant")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("expires_at", &self.expires_at)
            .field("instance_url", &self.instance_url)
            .finish_non_exhaustive()
    }
}

async fn value(
    client: &aws_sdk_secretsmanager::Client,
    name: &str,
) -> anyhow::Result<Option<String>> {
    match client.get_secret_value().secret_id(name).send().await {
        Ok(r) => Ok(r.secret_string().map(str::to_owned)),
        // A secret created without a value yet (an integration awaiting consent).
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => {
            let code = e
                .as_service_error()
                .and_then(|s| aws_sdk_secretsmanager::error::ProvideErrorMetadata::code(s))
                .unwrap_or("unknown")
                .to_owned();
            Err(anyhow!("cannot read secret {name}: {code}"))
        }
    }
}

pub async fn db_credentials(
    client: &aws_sdk_secretsmanager::Client,
    name: &str,
) -> anyhow::Result<DbCredentials> {
    let v = value(client, name)
        .await?
        .ok_or_else(|| anyhow!("secret {name} has no value yet"))?;
    serde_json::from_str(&v).map_err(|e| {
        anyhow!(
            "secret {name} is not valid DB credentials JSON ({})",
            e.classify_name()
        )
    })
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    // The position of a parse error is safe to show; the text around it is not.
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "io",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "missing or wrong fields",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

/// The grant in `name`; `None` while the secret has no value (consent not given yet) or holds
/// an object with no refresh token (the gateway's disconnect writes `{}`).
pub async fn grant(
    client: &aws_sdk_secretsmanager::Client,
    name: &str,
) -> anyhow::Result<Option<OAuthGrant>> {
    match value(client, name).await? {
        None => Ok(None),
        Some(v) => parse_grant(&v).map_err(|e| {
            anyhow!(
                "secret {name} is not a valid OAuth grant ({})",
                e.classify_name()
            )
        }),
    }
}

/// A stored grant (pure): `None` for an object without a refresh token.
pub fn parse_grant(v: &str) -> Result<Option<OAuthGrant>, serde_json::Error> {
    let raw: serde_json::Value = serde_json::from_str(v)?;
    if raw.is_object()
        && raw
            .get("refresh_token")
            .and_then(serde_json::Value::as_str)
            .is_none_or(str::is_empty)
    {
        return Ok(None);
    }
    serde_json::from_value(raw).map(Some)
}

/// Writes the rotated grant back to the agent's own secret.
pub async fn store_grant(
    client: &aws_sdk_secretsmanager::Client,
    name: &str,
    grant: &OAuthGrant,
) -> anyhow::Result<()> {
    let body = serde_json::to_string(grant).context("serialising grant")?;
    client
        .put_secret_value()
        .secret_id(name)
        .secret_string(body)
        .send()
        .await
        .map_err(|e| {
            let code = e
                .as_service_error()
                .and_then(|s| aws_sdk_secretsmanager::error::ProvideErrorMetadata::code(s))
                .unwrap_or("unknown")
                .to_owned();
            anyhow!("cannot store rotated grant in {name}: {code}")
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_secret_values() {
        let c = DbCredentials {
            host: "db".into(),
            port: 5432,
            dbname: "d".into(),
            username: "tenant_acme".into(),
            password: "hunter2".into(),
        };
        let g = OAuthGrant {
            token_url: "https://oauth2.example/token".into(),
            client_id: "cid".into(),
            client_secret: "s3cret".into(),
            refresh_token: "rt-123".into(),
            access_token: "at-456".into(),
            expires_at: 1,
            instance_url: Some("https://acme.my.salesforce.com".into()),
        };
        let shown = format!("{c:?} {g:?}");
        for secret in ["hunter2", "s3cret", "rt-123", "at-456"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[test]
    fn a_disconnected_grant_is_no_grant_and_a_broken_one_is_an_error() {
        assert_eq!(parse_grant("{}").expect("empty"), None);
        assert_eq!(
            parse_grant(r#"{"refresh_token": "", "token_url": "u"}"#).expect("blank"),
            None
        );
        let g = parse_grant(
            r#"{"token_url": "u", "client_id": "c", "client_secret": "s", "refresh_token": "r"}"#,
        )
        .expect("grant")
        .expect("some");
        assert_eq!((g.refresh_token.as_str(), g.expires_at), ("r", 0));
        assert!(parse_grant(r#"{"refresh_token": "r"}"#).is_err());
        assert!(parse_grant("not json").is_err());
    }
}
