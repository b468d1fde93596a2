//! Local fakes for what has no emulator: Bedrock's Converse API (wire format, tool use, usage,
//! throttling), and Gmail-, Google-Calendar-, HubSpot- and Salesforce-shaped REST APIs with an
//! OAuth 2.0 provider: a consent page, the authorization-code grant with PKCE (S256, checked),
//! and refresh. All on 127.0.0.1, reached through the real clients (the AWS SDK for Bedrock).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::{json, Value};

/// The org host the token endpoint names (Salesforce's `instance_url`).
pub const SALESFORCE_INSTANCE: &str = "https://openclaw-test.my.salesforce.com";

/// The OAuth client the fake provider knows.
pub const CLIENT_ID: &str = "openclaw-test";
pub const CLIENT_SECRET: &str = "client-secret-value";

/// Tokens the fake model reports per turn.
pub const INPUT_TOKENS_PER_TURN: i64 = 120;
pub const OUTPUT_TOKENS_PER_TURN: i64 = 30;

#[derive(Default)]
pub struct FakeState {
    /// Converse calls answered with 429 ThrottlingException before answering normally.
    pub throttle_next: usize,
    /// Delay before every Converse answer.
    pub converse_delay: Duration,
    pub converse_calls: usize,
    /// Model ids seen.
    pub models: Vec<String>,
    /// Refresh tokens the token endpoint refuses with invalid_grant.
    pub revoked: BTreeSet<String>,
    pub valid_access_tokens: BTreeSet<String>,
    pub refreshes: usize,
    pub drafts: Vec<Value>,
    pub api_calls: Vec<String>,
    /// SOQL queries received at Salesforce's `/query`, as sent.
    pub soql: Vec<String>,
    /// OTLP/HTTP JSON export requests received at `/v1/traces`, as sent.
    pub otlp_traces: Vec<Value>,
    /// Codes issued on consent and not yet redeemed: (redirect_uri, PKCE challenge).
    pub codes: BTreeMap<String, (String, String)>,
    pub codes_issued: usize,
    /// Refresh tokens issued for a code, in order.
    pub consented: Vec<String>,
    /// Refresh tokens presented to refresh, in order.
    pub refreshed_with: Vec<String>,
    /// `expires_in` of the access token a code exchange gives (3600 when unset).
    pub consent_expires_in: Option<i64>,
    /// Code exchanges refused (bad code, verifier, client or redirect).
    pub refused_exchanges: usize,
}

#[derive(Clone)]
pub struct Fakes {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<FakeState>>,
}

impl Fakes {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut FakeState) -> R) -> R {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub async fn start() -> Fakes {
        let state = Arc::new(Mutex::new(FakeState::default()));
        let app = Router::new()
            .route("/model/{model}/converse", post(converse))
            .route("/token", post(token))
            .route("/authorize", get(consent_page).post(consent_decision))
            .route("/gmail/v1/users/me/messages", get(list_messages))
            .route("/gmail/v1/users/me/messages/{id}", get(get_message))
            .route("/gmail/v1/users/me/drafts", post(create_draft))
            .route("/calendar/v3/calendars/primary/events", get(events))
            .route("/crm/v3/objects/companies/{id}", get(company))
            .route(
                "/services/data/v61.0/sobjects/Account/{id}",
                get(salesforce_account),
            )
            .route("/services/data/v61.0/query", get(salesforce_query))
            // A local OTLP receiver (the collector's HTTP endpoint, JSON encoding).
            .route("/v1/traces", post(otlp_traces))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fakes");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Fakes { addr, state }
    }
}

/// Every span of OTLP/HTTP JSON export requests (`resourceSpans[].scopeSpans[].spans[]`).
pub fn otlp_spans(exports: &[Value]) -> Vec<&Value> {
    exports
        .iter()
        .flat_map(|e| e["resourceSpans"].as_array().into_iter().flatten())
        .flat_map(|r| r["scopeSpans"].as_array().into_iter().flatten())
        .flat_map(|s| s["spans"].as_array().into_iter().flatten())
        .collect()
}

/// A span attribute as text (string, int64-as-string or bool).
pub fn otlp_attr(span: &Value, key: &str) -> Option<String> {
    let v = span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)?
        .get("value")?;
    ["stringValue", "intValue", "boolValue"]
        .iter()
        .find_map(|k| v.get(*k))
        .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
}

type Shared = State<Arc<Mutex<FakeState>>>;

async fn otlp_traces(State(s): Shared, Json(req): Json<Value>) -> Response {
    lock(&s).otlp_traces.push(req);
    // ExportTraceServiceResponse with no partial success.
    Json(json!({})).into_response()
}

