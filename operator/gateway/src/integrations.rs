//! Integrations connected by OAuth 2.0 consent: the authorization-code flow with PKCE (RFC 7636)
//! and a single-use `state`. `connect` sends the tenant's user to the provider; the provider's
//! callback brings a code, which is exchanged for a grant written into exactly the state's
//! tenant's `/openclaw/T/<integration>-oauth` secret; `DELETE` clears it.
//!
//! Owns: the OAuth client configuration (read once, from the gateway's own secret), authorize
//! URLs, the code exchange, and the grant's shape (the agents' `OAuthGrant`). Must never: read a
//! tenant's secret, write any secret but an `-oauth` one, follow a redirect from a token
//! endpoint, or log or echo a code, a token, a state, a verifier or a provider's answer.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use base64::Engine;
use crds::api::Integration;
use crds::naming::TenantName;
use rand::Rng;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::{admitted, refusal, Gateway, Refusal};

/// How long a started consent flow may take (the functions hold the same limit).
pub const FLOW_MINUTES: i64 = 10;

/// One integration's OAuth client at its provider.
#[derive(Clone, PartialEq)]
pub struct Provider {
    pub authorize_url: String,
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub scopes: Vec<String>,
    /// Parameters the provider needs to hand out a refresh token.
    pub extra: Vec<(&'static str, &'static str)>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("authorize_url", &self.authorize_url)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// The providers' public endpoints and the scopes each agent needs.
fn defaults(i: Integration) -> (&'static str, &'static str, &'static [&'static str]) {
    const GOOGLE_AUTH: &str = "https://accounts.google.com/o/oauth2/v2/auth";
    const GOOGLE_TOKEN: &str = "https://oauth2.googleapis.com/token";
    match i {
        Integration::Gmail => (
            GOOGLE_AUTH,
            GOOGLE_TOKEN,
            &[
                "https://www.googleapis.com/auth/gmail.readonly",
                "https://www.googleapis.com/auth/gmail.compose",
            ],
        ),
        Integration::Calendar => (
            GOOGLE_AUTH,
            GOOGLE_TOKEN,
            &["https://www.googleapis.com/auth/calendar.readonly"],
        ),
        Integration::Hubspot => (
            "https://app.hubspot.com/oauth/authorize",
            "https://api.hubapi.com/oauth/v1/token",
            &["crm.objects.companies.read", "crm.objects.deals.read"],
        ),
        Integration::Salesforce => (
            "https://login.salesforce.com/services/oauth2/authorize",
            "https://login.salesforce.com/services/oauth2/token",
            &["api", "refresh_token"],
        ),
    }
}

/// One entry of the client configuration secret.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientEntry {
    client_id: String,
    client_secret: String,
    authorize_url: Option<String>,
    token_url: Option<String>,
    scopes: Option<Vec<String>>,
}

/// `https://…`, or `http://` on loopback (the local stack and the tests).
fn endpoint_ok(url: &str) -> bool {
    let Ok(u) = reqwest::Url::parse(url) else {
        return false;
    };
    match (u.scheme(), u.host_str()) {
        ("https", Some(_)) => true,
        ("http", Some(h)) => h == "127.0.0.1" || h == "localhost",
        _ => false,
    }
}

