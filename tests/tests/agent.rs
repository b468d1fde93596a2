//! The agent binary end to end: real PostgreSQL (as the tenant's role), secrets in moto, and
//! local fakes for Bedrock's Converse API and the Gmail/Calendar/HubSpot/OAuth endpoints.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use crds::api::{AgentKind, Integration};
use openclaw_tests::fakes::{
    self, otlp_attr, otlp_spans, Fakes, INPUT_TOKENS_PER_TURN, OUTPUT_TOKENS_PER_TURN,
};

/// Secret values and mail text no log line or span may hold.
const NEVER_SHOWN: [&str; 6] = [
    "client-secret-value",
    "rt-gmail",
    "at-1",
    "password",
    "Can we talk about the renewal?",
    "Happy to meet next week.",
];
use openclaw_tests::{unique_name, wait_until, Harness};
use serde_json::{json, Value};

fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("exe");
    let bin = exe
        .parent()
        .and_then(|p| p.parent())
        .expect("target")
        .join("openclaw-agent");
    assert!(
        bin.exists(),
        "{} missing: run `cargo build --bins` (tests/run does)",
        bin.display()
    );
    bin
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

struct AgentProc {
    child: Child,
    health: u16,
    log: PathBuf,
}

impl AgentProc {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
    fn sigterm(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }
    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
    async fn wait_exit(mut self) -> std::process::ExitStatus {
        tokio::task::spawn_blocking(move || self.child.wait().expect("wait"))
            .await
            .expect("join")
    }
}

impl Drop for AgentProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A converged tenant with all three agents, its grants written as the consent flow would.
struct World {
    h: Harness,
    fakes: Fakes,
    name: String,
    t: crds::naming::TenantRef,
    specs: BTreeMap<AgentKind, crds::api::AgentSpec>,
}

impl World {
    async fn new() -> World {
        World::with(&[
            ("butler", &["gmail", "calendar"]),
            ("scout", &[]),
            ("strategist", &["hubspot"]),
        ])
        .await
    }

    /// A converged tenant with these agents, a grant written for each integration they use.
    async fn with(agents: &[(&str, &[&str])]) -> World {
        let h = Harness::new().await;
        let fakes = Fakes::start().await;
        let name = unique_name("agent");
        h.insert_tenant(&name, agents).await;
        h.converge(&[&name]).await;
        let t = h.tenant_ref(&name).await;
        let specs = operator::store::list_agents(&mut *h.db.conn().await, Some(&name))
            .await
            .expect("agents")
            .iter()
            .map(|a| (a.agent_kind().expect("kind"), a.spec().expect("spec")))
            .collect();
        let w = World {
            h,
            fakes,
            name,
            t,
            specs,
        };
        let used: std::collections::BTreeSet<Integration> = w
            .specs
            .values()
            .flat_map(|s| s.integrations.iter().copied())
            .collect();
        for i in used {
            w.write_grant(i, &format!("rt-{i}"), "at-expired", 0).await;
        }
        w
    }

    async fn write_grant(&self, i: Integration, refresh: &str, access: &str, expires_at: i64) {
        let grant = json!({
            "token_url": format!("{}/token", self.fakes.url()),
            "client_id": "openclaw-test", "client_secret": "client-secret-value",
            "refresh_token": refresh, "access_token": access, "expires_at": expires_at,
        });
        self.h
            .aws
            .secrets
            .put_secret_value()
            .secret_id(self.t.oauth_secret_name(i))
            .secret_string(grant.to_string())
            .send()
            .await
            .expect("write grant");
    }

    async fn grant(&self, i: Integration) -> Value {
        let v = self
            .h
            .aws
            .secrets
            .get_secret_value()
            .secret_id(self.t.oauth_secret_name(i))
            .send()
            .await
            .expect("grant");
        serde_json::from_str(v.secret_string().expect("value")).expect("json")
    }

    /// The environment the operator renders for this agent, plus the local endpoints.
    fn env(&self, kind: AgentKind, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
        let rendered = operator::render::render_agent(
            self.h.cell(),
            &self.t,
            crds::api::Tier::Standard,
            &self.specs[&kind],
        );
        let mut env: BTreeMap<String, String> = rendered.task.environment.clone();
        let cell = self.h.cell();
        env.insert(
            "OPENCLAW_AWS_ENDPOINT_URL".into(),
            cell.aws_endpoint_url.clone().expect("endpoint"),
        );
        env.insert("OPENCLAW_BEDROCK_ENDPOINT_URL".into(), self.fakes.url());
        env.insert("OPENCLAW_GMAIL_BASE_URL".into(), self.fakes.url());
        env.insert("OPENCLAW_CALENDAR_BASE_URL".into(), self.fakes.url());
        env.insert("OPENCLAW_HUBSPOT_BASE_URL".into(), self.fakes.url());
        env.insert("OPENCLAW_SALESFORCE_BASE_URL".into(), self.fakes.url());
        env.insert("OPENCLAW_POLL_MS".into(), "100".into());
        env.insert("OPENCLAW_RETRY_BASE_MS".into(), "20".into());
        for (k, v) in extra {
            env.insert((*k).into(), (*v).into());
        }
        env
    }

    fn spawn(&self, kind: AgentKind, extra: &[(&str, &str)]) -> AgentProc {
        let health = free_port();
        let log =
            std::env::temp_dir().join(format!("openclaw-agent-{}-{kind}-{health}.log", self.name));
        let mut cmd = Command::new(binary());
        cmd.env_clear()
            .envs(self.env(kind, extra))
            .env("OPENCLAW_HEALTH_ADDR", format!("127.0.0.1:{health}"))
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"));
        AgentProc {
            child: cmd.spawn().expect("spawn agent"),
            health,
            log,
        }
    }

    async fn add_task(&self, kind: &str, input: Value) -> i64 {
        sqlx::query_scalar(&format!(
            "INSERT INTO \"{}\".tasks (kind, input) VALUES ($1, $2) RETURNING id",
            self.t.db.schema()
        ))
        .bind(kind)
        .bind(input)
        .fetch_one(&self.h.db.tenants)
        .await
        .expect("task")
    }

    async fn task(&self, id: i64) -> (String, i32, Option<Value>, Option<String>) {
        sqlx::query_as(&format!(
            "SELECT status, attempts, result, error FROM \"{}\".tasks WHERE id = $1",
            self.t.db.schema()
        ))
        .bind(id)
        .fetch_one(&self.h.db.tenants)
        .await
        .expect("task row")
    }

    async fn wait_status(&self, id: i64, statuses: &[&str], agent: &AgentProc) {
        let what = format!(
            "task {id} to reach {statuses:?}; agent log:\n{}",
            agent.log()
        );
        wait_until(30, &what, || async {
            statuses.contains(&self.task(id).await.0.as_str())
        })
        .await;
    }

    async fn usage(&self, kind: &str) -> Vec<(String, i64, i64)> {
        sqlx::query_as("SELECT model, input_tokens, output_tokens FROM shared.usage WHERE tenant = $1 AND agent = $2 ORDER BY at, model, input_tokens")
            .bind(self.t.db.as_str()).bind(kind).fetch_all(&self.h.db.tenants).await.expect("usage")
    }
}

