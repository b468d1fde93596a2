//! One tenant's reconcile: render → observe → plan → apply → report.
//!
//! Owns: the order of those steps, finalizers, and the status written back (phase, conditions,
//! observed generation). Conditions are recomputed on every pass, never patched piecemeal. Also
//! how much a pass reads (`Scope`, and the settled marker that lets a progress requeue confirm
//! only the services); a pass that cannot prove its narrower read is enough reads everything.
//! Must never: act on a tenant whose lease it does not hold (the controller guarantees this), or
//! report Ready before every agent's service runs its desired count.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use crds::api::{AgentSpec, Condition};
use crds::audit::AuditRow;
use crds::naming::{DbName, TenantRef};
use sqlx::PgPool;

use crate::aws::Clients;
use crate::config::CellConfig;
use crate::engine::{self, Applied, Journal, Plan};
use crate::error::{ReconcileError, Result};
use crate::metrics::Metrics;
use crate::render::{self, DbEndpoint, DesiredTenant};
use crate::resources::{self, Ctx, Links, ObservedTenant, Scope, TaskDefinitionCache};
use crate::store::{self, AgentRow, AuditEntry, TenantRow, TenantStatus};

/// Requeue delay while something is still converging (services starting, teardown draining).
pub const PROGRESS_REQUEUE: Duration = Duration::from_secs(3);

/// What a successful reconcile asks of the controller next (as kube-runtime's `Action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requeue {
    /// Converged (or gone): run again only on a change, a poll or the resync.
    AwaitChange,
    /// Still converging: look again after this delay.
    After(Duration),
}

impl Requeue {
    /// The delay the work queue honours; `None` when nothing is pending.
    pub fn delay(self) -> Option<Duration> {
        match self {
            Requeue::AwaitChange => None,
            Requeue::After(d) => Some(d),
        }
    }
}

/// Everything one reconcile needs.
pub struct Reconciler {
    /// The control store.
    pub pool: PgPool,
    /// The cell's tenant database (tenant schemas and roles, `shared`).
    pub tenant_db: PgPool,
    pub clients: Clients,
    pub cell: CellConfig,
    pub db: DbEndpoint,
    pub metrics: Arc<Metrics>,
    /// Who the audit log names: `operator/<holder id>`.
    pub actor: String,
    /// Task definitions already described (revisions are immutable).
    pub td_cache: Arc<TaskDefinitionCache>,
    /// The cell's database as last discovered, and why it is not compliant (empty if it is).
    pub cell_db: std::sync::RwLock<Option<(crate::rds::DbInfo, Vec<&'static str>)>>,
    /// Per tenant, what its last pass left when it applied everything and waits only for its
    /// services to run; or a resync's word that the tenant drifted since.
    pub settled: std::sync::Mutex<std::collections::HashMap<String, Settled>>,
}

/// What a tenant's next pass may take as known.
#[derive(Debug)]
pub enum Settled {
    /// The last pass applied everything for this spec version; the links name the revision each
    /// service must run.
    Applied { version: SpecVersion, links: Links },
    /// The resync found drift: the next pass reads everything.
    Distrusted,
}

/// What a pass was planned for: the tenant's and each agent's generation and deletion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecVersion {
    tenant: i64,
    agents: Vec<(String, i64, bool)>,
}

impl SpecVersion {
    fn of(l: &Loaded) -> SpecVersion {
        SpecVersion {
            tenant: l.row.generation,
            agents: l
                .agents
                .iter()
                .map(|a| {
                    (
                        a.kind.clone(),
                        a.generation,
                        a.deletion_requested_at.is_some(),
                    )
                })
                .collect(),
        }
    }
}

/// A tenant's state gathered for one pass.
struct Loaded {
    row: TenantRow,
    agents: Vec<AgentRow>,
    tenant: TenantRef,
}

impl Loaded {
    /// Observe only: `spec.paused`, unless the tenant is being deleted (erasure is never paused).
    fn paused(&self) -> bool {
        self.row.paused && self.row.deletion_requested_at.is_none()
    }
}

/// Sets a condition, keeping its transition time when its status did not change.
pub fn set_condition(
    previous: &[Condition],
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    now: &str,
) -> Condition {
    let status = if status { "True" } else { "False" };
    let since = previous
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.to_owned());
    Condition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.to_owned(),
        message: message.to_owned(),
        last_transition_time: since,
    }
}

/// What a pass found, reduced to what status needs.
#[derive(Debug, Clone, PartialEq)]
pub enum PassResult {
    /// Applied `changes`; `ready` agents run their desired count, of `total`.
    Synced {
        changes: usize,
        ready: usize,
        total: usize,
    },
    /// Observed only (`spec.paused`): `held` changes were planned and not made, `security` of
    /// them security drift.
    Paused {
        held: usize,
        security: usize,
        ready: usize,
        total: usize,
    },
    Error {
        code: String,
        message: String,
        terminal: bool,
    },
}