/// The client configuration (pure): a JSON object from integration name to
/// `{client_id, client_secret, authorize_url?, token_url?, scopes?}`. Errors name the field and
/// the rule, never a value.
pub fn parse_clients(text: &str) -> Result<BTreeMap<Integration, Provider>, String> {
    let raw: BTreeMap<String, Value> = serde_json::from_str(text)
        .map_err(|_| "the client configuration must be a JSON object".to_owned())?;
    let mut out = BTreeMap::new();
    for (name, v) in raw {
        let i = Integration::parse(&name).ok_or_else(|| {
            format!("{name}: unknown integration (gmail, calendar, hubspot or salesforce)")
        })?;
        let e: ClientEntry = serde_json::from_value(v).map_err(|e| {
            let what = e.to_string();
            // serde names the field; the message holds no value of the secret.
            let field = what.split('`').nth(1).unwrap_or("entry");
            format!("{name}.{field}: missing, unknown or not a string")
        })?;
        let (auth, token, scopes) = defaults(i);
        let p = Provider {
            authorize_url: e.authorize_url.unwrap_or_else(|| auth.to_owned()),
            token_url: e.token_url.unwrap_or_else(|| token.to_owned()),
            client_id: e.client_id,
            client_secret: e.client_secret,
            scopes: e
                .scopes
                .unwrap_or_else(|| scopes.iter().map(|s| (*s).to_owned()).collect()),
            extra: match i {
                Integration::Gmail | Integration::Calendar => {
                    vec![("access_type", "offline"), ("prompt", "consent")]
                }
                _ => vec![],
            },
        };
        for (field, url) in [
            ("authorize_url", &p.authorize_url),
            ("token_url", &p.token_url),
        ] {
            if !endpoint_ok(url) {
                return Err(format!(
                    "{name}.{field}: must be an https URL (http only on 127.0.0.1)"
                ));
            }
        }
        if p.client_id.is_empty() || p.client_secret.is_empty() {
            return Err(format!(
                "{name}: client_id and client_secret must not be empty"
            ));
        }
        out.insert(i, p);
    }
    Ok(out)
}

/// What connecting integrations needs: the providers, the secrets client and the callback base.
pub struct Integrations {
    pub providers: BTreeMap<Integration, Provider>,
    pub secrets: aws_sdk_secretsmanager::Client,
    /// The gateway's public base URL; callbacks are `{public_url}/v1/integrations/{name}/callback`.
    pub public_url: String,
    pub http: reqwest::Client,
}

impl Integrations {
    pub fn new(
        providers: BTreeMap<Integration, Provider>,
        secrets: aws_sdk_secretsmanager::Client,
        public_url: &str,
    ) -> anyhow::Result<Integrations> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            // A token endpoint's redirect would carry the code and the client secret elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Integrations {
            providers,
            secrets,
            public_url: public_url.trim_end_matches('/').to_owned(),
            http,
        })
    }
}

/// 43 characters of base64url from 32 random bytes: a state, or a PKCE verifier.
pub fn random_value() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The PKCE S256 challenge of a verifier (pure).
pub fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

pub fn redirect_uri(public_url: &str, i: Integration) -> String {
    format!("{public_url}/v1/integrations/{i}/callback")
}

/// The provider's authorize URL for one flow (pure).
pub fn authorize_url(p: &Provider, redirect_uri: &str, state: &str, verifier: &str) -> String {
    let mut u = reqwest::Url::parse(&p.authorize_url).expect("checked when configured");
    {
        let mut q = u.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &p.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &p.scopes.join(" "))
            .append_pair("state", state)
            .append_pair("code_challenge", &challenge(verifier))
            .append_pair("code_challenge_method", "S256");
        for (k, v) in &p.extra {
            q.append_pair(k, v);
        }
    }
    u.into()
}

/// A token endpoint's answer to the code exchange.
#[derive(Deserialize)]
pub struct TokenAnswer {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: Option<i64>,
    pub instance_url: Option<String>,
}

/// The grant as the agents read it (`OAuthGrant`), or why there is none (pure).
pub fn grant(p: &Provider, t: TokenAnswer, now: i64) -> Result<Value, &'static str> {
    let refresh = t
        .refresh_token
        .filter(|r| !r.is_empty())
        .ok_or("the provider granted no refresh token (offline access was not given)")?;
    let mut g = json!({
        "token_url": p.token_url,
        "client_id": p.client_id,
        "client_secret": p.client_secret,
        "refresh_token": refresh,
        "access_token": t.access_token,
        "expires_at": now + t.expires_in.unwrap_or(3600),
    });
    if let Some(i) = t.instance_url {
        g["instance_url"] = json!(i);
    }
    Ok(g)
}

fn integration(name: &str) -> Result<Integration, Refusal> {
    Integration::parse(name).ok_or_else(|| {
        Refusal(
            StatusCode::NOT_FOUND,
            "integration: must be gmail, calendar, hubspot or salesforce".into(),
        )
    })
}