#[tokio::test]
async fn each_kind_completes_a_task_end_to_end_with_correct_results_and_usage() {
    let w = World::new().await;
    let s = w.t.db.schema();
    sqlx::raw_sql(&format!(
        "INSERT INTO \"{s}\".signals (account, kind, weight, detail, at) VALUES \
           ('acme-robotics', 'funding', 1, 'Series B', now() - interval '2 days'), \
           ('acme-robotics', 'hiring', 1, '5 sales roles', now()), \
           ('bluebird', 'visit', 1, 'pricing page', now() - interval '20 days'); \
         INSERT INTO \"{s}\".accounts (id, name, domain, crm_id, notes) VALUES \
           ('acc-1', 'Initech', 'initech.example', '9001', 'Renewal due in Q1');"
    ))
    .execute(&w.h.db.tenants)
    .await
    .expect("seed");
    let butler_task = w.add_task("butler", json!({"query": "is:unread"})).await;
    let scout_task = w.add_task("scout", json!({"top": 2})).await;
    let strat_task = w
        .add_task("strategist", json!({"account_id": "acc-1"}))
        .await;
    // Butler exports its spans to the local OTLP receiver (in the fakes).
    let otlp = w.fakes.url();
    let butler = w.spawn(
        AgentKind::Butler,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &otlp),
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
        ],
    );
    let scout = w.spawn(AgentKind::Scout, &[]);
    let strategist = w.spawn(AgentKind::Strategist, &[]);
    w.wait_status(butler_task, &["done"], &butler).await;
    w.wait_status(scout_task, &["done"], &scout).await;
    w.wait_status(strat_task, &["done"], &strategist).await;

    // Butler: it read mail, drafted a reply, proposed slots, with refreshed tokens.
    let (_, attempts, result, _) = w.task(butler_task).await;
    assert_eq!(attempts, 1);
    let summary = result.expect("result")["summary"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        summary.contains("m1") && summary.contains("draft-1") && summary.contains("slots"),
        "{summary}"
    );
    assert_eq!(w.fakes.with(|f| f.drafts.len()), 1);
    let calls = w.fakes.with(|f| f.api_calls.clone());
    assert!(
        calls.contains(&"gmail.list".to_owned()) && calls.contains(&"calendar.events".to_owned()),
        "{calls:?}"
    );

    // Scout: a ranked list with reasons, from the tenant's own signals.
    let (_, _, result, _) = w.task(scout_task).await;
    let ranking = result.expect("result")["ranking"].clone();
    assert_eq!(ranking[0]["account"], "acme-robotics");
    assert_eq!(ranking.as_array().map(Vec::len), Some(2));
    assert!(ranking[0]["reasons"].to_string().contains("Series B"));

    // Strategist: a brief from the CRM record and the account notes.
    let (_, _, result, _) = w.task(strat_task).await;
    let brief = result.expect("result")["brief"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        brief.contains("Renewal due in Q1") && brief.contains("d-77"),
        "{brief}"
    );

    // Usage: one row per task with the tokens of every turn (tools + 1 answer).
    for (kind, turns) in [("butler", 4), ("scout", 2), ("strategist", 3)] {
        let rows = w.usage(kind).await;
        assert_eq!(rows.len(), 1, "{kind}: {rows:?}");
        assert_eq!(rows[0].1, INPUT_TOKENS_PER_TURN * turns, "{kind}");
        assert_eq!(rows[0].2, OUTPUT_TOKENS_PER_TURN * turns, "{kind}");
        assert_eq!(rows[0].0, "amazon.nova-lite-v1:0");
    }

    // OAuth: the expired tokens were refreshed and the rotated grants stored in the secrets.
    for i in [
        Integration::Gmail,
        Integration::Calendar,
        Integration::Hubspot,
    ] {
        let g = w.grant(i).await;
        assert!(
            g["access_token"]
                .as_str()
                .unwrap_or_default()
                .starts_with("at-"),
            "{i}: {g}"
        );
        assert!(
            g["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .starts_with(&format!("rt-{i}-r")),
            "{i}: rotated"
        );
        assert!(g["expires_at"].as_i64().unwrap_or_default() > chrono::Utc::now().timestamp());
    }
    // No secret value, and no mail's text, ever reached a log line.
    for a in [&butler, &scout, &strategist] {
        let log = a.log();
        for secret in NEVER_SHOWN {
            assert!(!log.contains(secret), "log shows {secret}:\n{log}");
        }
    }
    // Structured logs: JSON lines; one per model call and per tool call, each with the tenant, the
    // agent, the task and a trace id.
    let log = butler.log();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let with = |message: &str| -> Vec<&Value> {
        lines
            .iter()
            .filter(|l| l["fields"]["message"] == message)
            .collect()
    };
    let (models, tools) = (with("model call"), with("tool call"));
    assert!(!models.is_empty() && !tools.is_empty(), "{log}");
    for l in models.iter().chain(&tools) {
        let spans = l["spans"].as_array().expect("spans");
        let field = |name: &str| spans.iter().find_map(|s| s.get(name)).cloned();
        assert_eq!(field("tenant"), Some(json!(w.name)), "{l}");
        assert_eq!(field("agent"), Some(json!("butler")), "{l}");
        assert_eq!(field("task_id"), Some(json!(butler_task)), "{l}");
        let trace = field("trace_id").expect("trace id");
        assert!(
            trace
                .as_str()
                .is_some_and(|t| t.len() == 32 && t.chars().all(|c| c.is_ascii_hexdigit())),
            "{l}"
        );
    }
    assert!(
        models.iter().all(|l| l["fields"]["input_tokens"].is_u64()),
        "{log}"
    );
    assert!(
        tools.iter().any(|l| l["fields"]["tool"] == "list_messages"),
        "{log}"
    );
    // Health, then a clean stop on SIGTERM.
    assert!(
        agent::health::check(format!("127.0.0.1:{}", scout.health).parse().expect("addr")).await
    );
    for a in [butler, scout, strategist] {
        a.sigterm();
        assert!(a.wait_exit().await.success());
    }

    // Traces: the Butler task is one trace, a root span with a child per model call and per
    // tool call, each with the tenant and the agent; the log lines carry the same trace id.
    let exports = w.fakes.with(|s| s.otlp_traces.clone());
    let spans = otlp_spans(&exports);
    let attr = otlp_attr;
    let task = spans
        .iter()
        .find(|s| s["name"] == "task" && attr(s, "task_id") == Some(butler_task.to_string()))
        .unwrap_or_else(|| panic!("no task span for {butler_task}: {exports:?}"));
    let trace = task["traceId"].as_str().expect("trace id");
    let root_parent = task["parentSpanId"].as_str().unwrap_or_default();
    assert!(root_parent.is_empty(), "the task span is a root: {task}");
    assert_eq!(attr(task, "outcome").as_deref(), Some("done"), "{task}");
    let logged = lines
        .iter()
        .find(|l| l["fields"]["message"] == "model call")
        .and_then(|l| {
            l["spans"]
                .as_array()?
                .iter()
                .find_map(|s| s.get("trace_id"))
                .cloned()
        });
    assert_eq!(
        logged,
        Some(json!(trace)),
        "logs and spans share the trace id"
    );
    let children = |name: &str| -> Vec<&Value> {
        spans
            .iter()
            .copied()
            .filter(|s| s["name"] == name && s["parentSpanId"] == task["spanId"])
            .collect()
    };
    let (converse, tool) = (children("converse"), children("tool"));
    assert_eq!(converse.len(), 4, "one span per model call: {exports:?}");
    let tools: Vec<String> = tool.iter().filter_map(|s| attr(s, "tool")).collect();
    assert_eq!(tools, ["list_messages", "create_draft", "propose_slots"]);
    for s in converse.iter().chain(&tool).chain([task]) {
        assert_eq!(s["traceId"], trace, "{s}");
        assert_eq!(attr(s, "tenant"), Some(w.name.clone()), "{s}");
        assert_eq!(attr(s, "agent").as_deref(), Some("butler"), "{s}");
    }
    for s in &converse {
        assert_eq!(attr(s, "model").as_deref(), Some("amazon.nova-lite-v1:0"));
        assert_eq!(
            attr(s, "input_tokens"),
            Some(INPUT_TOKENS_PER_TURN.to_string())
        );
    }
    let exported = serde_json::to_string(&exports).expect("json");
    for secret in NEVER_SHOWN {
        assert!(!exported.contains(secret), "a span holds {secret}");
    }
}