/// The tenant's status after a pass (pure).
pub fn tenant_status(
    previous: &[Condition],
    generation: i64,
    previous_observed: i64,
    result: &PassResult,
    now: &str,
) -> TenantStatus {
    match result {
        PassResult::Synced {
            changes,
            ready,
            total,
        } => {
            let all_ready = *changes == 0 && ready == total;
            let ready_msg = format!("{ready}/{total} agents running their desired count");
            TenantStatus {
                phase: if all_ready { "Ready" } else { "Provisioning" }.into(),
                observed_generation: generation,
                conditions: vec![
                    set_condition(
                        previous,
                        "Ready",
                        all_ready,
                        if all_ready {
                            "AllAgentsRunning"
                        } else {
                            "Converging"
                        },
                        &ready_msg,
                        now,
                    ),
                    set_condition(
                        previous,
                        "Synced",
                        true,
                        "Converged",
                        &format!("{changes} changes applied in the last pass"),
                        now,
                    ),
                    set_condition(previous, "Degraded", false, "NoErrors", "", now),
                ]
                .into_iter()
                .chain(
                    previous
                        .iter()
                        .any(|c| c.type_ == "Paused")
                        .then(|| set_condition(previous, "Paused", false, "Resumed", "", now)),
                )
                .collect(),
                message: None,
            }
        }
        PassResult::Paused {
            held,
            security,
            ready,
            total,
        } => {
            let all_ready = *held == 0 && ready == total;
            let held_msg = format!(
                "paused: {held} changes held ({security} security drift); \
                 set spec.paused to false to make them"
            );
            TenantStatus {
                phase: "Paused".into(),
                observed_generation: generation,
                conditions: vec![
                    set_condition(
                        previous,
                        "Ready",
                        all_ready,
                        if all_ready {
                            "AllAgentsRunning"
                        } else if *held > 0 {
                            "Drifted"
                        } else {
                            "NotRunning"
                        },
                        &format!("{ready}/{total} agents running their desired count"),
                        now,
                    ),
                    set_condition(
                        previous,
                        "Synced",
                        *held == 0,
                        if *held == 0 { "Converged" } else { "Paused" },
                        &held_msg,
                        now,
                    ),
                    set_condition(previous, "Degraded", false, "NoErrors", "", now),
                    set_condition(previous, "Paused", true, "PausedBySpec", &held_msg, now),
                ],
                message: (*held > 0).then(|| held_msg.clone()),
            }
        }
        PassResult::Error {
            code,
            message,
            terminal,
        } => {
            let was_ready = previous
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            TenantStatus {
                phase: if *terminal {
                    "Failed"
                } else if was_ready {
                    "Degraded"
                } else {
                    "Provisioning"
                }
                .into(),
                // A terminal error on this generation is an observation of it too.
                observed_generation: if *terminal {
                    generation
                } else {
                    previous_observed
                },
                conditions: vec![
                    set_condition(previous, "Ready", false, code, message, now),
                    set_condition(previous, "Synced", false, code, message, now),
                    set_condition(previous, "Degraded", true, code, message, now),
                ],
                message: Some(format!("{code}: {message}")),
            }
        }
    }
}