fn lock(s: &Arc<Mutex<FakeState>>) -> std::sync::MutexGuard<'_, FakeState> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// Scripted tool calls per kind, in order; the model answers after the last tool result.
fn script(tools: &[String]) -> Vec<(&'static str, Value)> {
    if tools.iter().any(|t| t == "list_messages") {
        vec![
            ("list_messages", json!({"query": "is:unread", "max": 5})),
            (
                "create_draft",
                json!({"to": "ceo@customer.example", "subject": "Re: renewal", "body": "Happy to meet next week."}),
            ),
            ("propose_slots", json!({"days": 3})),
        ]
    } else if tools.iter().any(|t| t == "get_signals") {
        vec![("get_signals", json!({}))]
    } else if tools.iter().any(|t| t == "get_crm_company") {
        vec![
            ("get_account", json!({"account_id": "acc-1"})),
            ("get_crm_company", json!({"crm_id": "9001"})),
        ]
    } else {
        vec![]
    }
}

async fn converse(State(s): Shared, Path(model): Path<String>, Json(req): Json<Value>) -> Response {
    let delay = {
        let mut st = lock(&s);
        st.converse_calls += 1;
        st.models.push(model.clone());
        if st.throttle_next > 0 {
            st.throttle_next -= 1;
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("x-amzn-ErrorType", "ThrottlingException")],
                Json(json!({"message": "Too many requests, please wait before trying again."})),
            )
                .into_response();
        }
        st.converse_delay
    };
    tokio::time::sleep(delay).await;
    let tools: Vec<String> = req["toolConfig"]["tools"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t["toolSpec"]["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let messages = req["messages"].as_array().cloned().unwrap_or_default();
    let results: Vec<&Value> = messages
        .iter()
        .flat_map(|m| m["content"].as_array().into_iter().flatten())
        .filter(|c| c.get("toolResult").is_some())
        .collect();
    let mut steps = script(&tools);
    // The CRM id comes from the tenant's account record, as a model would take it.
    if let (Some(step), Some(id)) = (
        steps.iter_mut().find(|(n, _)| *n == "get_crm_company"),
        results
            .first()
            .and_then(|r| r["toolResult"]["content"][0]["json"]["crm_id"].as_str()),
    ) {
        step.1["crm_id"] = json!(id);
    }
    let usage = json!({"inputTokens": INPUT_TOKENS_PER_TURN, "outputTokens": OUTPUT_TOKENS_PER_TURN, "totalTokens": INPUT_TOKENS_PER_TURN + OUTPUT_TOKENS_PER_TURN});
    if let Some((name, input)) = steps.get(results.len()) {
        return Json(json!({
            "output": {"message": {"role": "assistant", "content": [
                {"text": format!("Calling {name}.")},
                {"toolUse": {"toolUseId": format!("tool-{}", results.len()), "name": name, "input": input}}
            ]}},
            "stopReason": "tool_use",
            "usage": usage,
            "metrics": {"latencyMs": 25}
        }))
        .into_response();
    }
    // The answer quotes what the tools returned, so tests can see the tools really ran.
    let seen: Vec<String> = results
        .iter()
        .map(|r| r["toolResult"]["content"].to_string())
        .collect();
    Json(json!({
        "output": {"message": {"role": "assistant", "content": [{"text": format!("ANSWER from {model}: {}", seen.join(" | "))}]}},
        "stopReason": "end_turn",
        "usage": usage,
        "metrics": {"latencyMs": 25}
    }))
    .into_response()
}

type Params = std::collections::HashMap<String, String>;

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The provider's consent page, after checking the request as a provider would.
async fn consent_page(axum::extract::Query(q): axum::extract::Query<Params>) -> Response {
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    if get("response_type") != "code"
        || get("client_id") != CLIENT_ID
        || get("code_challenge_method") != "S256"
        || get("code_challenge").len() != 43
        || get("state").is_empty()
        || !get("redirect_uri").starts_with("http://127.0.0.1:")
    {
        return (StatusCode::BAD_REQUEST, "invalid_request").into_response();
    }
    let hidden: String = ["redirect_uri", "state", "code_challenge", "scope"]
        .iter()
        .map(|k| {
            format!(
                "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
                html_escape(get(k))
            )
        })
        .collect();
    axum::response::Html(format!(
        "<!doctype html><html><head><title>Fake provider: consent</title></head><body>\
         <h1>openclaw-test wants to access your account</h1><p id=\"scope\">{}</p>\
         <form method=\"post\" action=\"/authorize\">{hidden}\
         <button id=\"allow\" name=\"decision\" value=\"allow\">Allow</button>\
         <button id=\"deny\" name=\"decision\" value=\"deny\">Deny</button></form></body></html>",
        html_escape(get("scope"))
    ))
    .into_response()
}

/// The user's decision: back to the client's redirect URI with a code, or an error.
async fn consent_decision(State(s): Shared, Form(f): Form<Params>) -> Response {
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let mut back = match reqwest::Url::parse(&get("redirect_uri")) {
        Ok(u) => u,
        Err(_) => return (StatusCode::BAD_REQUEST, "invalid_request").into_response(),
    };
    if get("decision") == "allow" {
        let mut st = lock(&s);
        st.codes_issued += 1;
        let code = format!("code-{}", st.codes_issued);
        st.codes
            .insert(code.clone(), (get("redirect_uri"), get("code_challenge")));
        back.query_pairs_mut().append_pair("code", &code);
    } else {
        back.query_pairs_mut().append_pair("error", "access_denied");
    }
    back.query_pairs_mut().append_pair("state", &get("state"));
    (StatusCode::FOUND, [("location", back.to_string())]).into_response()
}

fn invalid_grant() -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": "invalid_grant"})),
    )
        .into_response()
}