#[tokio::test]
async fn two_agents_of_one_tenant_share_a_queue_without_duplicates_or_losses() {
    let w = World::new().await;
    let mut ids = Vec::new();
    for i in 0..24 {
        ids.push(w.add_task("scout", json!({"top": 1, "n": i})).await);
    }
    let a = w.spawn(AgentKind::Scout, &[("OPENCLAW_WORKER_ID", "scout-a")]);
    let b = w.spawn(AgentKind::Scout, &[("OPENCLAW_WORKER_ID", "scout-b")]);
    let schema = w.t.db.schema();
    wait_until(60, "all tasks done", || async {
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM \"{schema}\".tasks WHERE status = 'done'"
        ))
        .fetch_one(&w.h.db.tenants)
        .await
        .expect("count");
        n == 24
    })
    .await;
    let rows: Vec<(String, i32)> = sqlx::query_as(&format!(
        "SELECT claimed_by, attempts FROM \"{schema}\".tasks ORDER BY id"
    ))
    .fetch_all(&w.h.db.tenants)
    .await
    .expect("rows");
    assert!(
        rows.iter().all(|(_, attempts)| *attempts == 1),
        "a task ran twice: {rows:?}"
    );
    let by_a = rows.iter().filter(|(c, _)| c == "scout-a").count();
    let by_b = rows.iter().filter(|(c, _)| c == "scout-b").count();
    assert_eq!(by_a + by_b, 24);
    assert!(
        by_a > 0 && by_b > 0,
        "both agents took work: a={by_a} b={by_b}"
    );
    assert_eq!(w.usage("scout").await.len(), 24, "one usage row per task");
    drop((a, b));
}

/// (slot, status, input) of every task of `schedule`, by slot.
async fn scheduled_tasks(w: &World, schedule: &str) -> Vec<(DateTime<Utc>, String, Value)> {
    sqlx::query_as(&format!(
        "SELECT slot, status, input FROM \"{}\".tasks WHERE schedule = $1 ORDER BY slot",
        w.t.db.schema()
    ))
    .bind(schedule)
    .fetch_all(&w.h.db.tenants)
    .await
    .expect("scheduled tasks")
}

#[tokio::test]
async fn each_slot_is_one_task_across_replicas_and_a_restart_and_a_missed_run_runs_once() {
    let mut w = World::new().await;
    // The schedule goes in through the store, and the operator renders it into the task
    // definition the agents run.
    let mut spec = w.specs[&AgentKind::Scout].clone();
    spec.schedules = vec![crds::api::Schedule {
        name: "scan".into(),
        cron: "* * * * *".into(),
        time_zone: "Europe/Berlin".into(),
        input: json!({"top": 1}),
    }];
    operator::store::update_agent_spec(&mut *w.h.db.conn().await, &w.name, &spec)
        .await
        .expect("schedule");
    w.h.converge(&[&w.name]).await;
    let rendered =
        w.h.service_environment(&w.t, AgentKind::Scout)
            .await
            .into_iter()
            .find_map(|e| e.strip_prefix("OPENCLAW_SCHEDULES=").map(str::to_owned))
            .expect("the task definition carries the schedules");
    let rendered: Vec<crds::api::Schedule> = serde_json::from_str(&rendered).expect("json");
    assert_eq!(rendered, spec.schedules);
    w.specs.insert(AgentKind::Scout, spec);

    // The last slot run was two hours ago: 120 slots were missed while no agent ran.
    let now = Utc::now();
    let missed = now - chrono::Duration::hours(2);
    let last = missed - chrono::Duration::seconds(i64::from(missed.second()));
    let last = last.with_nanosecond(0).expect("whole second");
    sqlx::query(&format!(
        "INSERT INTO \"{}\".tasks (kind, input, status, schedule, slot) \
         VALUES ('scout', '{{}}', 'done', 'scan', $1)",
        w.t.db.schema()
    ))
    .bind(last)
    .execute(&w.h.db.tenants)
    .await
    .expect("history");

    let a = w.spawn(AgentKind::Scout, &[("OPENCLAW_WORKER_ID", "scout-a")]);
    let b = w.spawn(AgentKind::Scout, &[("OPENCLAW_WORKER_ID", "scout-b")]);
    wait_until(30, "the missed slot to be queued", || async {
        scheduled_tasks(&w, "scan").await.len() >= 2
    })
    .await;
    let rows = scheduled_tasks(&w, "scan").await;
    let first = rows[1].0;
    assert!(
        first >= now - chrono::Duration::minutes(1) && first <= Utc::now(),
        "the missed slots ran once, as the latest: {first} ({rows:?})"
    );
    // A replica restarts in the middle (SIGTERM, as a deployment stops it): the new one neither
    // runs a slot again nor misses the next one.
    let a_log = a.log.clone();
    a.sigterm();
    assert!(a.wait_exit().await.success());
    let c = w.spawn(AgentKind::Scout, &[("OPENCLAW_WORKER_ID", "scout-c")]);
    let next = first + chrono::Duration::minutes(1);
    wait_until(
        100,
        "the next slot to be queued and every slot run",
        || async {
            let rows = scheduled_tasks(&w, "scan").await;
            rows.iter().any(|r| r.0 >= next) && rows.iter().all(|r| r.1 == "done")
        },
    )
    .await;
    let rows = scheduled_tasks(&w, "scan").await;
    let slots: Vec<DateTime<Utc>> = rows.iter().map(|r| r.0).collect();
    let want: Vec<DateTime<Utc>> = std::iter::once(last)
        .chain((0..).map(|m| first + chrono::Duration::minutes(m)))
        .take(slots.len())
        .collect();
    assert_eq!(
        slots, want,
        "one task per slot, no slot skipped, none twice"
    );
    for (_, _, input) in &rows[1..] {
        assert_eq!(
            input,
            &json!({"top": 1, "timeZone": "Europe/Berlin"}),
            "a slot's task carries the schedule's input and zone"
        );
    }
    // Each slot was queued by exactly one replica; the others found it taken.
    let logs = [
        std::fs::read_to_string(&a_log).unwrap_or_default(),
        b.log(),
        c.log(),
    ]
    .join("\n");
    for slot in &slots[1..] {
        let queued = logs
            .lines()
            .filter(|l| l.contains("scheduled task queued") && l.contains(&slot.to_rfc3339()))
            .count();
        assert_eq!(queued, 1, "slot {slot} queued {queued} times:\n{logs}");
    }
    drop((b, c));
}