fn configured(g: &Gateway) -> Result<&Integrations, Refusal> {
    g.integrations.as_deref().ok_or_else(|| {
        Refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "integrations are not configured on this gateway".into(),
        )
    })
}

/// The token's tenant's grant secret for `i`, once the functions have vouched for both.
async fn secret_name(g: &Gateway, token: &str, i: Integration) -> Result<String, Refusal> {
    let tenant: String = sqlx::query_scalar("SELECT gateway.integration_tenant($1, $2)")
        .bind(token)
        .bind(i.as_str())
        .fetch_one(&g.pool)
        .await
        .map_err(|e| refusal(&e))?;
    let tenant = TenantName::parse(&tenant).map_err(|_| {
        tracing::warn!("a token names a tenant that is not a tenant name");
        Refusal(StatusCode::INTERNAL_SERVER_ERROR, "internal error".into())
    })?;
    Ok(tenant.oauth_secret_name(i))
}

fn not_enabled(i: Integration) -> Refusal {
    Refusal(
        StatusCode::NOT_FOUND,
        format!("{i} is not enabled for this tenant: no agent of it uses {i}"),
    )
}

fn aws_code<E: aws_sdk_secretsmanager::error::ProvideErrorMetadata>(
    e: &aws_sdk_secretsmanager::error::SdkError<E>,
) -> String {
    e.as_service_error()
        .and_then(|s| s.code())
        .unwrap_or("unreachable")
        .to_owned()
}

/// `GET /v1/integrations/{name}/connect`: 303 to the provider's consent page.
pub async fn connect(
    State(g): State<Gateway>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let token = admitted(&g, &headers).await?;
    let i = integration(&name)?;
    let ints = configured(&g)?;
    let provider = ints.providers.get(&i).ok_or_else(|| {
        Refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{i} has no OAuth client configured on this gateway"),
        )
    })?;
    let secret = secret_name(&g, token, i).await?;
    // The operator creates the secret for an integration an agent of the tenant declares.
    match ints
        .secrets
        .describe_secret()
        .secret_id(&secret)
        .send()
        .await
    {
        Ok(d) if d.deleted_date().is_none() => {}
        Ok(_) => return Err(not_enabled(i)),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            return Err(not_enabled(i))
        }
        Err(e) => {
            tracing::warn!(code = %aws_code(&e), "cannot describe a grant secret");
            return Err(Refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "try again later".into(),
            ));
        }
    }
    let (state, verifier) = (random_value(), random_value());
    sqlx::query("SELECT gateway.begin_connect($1, $2, $3, $4)")
        .bind(token)
        .bind(i.as_str())
        .bind(&state)
        .bind(&verifier)
        .execute(&g.pool)
        .await
        .map_err(|e| refusal(&e))?;
    let url = authorize_url(
        provider,
        &redirect_uri(&ints.public_url, i),
        &state,
        &verifier,
    );
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, url.clone()),
            (header::CACHE_CONTROL, "no-store".into()),
        ],
        Json(json!({"authorizeUrl": url, "expiresInMinutes": FLOW_MINUTES})),
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// A small page for the browser that lands on the callback.
fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Html(format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
             <body><h1 id=\"outcome\">{t}</h1><p id=\"detail\">{d}</p></body></html>",
            t = esc(title),
            d = esc(text)
        )),
    )
        .into_response()
}

/// `GET /v1/integrations/{name}/callback?code&state`: where the provider sends the browser back.
/// Authorised by the state alone, which redeems once.
pub async fn callback(
    State(g): State<Gateway>,
    Path(name): Path<String>,
    Query(q): Query<Callback>,
) -> Response {
    match finish(&g, &name, q).await {
        Ok(text) => page(StatusCode::OK, "Connected", &text),
        Err(Refusal(status, text)) => page(status, "Not connected", &text),
    }
}

