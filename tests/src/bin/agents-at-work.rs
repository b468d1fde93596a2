//! `deploy/local/run.sh --agents-at-work`: the example tenant `acme`'s three agents at work on the
//! local stack. Starts the local fakes (Converse, Gmail, Calendar, HubSpot, Salesforce, the OAuth
//! token endpoint), the tenant gateway with a login of its own, and acme's agents as local
//! processes with the environment the operator renders; submits one task per agent through the
//! gateway's API and prints the results. Stops everything it started, and exits.
//!
//! Needs the operator running with acme onboarded (run.sh does both). Gmail is connected through
//! the gateway's consent flow (connect → the fake provider's consent page → callback); the other
//! grants are written into acme's secrets as that flow would write them.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::Engine;
use crds::api::AgentKind;
use openclaw_tests::fakes::{self, Fakes};
use serde_json::{json, Value};

const TENANT: &str = "acme";

struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn beside_me(name: &str) -> anyhow::Result<PathBuf> {
    let bin = std::env::current_exe()?.with_file_name(name);
    if !bin.exists() {
        bail!("{} missing: run `cargo build --bins` first", bin.display());
    }
    Ok(bin)
}

fn port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("{name} is not set: source .local/stack.env"))
}

async fn wait_for<F, Fut>(secs: u64, what: &str, mut ok: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if ok().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    bail!("gave up after {secs} s waiting for {what}")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let path = std::env::var_os("OPENCLAW_CONFIG").map(PathBuf::from);
    let config = operator::config::Config::load(path.as_deref())?;
    let cell = config
        .cell
        .clone()
        .context("the configuration has no cell")?;
    let control = operator::store::connect(&config.database_url()?, 2).await?;
    let tenants_url = config.tenant_database_url()?;
    let tenants = operator::store::connect(&tenants_url, 2).await?;

    println!("== waiting for tenant {TENANT} to be Ready");
    wait_for(300, "acme to be Ready", || async {
        let mut c = match control.acquire().await {
            Ok(c) => c,
            Err(_) => return false,
        };
        operator::store::get_tenant(&mut c, TENANT)
            .await
            .ok()
            .flatten()
            .is_some_and(|t| t.phase == "Ready")
    })
    .await?;
    let row = operator::store::get_tenant(&mut *control.acquire().await?, TENANT)
        .await?
        .context("acme is gone")?;
    let t = row.tenant_ref()?;
    let tier = row.spec(None)?.tier;
    let agents = operator::store::list_agents(&mut *control.acquire().await?, Some(TENANT)).await?;

    let fakes = Fakes::start().await;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(env("AWS_ENDPOINT_URL")?)
        .region(aws_config::Region::new(cell.region.clone()))
        .load()
        .await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    println!("== writing acme's Calendar and HubSpot grants (Gmail connects through the gateway)");
    let mut integrations = Vec::new();
    for a in &agents {
        integrations.extend(a.spec()?.integrations);
    }
    // A status from an earlier run of the stack may say Ready before the operator has made the
    // secrets again in a fresh emulator: write until every secret takes its grant.
    wait_for(300, "acme's OAuth secrets", || async {
        for i in &integrations {
            // Gmail's secret waits for consent: an object with no refresh token is no grant.
            let grant = if *i == crds::api::Integration::Gmail {
                json!({})
            } else {
                json!({
                "token_url": format!("{}/token", fakes.url()),
                "client_id": "openclaw-local", "client_secret": "local-client-secret",
                "refresh_token": format!("rt-{i}"), "access_token": "", "expires_at": 0,
                })
            };
            let put = secrets
                .put_secret_value()
                .secret_id(t.oauth_secret_name(*i))
                .secret_string(grant.to_string())
                .send()
                .await;
            if put.is_err() {
                return false;
            }
        }
        true
    })
    .await?;
    // Strategist's account record, as the tenant's own systems would keep it.
    sqlx::query(&format!(
        "INSERT INTO \"{}\".accounts (id, name, domain, crm_id, notes) VALUES \
         ('acc-1', 'Initech', 'initech.example', '9001', 'Renewal due in Q1') \
         ON CONFLICT (id) DO NOTHING",
        t.db.schema()
    ))
    .execute(&tenants)
    .await?;

    // The gateway, with a login that may only call the gateway's functions.
    let admin = operator::store::connect(&env("OPENCLAW_PG_ADMIN_URL")?, 1).await?;
    sqlx::raw_sql(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'openclaw_gateway_local') \
         THEN CREATE ROLE openclaw_gateway_local LOGIN IN ROLE openclaw_gateway; END IF; END $$",
    )
    .execute(&admin)
    .await?;
    let (scheme, rest) = tenants_url
        .split_once("//")
        .context("tenant database URL")?;
    let host = rest.split_once('@').map_or(rest, |(_, h)| h);
    let gateway_db = format!("{scheme}//openclaw_gateway_local@{host}");
    let gw_port = port()?;
    let gw = format!("http://127.0.0.1:{gw_port}");
    // The gateway's OAuth client for Gmail, at the fake provider, in its own secret.
    let clients_secret = "/openclaw-gateway/local/oauth-clients";
    let clients = json!({"gmail": {"client_id": fakes::CLIENT_ID, "client_secret": fakes::CLIENT_SECRET,
        "authorize_url": format!("{}/authorize", fakes.url()), "token_url": format!("{}/token", fakes.url())}})
    .to_string();
    if secrets
        .put_secret_value()
        .secret_id(clients_secret)
        .secret_string(&clients)
        .send()
        .await
        .is_err()
    {
        secrets
            .create_secret()
            .name(clients_secret)
            .secret_string(&clients)
            .send()
            .await
            .context("the gateway's client configuration")?;
    }
    let mut procs = Procs(Vec::new());
    procs.0.push(
        Command::new(beside_me("openclaw-gateway")?)
            .env("OPENCLAW_GATEWAY_DATABASE_URL", &gateway_db)
            .env("OPENCLAW_GATEWAY_LISTEN", format!("127.0.0.1:{gw_port}"))
            .env("OPENCLAW_GATEWAY_OAUTH_CLIENTS_SECRET", clients_secret)
            .env("OPENCLAW_GATEWAY_PUBLIC_URL", &gw)
            .env("OPENCLAW_AWS_ENDPOINT_URL", env("AWS_ENDPOINT_URL")?)
            .env("AWS_REGION", &cell.region)
            .stderr(Stdio::null())
            .spawn()?,
    );
    let http = reqwest::Client::new();
    wait_for(20, "the gateway", || async {
        http.get(format!("{gw}/healthz")).send().await.is_ok()
    })
    .await?;
    let (_, token) = operator::store::create_token(&tenants, &t, "at-work demo").await?;
    println!("== gateway on {gw}; an API token for acme was created (openclaw token list acme)");
    connect_gmail(&gw, &token).await?;

    println!("== starting acme's agents as local processes");
    let logs = std::env::temp_dir();
    for a in &agents {
        let spec = a.spec()?;
        let rendered = operator::render::render_agent(&cell, &t, tier, &spec);
        let log = logs.join(format!("openclaw-at-work-{}.log", spec.kind));
        println!("   {} (log: {})", spec.kind, log.display());
        procs.0.push(
            Command::new(beside_me("openclaw-agent")?)
                .envs(&rendered.task.environment)
                .env("OPENCLAW_AWS_ENDPOINT_URL", env("AWS_ENDPOINT_URL")?)
                .env("OPENCLAW_BEDROCK_ENDPOINT_URL", fakes.url())
                .env("OPENCLAW_GMAIL_BASE_URL", fakes.url())
                .env("OPENCLAW_CALENDAR_BASE_URL", fakes.url())
                .env("OPENCLAW_HUBSPOT_BASE_URL", fakes.url())
                .env("OPENCLAW_SALESFORCE_BASE_URL", fakes.url())
                .env("OPENCLAW_HEALTH_ADDR", format!("127.0.0.1:{}", port()?))
                .env("OPENCLAW_POLL_MS", "200")
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log)?)
                .spawn()?,
        );
    }

    let post = |path: &str, body: Value| {
        http.post(format!("{gw}{path}"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    println!("== POST /v1/signals (for Scout)");
    post(
        "/v1/signals",
        json!({"signals": [
            {"account": "initech", "kind": "funding", "detail": "Series B"},
            {"account": "initech", "kind": "hiring", "detail": "5 sales roles"},
            {"account": "bluebird", "kind": "visit", "detail": "pricing page"}]}),
    )
    .await?
    .error_for_status()?;
    let inputs = [
        (
            AgentKind::Butler,
            json!({"query": "is:unread", "timeZone": "Europe/Berlin"}),
        ),
        (AgentKind::Scout, json!({"top": 2})),
        (AgentKind::Strategist, json!({"account_id": "acc-1"})),
    ];
    let mut ids = Vec::new();
    for (kind, input) in &inputs {
        if !agents.iter().any(|a| a.kind == kind.as_str()) {
            continue;
        }
        let task: Value = post(&format!("/v1/agents/{kind}/tasks"), json!({"input": input}))
            .await?
            .error_for_status()?
            .json()
            .await?;
        println!("== POST /v1/agents/{kind}/tasks -> task {}", task["id"]);
        ids.push((*kind, task["id"].as_i64().context("task id")?));
    }
    for (kind, id) in ids {
        let url = format!("{gw}/v1/tasks/{id}");
        let mut last = Value::Null;
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            last = http
                .get(&url)
                .bearer_auth(&token)
                .send()
                .await?
                .json()
                .await?;
            if ["done", "failed", "dead"].contains(&last["status"].as_str().unwrap_or("")) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        println!("\n== GET /v1/tasks/{id} ({kind}): {}", last["status"]);
        let result = &last["result"];
        match kind {
            AgentKind::Butler => {
                println!("summary: {}", result["summary"]);
                for d in fakes.with(|f| f.drafts.clone()) {
                    let raw = d["message"]["raw"].as_str().unwrap_or("");
                    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(raw)
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_default();
                    println!("draft created in Gmail:\n{}", text.replace("\r\n", "\n"));
                }
            }
            AgentKind::Scout => println!(
                "ranking: {}",
                serde_json::to_string_pretty(&result["ranking"])?
            ),
            AgentKind::Strategist => println!("brief: {}", result["brief"]),
        }
        if last["status"] != "done" {
            bail!("the {kind} task did not finish: {last}");
        }
    }
    println!("\n== done; the agents and the gateway stop now (the operator keeps running)");
    Ok(())
}

/// Connects acme's Gmail as its user would: connect (with the token), the provider's consent page,
/// Allow, and the provider's redirect to the gateway's callback.
async fn connect_gmail(gw: &str, token: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    println!("== GET /v1/integrations/gmail/connect");
    let r = http
        .get(format!("{gw}/v1/integrations/gmail/connect"))
        .bearer_auth(token)
        .send()
        .await?;
    let location = |r: &reqwest::Response| -> anyhow::Result<String> {
        Ok(r.headers()
            .get("location")
            .context("no redirect")?
            .to_str()?
            .to_owned())
    };
    if r.status().as_u16() != 303 {
        bail!("connect answered {}: {}", r.status(), r.text().await?);
    }
    let authorize = reqwest::Url::parse(&location(&r)?)?;
    println!("   303 to the provider's consent page (PKCE S256, single-use state)");
    let mut form: std::collections::BTreeMap<String, String> =
        authorize.query_pairs().into_owned().collect();
    form.insert("decision".into(), "allow".into());
    let mut decide = authorize.clone();
    decide.set_query(None);
    let r = http.post(decide).form(&form).send().await?;
    let callback = location(&r)?;
    println!("   consent given; the provider sends the browser to the gateway's callback");
    let r = http.get(&callback).send().await?;
    let status = r.status();
    let page = r.text().await?;
    if !status.is_success() {
        bail!("the callback answered {status}: {page}");
    }
    let list: Value = http
        .get(format!("{gw}/v1/integrations"))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    println!("== GET /v1/integrations: {}", list["items"]);
    Ok(())
}