#[tokio::test]
async fn strategist_briefs_from_salesforce_with_the_tenants_own_grant() {
    let w = World::with(&[("strategist", &["salesforce"])]).await;
    let s = w.t.db.schema();
    sqlx::query(&format!(
        "INSERT INTO \"{s}\".accounts (id, name, domain, crm_id, notes) VALUES \
         ('acc-1', 'Initech', 'initech.example', '001000000000001AAA', 'Renewal due in Q1')"
    ))
    .execute(&w.h.db.tenants)
    .await
    .expect("seed");
    let id = w
        .add_task("strategist", json!({"account_id": "acc-1"}))
        .await;
    let agent = w.spawn(AgentKind::Strategist, &[]);
    w.wait_status(id, &["done", "failed", "dead"], &agent).await;
    let (status, _, result, error) = w.task(id).await;
    assert_eq!(status, "done", "{error:?}\n{}", agent.log());
    let brief = result
        .as_ref()
        .and_then(|r| r["brief"].as_str())
        .unwrap_or("");
    for fact in [
        "Renewal due in Q1",
        "Initech renewal",
        "Negotiation",
        "Software",
    ] {
        assert!(
            brief.contains(fact),
            "{fact} missing from the brief: {brief}"
        );
    }
    // Two REST calls with the refreshed token; the only SOQL sent names the tenant's account.
    let calls = w.fakes.with(|f| f.api_calls.clone());
    assert_eq!(calls, ["salesforce.account", "salesforce.query"]);
    assert_eq!(
        w.fakes.with(|f| f.soql.clone()),
        [agent::pipelines::opportunities_soql("001000000000001AAA")]
    );
    // The rotated grant, with the org host the token endpoint named, is back in its own secret.
    let grant = w.grant(Integration::Salesforce).await;
    assert_eq!(grant["refresh_token"], "rt-salesforce-r1");
    assert_eq!(
        grant["instance_url"],
        openclaw_tests::fakes::SALESFORCE_INSTANCE
    );
    let log = agent.log();
    for secret in NEVER_SHOWN {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
    drop(agent);
}

#[tokio::test]
async fn a_task_whose_agent_was_killed_is_run_again_after_the_timeout() {
    let w = World::new().await;
    w.fakes.with(|f| f.converse_delay = Duration::from_secs(60));
    let id = w.add_task("scout", json!({"top": 1})).await;
    let a = w.spawn(AgentKind::Scout, &[("OPENCLAW_WORKER_ID", "scout-a")]);
    wait_until(30, "scout-a to claim the task", || async {
        w.task(id).await.0 == "running"
    })
    .await;
    // kill -9 in the middle of the task: nothing releases it.
    drop(a);
    w.fakes.with(|f| f.converse_delay = Duration::ZERO);
    let b = w.spawn(
        AgentKind::Scout,
        &[
            ("OPENCLAW_WORKER_ID", "scout-b"),
            ("OPENCLAW_TASK_TIMEOUT_SECONDS", "2"),
        ],
    );
    w.wait_status(id, &["done"], &b).await;
    let (status, attempts, _, _) = w.task(id).await;
    assert_eq!((status.as_str(), attempts), ("done", 2), "{}", b.log());
    let by: String = sqlx::query_scalar(&format!(
        "SELECT claimed_by FROM \"{}\".tasks WHERE id = $1",
        w.t.db.schema()
    ))
    .bind(id)
    .fetch_one(&w.h.db.tenants)
    .await
    .expect("claimed_by");
    assert_eq!(by, "scout-b");
    assert!(
        b.log().contains("reclaimed a task its worker abandoned"),
        "{}",
        b.log()
    );
    drop(b);
}

/// The gateway binary beside the agent binary.
fn gateway_binary() -> PathBuf {
    binary().with_file_name("openclaw-gateway")
}

/// A running gateway with a login of its own: a member of `openclaw_gateway` and nothing more.
struct GatewayProc {
    child: Child,
    url: String,
    role: String,
    log: PathBuf,
}

impl GatewayProc {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for GatewayProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl World {
    async fn gateway(&self, rate_limit: u32) -> GatewayProc {
        self.gateway_with(rate_limit, false).await
    }

    /// A gateway; with `oauth`, its client configuration (in its own secret) points every
    /// integration at the fake provider.
    async fn gateway_with(&self, rate_limit: u32, oauth: bool) -> GatewayProc {
        let role = unique_name("gw").replace('-', "_");
        sqlx::query(&format!(
            "CREATE ROLE {role} LOGIN IN ROLE openclaw_gateway"
        ))
        .execute(&self.h.db.admin)
        .await
        .expect("gateway login");
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let log = std::env::temp_dir().join(format!("openclaw-gateway-{role}.log"));
        let mut cmd = Command::new(gateway_binary());
        cmd.env_clear()
            .env(
                "OPENCLAW_GATEWAY_DATABASE_URL",
                openclaw_tests::url_as(&self.h.db.tenant_url, &role),
            )
            .env("OPENCLAW_GATEWAY_LISTEN", format!("127.0.0.1:{port}"))
            .env("OPENCLAW_GATEWAY_RATE_LIMIT", rate_limit.to_string())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("gateway log"));
        if oauth {
            let f = self.fakes.url();
            let client = json!({"client_id": fakes::CLIENT_ID, "client_secret": fakes::CLIENT_SECRET,
                "authorize_url": format!("{f}/authorize"), "token_url": format!("{f}/token")});
            let clients: serde_json::Map<String, Value> = Integration::ALL
                .iter()
                .map(|i| (i.to_string(), client.clone()))
                .collect();
            let secret = format!("/openclaw-gateway/{role}/oauth-clients");
            self.h
                .aws
                .secrets
                .create_secret()
                .name(&secret)
                .secret_string(Value::Object(clients).to_string())
                .send()
                .await
                .expect("client configuration");
            cmd.env("OPENCLAW_GATEWAY_OAUTH_CLIENTS_SECRET", secret)
                .env("OPENCLAW_GATEWAY_PUBLIC_URL", &url)
                .env(
                    "OPENCLAW_AWS_ENDPOINT_URL",
                    self.h.cell().aws_endpoint_url.clone().expect("endpoint"),
                )
                .env("AWS_REGION", &self.h.cell().region)
                .env("AWS_ACCESS_KEY_ID", "testing")
                .env("AWS_SECRET_ACCESS_KEY", "testing");
        }
        let child = cmd.spawn().expect("spawn gateway");
        let health = format!("{url}/healthz");
        wait_until(20, "the gateway to listen", || async {
            reqwest::get(&health).await.is_ok_and(|r| r.status() == 200)
        })
        .await;
        GatewayProc {
            child,
            url,
            role,
            log,
        }
    }

    fn databases(&self) -> operator::store::Databases {
        operator::store::Databases {
            control: self.h.db.pool.clone(),
            tenants: self.h.db.tenants.clone(),
            tenants_url: self.h.db.tenant_url.clone(),
        }
    }

    /// `openclaw token create TENANT`: the token from its output.
    async fn token(&self, tenant: &str) -> (i64, String) {
        let out = cli::token(
            &self.databases(),
            cli::TokenCommand::Create {
                tenant: tenant.into(),
                label: "test".into(),
            },
        )
        .await
        .expect("token create");
        let mut lines = out.lines();
        let id = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .expect("token id");
        (id, lines.next().expect("token").to_owned())
    }

    async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!(
            "SELECT count(*) FROM \"{}\".{table}",
            self.t.db.schema()
        ))
        .fetch_one(&self.h.db.tenants)
        .await
        .expect("count")
    }
}