impl Reconciler {
    pub(crate) fn ctx(&self) -> Ctx<'_> {
        Ctx {
            clients: &self.clients,
            pool: &self.pool,
            tenant_db: &self.tenant_db,
            cell: &self.cell,
            db: &self.db,
            td_cache: &self.td_cache,
        }
    }

    pub(crate) fn journal(&self) -> Journal<'_> {
        Journal {
            actor: &self.actor,
            metrics: &self.metrics,
        }
    }

    async fn load(&self, name: &str) -> Result<Option<Loaded>> {
        let mut conn = self.pool.acquire().await.map_err(store::StoreError::from)?;
        let Some(row) = store::get_tenant(&mut conn, name).await? else {
            return Ok(None);
        };
        let agents = store::list_agents(&mut conn, Some(name)).await?;
        let tenant = row.tenant_ref()?;
        Ok(Some(Loaded {
            row,
            agents,
            tenant,
        }))
    }

    fn desired(&self, l: &Loaded) -> Result<Option<DesiredTenant>> {
        self.render(&l.row, &l.agents)
    }

    /// The cell as rendering sees it: the configuration plus what discovery found.
    fn effective_cell(&self) -> Result<CellConfig> {
        let mut cell = self.cell.clone();
        cell.agent_db = Some(self.db.clone());
        if cell.db_resource_id.is_none() {
            cell.db_resource_id = self
                .cell_db
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .and_then(|(info, _)| info.resource_id.clone());
        }
        if render::iam_db(&cell) {
            let ok = cell
                .db_resource_id
                .as_deref()
                .and_then(|id| {
                    cell.arn_context().db_user_arn(
                        id,
                        &DbName::legacy(&crds::naming::TenantName::parse("probe").ok()?),
                    )
                })
                .is_some();
            if !ok {
                return Err(ReconcileError::Invalid(
                    "db_auth is iam but the database's resource id is unknown or malformed: \
                     set cell.database (discovery) or cell.db_resource_id"
                        .into(),
                ));
            }
        }
        Ok(cell)
    }

    /// Re-reads the cell's database through the RDS API (when configured), records it and sets
    /// the compliance metric. Returns the reasons it is not compliant.
    pub async fn refresh_cell(&self) -> Result<Vec<&'static str>> {
        let Some(db) = &self.cell.database else {
            return Ok(Vec::new());
        };
        let info = crate::rds::discover(&self.clients, db).await?;
        let reasons = crate::rds::noncompliance(&info, &self.cell);
        for r in crate::metrics::NONCOMPLIANCE_REASONS {
            self.metrics
                .cell_noncompliant
                .with_label_values(&[r])
                .set(i64::from(reasons.contains(&r)));
        }
        if !reasons.is_empty() {
            tracing::warn!(cell = %self.cell.name, reasons = ?reasons, "cell database is not compliant");
        }
        let mut conn = self.pool.acquire().await.map_err(store::StoreError::from)?;
        store::write_cell(
            &mut conn,
            &self.cell.name,
            &serde_json::to_value(&info).unwrap_or_default(),
            &reasons,
        )
        .await?;
        *self.cell_db.write().unwrap_or_else(|e| e.into_inner()) = Some((info, reasons.clone()));
        Ok(reasons)
    }

    /// The tenant's desired resources; `None` when it is being deleted.
    pub fn render(&self, row: &TenantRow, agents: &[AgentRow]) -> Result<Option<DesiredTenant>> {
        if row.deletion_requested_at.is_some() {
            return Ok(None);
        }
        let cell = self.effective_cell()?;
        if row.region != cell.region {
            return Err(ReconcileError::Invalid(format!(
                "tenant region {} is not served by cell {} ({})",
                row.region, cell.name, cell.region
            )));
        }
        let tenant = row.tenant_ref()?;
        let tier = crds::api::Tier::parse(&row.tier)
            .ok_or_else(|| ReconcileError::Invalid(format!("unknown tier {:?}", row.tier)))?;
        let specs = live_specs(agents)?;
        Ok(Some(render::render_tenant(&cell, &tenant, tier, &specs)))
    }

    async fn observe_and_plan(
        &self,
        l: &Loaded,
        desired: Option<&DesiredTenant>,
        scope: Scope,
    ) -> Result<(ObservedTenant, Plan)> {
        let scope = if desired.is_none() {
            Scope::Teardown
        } else {
            scope
        };
        let observed = resources::observe_tenant(
            &self.clients,
            &self.td_cache,
            &self.tenant_db,
            &self.cell,
            &l.tenant,
            scope,
        )
        .await?;
        for td in observed.task_definitions.values() {
            self.td_cache.insert(td.clone());
        }
        let inventory = {
            let mut conn = self.pool.acquire().await.map_err(store::StoreError::from)?;
            store::inventory_names(&mut conn, l.tenant.as_str()).await?
        };
        let plan = engine::plan(&l.tenant, desired, &observed, &inventory)?;
        Ok((observed, plan))
    }

    /// The plan a reconcile would carry out now. Changes nothing.
    async fn planned(&self, name: &str) -> Result<Option<(Loaded, engine::Plan)>> {
        let Some(l) = self.load(name).await? else {
            return Ok(None);
        };
        let desired = self.desired(&l)?;
        let (_, plan) = self
            .observe_and_plan(&l, desired.as_ref(), Scope::Full)
            .await?;
        Ok(Some((l, plan)))
    }

    /// `openclaw plan -o json`: one tenant's document (`tenant`, `paused`, `deleting`, `actions`,
    /// `summary`). Changes nothing.
    pub async fn plan_json(
        &self,
        name: &str,
    ) -> Result<Option<(serde_json::Value, engine::Summary)>> {
        let Some((l, plan)) = self.planned(name).await? else {
            return Ok(None);
        };
        let summary = plan.summary();
        Ok(Some((
            serde_json::json!({
                "tenant": name,
                "paused": l.paused(),
                "deleting": l.row.deletion_requested_at.is_some(),
                "actions": plan.to_json(&l.tenant),
                "summary": summary.to_json(),
            }),
            summary,
        )))
    }

    /// `openclaw plan`: the actions a reconcile would take now, with reasons. Changes nothing.
    /// The text is one line per action; the summary counts them.
    pub async fn plan(&self, name: &str) -> Result<Option<(String, engine::Summary)>> {
        let Some((l, plan)) = self.planned(name).await? else {
            return Ok(None);
        };
        let summary = plan.summary();
        if plan.is_empty() {
            return Ok(Some((format!("tenant/{name}: no changes\n"), summary)));
        }
        let paused = if l.paused() {
            " (paused: held until spec.paused is false)"
        } else {
            ""
        };
        Ok(Some((
            format!(
                "tenant/{name}: {summary}{paused}\n{}",
                plan.render(&l.tenant)
            ),
            summary,
        )))
    }

    /// Reconciles one tenant and writes its status.
    pub async fn reconcile(&self, name: &str) -> Result<Requeue> {
        use tracing::Instrument;
        let started = std::time::Instant::now();
        // A root span per reconcile; each AWS call beneath it is the SDK's own span.
        let span = tracing::info_span!(
            parent: None,
            "reconcile",
            tenant = name,
            cell = %self.cell.name,
            outcome = tracing::field::Empty,
        );
        // Whatever the last pass left is taken here, and left again only by a pass that ends
        // waiting for its services.
        let settled = self
            .settled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        let known = match settled {
            Some(Settled::Applied { version, links }) => Some((version, links)),
            Some(Settled::Distrusted) | None => None,
        };
        let result = self
            .reconcile_inner(name, known)
            .instrument(span.clone())
            .await;
        self.metrics
            .reconcile_duration
            .observe(started.elapsed().as_secs_f64());
        let label = match &result {
            Ok(_) => "ok",
            Err(e) if e.is_terminal() => "terminal_error",
            Err(_) => "error",
        };
        self.metrics.reconciles.with_label_values(&[label]).inc();
        span.record("outcome", label);
        if let Err(e) = &result {
            tracing::warn!(tenant = name, code = %e.code(), error = %e, "reconcile failed");
            if let Err(se) = self.report_error(name, e).await {
                tracing::error!(tenant = name, error = %se, "cannot write failure status");
            }
        }
        result
    }

    /// The resync found `tenant` drifted: its next pass reads everything, even one queued or
    /// running now.
    pub fn distrust(&self, tenant: &str) {
        self.settled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tenant.to_owned(), Settled::Distrusted);
    }

    /// Observes, plans and, unless the tenant is paused, applies.
    async fn pass(
        &self,
        l: &Loaded,
        desired: Option<&DesiredTenant>,
        scope: Scope,
        drift: bool,
    ) -> Result<(ObservedTenant, Plan, Applied)> {
        let (observed, plan) = self.observe_and_plan(l, desired, scope).await?;
        for p in plan.actions.iter().filter(|p| p.security) {
            let (kind, res) = p.action.resource(&l.tenant);
            tracing::warn!(tenant = l.tenant.as_str(), resource_kind = %kind, resource = %res, reason = %p.reason, "repairing security drift");
        }
        // Paused: observed and planned as always, and nothing is made.
        if l.paused() {
            let links = resources::links(desired, &observed);
            return Ok((observed, plan, Applied { changes: 0, links }));
        }
        let applied = engine::execute(
            &self.ctx(),
            &self.journal(),
            &l.tenant,
            desired,
            &observed,
            &plan.actions,
            drift,
        )
        .await?;
        self.record_current_revisions(l, desired, &observed).await?;
        Ok((observed, plan, applied))
    }

    /// The pass after one that applied everything for this same spec: only the services are
    /// read, since their running count is what still changes by itself. `None` when a service
    /// is not as that pass left it (the caller then reads everything).
    async fn confirm_services(
        &self,
        l: &Loaded,
        desired: &DesiredTenant,
        links: Links,
    ) -> Result<Option<(ObservedTenant, Plan, Applied)>> {
        let services = resources::observe_services(&self.clients, &self.cell, desired).await?;
        let recorded = {
            let mut conn = self.pool.acquire().await.map_err(store::StoreError::from)?;
            store::inventory_names(&mut conn, l.tenant.as_str()).await?
        };
        if !resources::service_changes(desired, &services, &links, &recorded)?.is_empty() {
            return Ok(None);
        }
        let observed = ObservedTenant {
            services,
            ..ObservedTenant::default()
        };
        Ok(Some((
            observed,
            Plan::default(),
            Applied { changes: 0, links },
        )))
    }

    async fn reconcile_inner(
        &self,
        name: &str,
        known: Option<(SpecVersion, Links)>,
    ) -> Result<Requeue> {
        let Some(l) = self.load(name).await? else {
            return Ok(Requeue::AwaitChange);
        };
        if l.row.deletion_requested_at.is_some() {
            return self.teardown(&l).await;
        }
        // A new tenant (nothing provisioned yet) is not onboarded into a non-compliant cell.
        if l.row.finalizers.is_empty() {
            let reasons = self
                .cell_db
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .map(|(_, r)| r.clone())
                .unwrap_or_default();
            let allowed = self
                .cell
                .database
                .as_ref()
                .is_some_and(|d| d.allow_noncompliant_onboarding);
            if !reasons.is_empty() && !allowed {
                return Err(ReconcileError::CellNoncompliant {
                    cell: self.cell.name.clone(),
                    reasons: reasons.join(", "),
                });
            }
        }
        // Nothing was ever made for a tenant with no finalizer and no inventory row.
        let first;
        {
            let mut conn = self.pool.acquire().await.map_err(store::StoreError::from)?;
            first = l.row.finalizers.is_empty() && !store::has_inventory(&mut conn, name).await?;
            store::add_tenant_finalizer(&mut conn, name).await?;
            for a in l
                .agents
                .iter()
                .filter(|a| a.deletion_requested_at.is_none())
            {
                store::add_agent_finalizer(&mut conn, name, &a.kind).await?;
            }
        }
        let desired = self.desired(&l)?;
        let version = SpecVersion::of(&l);
        // Nothing in the spec changed since the last converged pass: whatever we change is drift.
        let drift = l.row.phase == "Ready"
            && l.row.generation == l.row.observed_generation
            && l.agents
                .iter()
                .all(|a| a.generation == a.observed_generation);
        let confirmed = match (known, desired.as_ref()) {
            (Some((v, links)), Some(d)) if v == version && !l.paused() => {
                self.confirm_services(&l, d, links).await?
            }
            _ => None,
        };
        // Whether, after this pass, everything but the services' running count is known: it
        // found nothing to do, or it made everything of a new tenant (a pass that changed an
        // existing tenant may leave work for the next one, such as a superseded revision).
        let mut complete = true;
        let (observed, plan, applied) = match confirmed {
            Some(done) => done,
            None if first => match self.pass(&l, desired.as_ref(), Scope::First, drift).await {
                Ok(done) => done,
                // Something existed after all (or the call failed): read it back and verify.
                Err(e) => {
                    tracing::info!(tenant = name, code = %e.code(), "first pass stopped; reading the tenant in full");
                    let done = self.pass(&l, desired.as_ref(), Scope::Full, drift).await?;
                    complete = done.1.is_empty();
                    done
                }
            },
            None => {
                let done = self.pass(&l, desired.as_ref(), Scope::Full, drift).await?;
                complete = done.1.is_empty();
                done
            }
        };
        let changes = applied.changes;
        if changes > 0 {
            tracing::info!(tenant = name, changes, "applied");
        }
        // Agents whose teardown is complete (nothing left to remove) let go of their row.
        let planned: BTreeSet<(crate::kind::Kind, String)> = plan
            .actions
            .iter()
            .map(|p| p.action.resource(&l.tenant))
            .collect();
        let mut conn = self.pool.acquire().await.map_err(store::StoreError::from)?;
        for a in l
            .agents
            .iter()
            .filter(|a| a.deletion_requested_at.is_some())
        {
            let kind = a.agent_kind()?;
            let pending = planned
                .iter()
                .any(|(_, n)| n == &l.tenant.service_name(kind) || n == &l.tenant.role_name(kind));
            if !pending {
                store::remove_agent_finalizer(&mut conn, name, &a.kind).await?;
            }
        }
        // Status: an agent is Ready when its service runs its desired count.
        let now = Utc::now().to_rfc3339();
        let live: Vec<&AgentRow> = l
            .agents
            .iter()
            .filter(|a| a.deletion_requested_at.is_none())
            .collect();
        let mut ready = 0;
        for a in &live {
            let kind = a.agent_kind()?;
            let svc = observed.services.get(&l.tenant.service_name(kind));
            let running = svc.filter(|s| s.is_active()).map(|s| s.running_count);
            let touched = planned.iter().any(|(_, n)| {
                n == &l.tenant.service_name(kind) || n == &l.tenant.task_family(kind)
            });
            let is_ready = !touched && running.is_some_and(|r| r >= a.desired_count);
            if is_ready {
                ready += 1;
            }
            let prev = a.status().conditions;
            let status = TenantStatus {
                phase: if is_ready { "Ready" } else { "Provisioning" }.into(),
                observed_generation: a.generation,
                conditions: vec![set_condition(
                    &prev,
                    "Ready",
                    is_ready,
                    if is_ready {
                        "DesiredCountRunning"
                    } else {
                        "Converging"
                    },
                    &format!(
                        "{}/{} tasks running",
                        running.map(|r| r.to_string()).unwrap_or_else(|| "-".into()),
                        a.desired_count
                    ),
                    &now,
                )],
                message: None,
            };
            store::write_agent_status(&mut conn, name, &a.kind, &status, running).await?;
        }
        let result = if l.paused() {
            PassResult::Paused {
                held: plan.actions.len(),
                security: plan.actions.iter().filter(|p| p.security).count(),
                ready,
                total: live.len(),
            }
        } else {
            PassResult::Synced {
                changes,
                ready,
                total: live.len(),
            }
        };
        let status = tenant_status(
            &l.row.status().conditions,
            l.row.generation,
            l.row.observed_generation,
            &result,
            &now,
        );
        store::write_tenant_status(&mut conn, name, &status).await?;
        self.metrics
            .tenant_condition
            .with_label_values(&[name, "Ready"])
            .set(i64::from(status.phase == "Ready"));
        self.metrics
            .tenant_condition
            .with_label_values(&[name, "Failed"])
            .set(0);
        self.metrics
            .tenant_condition
            .with_label_values(&[name, "Degraded"])
            .set(0);
        self.metrics
            .tenant_condition
            .with_label_values(&[name, "Paused"])
            .set(i64::from(l.paused()));
        let pending_deletes = l.agents.iter().any(|a| a.deletion_requested_at.is_some());
        // A paused tenant waits for its spec to change (or a resync to look again).
        if l.paused() || (status.phase == "Ready" && !pending_deletes) {
            return Ok(Requeue::AwaitChange);
        }
        if complete && !pending_deletes {
            // A resync's word that arrived during this pass wins.
            self.settled
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(name.to_owned())
                .or_insert(Settled::Applied {
                    version,
                    links: applied.links,
                });
        }
        Ok(Requeue::After(PROGRESS_REQUEUE))
    }

    /// Tears the tenant down; once nothing is left, writes the erasure record and lets the row go.
    async fn teardown(&self, l: &Loaded) -> Result<Requeue> {
        let name = l.tenant.as_str();
        {
            let mut conn = self.pool.acquire().await.map_err(store::StoreError::from)?;
            let status = TenantStatus {
                phase: "Deleting".into(),
                observed_generation: l.row.generation,
                conditions: vec![set_condition(
                    &l.row.status().conditions,
                    "Ready",
                    false,
                    "Deleting",
                    "tenant is being torn down",
                    &Utc::now().to_rfc3339(),
                )],
                message: None,
            };
            store::write_tenant_status(&mut conn, name, &status).await?;
        }
        let (observed, plan) = self.observe_and_plan(l, None, Scope::Teardown).await?;
        if !plan.is_empty() {
            engine::execute(
                &self.ctx(),
                &self.journal(),
                &l.tenant,
                None,
                &observed,
                &plan.actions,
                false,
            )
            .await?;
            // Confirm on the next pass that nothing is left (ECS drains services for a while).
            return Ok(Requeue::After(Duration::from_millis(500)));
        }
        let mut tx = self.pool.begin().await.map_err(store::StoreError::from)?;
        let fargate_rows = store::erase_fargate_usage(&mut tx, name).await?;
        let rows = store::audit_rows(&mut tx, Some(name), None).await?;
        let since = l
            .row
            .deletion_requested_at
            .map_or(0, |d| d.timestamp_micros());
        let mut detail = erase_record(&rows, since, fargate_rows);
        detail["deletion_requested_at"] =
            serde_json::json!(l.row.deletion_requested_at.map(|d| d.to_rfc3339()));
        detail["erased_at"] = serde_json::json!(Utc::now().to_rfc3339());
        store::append_audit(
            &mut tx,
            &AuditEntry {
                tenant: Some(name),
                actor: &self.actor,
                action: "erase",
                resource_kind: Some("tenant"),
                resource_name: Some(name),
                detail,
            },
        )
        .await?;
        store::forget_tenant_resources(&mut tx, name).await?;
        for a in &l.agents {
            store::remove_agent_finalizer(&mut tx, name, &a.kind).await?;
        }
        store::remove_tenant_finalizer(&mut tx, name).await?;
        tx.commit().await.map_err(store::StoreError::from)?;
        for c in ["Ready", "Failed", "Degraded", "Paused"] {
            let _ = self
                .metrics
                .tenant_condition
                .remove_label_values(&[name, c]);
        }
        tracing::info!(tenant = name, "tenant erased");
        Ok(Requeue::AwaitChange)
    }

    /// Records in the inventory the revision each agent runs when it was adopted rather than
    /// registered (e.g. registered by a pass that died before recording it), so the resync
    /// judges the right revision.
    async fn record_current_revisions(
        &self,
        l: &Loaded,
        desired: Option<&DesiredTenant>,
        observed: &ObservedTenant,
    ) -> Result<()> {
        let Some(d) = desired else { return Ok(()) };
        let mut conn = self.pool.acquire().await.map_err(store::StoreError::from)?;
        let own = store::own_task_definitions(&mut conn).await?;
        for a in &d.agents {
            if let Some(td) = observed.task_definitions.get(&a.task.family) {
                if td.spec_hash() == Some(a.task.hash().as_str())
                    && own.get(&a.task.family) != Some(&td.arn)
                {
                    store::remember_resource(
                        &mut conn,
                        l.tenant.as_str(),
                        Some(a.kind.as_str()),
                        crate::kind::Kind::TaskDefinition.as_str(),
                        &a.task.family,
                        Some(&td.arn),
                        false,
                    )
                    .await?;
                }
            }
        }
        Ok(())
    }

    async fn report_error(&self, name: &str, e: &ReconcileError) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(store::StoreError::from)?;
        let Some(row) = store::get_tenant(&mut conn, name).await? else {
            return Ok(());
        };
        if row.deletion_requested_at.is_some() {
            let status = TenantStatus {
                phase: "Deleting".into(),
                observed_generation: row.generation,
                conditions: row.status().conditions,
                message: Some(format!("{}: {e}", e.code())),
            };
            store::write_tenant_status(&mut conn, name, &status).await?;
            return Ok(());
        }
        let result = PassResult::Error {
            code: e.code(),
            message: e.to_string(),
            terminal: e.is_terminal(),
        };
        let status = tenant_status(
            &row.status().conditions,
            row.generation,
            row.observed_generation,
            &result,
            &Utc::now().to_rfc3339(),
        );
        store::write_tenant_status(&mut conn, name, &status).await?;
        for (c, v) in [
            ("Ready", false),
            ("Failed", status.phase == "Failed"),
            ("Degraded", status.phase == "Degraded"),
        ] {
            self.metrics
                .tenant_condition
                .with_label_values(&[name, c])
                .set(i64::from(v));
        }
        Ok(())
    }
}

