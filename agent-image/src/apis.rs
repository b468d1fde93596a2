//! Calls to the tenant's SaaS APIs (Gmail, Google Calendar, HubSpot, Salesforce) with OAuth 2.0 delegated
//! access tokens: refreshed at the token endpoint when expired (or refused), and the rotated
//! grant written back to the agent's own secret.
//!
//! Must never: log a token, or keep working with a revoked grant (the integration is marked as
//! needing re-consent instead).

use std::collections::HashMap;

use anyhow::{anyhow, Context};
use crds::api::Integration;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::secrets::{self, OAuthGrant};

/// A grant that can no longer be used: the user must consent again.
#[derive(Debug, thiserror::Error)]
#[error("integration {0} needs re-consent (the OAuth grant was revoked or never given)")]
pub struct NeedsConsent(pub Integration);

pub struct Apis {
    http: reqwest::Client,
    secrets: aws_sdk_secretsmanager::Client,
    /// integration → (secret name, cached grant)
    grants: Mutex<HashMap<Integration, (String, Option<OAuthGrant>)>>,
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
    #[serde(default)]
    refresh_token: Option<String>,
    /// Salesforce names the org's API host in every token answer.
    #[serde(default)]
    instance_url: Option<String>,
}

/// A Salesforce org's API host as a grant may name it: HTTPS, under salesforce.com or force.com.
/// Anything else is refused, so a grant cannot send the access token to another host (pure).
pub fn salesforce_instance(url: &str) -> anyhow::Result<String> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|_| anyhow!("salesforce grant: instance_url is not a URL"))?;
    let host = parsed.host_str().unwrap_or("");
    let ours = [".salesforce.com", ".force.com"]
        .iter()
        .any(|d| host.ends_with(d) && host.len() > d.len());
    if parsed.scheme() != "https"
        || !ours
        || parsed.port().is_some()
        || !parsed.username().is_empty()
    {
        return Err(anyhow!(
            "salesforce grant: instance_url must be https://<org>.my.salesforce.com"
        ));
    }
    Ok(format!("https://{host}"))
}

impl Apis {
    pub fn new(secrets: aws_sdk_secretsmanager::Client, names: &[(Integration, String)]) -> Apis {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .unwrap_or_default();
        Apis {
            http,
            secrets,
            grants: Mutex::new(names.iter().map(|(i, n)| (*i, (n.clone(), None))).collect()),
        }
    }

    /// A usable access token for `integration`, refreshing (and storing) it when needed.
    async fn token(&self, integration: Integration, force_refresh: bool) -> anyhow::Result<String> {
        let mut grants = self.grants.lock().await;
        let (name, cached) = grants
            .get_mut(&integration)
            .ok_or_else(|| anyhow!("this agent has no {integration} grant configured"))?;
        if cached.is_none() {
            *cached = secrets::grant(&self.secrets, name).await?;
        }
        let Some(grant) = cached.as_mut() else {
            return Err(NeedsConsent(integration).into());
        };
        let now = chrono::Utc::now().timestamp();
        if force_refresh || grant.access_token.is_empty() || grant.expires_at <= now + 60 {
            // Read again before refreshing: a new consent, or a disconnect, replaces the grant.
            *cached = secrets::grant(&self.secrets, name).await?;
            let Some(grant) = cached.as_mut() else {
                return Err(NeedsConsent(integration).into());
            };
            let resp = self
                .http
                .post(&grant.token_url)
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", grant.refresh_token.as_str()),
                    ("client_id", grant.client_id.as_str()),
                    ("client_secret", grant.client_secret.as_str()),
                ])
                .send()
                .await
                .with_context(|| format!("{integration} token endpoint unreachable"))?;
            let status = resp.status();
            if status.as_u16() == 400 || status.as_u16() == 401 {
                let body: Value = resp.json().await.unwrap_or(Value::Null);
                if body.get("error").and_then(Value::as_str) == Some("invalid_grant")
                    || status.as_u16() == 401
                {
                    *cached = None;
                    return Err(NeedsConsent(integration).into());
                }
                return Err(anyhow!(
                    "{integration} token endpoint refused the refresh ({status})"
                ));
            }
            if !status.is_success() {
                return Err(anyhow!("{integration} token endpoint answered {status}"));
            }
            let t: TokenResponse = resp
                .json()
                .await
                .map_err(|_| anyhow!("{integration} token endpoint sent an unreadable answer"))?;
            grant.access_token = t.access_token;
            grant.expires_at = now + t.expires_in.unwrap_or(3600);
            if let Some(rotated) = t.refresh_token {
                grant.refresh_token = rotated;
            }
            if let Some(instance) = t.instance_url {
                grant.instance_url = Some(instance);
            }
            secrets::store_grant(&self.secrets, name, grant).await?;
            tracing::info!(integration = %integration, "access token refreshed; rotated grant stored");
            return Ok(grant.access_token.clone());
        }
        Ok(grant.access_token.clone())
    }

    /// The Salesforce org's API host from the grant, checked by [`salesforce_instance`].
    pub async fn salesforce_base(&self) -> anyhow::Result<String> {
        self.token(Integration::Salesforce, false).await?;
        let grants = self.grants.lock().await;
        let instance = grants
            .get(&Integration::Salesforce)
            .and_then(|(_, g)| g.as_ref())
            .and_then(|g| g.instance_url.clone())
            .ok_or_else(|| anyhow!("salesforce grant names no instance_url"))?;
        salesforce_instance(&instance)
    }

    /// Sends a request with the integration's token; on 401, refreshes once and retries.
    pub async fn call(
        &self,
        integration: Integration,
        method: reqwest::Method,
        url: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        for attempt in 0..2 {
            let token = self.token(integration, attempt > 0).await?;
            let mut req = self.http.request(method.clone(), url).bearer_auth(token);
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req
                .send()
                .await
                .with_context(|| format!("{integration} API unreachable"))?;
            if resp.status().as_u16() == 401 && attempt == 0 {
                continue;
            }
            if !resp.status().is_success() {
                return Err(anyhow!("{integration} API answered {}", resp.status()));
            }
            return resp
                .json()
                .await
                .map_err(|_| anyhow!("{integration} API sent an unreadable answer"));
        }
        Err(anyhow!("{integration} API refused the refreshed token"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_sends_its_token_only_to_a_salesforce_host() {
        assert_eq!(
            salesforce_instance("https://acme.my.salesforce.com").expect("org"),
            "https://acme.my.salesforce.com"
        );
        assert!(salesforce_instance("https://acme--dev.sandbox.my.salesforce.com/").is_ok());
        for bad in [
            "http://acme.my.salesforce.com",
            "https://salesforce.com.evil.example",
            "https://evil.example/.salesforce.com",
            "https://user@acme.my.salesforce.com",
            "https://acme.my.salesforce.com:8443",
            "https://.salesforce.com",
            "not a url",
        ] {
            assert!(salesforce_instance(bad).is_err(), "{bad}");
        }
    }
}