async fn finish(g: &Gateway, name: &str, q: Callback) -> Result<String, Refusal> {
    let forbidden = |m: &str| Refusal(StatusCode::FORBIDDEN, m.to_owned());
    let i = integration(name)?;
    let ints = configured(g)?;
    let state = q
        .state
        .filter(|s| (32..=128).contains(&s.len()))
        .ok_or_else(|| forbidden("state: missing or malformed"))?;
    let (tenant, verifier): (String, String) =
        sqlx::query_as("SELECT tenant, verifier FROM gateway.take_state($1, $2)")
            .bind(&state)
            .bind(i.as_str())
            .fetch_one(&g.pool)
            .await
            .map_err(|e| refusal(&e))?;
    if let Some(err) = q.error {
        // The provider's error code only, and only its safe characters.
        let err: String = err
            .chars()
            .filter(|c| c.is_ascii_lowercase() || *c == '_')
            .take(64)
            .collect();
        return Err(Refusal(
            StatusCode::BAD_REQUEST,
            format!("the provider did not grant access ({err}): start again at connect"),
        ));
    }
    let code = q
        .code
        .filter(|c| !c.is_empty() && c.len() <= 2048)
        .ok_or_else(|| Refusal(StatusCode::BAD_REQUEST, "code: missing".into()))?;
    let provider = ints.providers.get(&i).ok_or_else(|| {
        Refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{i} has no OAuth client configured on this gateway"),
        )
    })?;
    let bad_gateway = |m: String| Refusal(StatusCode::BAD_GATEWAY, m);
    let resp = ints
        .http
        .post(&provider.token_url)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri(&ints.public_url, i).as_str()),
            ("client_id", provider.client_id.as_str()),
            ("client_secret", provider.client_secret.as_str()),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .map_err(|_| bad_gateway(format!("the {i} token endpoint is unreachable")))?;
    if !resp.status().is_success() {
        return Err(bad_gateway(format!(
            "the {i} token endpoint refused the code (HTTP {}): start again at connect",
            resp.status().as_u16()
        )));
    }
    let answer: TokenAnswer = resp
        .json()
        .await
        .map_err(|_| bad_gateway(format!("the {i} token endpoint sent an unreadable answer")))?;
    let grant = grant(provider, answer, chrono::Utc::now().timestamp())
        .map_err(|m| bad_gateway(m.to_owned()))?;
    let tenant = TenantName::parse(&tenant)
        .map_err(|_| Refusal(StatusCode::INTERNAL_SERVER_ERROR, "internal error".into()))?;
    let secret = tenant.oauth_secret_name(i);
    ints.secrets
        .put_secret_value()
        .secret_id(&secret)
        .secret_string(grant.to_string())
        .send()
        .await
        .map_err(|e| {
            tracing::warn!(code = %aws_code(&e), integration = %i, "cannot store a grant");
            Refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "the grant could not be stored: start again at connect".into(),
            )
        })?;
    sqlx::query("SELECT gateway.finish_connect($1)")
        .bind(&state)
        .execute(&g.pool)
        .await
        .map_err(|e| refusal(&e))?;
    tracing::info!(integration = %i, "integration connected");
    Ok(format!(
        "{i} is connected for {tenant}. You can close this window."
    ))
}

/// `DELETE /v1/integrations/{name}`: clears the grant; the agents stop at their next refresh.
pub async fn disconnect(
    State(g): State<Gateway>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let token = admitted(&g, &headers).await?;
    let i = integration(&name)?;
    let ints = configured(&g)?;
    let secret = secret_name(&g, token, i).await?;
    // A value with no refresh token: the agents read it as "no grant".
    match ints
        .secrets
        .put_secret_value()
        .secret_id(&secret)
        .secret_string("{}")
        .send()
        .await
    {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            return Err(not_enabled(i))
        }
        Err(e) => {
            tracing::warn!(code = %aws_code(&e), integration = %i, "cannot clear a grant");
            return Err(Refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "try again later".into(),
            ));
        }
    }
    sqlx::query("SELECT gateway.disconnect($1, $2)")
        .bind(token)
        .bind(i.as_str())
        .execute(&g.pool)
        .await
        .map_err(|e| refusal(&e))?;
    Ok(Json(json!({"name": i.as_str(), "state": "needs_consent"})).into_response())
}

