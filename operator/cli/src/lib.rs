//! The `openclaw` command line: argument parsing and dispatch. Each subcommand's work lives in
//! its own module; this file only wires them.

pub mod apply;
pub mod show;

use std::io::Read;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{CommandFactory, Parser, Subcommand};
use crds::api::AgentKind;

use operator::config::Config;
use operator::store::{self, Deleted};

#[derive(Debug, Parser)]
#[command(
    name = "openclaw",
    version,
    about = "OpenClaw: a reconciling operator for multi-tenant AI agents on AWS",
    after_help = "Exit status: 0 done; 1 error; 2 bad usage or input (an unknown flag, a manifest \
                  that does not validate or conflicts, a file that cannot be read); \
                  `plan --detailed-exitcode` and `diff --detailed-exitcode`: 2 when there are \
                  changes."
)]
pub struct Cli {
    /// Configuration file (YAML): the store and the cell.
    #[arg(long, global = true, env = "OPENCLAW_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or update tenants and agents from a manifest (all or nothing).
    Apply {
        /// Manifest file, or `-` for standard input.
        #[arg(short = 'f', long = "filename")]
        file: String,
        /// Validate and check against the store (its rules and triggers run), report what would
        /// change, and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Then wait until every tenant the manifest touches is Ready (seconds; default 300).
        #[arg(long, num_args = 0..=1, default_missing_value = "300", value_name = "SECS")]
        wait: Option<u64>,
    },
    /// Show what `apply -f FILE` would change in the store, field by field; writes nothing.
    Diff {
        /// Manifest file, or `-` for standard input.
        #[arg(short = 'f', long = "filename")]
        file: String,
        /// Exit 2 when `apply` would change something, 0 when nothing (as `plan`).
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// List tenants or agents.
    Get {
        #[arg(value_enum)]
        what: GetWhat,
        /// Only this tenant.
        name: Option<String>,
        /// table, wide, yaml, json, name, or jsonpath=TEMPLATE (`{.items[*].metadata.name}`).
        #[arg(short = 'o', long = "output", value_parser = show::parse_format, default_value = "table")]
        output: show::Format,
        /// Watch tenants: print the table, then a row each time a tenant's phase, agents or
        /// generation change, until Ctrl-C (or `--timeout`).
        #[arg(short = 'w', long)]
        watch: bool,
        /// Stop watching after this many seconds.
        #[arg(long, requires = "watch", value_name = "SECS")]
        timeout: Option<u64>,
    },
    /// Show one tenant in full: spec, status, conditions, resources, recent audit entries.
    Describe {
        #[arg(value_enum)]
        what: DescribeWhat,
        /// The tenant's name (not needed for `describe cell`).
        name: Option<String>,
    },
    /// Delete a tenant (or one agent: `delete agent TENANT KIND`). The operator tears down
    /// everything it owned before the row goes.
    Delete {
        #[arg(value_enum, required_unless_present = "file")]
        what: Option<DeleteWhat>,
        #[arg(required_unless_present = "file")]
        name: Option<String>,
        /// The agent kind, for `delete agent`.
        kind: Option<String>,
        /// Delete every object a manifest names (all or nothing), instead of one by name.
        #[arg(short = 'f', long = "filename", conflicts_with_all = ["what", "name", "kind"])]
        file: Option<String>,
        /// Then wait until the deleted tenants are gone (seconds; default 300).
        #[arg(long, num_args = 0..=1, default_missing_value = "300", value_name = "SECS")]
        wait: Option<u64>,
    },
    /// Run the migrations of both databases (the control store and the tenant database).
    Migrate,
    /// One-off steps between releases.
    Upgrade {
        #[command(subcommand)]
        command: UpgradeCommand,
    },
    /// Cost per tenant: Bedrock tokens and USD, Fargate vCPU-seconds, GB-seconds and USD.
    Cost {
        /// Start of the period: RFC 3339 (2026-11-01T00:00:00Z) or an age (24h, 7d, 30m).
        #[arg(long)]
        since: Option<String>,
    },
    /// Run the operator: reconcile every tenant until SIGTERM/SIGINT (migrates the store first).
    Operator,
    /// Run one resync now: build the inventory, repair drifted tenants, report orphans. While an
    /// operator leads, it asks the leader to run the pass (through the store) and prints the
    /// leader's report; otherwise it takes the leader lease for the pass, so a tenant never has
    /// two actors.
    Resync {
        /// Seconds to wait for the leader's answer.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Print the actions the operator would take now, with reasons; changes nothing.
    Plan {
        /// Only this tenant (default: every tenant).
        tenant: Option<String>,
        /// Exit 0 when there is nothing to change, 2 when there are changes, 1 on error (as
        /// `terraform plan -detailed-exitcode`).
        #[arg(long)]
        detailed_exitcode: bool,
        /// `text`, or `json` (a stable document: see the README).
        #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
        output: PlanFormat,
    },
    /// API tokens of the tenant gateway: `token create|list|revoke TENANT`.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Describe a field of a kind from its JSON Schema: `explain tenant.spec.agents`.
    Explain {
        /// `tenant` or `agent`, then field names joined by dots.
        path: String,
    },
    /// Print a shell completion script: `source <(openclaw completion bash)`.
    Completion {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GetWhat {
    #[value(alias = "tenant")]
    Tenants,
    #[value(alias = "agent")]
    Agents,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DescribeWhat {
    Tenant,
    /// The cell: its database as the RDS API describes it, and compliance.
    Cell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DeleteWhat {
    Tenant,
    Agent,
}

#[derive(Debug, Subcommand)]
pub enum UpgradeCommand {
    /// Move the control store (schema `openclaw`) out of the old single database, which stays as
    /// the tenant database (`tenant_database_url`), into the new, empty `database_url`. Run it
    /// with every operator stopped; running it again changes nothing.
    SplitControlStore,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token for the tenant; it is printed once and stored only as a hash.
    Create {
        tenant: String,
        /// What the token is for (at most 64 characters), shown by `token list`.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List the tenant's tokens (never their values).
    List { tenant: String },
    /// Revoke one of the tenant's tokens; the gateway refuses it from the next request.
    Revoke { tenant: String, id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the audit log's hash chain and report the first broken row.
    Verify,
    /// Walk the live deployment for paths across tenants; exits non-zero on a finding.
    Isolation {
        /// The operator's own role (ARN or name), which may manage every tenant's secrets.
        #[arg(long, env = "OPENCLAW_OPERATOR_ROLE")]
        operator_role: Option<String>,
    },
}

/// Runs one command; the returned string is printed on success.
pub async fn run(cli: Cli) -> anyhow::Result<String> {
    // These two need no configuration and no database.
    match &cli.command {
        Command::Explain { path } => {
            return crds::schema::explain(path).map_err(|e| BadInput(e).into())
        }
        Command::Completion { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "openclaw", &mut out);
            return Ok(String::from_utf8(out)?);
        }
        _ => {}
    }
    let config = Config::load(cli.config.as_deref())?;
    let open = |n: u32, migrate: bool| operator::runtime::open_databases(&config, n, migrate);
    let metrics = || std::sync::Arc::new(operator::metrics::Metrics::new());
    match cli.command {
        Command::Operator => {
            let _telemetry = operator::telemetry::init("openclaw-operator");
            let dbs = open(config.operator.concurrency as u32 + 6, true).await?;
            operator::runtime::run_operator(config, dbs).await?;
            Ok(String::new())
        }
        Command::Migrate => {
            open(2, true).await?;
            Ok("migrations applied (control store and tenant database)\n".into())
        }
        Command::Upgrade {
            command: UpgradeCommand::SplitControlStore,
        } => {
            let control = store::connect(&config.database_url()?, 2).await?;
            let tenants = store::connect(&config.tenant_database_url()?, 2).await?;
            let report = store::split_control_store(&control, &tenants).await?;
            Ok(format!("{report}\n"))
        }
        Command::Plan {
            tenant,
            detailed_exitcode,
            output,
        } => {
            let dbs = open(4, false).await?;
            let (out, summary) = plan(&config, &dbs, tenant.as_deref(), output).await?;
            if detailed_exitcode && summary.total() > 0 {
                return Err(HasChanges(out).into());
            }
            Ok(out)
        }
        Command::Cost { since } => {
            let dbs = open(2, false).await?;
            let since = since.as_deref().map(parse_since).transpose()?;
            let rows =
                operator::cost::report(&dbs.control, &dbs.tenants, &config.operator.prices, since)
                    .await?;
            Ok(show::cost_table(&rows))
        }
        Command::Audit {
            command: AuditCommand::Isolation { operator_role },
        } => {
            let dbs = open(4, false).await?;
            let r = operator::runtime::reconciler(&config, &dbs, metrics(), "audit".into()).await?;
            let findings = operator::isolation::audit(&r, operator_role.as_deref()).await?;
            if findings.is_empty() {
                return Ok("isolation audit: no path across tenants found\n".into());
            }
            let mut out = String::new();
            for f in &findings {
                out.push_str(&format!("{f}\n"));
            }
            print!("{out}");
            bail!("isolation audit: {} finding(s)", findings.len());
        }
        Command::Token { command } => {
            let dbs = open(2, false).await?;
            token(&dbs, command).await
        }
        Command::Describe {
            what: DescribeWhat::Cell,
            ..
        } => {
            let dbs = open(2, false).await?;
            let r =
                operator::runtime::reconciler(&config, &dbs, metrics(), "describe".into()).await?;
            describe_cell(&r).await
        }
        Command::Resync { timeout } => {
            let _telemetry = operator::telemetry::init("openclaw-resync");
            let dbs = open(4, false).await?;
            let r =
                operator::runtime::reconciler(&config, &dbs, metrics(), "resync".into()).await?;
            let grace = std::time::Duration::from_secs(config.operator.orphan_grace_seconds);
            resync(&r, &config, grace, std::time::Duration::from_secs(timeout)).await
        }
        command => {
            let pool = store::connect(&config.database_url()?, 4).await?;
            execute(&pool, command).await
        }
    }
}

/// `openclaw token …`: the tenant is looked up in the control store, its tokens live in the
/// tenant database.
pub async fn token(dbs: &store::Databases, command: TokenCommand) -> anyhow::Result<String> {
    let name = match &command {
        TokenCommand::Create { tenant, .. }
        | TokenCommand::List { tenant }
        | TokenCommand::Revoke { tenant, .. } => tenant.clone(),
    };
    let row = store::get_tenant(&mut *dbs.control.acquire().await?, &name).await?;
    let Some(row) = row else {
        bail!("tenant {name:?} not found");
    };
    let db = row.db_name.as_str();
    match command {
        TokenCommand::Create { label, .. } => {
            if label.chars().count() > 64 || label.chars().any(char::is_control) {
                return Err(BadInput(
                    "--label: at most 64 characters, no control characters".into(),
                )
                .into());
            }
            if row.deletion_requested_at.is_some() {
                bail!("tenant {name:?} is being deleted: no new token");
            }
            let (id, token) = store::create_token(&dbs.tenants, &row.tenant_ref()?, &label).await?;
            Ok(format!(
                "token {id} for tenant {name} (shown once: it is stored only as a hash)\n{token}\n"
            ))
        }
        TokenCommand::List { .. } => {
            let mut out = String::from("ID  LABEL  CREATED  REVOKED\n");
            for t in store::list_tokens(&dbs.tenants, db).await? {
                out.push_str(&format!(
                    "{}  {}  {}  {}\n",
                    t.id,
                    if t.label.is_empty() { "-" } else { &t.label },
                    t.created_at.to_rfc3339(),
                    t.revoked_at.map_or("-".into(), |r| r.to_rfc3339())
                ));
            }
            Ok(out)
        }
        TokenCommand::Revoke { id, .. } => {
            if !store::revoke_token(&dbs.tenants, db, id).await? {
                bail!("tenant {name:?} has no live token {id}");
            }
            Ok(format!("token {id} of tenant {name} revoked\n"))
        }
    }
}

/// `openclaw describe cell`: discovers the database now and shows it with its compliance.
pub async fn describe_cell(r: &operator::reconcile::Reconciler) -> anyhow::Result<String> {
    let cell = &r.cell;
    let mut out = format!(
        "Cell:        {}\nRegion:      {}\nAccount:     {}\nCluster:     {}\nDB auth:     {:?}\n",
        cell.name, cell.region, cell.account_id, cell.ecs_cluster, cell.db_auth
    );
    if cell.database.is_none() {
        out.push_str("Database:    not described through RDS (no cell.database)\n");
        return Ok(out);
    }
    let reasons = r.refresh_cell().await?;
    let guard = r.cell_db.read().unwrap_or_else(|e| e.into_inner());
    if let Some((info, _)) = guard.as_ref() {
        out.push_str(&format!(
            "Database:    {} {} ({} {})\nEndpoint:    {}:{}\nResource id: {}\nEncrypted:   {} (KMS key {})\nPublic:      {}\nIAM auth:    {}\n",
            info.kind,
            info.identifier,
            info.engine.clone().unwrap_or_default(),
            info.engine_version.clone().unwrap_or_default(),
            info.endpoint.clone().unwrap_or_default(),
            info.port.unwrap_or_default(),
            info.resource_id.clone().unwrap_or_default(),
            info.storage_encrypted,
            info.kms_key_id.clone().unwrap_or_else(|| "-".into()),
            info.publicly_accessible,
            info.iam_auth_enabled,
        ));
    }
    out.push_str(&if reasons.is_empty() {
        "Phase:       Ready\n".to_owned()
    } else {
        format!("Phase:       Degraded ({})\n", reasons.join(", "))
    });
    Ok(out)
}

/// `openclaw resync`: one actor per tenant. With a leader, the leader runs the pass and this
/// prints its answer; without one, this process takes the lease for the pass (a standby replica
/// waits meanwhile) and renews it until done.
async fn resync(
    r: &operator::reconcile::Reconciler,
    config: &Config,
    grace: std::time::Duration,
    timeout: std::time::Duration,
) -> anyhow::Result<String> {
    let lease = operator::runtime::lease_name(&r.cell.name);
    let me = format!("resync/{}", operator::runtime::holder_id());
    let duration = config.operator.lease_duration();
    let mut conn = r.pool.acquire().await.context("store connection")?;
    if store::try_lease(&mut conn, &lease, &me, duration).await? {
        let renew = {
            let (pool, lease, me) = (r.pool.clone(), lease.clone(), me.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(duration / 3).await;
                    if let Ok(mut c) = pool.acquire().await {
                        let _ = store::try_lease(&mut c, &lease, &me, duration).await;
                    }
                }
            })
        };
        let outcome = operator::resync::run_once(r, grace).await;
        renew.abort();
        store::release_lease(&mut conn, &lease, &me).await?;
        return Ok(show::resync_summary(&outcome?.summary(), None));
    }
    let leader = store::lease_holder(&mut conn, &lease)
        .await?
        .unwrap_or_else(|| "the leader".into());
    let id = store::request_resync(&mut conn, &lease, &me).await?;
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some((report, error)) = store::resync_answer(&mut conn, id).await? {
            if let Some(e) = error {
                bail!("the leader {leader} ran the resync and it failed: {e}");
            }
            return Ok(show::resync_summary(
                &report.unwrap_or_default(),
                Some(&leader),
            ));
        }
        if std::time::Instant::now() >= deadline {
            bail!(
                "no answer from the leader {leader} within {}s; request {id} stays open and the \
                 leader runs it at its next poll (raise --timeout to wait longer)",
                timeout.as_secs()
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// The exit status of a failed command: 2 for bad input, 1 for anything else (see `--help`).
pub fn exit_code(e: &anyhow::Error) -> u8 {
    let bad_input = e
        .downcast_ref::<apply::ApplyError>()
        .is_some_and(apply::ApplyError::is_bad_input)
        || e.downcast_ref::<BadInput>().is_some();
    if bad_input {
        2
    } else {
        1
    }
}

/// An input the user gave that cannot be used (a file that cannot be read).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// `openclaw plan --detailed-exitcode` or `diff --detailed-exitcode` found changes: they are
/// printed on standard output and the exit status is [`HasChanges::EXIT`].
#[derive(Debug)]
pub struct HasChanges(pub String);

impl HasChanges {
    pub const EXIT: u8 = 2;
}

impl std::fmt::Display for HasChanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("there are changes")
    }
}

impl std::error::Error for HasChanges {}

/// `openclaw plan [TENANT]`: every tenant's actions, then the summary over all of them.
pub async fn plan(
    config: &Config,
    dbs: &store::Databases,
    tenant: Option<&str>,
    format: PlanFormat,
) -> anyhow::Result<(String, operator::engine::Summary)> {
    let metrics = std::sync::Arc::new(operator::metrics::Metrics::new());
    let r = operator::runtime::reconciler(config, dbs, metrics, "plan".into()).await?;
    let names = match tenant {
        Some(t) => vec![t.to_owned()],
        None => {
            let mut conn = dbs.control.acquire().await.context("store connection")?;
            store::tenant_names(&mut conn).await?
        }
    };
    let mut out = String::new();
    let mut summary = operator::engine::Summary::default();
    if format == PlanFormat::Json {
        let mut tenants = Vec::new();
        for name in names {
            let Some((doc, s)) = r.plan_json(&name).await? else {
                bail!("tenant {name:?} not found");
            };
            tenants.push(doc);
            summary += s;
        }
        let doc = serde_json::json!({
            "format_version": 1,
            "tenants": tenants,
            "summary": summary.to_json(),
        });
        return Ok((serde_json::to_string_pretty(&doc)? + "\n", summary));
    }
    for name in names {
        match r.plan(&name).await? {
            Some((text, s)) => {
                out.push_str(&text);
                summary += s;
            }
            None => bail!("tenant {name:?} not found"),
        }
    }
    out.push_str(&format!("Plan: {summary}.\n"));
    Ok((out, summary))
}

/// Runs one command of the control store alone against `pool`.
pub async fn execute(pool: &sqlx::PgPool, command: Command) -> anyhow::Result<String> {
    let mut conn = pool.acquire().await.context("store connection")?;
    match command {
        Command::Operator
        | Command::Migrate
        | Command::Upgrade { .. }
        | Command::Token { .. }
        | Command::Plan { .. }
        | Command::Resync { .. }
        | Command::Explain { .. }
        | Command::Completion { .. }
        | Command::Cost { .. }
        | Command::Audit {
            command: AuditCommand::Isolation { .. },
        }
        | Command::Describe {
            what: DescribeWhat::Cell,
            ..
        } => {
            bail!("this command needs both databases or the cell configuration; use cli::run")
        }
        Command::Apply {
            file,
            dry_run,
            wait,
        } => {
            let text = read_manifest(&file)?;
            let report = apply::apply_opts(pool, &text, dry_run).await?;
            let note = if dry_run { " (dry run)" } else { "" };
            let mut out: String = report.iter().map(|r| format!("{r}{note}\n")).collect();
            if let (Some(secs), false) = (wait, dry_run) {
                out.push_str(&wait_for(&mut conn, &tenants_of(&report), Goal::Ready, secs).await?);
            }
            Ok(out)
        }
        Command::Diff {
            file,
            detailed_exitcode,
        } => {
            let text = read_manifest(&file)?;
            let diffs = apply::diff(pool, &text).await?;
            let out: String = diffs.iter().map(ToString::to_string).collect();
            let changed = diffs.iter().any(|d| d.outcome != apply::Outcome::Unchanged);
            if detailed_exitcode && changed {
                return Err(HasChanges(out).into());
            }
            Ok(out)
        }
        Command::Get {
            what: GetWhat::Tenants,
            name,
            output: show::Format::Table,
            watch: true,
            timeout,
        } => {
            watch_tenants(&mut conn, name.as_deref(), timeout).await?;
            Ok(String::new())
        }
        Command::Get { watch: true, .. } => {
            Err(BadInput("-w watches tenants in table output: `get tenants -w`".into()).into())
        }
        Command::Get {
            what, name, output, ..
        } => {
            let now = chrono::Utc::now();
            let mut tenants = store::list_tenants(&mut conn).await?;
            if let Some(n) = &name {
                tenants.retain(|t| &t.name == n);
                if tenants.is_empty() {
                    bail!("tenant {n:?} not found");
                }
            }
            let agents = store::list_agents(&mut conn, name.as_deref()).await?;
            match (what, output) {
                (GetWhat::Tenants, show::Format::Name) => Ok(tenants
                    .iter()
                    .map(|t| format!("tenant/{}\n", t.name))
                    .collect()),
                (GetWhat::Agents, show::Format::Name) => Ok(agents
                    .iter()
                    .map(|a| format!("agent/{}/{}\n", a.tenant, a.kind))
                    .collect()),
                (GetWhat::Tenants, show::Format::Table) => {
                    Ok(show::tenants_table(&tenants, &agents, now))
                }
                (GetWhat::Agents, show::Format::Table) => Ok(show::agents_table(&agents)),
                (GetWhat::Tenants, show::Format::Wide) => {
                    Ok(show::tenants_wide(&tenants, &agents, now))
                }
                (GetWhat::Agents, show::Format::Wide) => Ok(show::agents_wide(&agents)),
                (GetWhat::Tenants, format) => {
                    let items = tenants
                        .iter()
                        .map(|t| {
                            let own: Vec<_> = agents
                                .iter()
                                .filter(|a| a.tenant == t.name)
                                .cloned()
                                .collect();
                            t.to_manifest(&own)
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    show::manifests(&items, format, name.is_some())
                }
                (GetWhat::Agents, format) => {
                    let items = agents
                        .iter()
                        .map(store::AgentRow::to_manifest)
                        .collect::<Result<Vec<_>, _>>()?;
                    show::manifests(&items, format, name.is_some())
                }
            }
        }
        Command::Describe {
            what: DescribeWhat::Tenant,
            name,
        } => {
            let name = name.context("describe tenant needs NAME")?;
            match show::describe_tenant(&mut conn, &name, chrono::Utc::now()).await? {
                Some(s) => Ok(s),
                None => bail!("tenant {name:?} not found"),
            }
        }
        Command::Delete {
            file: Some(file),
            wait,
            ..
        } => {
            let text = read_manifest(&file)?;
            let report = apply::delete(pool, &text).await?;
            let mut out: String = report.iter().map(|r| format!("{r}\n")).collect();
            if let Some(secs) = wait {
                let gone: Vec<String> = report
                    .iter()
                    .filter_map(|r| r.object.strip_prefix("tenant/").map(str::to_owned))
                    .collect();
                out.push_str(&wait_for(&mut conn, &gone, Goal::Gone, secs).await?);
            }
            Ok(out)
        }
        Command::Delete {
            what,
            name,
            kind,
            wait,
            ..
        } => {
            let (what, name) = what
                .zip(name)
                .context("delete needs TENANT (or agent TENANT KIND), or -f FILE")?;
            let (id, deleted) = match what {
                DeleteWhat::Tenant => (
                    format!("tenant/{name}"),
                    store::delete_tenant(&mut conn, &name).await?,
                ),
                DeleteWhat::Agent => {
                    let kind_str = kind.context("delete agent needs TENANT and KIND")?;
                    let Some(kind) = AgentKind::parse(&kind_str) else {
                        bail!("kind: must be butler, scout or strategist (got {kind_str:?})");
                    };
                    (
                        format!("agent/{name}/{kind}"),
                        store::delete_agent(&mut conn, &name, kind).await?,
                    )
                }
            };
            let out = match deleted {
                Deleted::NotFound => bail!("{id} not found"),
                Deleted::Removed => format!("{id} deleted\n"),
                Deleted::Marked => format!(
                    "{id} marked for deletion; the operator removes its resources, then the row\n"
                ),
            };
            match (wait, what) {
                (Some(secs), DeleteWhat::Tenant) => Ok(out
                    + &wait_for(&mut conn, std::slice::from_ref(&name), Goal::Gone, secs).await?),
                _ => Ok(out),
            }
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let rows = store::audit_rows(&mut conn, None, None).await?;
            let n = crds::audit::verify_chain(&rows)?;
            Ok(format!("audit log verified: {n} entries, chain intact\n"))
        }
    }
}

/// `get tenants -w`: prints the table, then each tenant's row again when it changes (AGE aside),
/// polling the store twice a second; a tenant that goes is printed as `tenant/NAME deleted`.
async fn watch_tenants(
    conn: &mut sqlx::PgConnection,
    name: Option<&str>,
    timeout: Option<u64>,
) -> anyhow::Result<()> {
    use std::io::Write;
    let deadline = timeout.map(|s| std::time::Instant::now() + std::time::Duration::from_secs(s));
    let mut seen: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut first = true;
    loop {
        let mut tenants = store::list_tenants(conn).await?;
        if let Some(n) = name {
            tenants.retain(|t| t.name == n);
        }
        let agents = store::list_agents(conn, name).await?;
        let rows = show::tenant_rows(&tenants, &agents, chrono::Utc::now());
        let mut out = String::new();
        if first {
            out.push_str(&show::table(&show::TENANT_COLUMNS, &rows));
        }
        let mut now_seen = std::collections::BTreeMap::new();
        for row in rows {
            let key = row[..row.len() - 1].to_vec();
            if !first && seen.get(&row[0]) != Some(&key) {
                let line = show::table(&show::TENANT_COLUMNS, std::slice::from_ref(&row));
                out.push_str(line.lines().nth(1).unwrap_or_default());
                out.push('\n');
            }
            now_seen.insert(row[0].clone(), key);
        }
        for gone in seen.keys().filter(|k| !now_seen.contains_key(*k)) {
            out.push_str(&format!("tenant/{gone} deleted\n"));
        }
        seen = now_seen;
        first = false;
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(out.as_bytes())?;
        stdout.flush()?;
        drop(stdout);
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// What `--wait` waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Goal {
    Ready,
    Gone,
}

/// The tenants a report touches (`tenant/T`, `agent/T/K`), each once.
fn tenants_of(report: &[apply::Applied]) -> Vec<String> {
    let mut names: Vec<String> = report
        .iter()
        .filter_map(|r| {
            r.object
                .strip_prefix("tenant/")
                .or_else(|| r.object.strip_prefix("agent/")?.split('/').next())
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Polls the store until every tenant in `names` is Ready (or gone), for at most `secs`. A tenant
/// that fails terminally ends the wait at once with its reason.
async fn wait_for(
    conn: &mut sqlx::PgConnection,
    names: &[String],
    goal: Goal,
    secs: u64,
) -> anyhow::Result<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let mut out = String::new();
    for name in names {
        loop {
            let row = store::get_tenant(conn, name).await?;
            let done = match (&row, goal) {
                (None, Goal::Gone) => true,
                (None, Goal::Ready) => bail!("tenant/{name} is gone"),
                (Some(t), Goal::Ready) if t.phase == "Failed" => bail!(
                    "tenant/{name} failed: {}",
                    t.status_message
                        .as_deref()
                        .unwrap_or("see `openclaw describe tenant`")
                ),
                (Some(t), Goal::Ready) => {
                    t.phase == "Ready" && t.observed_generation == t.generation
                }
                (Some(_), Goal::Gone) => false,
            };
            if done {
                out.push_str(&match goal {
                    Goal::Ready => format!("tenant/{name} Ready\n"),
                    Goal::Gone => format!("tenant/{name} gone\n"),
                });
                break;
            }
            if std::time::Instant::now() >= deadline {
                let phase = row.map(|t| t.phase).unwrap_or_default();
                bail!(
                    "timed out after {secs}s waiting for tenant/{name} to be {} (phase {phase}); \
                     `openclaw describe tenant {name}` says why",
                    if goal == Goal::Ready { "Ready" } else { "gone" }
                );
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }
    Ok(out)
}

/// `2026-11-01T00:00:00Z`, or an age back from now: `30m`, `24h`, `7d`.
pub fn parse_since(s: &str) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    let (num, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = num
        .parse()
        .map_err(|_| anyhow::anyhow!("--since: {s:?} is neither RFC 3339 nor an age like 24h"))?;
    let secs = match unit {
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => bail!("--since: unit must be m, h or d (got {s:?})"),
    };
    Ok(chrono::Utc::now() - chrono::Duration::seconds(secs))
}

fn read_manifest(file: &str) -> anyhow::Result<String> {
    let limit = crds::manifest::MAX_MANIFEST_BYTES as u64 + 1;
    let mut text = String::new();
    if file == "-" {
        std::io::stdin()
            .take(limit)
            .read_to_string(&mut text)
            .map_err(|e| BadInput(format!("cannot read standard input: {e}")))?;
    } else {
        std::fs::File::open(file)
            .map_err(|e| BadInput(format!("cannot open {file}: {e}")))?
            .take(limit)
            .read_to_string(&mut text)
            .map_err(|e| BadInput(format!("cannot read {file}: {e}")))?;
    }
    Ok(text)
}