/// (status, body) of one request to the gateway.
async fn call(
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("gateway request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_tenants_token_queues_work_its_butler_does_and_no_other_token_reaches_it() {
    use reqwest::Method;
    let w = World::new().await;
    let other = unique_name("globex");
    w.h.insert_tenant(&other, &[("scout", &[])]).await;
    w.h.converge(&[&other]).await;
    let other_ref = w.h.tenant_ref(&other).await;
    let (_, acme) = w.token(&w.name).await;
    let (_, globex) = w.token(&other).await;
    let (revoked_id, revoked) = w.token(&w.name).await;
    let out = cli::token(
        &w.databases(),
        cli::TokenCommand::Revoke {
            tenant: w.name.clone(),
            id: revoked_id,
        },
    )
    .await
    .expect("revoke");
    assert!(out.contains("revoked"), "{out}");
    let listed = cli::token(
        &w.databases(),
        cli::TokenCommand::List {
            tenant: w.name.clone(),
        },
    )
    .await
    .expect("list");
    assert!(
        !listed.contains(&acme) && !listed.contains(&revoked),
        "{listed}"
    );
    let gw = w.gateway(60).await;
    let u = |p: &str| format!("{}{p}", gw.url);

    // acme's token queues a task; acme's Butler does it; acme's token reads the result.
    let (code, task) = call(
        Method::POST,
        &u("/v1/agents/butler/tasks"),
        Some(&acme),
        Some(json!({"input": {"query": "is:unread", "timeZone": "Europe/Berlin"}})),
    )
    .await;
    assert_eq!(code, 201, "{task}");
    let id = task["id"].as_i64().expect("task id");
    assert_eq!(task["status"], "queued");
    let butler = w.spawn(AgentKind::Butler, &[]);
    w.wait_status(id, &["done"], &butler).await;
    let (code, done) = call(
        Method::GET,
        &u(&format!("/v1/tasks/{id}")),
        Some(&acme),
        None,
    )
    .await;
    assert_eq!(code, 200, "{done}");
    assert_eq!(done["status"], "done");
    let summary = done["result"]["summary"].as_str().unwrap_or("");
    assert!(summary.contains("ANSWER from"), "{done}");
    assert!(
        summary.contains("Europe/Berlin"),
        "slots in the task's zone: {summary}"
    );
    let (code, page) = call(Method::GET, &u("/v1/tasks?status=done"), Some(&acme), None).await;
    assert_eq!(code, 200);
    assert_eq!(page["items"][0]["id"], id, "{page}");

    // Signals for Scout, in a batch.
    let (code, r) = call(
        Method::POST,
        &u("/v1/signals"),
        Some(&acme),
        Some(
            json!({"signals": [{"account": "initech", "kind": "funding", "detail": "Series B"},
                                {"account": "initech", "kind": "visit", "weight": 2}]}),
        ),
    )
    .await;
    assert_eq!((code, r["inserted"].as_i64()), (202, Some(2)), "{r}");

    // Every route refuses another tenant's token, a revoked one and none, and writes nothing.
    let (tasks, signals) = (w.count("tasks").await, w.count("signals").await);
    for (who, token) in [
        ("globex", Some(globex.as_str())),
        ("revoked", Some(&revoked)),
        ("none", None),
    ] {
        let (code, body) = call(Method::GET, &u(&format!("/v1/tasks/{id}")), token, None).await;
        let want = if who == "globex" { 404 } else { 401 };
        assert_eq!(code, want, "{who}: GET task {body}");
        assert!(!body.to_string().contains("ANSWER"), "{who}: {body}");
        let (code, body) = call(Method::GET, &u("/v1/tasks"), token, None).await;
        if who == "globex" {
            assert_eq!(
                (code, body["items"].clone()),
                (200, json!([])),
                "{who}: list"
            );
        } else {
            assert_eq!(code, 401, "{who}: list {body}");
        }
        if who != "globex" {
            let (code, _) = call(
                Method::POST,
                &u("/v1/agents/butler/tasks"),
                token,
                Some(json!({"input": {}})),
            )
            .await;
            assert_eq!(code, 401, "{who}: queue");
            let (code, _) = call(
                Method::POST,
                &u("/v1/signals"),
                token,
                Some(json!({"signals": [{"account": "x", "kind": "visit"}]})),
            )
            .await;
            assert_eq!(code, 401, "{who}: signals");
        }
    }
    // globex's own writes land in globex's tables only.
    let (code, _) = call(
        Method::POST,
        &u("/v1/signals"),
        Some(&globex),
        Some(json!({"signals": [{"account": "x", "kind": "visit"}]})),
    )
    .await;
    assert_eq!(code, 202);
    assert_eq!(
        (w.count("tasks").await, w.count("signals").await),
        (tasks, signals),
        "nothing written for acme"
    );
    let globex_signals: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM \"{}\".signals",
        other_ref.db.schema()
    ))
    .fetch_one(&w.h.db.tenants)
    .await
    .expect("globex signals");
    assert_eq!(globex_signals, 1);

    // A request refused for bad input still counts against the tenant's limit.
    let used = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT coalesce(sum(n), 0)::bigint FROM gateway.rate WHERE db_name = $1",
        )
        .bind(w.t.db.as_str())
        .fetch_one(&w.h.db.tenant_admin)
        .await
        .expect("rate")
    };
    let before = used().await;
    // Bad input is refused with the rule, and writes nothing.
    for (path, body, says) in [
        (
            "/v1/agents/gardener/tasks",
            json!({"input": {}}),
            "kind must be",
        ),
        (
            "/v1/agents/butler/tasks",
            json!({"input": "is:unread"}),
            "input must be",
        ),
        (
            "/v1/agents/butler/tasks",
            json!({"inputs": {}}),
            "body.inputs: unknown field",
        ),
        (
            "/v1/signals",
            json!({"signals": [{"account": "x", "kind": "rumour"}]}),
            "kind (visit, hiring, funding or content)",
        ),
        ("/v1/signals", json!({"signals": []}), "1 to 500"),
    ] {
        let (code, r) = call(Method::POST, &u(path), Some(&acme), Some(body)).await;
        assert_eq!(code, 400, "{path}: {r}");
        assert!(
            r["error"].as_str().unwrap_or("").contains(says),
            "{path}: {r}"
        );
    }
    assert_eq!(
        (w.count("tasks").await, w.count("signals").await),
        (tasks, signals)
    );
    // The sum over this minute and the last: only older minutes are pruned.
    let after = used().await;
    assert!(
        after >= before + 5,
        "each refused request is counted: {before} -> {after}"
    );

    // One audit row per mutation, by tenant.
    let audit: Vec<(String, String)> =
        sqlx::query_as("SELECT db_name, action FROM gateway.audit ORDER BY id")
            .fetch_all(&w.h.db.tenants)
            .await
            .expect("audit");
    let acme_db = w.t.db.as_str().to_owned();
    assert_eq!(
        audit,
        [
            (acme_db.clone(), "task.create".to_owned()),
            (acme_db, "signals.create".to_owned()),
            (
                other_ref.db.as_str().to_owned(),
                "signals.create".to_owned()
            ),
        ]
    );

    // The gateway's own login reaches nothing but the functions.
    let mut db = w.h.connect_as(&gw.role).await.expect("gateway login");
    for sql in [
        format!("SELECT * FROM \"{}\".tasks", w.t.db.schema()),
        format!("SELECT * FROM \"{}\".integrations", w.t.db.schema()),
        "SELECT * FROM gateway.tokens".to_owned(),
        "SELECT * FROM gateway.oauth_states".to_owned(),
        "SELECT * FROM gateway.audit".to_owned(),
        "SELECT * FROM shared.usage".to_owned(),
        format!("SELECT * FROM gateway.authorize('{acme}')"),
        format!("SELECT gateway.task_json('{}', {id})", w.t.db.schema()),
    ] {
        let err = sqlx::query(&sql).fetch_all(&mut db).await.expect_err(&sql);
        let code = err
            .as_database_error()
            .and_then(|d| d.code())
            .map(|c| c.into_owned());
        assert_eq!(code.as_deref(), Some("42501"), "{sql}: {err}");
    }
    let err = sqlx::query("SELECT gateway.get_task('oct_guess', 1)")
        .fetch_all(&mut db)
        .await
        .expect_err("a guessed token");
    assert_eq!(
        err.as_database_error().and_then(|d| d.code()).as_deref(),
        Some("28000")
    );
    assert!(
        w.h.connect_control_as(&gw.role).await.is_err(),
        "the gateway's login cannot connect to the control store"
    );
    drop(db);

    // The rate limit is per tenant: acme runs out, globex does not.
    let mut limited = false;
    for _ in 0..130 {
        let (code, _) = call(Method::GET, &u("/v1/tasks"), Some(&acme), None).await;
        if code == 429 {
            limited = true;
            break;
        }
    }
    assert!(limited, "acme never met its limit of 60 a minute");
    let (code, _) = call(Method::GET, &u("/v1/tasks"), Some(&globex), None).await;
    assert_eq!(code, 200, "globex is not slowed by acme");

    let role = gw.role.clone();
    drop((butler, gw));
    let _ = sqlx::query(&format!("DROP ROLE IF EXISTS {role}"))
        .execute(&w.h.db.admin)
        .await;
}