/// The specs of agents not being deleted, validated again (rows may come from plain SQL).
fn live_specs(agents: &[AgentRow]) -> Result<Vec<AgentSpec>> {
    agents
        .iter()
        .filter(|a| a.deletion_requested_at.is_none())
        .map(|a| {
            let spec = a.spec()?;
            crds::validate::validate_agent_spec(&spec).map_err(|e| {
                ReconcileError::Invalid(format!("agent/{}/{}: {e}", a.tenant, a.kind))
            })?;
            Ok(spec)
        })
        .collect()
}

/// The erase record (pure): what this teardown removed (the audit rows of its removals since
/// the deletion was requested, so an earlier incarnation of the name is not counted), each class
/// with its count, and what is kept on purpose, with why.
pub fn erase_record(rows: &[AuditRow], since_micros: i64, fargate_rows: u64) -> serde_json::Value {
    let mut removed = Vec::new();
    let mut erased: BTreeMap<String, u64> = BTreeMap::new();
    for r in rows.iter().filter(|r| {
        r.at_micros >= since_micros && matches!(r.action.as_str(), "delete" | "deregister")
    }) {
        let kind = r.resource_kind.clone().unwrap_or_default();
        removed.push(format!(
            "{kind} {}",
            r.resource_name.clone().unwrap_or_default()
        ));
        let detail: serde_json::Value = serde_json::from_str(&r.detail).unwrap_or_default();
        let counts = detail.get("counts").and_then(|c| c.as_object());
        // An erasure of objects is counted by its object versions, not by its passes.
        if !counts.is_some_and(|c| c.contains_key("object_versions")) {
            *erased.entry(kind).or_default() += 1;
        }
        for (class, n) in counts.into_iter().flatten() {
            *erased.entry(class.clone()).or_default() += n.as_u64().unwrap_or(0);
        }
    }
    erased.insert("fargate_usage_rows".into(), fargate_rows);
    serde_json::json!({
        "removed": removed,
        "erased": erased,
        "kept": [
            {"what": "audit log rows", "why": "compliance: the append-only, hash-chained record of \
              what the operator did and why; it holds resource names and reasons, never tenant data"},
        ],
        "notes": [
            "secrets are deleted without a recovery window",
            "every object version and delete marker under the tenant's bucket prefix is erased",
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(at: i64, action: &str, kind: &str, name: &str, detail: &str) -> AuditRow {
        AuditRow {
            seq: at,
            at_micros: at,
            tenant: Some("acme".into()),
            actor: "op".into(),
            action: action.into(),
            resource_kind: Some(kind.into()),
            resource_name: Some(name.into()),
            detail: detail.into(),
            prev_hash: vec![],
            hash: vec![],
        }
    }

    #[test]
    fn the_erase_record_counts_each_class_of_this_teardown_only() {
        let rows = [
            // An earlier incarnation of the name: not this erasure's.
            row(5, "delete", "secret", "/openclaw/acme/db", "{}"),
            row(10, "create", "secret", "/openclaw/acme/db", "{}"),
            row(20, "delete", "ecs_service", "openclaw-acme-scout", "{}"),
            row(
                21,
                "deregister",
                "task_definition",
                "openclaw-acme-scout",
                "{}",
            ),
            row(22, "delete", "secret", "/openclaw/acme/db", "{}"),
            row(
                23,
                "delete",
                "tenant_objects",
                "tenants/acme/",
                r#"{"counts": {"object_versions": 1000}}"#,
            ),
            row(
                24,
                "delete",
                "tenant_objects",
                "tenants/acme/",
                r#"{"counts": {"object_versions": 1500}}"#,
            ),
            row(
                25,
                "delete",
                "pg_role",
                "t0",
                r#"{"counts": {"shared_usage_rows": 7}}"#,
            ),
        ];
        let r = erase_record(&rows, 15, 3);
        assert_eq!(
            r["erased"],
            serde_json::json!({"ecs_service": 1, "task_definition": 1, "secret": 1,
                "object_versions": 2500, "pg_role": 1, "shared_usage_rows": 7,
                "fargate_usage_rows": 3})
        );
        assert_eq!(r["removed"].as_array().map(Vec::len), Some(6));
        assert!(r["kept"][0]["what"] == "audit log rows" && r["kept"][0]["why"].is_string());
    }

    #[test]
    fn a_paused_pass_holds_its_changes_and_says_so() {
        let cond = |s: &TenantStatus, ty: &str| {
            s.conditions
                .iter()
                .find(|c| c.type_ == ty)
                .map(|c| (c.status.clone(), c.reason.clone()))
        };
        let held = PassResult::Paused {
            held: 2,
            security: 1,
            ready: 2,
            total: 2,
        };
        let s = tenant_status(&[], 4, 3, &held, "t1");
        assert_eq!(s.phase, "Paused");
        assert_eq!(s.observed_generation, 4);
        assert_eq!(
            cond(&s, "Paused"),
            Some(("True".into(), "PausedBySpec".into()))
        );
        assert_eq!(cond(&s, "Synced"), Some(("False".into(), "Paused".into())));
        assert_eq!(cond(&s, "Ready"), Some(("False".into(), "Drifted".into())));
        let m = s.message.clone().expect("message");
        assert!(m.contains("2 changes held (1 security drift)"), "{m}");
        // Nothing to hold: Ready and Synced, still Paused.
        let calm = PassResult::Paused {
            held: 0,
            security: 0,
            ready: 2,
            total: 2,
        };
        let c = tenant_status(&s.conditions, 4, 4, &calm, "t2");
        assert_eq!(c.phase, "Paused");
        assert_eq!(cond(&c, "Ready").map(|r| r.0), Some("True".into()));
        assert_eq!(c.message, None);
        // Unpaused: the Paused condition turns False; a tenant never paused has none.
        let synced = PassResult::Synced {
            changes: 2,
            ready: 2,
            total: 2,
        };
        let u = tenant_status(&c.conditions, 5, 4, &synced, "t3");
        assert_eq!(cond(&u, "Paused"), Some(("False".into(), "Resumed".into())));
        assert_eq!(
            cond(&tenant_status(&[], 5, 4, &synced, "t3"), "Paused"),
            None
        );
    }

    #[test]
    fn ready_only_when_nothing_changed_and_all_agents_run() {
        let s = tenant_status(
            &[],
            3,
            2,
            &PassResult::Synced {
                changes: 0,
                ready: 2,
                total: 2,
            },
            "t1",
        );
        assert_eq!(s.phase, "Ready");
        assert_eq!(s.observed_generation, 3);
        let s = tenant_status(
            &[],
            3,
            2,
            &PassResult::Synced {
                changes: 4,
                ready: 2,
                total: 2,
            },
            "t1",
        );
        assert_eq!(s.phase, "Provisioning");
    }

    #[test]
    fn terminal_errors_fail_and_retryable_ones_degrade_a_ready_tenant() {
        let ready = tenant_status(
            &[],
            1,
            0,
            &PassResult::Synced {
                changes: 0,
                ready: 1,
                total: 1,
            },
            "t1",
        );
        let err = |terminal| PassResult::Error {
            code: "AccessDenied".into(),
            message: "no".into(),
            terminal,
        };
        let failed = tenant_status(&ready.conditions, 2, 1, &err(true), "t2");
        assert_eq!(failed.phase, "Failed");
        assert_eq!(failed.observed_generation, 2);
        assert_eq!(failed.conditions[1].reason, "AccessDenied");
        let degraded = tenant_status(&ready.conditions, 2, 1, &err(false), "t2");
        assert_eq!(degraded.phase, "Degraded");
        assert_eq!(degraded.observed_generation, 1);
    }

    #[test]
    fn transition_time_holds_while_status_holds() {
        let first = set_condition(&[], "Ready", true, "A", "", "t1");
        let again = set_condition(std::slice::from_ref(&first), "Ready", true, "B", "", "t2");
        assert_eq!(again.last_transition_time, "t1");
        let flipped = set_condition(&[again], "Ready", false, "C", "", "t3");
        assert_eq!(flipped.last_transition_time, "t3");
    }
}