/// The authorization-code grant: the code once, with its redirect URI, the client's credentials,
/// and the verifier whose S256 challenge the consent carried.
fn exchange(st: &mut FakeState, form: &Params) -> Response {
    use base64::Engine;
    use sha2::Digest;
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let issued = st.codes.remove(get("code"));
    let ok = issued.is_some_and(|(redirect, challenge)| {
        let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(get("code_verifier").as_bytes()));
        redirect == get("redirect_uri")
            && challenge == computed
            && get("client_id") == CLIENT_ID
            && get("client_secret") == CLIENT_SECRET
    });
    if !ok {
        st.refused_exchanges += 1;
        return invalid_grant();
    }
    let n = st.consented.len() + 1;
    let (refresh, access) = (format!("rt-consent-{n}"), format!("at-consent-{n}"));
    st.consented.push(refresh.clone());
    st.valid_access_tokens.insert(access.clone());
    let expires_in = st.consent_expires_in.unwrap_or(3600);
    Json(
        json!({"access_token": access, "refresh_token": refresh, "expires_in": expires_in,
        "token_type": "Bearer", "instance_url": SALESFORCE_INSTANCE}),
    )
    .into_response()
}

async fn token(State(s): Shared, Form(form): Form<Params>) -> Response {
    let mut st = lock(&s);
    if form.get("grant_type").map(String::as_str) == Some("authorization_code") {
        return exchange(&mut st, &form);
    }
    let rt = form.get("refresh_token").cloned().unwrap_or_default();
    st.refreshed_with.push(rt.clone());
    if form.get("grant_type").map(String::as_str) != Some("refresh_token")
        || st.revoked.contains(&rt)
    {
        return invalid_grant();
    }
    st.refreshes += 1;
    let n = st.refreshes;
    let access = format!("at-{n}");
    st.valid_access_tokens.insert(access.clone());
    // Rotate the refresh token, as Google and HubSpot may; name the org's host, as Salesforce does.
    Json(
        json!({"access_token": access, "expires_in": 3600, "refresh_token": format!("{rt}-r{n}"),
        "token_type": "Bearer", "instance_url": SALESFORCE_INSTANCE}),
    )
    .into_response()
}

fn authorized(s: &Arc<Mutex<FakeState>>, headers: &HeaderMap, what: &str) -> bool {
    let mut st = lock(s);
    let ok = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .is_some_and(|t| st.valid_access_tokens.contains(t));
    if ok {
        st.api_calls.push(what.to_owned());
    }
    ok
}

async fn list_messages(State(s): Shared, headers: HeaderMap) -> Response {
    if !authorized(&s, &headers, "gmail.list") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    Json(json!({"messages": [{"id": "m1", "threadId": "t1"}, {"id": "m2", "threadId": "t2"}], "resultSizeEstimate": 2})).into_response()
}

async fn get_message(State(s): Shared, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !authorized(&s, &headers, "gmail.get") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    Json(json!({"id": id, "snippet": "Can we talk about the renewal?"})).into_response()
}

async fn create_draft(State(s): Shared, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if !authorized(&s, &headers, "gmail.draft") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    lock(&s).drafts.push(body);
    Json(json!({"id": "draft-1"})).into_response()
}

async fn events(State(s): Shared, headers: HeaderMap) -> Response {
    if !authorized(&s, &headers, "calendar.events") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    Json(json!({"items": []})).into_response()
}

async fn company(State(s): Shared, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !authorized(&s, &headers, "hubspot.company") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    Json(json!({"id": id, "properties": {"name": "Initech", "domain": "initech.example", "lifecyclestage": "opportunity"},
        "associations": {"deals": {"results": [{"id": "d-77", "type": "company_to_deal"}]}}}))
    .into_response()
}

async fn salesforce_account(
    State(s): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !authorized(&s, &headers, "salesforce.account") {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!([{"errorCode": "INVALID_SESSION_ID"}])),
        )
            .into_response();
    }
    Json(json!({"attributes": {"type": "Account"}, "Id": id, "Name": "Initech", "Website": "initech.example", "Industry": "Software"}))
        .into_response()
}

async fn salesforce_query(
    State(s): Shared,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    if !authorized(&s, &headers, "salesforce.query") {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!([{"errorCode": "INVALID_SESSION_ID"}])),
        )
            .into_response();
    }
    lock(&s).soql.push(q.get("q").cloned().unwrap_or_default());
    Json(json!({"totalSize": 1, "done": true, "records": [{"attributes": {"type": "Opportunity"},
        "Id": "006000000000001AAA", "Name": "Initech renewal", "StageName": "Negotiation", "Amount": 120000, "CloseDate": "2027-01-31"}]}))
    .into_response()
}