#[tokio::test]
async fn a_task_that_runs_past_its_timeout_is_given_back_with_its_attempt_counted() {
    let w = World::new().await;
    w.fakes.with(|f| f.converse_delay = Duration::from_secs(30));
    let id = w.add_task("scout", json!({"top": 1})).await;
    let a = w.spawn(AgentKind::Scout, &[("OPENCLAW_TASK_TIMEOUT_SECONDS", "1")]);
    wait_until(30, "the task to be given back", || async {
        w.task(id)
            .await
            .3
            .is_some_and(|e| e.contains("ran past the task timeout"))
    })
    .await;
    let (status, attempts, result, _) = w.task(id).await;
    assert!(
        ["queued", "running", "dead"].contains(&status.as_str()) && result.is_none(),
        "{status}: {}",
        a.log()
    );
    assert!(attempts >= 1, "the attempt is counted");
    drop(a);
}

#[tokio::test]
async fn a_worker_whose_task_was_reclaimed_can_no_longer_change_it() {
    let w = World::new().await;
    let id = w.add_task("scout", json!({"top": 1})).await;
    // As the tenant's own role, the way an agent connects.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&openclaw_tests::url_as(&w.h.db.tenant_url, w.t.db.role()))
        .await
        .expect("tenant pool");
    let db = &w.t.db;
    let long = Duration::from_secs(3600);
    let zombie = agent::db::claim(&pool, db, AgentKind::Scout, "zombie", long)
        .await
        .expect("claim")
        .expect("the task");
    assert!(!zombie.abandoned);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let fresh = agent::db::claim(&pool, db, AgentKind::Scout, "fresh", Duration::from_secs(1))
        .await
        .expect("reclaim")
        .expect("the abandoned task");
    assert_eq!((fresh.id, fresh.abandoned, fresh.attempts), (id, true, 2));
    // The zombie wakes up: every write it tries is fenced off.
    let stale = json!({"stale": true});
    assert!(!agent::db::complete(&pool, db, &zombie, &stale)
        .await
        .expect("complete"));
    assert!(!agent::db::fail(&pool, db, &zombie, "late")
        .await
        .expect("fail"));
    let released = agent::db::release(&pool, db, &zombie, "late", Duration::ZERO, true).await;
    assert_eq!(released.expect("release"), None);
    assert_eq!(w.task(id).await.0, "running", "still the fresh worker's");
    assert!(agent::db::complete(&pool, db, &fresh, &json!({"ok": 1}))
        .await
        .expect("complete"));
    let (status, attempts, result, _) = w.task(id).await;
    assert_eq!(
        (status.as_str(), attempts, result),
        ("done", 2, Some(json!({"ok": 1})))
    );
}