/// `GET /v1/integrations`: the tenant's integrations and their states.
pub async fn list(State(g): State<Gateway>, headers: HeaderMap) -> Result<Response, Refusal> {
    let token = admitted(&g, &headers).await?;
    let items: Value = sqlx::query_scalar("SELECT gateway.list_integrations($1)")
        .bind(token)
        .fetch_one(&g.pool)
        .await
        .map_err(|e| refusal(&e))?;
    Ok(Json(json!({"items": items})).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gmail() -> Provider {
        parse_clients(r#"{"gmail": {"client_id": "cid", "client_secret": "shh"}}"#)
            .expect("parses")
            .remove(&Integration::Gmail)
            .expect("gmail")
    }

    #[test]
    fn the_pkce_challenge_is_rfc_7636s() {
        // RFC 7636, appendix B.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let (a, b) = (random_value(), random_value());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
    }

    #[test]
    fn the_authorize_url_carries_the_flow_and_nothing_secret() {
        let p = gmail();
        let u = authorize_url(
            &p,
            "https://gw.example/v1/integrations/gmail/callback",
            "st&te",
            "verifier-verifier-verifier-verifier-verifier",
        );
        let parsed = reqwest::Url::parse(&u).expect("url");
        assert_eq!(parsed.host_str(), Some("accounts.google.com"));
        let q: BTreeMap<String, String> = parsed.query_pairs().into_owned().collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "cid");
        assert_eq!(q["state"], "st&te");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(
            q["code_challenge"],
            challenge("verifier-verifier-verifier-verifier-verifier")
        );
        assert_eq!(q["access_type"], "offline");
        assert!(q["scope"].contains("gmail.compose"), "{}", q["scope"]);
        assert!(
            !u.contains("shh") && !u.contains("verifier-verifier"),
            "{u}"
        );
    }

    #[test]
    fn client_configuration_errors_name_the_field_and_never_a_value() {
        let err = |s: &str| parse_clients(s).expect_err(s);
        assert!(err("[]").contains("JSON object"));
        assert_eq!(
            err(r#"{"gmial": {}}"#),
            "gmial: unknown integration (gmail, calendar, hubspot or salesforce)"
        );
        let e = err(r#"{"hubspot": {"client_id": "cid"}}"#);
        assert!(e.starts_with("hubspot.client_secret:"), "{e}");
        let e = err(r#"{"hubspot": {"client_id": "cid", "client_secret": "s3cr3t", "colour": 1}}"#);
        assert!(
            e.starts_with("hubspot.colour:") && !e.contains("s3cr3t"),
            "{e}"
        );
        let e = err(
            r#"{"salesforce": {"client_id": "c", "client_secret": "s", "token_url": "http://evil.example/token"}}"#,
        );
        assert!(
            e.starts_with("salesforce.token_url: must be an https URL"),
            "{e}"
        );
        let ok = parse_clients(
            r#"{"salesforce": {"client_id": "c", "client_secret": "s", "token_url": "http://127.0.0.1:9/token"}}"#,
        )
        .expect("loopback");
        assert_eq!(
            ok[&Integration::Salesforce].authorize_url,
            "https://login.salesforce.com/services/oauth2/authorize"
        );
        assert!(!format!("{:?}", ok[&Integration::Salesforce]).contains("\"s\""));
    }

    #[test]
    fn a_grant_needs_a_refresh_token_and_keeps_the_agents_shape() {
        let p = gmail();
        let t = |refresh: Option<&str>| TokenAnswer {
            access_token: "at".into(),
            refresh_token: refresh.map(str::to_owned),
            expires_in: Some(60),
            instance_url: None,
        };
        assert!(grant(&p, t(None), 0).is_err());
        assert!(grant(&p, t(Some("")), 0).is_err());
        let g = grant(&p, t(Some("rt")), 1000).expect("grant");
        assert_eq!(
            g,
            json!({"token_url": "https://oauth2.googleapis.com/token", "client_id": "cid",
                   "client_secret": "shh", "refresh_token": "rt", "access_token": "at",
                   "expires_at": 1060})
        );
    }
}