#[tokio::test]
async fn a_revoked_grant_marks_the_integration_and_the_agent_keeps_running() {
    let w = World::new().await;
    w.write_grant(Integration::Gmail, "rt-revoked", "at-expired", 0)
        .await;
    w.fakes.with(|f| f.revoked.insert("rt-revoked".into()));
    let first = w.add_task("butler", json!({})).await;
    let mut butler = w.spawn(AgentKind::Butler, &[]);
    w.wait_status(first, &["failed"], &butler).await;
    let (_, _, _, error) = w.task(first).await;
    assert!(error.unwrap_or_default().contains("gmail needs re-consent"));
    let state: String = sqlx::query_scalar(&format!(
        "SELECT state FROM \"{}\".integrations WHERE name = 'gmail'",
        w.t.db.schema()
    ))
    .fetch_one(&w.h.db.tenants)
    .await
    .expect("integration");
    assert_eq!(state, "needs_consent");
    // No crash loop: still alive, still healthy, still taking work.
    let second = w.add_task("butler", json!({})).await;
    w.wait_status(second, &["failed"], &butler).await;
    assert!(
        butler.running(),
        "the agent must not exit on a revoked grant:\n{}",
        butler.log()
    );
    assert!(
        agent::health::check(
            format!("127.0.0.1:{}", butler.health)
                .parse()
                .expect("addr")
        )
        .await
    );
}

#[tokio::test]
async fn bedrock_throttling_retries_then_releases_then_dead_letters() {
    let w = World::new().await;
    // Each attempt makes 3 tries; 6 throttles exhaust two attempts.
    w.fakes.with(|f| f.throttle_next = 6);
    let id = w.add_task("scout", json!({})).await;
    sqlx::query(&format!(
        "UPDATE \"{}\".tasks SET max_attempts = 2 WHERE id = $1",
        w.t.db.schema()
    ))
    .bind(id)
    .execute(&w.h.db.tenants)
    .await
    .expect("max attempts");
    let scout = w.spawn(AgentKind::Scout, &[]);
    w.wait_status(id, &["dead"], &scout).await;
    let (_, attempts, _, error) = w.task(id).await;
    assert_eq!(attempts, 2);
    assert!(error.unwrap_or_default().contains("ThrottlingException"));
    assert_eq!(
        w.fakes.with(|f| f.converse_calls),
        6,
        "3 tries per attempt, with backoff"
    );
    // A task after the throttling passes goes through.
    let ok = w.add_task("scout", json!({})).await;
    w.wait_status(ok, &["done"], &scout).await;
}

#[tokio::test]
async fn sigterm_during_a_task_releases_it_and_exits_zero() {
    let w = World::new().await;
    w.fakes.with(|f| f.converse_delay = Duration::from_secs(5));
    let id = w.add_task("scout", json!({})).await;
    let scout = w.spawn(AgentKind::Scout, &[("OPENCLAW_STOP_GRACE_SECONDS", "1")]);
    w.wait_status(id, &["running"], &scout).await;
    scout.sigterm();
    let status = scout.wait_exit().await;
    assert!(status.success(), "exit status {status:?}");
    let (state, attempts, _, _) = w.task(id).await;
    assert_eq!(state, "queued", "released, never left running");
    assert_eq!(attempts, 0, "a shutdown does not spend an attempt");
    // With enough grace, the task completes instead.
    w.fakes
        .with(|f| f.converse_delay = Duration::from_millis(300));
    let scout = w.spawn(AgentKind::Scout, &[("OPENCLAW_STOP_GRACE_SECONDS", "20")]);
    w.wait_status(id, &["running", "done"], &scout).await;
    scout.sigterm();
    assert!(scout.wait_exit().await.success());
    assert_eq!(w.task(id).await.0, "done");
}

#[tokio::test]
async fn the_agent_fails_fast_naming_what_is_missing() {
    let out = Command::new(binary()).env_clear().output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for v in [
        "OPENCLAW_TENANT",
        "OPENCLAW_AGENT_KIND",
        "OPENCLAW_MODEL_ID",
        "OPENCLAW_DB_SECRET",
    ] {
        assert!(err.contains(v), "{v} not named:\n{err}");
    }
}

/// The raw value of a secret (any tenant's), as the test sees it in the emulator.
async fn secret_value(w: &World, name: &str) -> Option<String> {
    w.h.aws
        .secrets
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
        .ok()
        .and_then(|v| v.secret_string().map(str::to_owned))
}

/// A client that does not follow redirects: it sees the gateway's and the provider's answers.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// `GET …/connect` with a token: (status, Location).
async fn connect(gw: &GatewayProc, integration: &str, token: Option<&str>) -> (u16, String) {
    let mut req = no_redirects().get(format!("{}/v1/integrations/{integration}/connect", gw.url));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("connect");
    let location = resp
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (resp.status().as_u16(), location)
}

/// Consent given without a browser: the provider's redirect back, with a code and the state.
async fn consent_without_browser(authorize: &str) -> String {
    let url = reqwest::Url::parse(authorize).expect("authorize url");
    let q: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let mut form = q.clone();
    form.insert("decision".into(), "allow".into());
    let resp = no_redirects()
        .post(format!(
            "{}://{}/authorize",
            url.scheme(),
            url.host_str()
                .zip(url.port())
                .map(|(h, p)| format!("{h}:{p}"))
                .expect("host")
        ))
        .form(&form)
        .send()
        .await
        .expect("consent");
    assert_eq!(resp.status().as_u16(), 302);
    resp.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned()
}

#[tokio::test]
async fn consent_in_a_real_browser_puts_the_grant_in_exactly_the_tenants_secret() {
    use reqwest::Method;
    let w = World::new().await;
    let gmail = w.t.oauth_secret_name(Integration::Gmail);
    let calendar = w.t.oauth_secret_name(Integration::Calendar);
    // What onboarding leaves: acme's Butler found no usable Gmail grant.
    sqlx::query(&format!(
        "INSERT INTO \"{}\".integrations (name, state, detail) VALUES ('gmail', 'needs_consent', 'refresh refused')",
        w.t.db.schema()
    ))
    .execute(&w.h.db.tenant_admin)
    .await
    .expect("integration row");
    let other = unique_name("globex");
    w.h.insert_tenant(&other, &[("butler", &["gmail"])]).await;
    w.h.converge(&[&other]).await;
    let other_ref = w.h.tenant_ref(&other).await;
    let globex_gmail = other_ref.oauth_secret_name(Integration::Gmail);
    w.h.aws
        .secrets
        .put_secret_value()
        .secret_id(&globex_gmail)
        .secret_string(json!({"token_url": "x", "client_id": "c", "client_secret": "s", "refresh_token": "rt-globex"}).to_string())
        .send()
        .await
        .expect("globex grant");
    let before = (
        secret_value(&w, &globex_gmail).await,
        secret_value(&w, &calendar).await,
    );
    let (_, acme) = w.token(&w.name).await;
    let (_, globex) = w.token(&other).await;
    let (late_id, late) = w.token(&w.name).await;
    w.fakes.with(|f| f.consent_expires_in = Some(30));
    let gw = w.gateway_with(600, true).await;
    let u = |p: &str| format!("{}{p}", gw.url);

    // No token, or a wrong one: refused before anything is looked at.
    assert_eq!(connect(&gw, "gmail", None).await.0, 401);
    assert_eq!(connect(&gw, "gmail", Some("oct_guess")).await.0, 401);
    // An integration no agent of acme uses has no secret: nothing to connect.
    let (code, _) = connect(&gw, "salesforce", Some(&acme)).await;
    assert_eq!(code, 404, "{}", gw.log());
    assert_eq!(connect(&gw, "gmial", Some(&acme)).await.0, 404);

    // connect → the provider's consent page in Chromium → Allow → the gateway's callback.
    let (code, authorize) = connect(&gw, "gmail", Some(&acme)).await;
    assert_eq!(code, 303, "{}", gw.log());
    assert!(
        authorize.starts_with(&format!("{}/authorize?", w.fakes.url())),
        "{authorize}"
    );
    let browser = openclaw_tests::webdriver::Browser::start().await;
    browser.goto(&authorize).await;
    assert!(browser.text("h1").await.contains("wants to access"));
    browser.click("#allow").await;
    let callback = u("/v1/integrations/gmail/callback?");
    wait_until(
        20,
        "the browser to land on the gateway's callback",
        || async { browser.url().await.starts_with(&callback) },
    )
    .await;
    let landed = browser.url().await;
    assert_eq!(browser.text("#outcome").await, "Connected", "{}", gw.log());
    assert!(browser.text("#detail").await.contains(&w.name));
    drop(browser);

    // The grant is in acme's Gmail secret, and nowhere else.
    let g = w.grant(Integration::Gmail).await;
    assert_eq!(g["refresh_token"], "rt-consent-1", "{g}");
    assert_eq!(g["client_id"], fakes::CLIENT_ID);
    assert_eq!(g["token_url"], format!("{}/token", w.fakes.url()));
    assert_eq!(
        (
            secret_value(&w, &globex_gmail).await,
            secret_value(&w, &calendar).await
        ),
        before,
        "globex's grant and acme's other grant are untouched"
    );
    let (code, list) = call(Method::GET, &u("/v1/integrations"), Some(&acme), None).await;
    assert_eq!(code, 200);
    assert_eq!(list["items"][0]["name"], "gmail", "{list}");
    assert_eq!(list["items"][0]["state"], "ok", "{list}");
    let (_, theirs) = call(Method::GET, &u("/v1/integrations"), Some(&globex), None).await;
    assert_eq!(theirs["items"], json!([]), "globex sees none of acme's");

    // The same callback again (a replay), a forged state, or another integration's state: refused,
    // and the provider is never asked.
    let replay = no_redirects().get(&landed).send().await.expect("replay");
    assert_eq!(replay.status().as_u16(), 403);
    let forged = no_redirects()
        .get(u(&format!(
            "/v1/integrations/gmail/callback?code=code-1&state={}",
            "A".repeat(43)
        )))
        .send()
        .await
        .expect("forged");
    assert_eq!(forged.status().as_u16(), 403);
    let (_, calendar_flow) = connect(&gw, "calendar", Some(&acme)).await;
    let back = consent_without_browser(&calendar_flow).await;
    let crossed = back.replace("/integrations/calendar/", "/integrations/gmail/");
    assert_eq!(
        no_redirects()
            .get(&crossed)
            .send()
            .await
            .expect("crossed")
            .status()
            .as_u16(),
        403
    );
    // A flow whose token is revoked before the provider sends the user back.
    let (_, late_flow) = connect(&gw, "gmail", Some(&late)).await;
    let late_back = consent_without_browser(&late_flow).await;
    cli::token(
        &w.databases(),
        cli::TokenCommand::Revoke {
            tenant: w.name.clone(),
            id: late_id,
        },
    )
    .await
    .expect("revoke");
    assert_eq!(
        no_redirects()
            .get(&late_back)
            .send()
            .await
            .expect("late")
            .status()
            .as_u16(),
        403
    );
    assert_eq!(
        w.fakes.with(|f| (f.consented.len(), f.refused_exchanges)),
        (1, 0),
        "no refused callback reached the provider"
    );
    assert_eq!(
        w.grant(Integration::Gmail).await["refresh_token"],
        "rt-consent-1"
    );
    assert_eq!(secret_value(&w, &calendar).await, before.1);

    // Butler works with the new grant; its first refresh presents the consented refresh token.
    let butler = w.spawn(AgentKind::Butler, &[]);
    let (code, task) = call(
        Method::POST,
        &u("/v1/agents/butler/tasks"),
        Some(&acme),
        Some(json!({"input": {"query": "is:unread"}})),
    )
    .await;
    assert_eq!(code, 201, "{task}");
    let id = task["id"].as_i64().expect("id");
    w.wait_status(id, &["done"], &butler).await;
    let used = w.fakes.with(|f| f.refreshed_with.clone());
    assert!(used.contains(&"rt-consent-1".to_owned()), "{used:?}");
    assert!(
        !used.contains(&"rt-gmail".to_owned()),
        "the old grant is gone: {used:?}"
    );
    drop(butler);

    // Disconnect: no token or a revoked one changes nothing; acme's token clears the grant.
    let kept = secret_value(&w, &gmail).await;
    for t in [None, Some(late.as_str())] {
        let (code, _) = call(Method::DELETE, &u("/v1/integrations/gmail"), t, None).await;
        assert_eq!(code, 401);
    }
    assert_eq!(secret_value(&w, &gmail).await, kept);
    let (code, r) = call(
        Method::DELETE,
        &u("/v1/integrations/gmail"),
        Some(&acme),
        None,
    )
    .await;
    assert_eq!(
        (code, r["state"].as_str()),
        (200, Some("needs_consent")),
        "{r}"
    );
    assert_eq!(secret_value(&w, &gmail).await.as_deref(), Some("{}"));
    assert_eq!(secret_value(&w, &globex_gmail).await, before.0);
    let butler = w.spawn(AgentKind::Butler, &[]);
    let id = w.add_task("butler", json!({"query": "is:unread"})).await;
    w.wait_status(id, &["failed", "dead"], &butler).await;
    assert!(
        w.task(id).await.3.unwrap_or_default().contains("consent"),
        "{:?}",
        w.task(id).await
    );

    let audit: Vec<(String, String)> = sqlx::query_as(
        "SELECT action, detail->>'integration' FROM gateway.audit WHERE db_name = $1 \
         AND action LIKE 'integration.%' ORDER BY id",
    )
    .bind(w.t.db.as_str())
    .fetch_all(&w.h.db.tenants)
    .await
    .expect("audit");
    assert_eq!(
        audit,
        [
            ("integration.connect".to_owned(), "gmail".to_owned()),
            ("integration.disconnect".to_owned(), "gmail".to_owned()),
        ]
    );
    let log = gw.log();
    for secret in [
        "rt-consent-1",
        "at-consent-1",
        fakes::CLIENT_SECRET,
        &acme,
        "code-1",
    ] {
        assert!(
            !log.contains(secret),
            "the gateway's log shows {secret}:\n{log}"
        );
    }
    let role = gw.role.clone();
    drop((butler, gw));
    let _ = sqlx::query(&format!("DROP ROLE IF EXISTS {role}"))
        .execute(&w.h.db.admin)
        .await;
}
