//! Drift repair on a schedule: build the cell's inventory, plan every tenant against it with the
//! one `engine::plan`, and hand the drifted tenants to the ordinary reconcile. Also finds orphans (our
//! tags, no tenant row) and removes them after a grace period, and keeps the shared tables'
//! row-level security in place.
//!
//! Owns: deciding which tenants drifted and which resources are orphans. Must never: repair a
//! tenant's resources other than by the one `engine::plan` and `engine::execute` (a drifted tenant is
//! reconciled; an orphan gets the ordinary teardown plan), or touch a resource of another cell.
//! The one repair made here directly is the cell-wide RLS guard on `shared.usage`, which belongs
//! to no tenant.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crds::naming::{self, DbName, TenantName, TenantRef};

use crate::engine::{self, Plan};
use crate::error::{ReconcileError, Result};
use crate::kind::Kind;
use crate::reconcile::Reconciler;
use crate::resources::inventory::{self, Inventory};
use crate::resources::{self, shared_rls, ObservedTenant, Recorded};
use crate::store::{self, AuditEntry};

/// One tenant that needs a reconcile, and why.
#[derive(Debug, Clone)]
pub struct Drifted {
    pub tenant: String,
    pub plan: Plan,
    /// The plan repairs widened access.
    pub security: bool,
}

/// What one resync found and did.
#[derive(Debug, Default)]
pub struct Report {
    pub tenants: usize,
    pub drifted: Vec<Drifted>,
    /// Tenants that need work for other reasons (being deleted, failed, not yet converged).
    pub pending: Vec<String>,
    /// Orphaned resources seen: (tenant, resource name).
    pub orphans: Vec<(String, String)>,
    pub orphans_removed: usize,
    pub shared_rls_repaired: bool,
    pub inventory_size: usize,
    pub aws_calls: u64,
    pub aws_writes: u64,
    pub duration: Duration,
}

impl Report {
    /// The figures of the pass, as the leader answers an `openclaw resync` request.
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "tenants": self.tenants,
            "drifted": self.drifted.len(),
            "security": self.drifted.iter().filter(|d| d.security).count(),
            "orphans": self.orphans.len(),
            "orphans_removed": self.orphans_removed,
            "inventory": self.inventory_size,
            "aws_calls": self.aws_calls,
            "aws_writes": self.aws_writes,
            "seconds": self.duration.as_secs_f64(),
        })
    }

    /// Tenants to reconcile, security drift first.
    pub fn to_reconcile(&self) -> Vec<(String, bool)> {
        let mut v: Vec<(String, bool)> = self
            .drifted
            .iter()
            .map(|d| (d.tenant.clone(), d.security))
            .chain(self.pending.iter().map(|t| (t.clone(), false)))
            .collect();
        v.sort_by_key(|(_, security)| !security);
        v
    }
}

/// Builds the inventory and finds drift and orphans; removes orphans past `orphan_grace`.
/// Changes nothing else: drifted tenants are for the caller to reconcile.
pub async fn detect(r: &Reconciler, orphan_grace: Duration) -> Result<Report> {
    let started = Instant::now();
    let (calls0, writes0) = r.clients.counter.snapshot();
    let mut report = Report::default();
    if let Err(e) = r.refresh_cell().await {
        tracing::warn!(error = %e, "cannot re-read the cell's database");
    }
    let (tenants, agents, own_tds, inventory_names, pg_roles) = {
        let mut conn = r.pool.acquire().await.map_err(store::StoreError::from)?;
        let tenants = store::list_tenants(&mut conn).await?;
        let agents = store::list_agents(&mut conn, None).await?;
        let own_tds = store::own_task_definitions(&mut conn).await?;
        let names = store::all_inventory_names(&mut conn).await?;
        let pg_roles = store::recorded_pg_roles(&mut conn).await?;
        (tenants, agents, own_tds, names, pg_roles)
    };
    let refs: Vec<TenantRef> = tenants.iter().filter_map(|t| t.tenant_ref().ok()).collect();
    let inv = inventory::build(
        &r.clients,
        &r.tenant_db,
        &r.cell,
        &own_tds,
        &r.td_cache,
        &refs,
    )
    .await?;
    report.inventory_size = inv.size();
    report.tenants = tenants.len();

    if !inv.shared_rls.intact() {
        tracing::warn!(state = ?inv.shared_rls, "security drift: row-level security on shared.usage was weakened; restoring it");
        shared_rls::repair(&r.tenant_db, &inv.shared_rls).await?;
        let mut conn = r.pool.acquire().await.map_err(store::StoreError::from)?;
        store::append_audit(
            &mut conn,
            &AuditEntry {
                tenant: None,
                actor: &r.actor,
                action: "update",
                resource_kind: Some(Kind::PgRls.as_str()),
                resource_name: Some("shared.usage"),
                detail: serde_json::json!({"reason": format!("row-level security weakened: {:?}", inv.shared_rls), "security": true, "drift": true}),
            },
        )
        .await?;
        r.metrics.record_drift(Kind::PgRls, true);
        r.metrics.record_repair(Kind::PgRls, true);
        report.shared_rls_repaired = true;
    }

    let known: BTreeSet<&str> = tenants.iter().map(|t| t.name.as_str()).collect();
    for t in &tenants {
        // A paused tenant is observed like a converged one: its drift is reported, not repaired.
        let converged = t.deletion_requested_at.is_none()
            && (t.phase == "Ready" || (t.paused && t.phase == "Paused"))
            && t.generation == t.observed_generation
            && agents.iter().filter(|a| a.tenant == t.name).all(|a| {
                a.generation == a.observed_generation && a.deletion_requested_at.is_none()
            });
        if !converged {
            report.pending.push(t.name.clone());
            continue;
        }
        let Ok(tenant) = t.tenant_ref() else {
            continue;
        };
        let own: Vec<_> = agents
            .iter()
            .filter(|a| a.tenant == t.name)
            .cloned()
            .collect();
        let desired = match r.render(t, &own) {
            Ok(d) => d,
            Err(_) => {
                report.pending.push(t.name.clone());
                continue;
            }
        };
        let observed = inv.observed_for(&tenant);
        let names = inventory_names
            .iter()
            .filter(|(tn, _, _)| tn == &t.name)
            .map(|(_, k, n)| (k.clone(), n.clone()))
            .collect();
        match engine::plan(&tenant, desired.as_ref(), &observed, &names) {
            Ok(plan) if plan.is_empty() => {}
            Ok(plan) => {
                let security = plan.actions.iter().any(|p| p.security);
                for p in &plan.actions {
                    let (kind, name) = p.action.resource(&tenant);
                    r.metrics.record_drift(kind, p.security);
                    if p.security {
                        tracing::warn!(tenant = %t.name, resource_kind = %kind, resource = %name, reason = %p.reason, "security drift detected");
                    } else {
                        tracing::info!(tenant = %t.name, resource_kind = %kind, resource = %name, reason = %p.reason, "drift detected");
                    }
                }
                report.drifted.push(Drifted {
                    tenant: t.name.clone(),
                    plan,
                    security,
                });
            }
            // A conflict or invalid spec: the reconcile reports it in the tenant's status.
            Err(_) => report.pending.push(t.name.clone()),
        }
    }
    // Running task counts feed the agents' status and the Fargate cost accrual.
    let counts: Vec<(String, String, i32)> = agents
        .iter()
        .filter_map(|a| {
            let name = TenantName::parse(&a.tenant)
                .ok()?
                .agent_resource_name(a.agent_kind().ok()?);
            let svc = inv.services.get(&name)?;
            Some((a.tenant.clone(), a.kind.clone(), svc.running_count))
        })
        .collect();
    {
        let mut conn = r.pool.acquire().await.map_err(store::StoreError::from)?;
        store::set_running_counts(&mut conn, &counts).await?;
    }
    let known_db: BTreeSet<&str> = tenants.iter().map(|t| t.db_name.as_str()).collect();
    handle_orphans(
        r,
        &inv,
        (&known, &known_db),
        &pg_roles,
        orphan_grace,
        &mut report,
    )
    .await?;

    let (calls1, writes1) = r.clients.counter.snapshot();
    report.aws_calls = calls1 - calls0;
    report.aws_writes = writes1 - writes0;
    report.duration = started.elapsed();
    r.metrics.record_resync(&crate::metrics::ResyncFigures {
        duration: report.duration,
        inventory_size: report.inventory_size,
        aws_calls: report.aws_calls,
        aws_writes: report.aws_writes,
        orphans: report.orphans.len(),
        orphans_removed: report.orphans_removed,
    });
    Ok(report)
}

/// Our resources (managed-by and this cell's tag, or this database's role comment) whose tenant
/// has no row. Reported at once; removed once they have been orphans for `grace`.
///
/// A PostgreSQL role's name does not say whose it is (it is opaque): the operator's records of
/// what it made (`managed_resources`, then the audit log, which is never pruned) do, or a legacy
/// `tenant_T` name. A role is an orphan when no tenant row holds its database name, even when its
/// tenant's name lives on in a new incarnation: then only the PostgreSQL footprint is torn down.
/// A role of ours that no record names is reported, never removed.
async fn handle_orphans(
    r: &Reconciler,
    inv: &Inventory,
    (known, known_db): (&BTreeSet<&str>, &BTreeSet<&str>),
    pg_roles: &[(String, String)],
    grace: Duration,
    report: &mut Report,
) -> Result<()> {
    // Who each recorded PostgreSQL role belongs to, and each tenant's recorded database name.
    let mut role_owner: BTreeMap<&str, TenantName> = BTreeMap::new();
    let mut db_of: BTreeMap<TenantName, DbName> = BTreeMap::new();
    for (tenant, name) in pg_roles {
        if let (Ok(t), Ok(db)) = (TenantName::parse(tenant), DbName::parse(name)) {
            role_owner.insert(name.as_str(), t.clone());
            db_of.insert(t, db);
        }
    }
    let ours = |tags: &BTreeMap<String, String>| {
        tags.get(naming::TAG_MANAGED_BY).map(String::as_str) == Some(naming::MANAGED_BY_VALUE)
            && tags.get(naming::TAG_CELL) == Some(&r.cell.name)
    };
    // AWS resources are named by tenant: an orphan's tenant has no row.
    let mut by_name: BTreeMap<TenantName, Vec<(String, String)>> = BTreeMap::new();
    let mut add = |tenant: Option<TenantName>, kind: Kind, name: &str| {
        if let Some(t) = tenant.filter(|t| !known.contains(t.as_str())) {
            by_name
                .entry(t)
                .or_default()
                .push((kind.as_str().to_owned(), name.to_owned()));
        }
    };
    for name in inv
        .services
        .iter()
        .filter(|(_, s)| ours(&s.tags))
        .map(|(n, _)| n)
    {
        add(
            naming::parse_agent_resource_name(name).map(|(t, _)| t),
            Kind::EcsService,
            name,
        );
    }
    for name in inv
        .roles
        .iter()
        .filter(|(_, x)| ours(&x.tags))
        .map(|(n, _)| n)
    {
        add(
            naming::parse_agent_resource_name(name).map(|(t, _)| t),
            Kind::IamRole,
            name,
        );
    }
    for name in inv
        .secrets
        .iter()
        .filter(|(_, x)| ours(&x.tags))
        .map(|(n, _)| n)
    {
        add(naming::parse_secret_name(name), Kind::Secret, name);
    }
    for name in inv
        .log_groups
        .iter()
        .filter(|(_, g)| ours(&g.tags))
        .map(|(n, _)| n)
    {
        add(
            naming::parse_log_group_name(name).map(|(t, _)| t),
            Kind::LogGroup,
            name,
        );
    }
    // Objects carry no tags: a prefix is an orphan when its tenant has no row but this store's
    // audit log names it (a tenant of this control plane once), never a stranger's prefix.
    let unknown: Vec<String> = inv
        .tenant_prefixes
        .iter()
        .filter(|t| !known.contains(t.as_str()))
        .map(|t| t.to_string())
        .collect();
    let ours_once = {
        let mut conn = r.pool.acquire().await.map_err(store::StoreError::from)?;
        store::audited_tenants(&mut conn, &unknown).await?
    };
    for t in inv
        .tenant_prefixes
        .iter()
        .filter(|t| ours_once.contains(t.as_str()))
    {
        add(Some(t.clone()), Kind::TenantObjects, &t.s3_prefix());
    }
    // Only roles commented for this database are in the inventory.
    let unclaimed: Vec<&String> = inv
        .pg
        .keys()
        .filter(|n| !known_db.contains(n.as_str()))
        .collect();
    let from_audit = if unclaimed
        .iter()
        .any(|n| !role_owner.contains_key(n.as_str()))
    {
        let mut conn = r.pool.acquire().await.map_err(store::StoreError::from)?;
        store::audited_pg_roles(&mut conn).await?
    } else {
        BTreeMap::new()
    };
    // PostgreSQL roles are named by incarnation: an orphan is a role no tenant row holds.
    let mut orphans: BTreeMap<TenantRef, Vec<(String, String)>> = BTreeMap::new();
    for name in unclaimed {
        let owner = role_owner
            .get(name.as_str())
            .cloned()
            .or_else(|| from_audit.get(name).and_then(|t| TenantName::parse(t).ok()))
            .or_else(|| DbName::parse(name).ok().and_then(|d| d.legacy_tenant()));
        match (owner, DbName::parse(name)) {
            (Some(t), Ok(db)) => orphans
                .entry(TenantRef::new(t, db))
                .or_default()
                .push((Kind::PgRole.as_str().to_owned(), name.clone())),
            _ => {
                report.orphans.push((String::new(), name.clone()));
                tracing::warn!(resource_kind = %Kind::PgRole, resource = %name, "orphaned PostgreSQL role (ours, no tenant row, no record of whose): left in place");
            }
        }
    }
    // A dead tenant's AWS orphans go with its recorded incarnation's PostgreSQL ones, if any.
    for (t, resources) in by_name {
        let db = db_of.get(&t).cloned().unwrap_or_else(|| DbName::legacy(&t));
        orphans
            .entry(TenantRef::new(t, db))
            .or_default()
            .extend(resources);
    }
    let mut conn = r.pool.acquire().await.map_err(store::StoreError::from)?;
    let seen: Vec<(String, String)> = orphans.values().flatten().cloned().collect();
    let first_seen = store::track_orphans(&mut conn, &seen).await?;
    drop(conn);
    for (tenant, resources) in orphans {
        for (kind, name) in &resources {
            report.orphans.push((tenant.to_string(), name.clone()));
            tracing::warn!(tenant = %tenant, resource_kind = %kind, resource = %name, "orphaned resource (our tags, no tenant row)");
        }
        // Every one of the tenant's orphans must have been seen for the whole grace period.
        let youngest = resources
            .iter()
            .map(|(k, n)| {
                first_seen
                    .get(&(k.clone(), n.clone()))
                    .copied()
                    .unwrap_or(0.0)
            })
            .fold(f64::INFINITY, f64::min);
        if youngest < grace.as_secs_f64() {
            continue;
        }
        // Past the grace period: the ordinary teardown plan, carried out by the ordinary executor.
        // When the name lives on in a new incarnation, only the old PostgreSQL footprint is
        // looked at: everything named by tenant is the live tenant's.
        let observed = if known.contains(tenant.as_str()) {
            ObservedTenant {
                pg: inv.pg.get(tenant.db.role()).cloned().unwrap_or_default(),
                ..ObservedTenant::default()
            }
        } else {
            // Everything a teardown erases, as for a deleted tenant: objects, usage rows and
            // inactive task definitions are in no inventory.
            resources::observe_tenant(
                &r.clients,
                &r.td_cache,
                &r.tenant_db,
                &r.cell,
                &tenant,
                resources::Scope::Teardown,
            )
            .await?
        };
        let inventory_names: Recorded = resources.iter().cloned().collect();
        let plan = engine::plan(&tenant, None, &observed, &inventory_names)?;
        let plan = Plan {
            actions: plan
                .actions
                .into_iter()
                .map(|mut p| {
                    p.reason = format!("orphan (no tenant row) for over {}s", grace.as_secs());
                    p
                })
                .collect(),
        };
        let n = engine::execute(
            &r.ctx(),
            &r.journal(),
            &tenant,
            None,
            &observed,
            &plan.actions,
            false,
        )
        .await
        .map_err(|e| {
            tracing::warn!(tenant = %tenant, error = %e, "orphan removal failed");
            e
        })?
        .changes;
        report.orphans_removed += n;
        // A prefix with more than one page left stays an orphan: the next pass erases the next
        // page without waiting out the grace period again.
        let gone: Vec<(String, String)> = resources
            .into_iter()
            .filter(|(k, _)| !(observed.objects.more && k == Kind::TenantObjects.as_str()))
            .collect();
        let mut conn = r.pool.acquire().await.map_err(store::StoreError::from)?;
        store::forget_orphans(&mut conn, &gone).await?;
    }
    Ok(())
}

/// One resync followed by a reconcile of every tenant it found drifted, security drift first.
/// The controller instead schedules those tenants on its queue; tests and `openclaw resync` use
/// this.
pub async fn run_once(r: &Reconciler, orphan_grace: Duration) -> Result<Report> {
    let report = detect(r, orphan_grace).await?;
    for (tenant, _) in report.to_reconcile() {
        if let Err(e) = r.reconcile(&tenant).await {
            if !matches!(
                e,
                ReconcileError::Conflict { .. } | ReconcileError::Invalid(_)
            ) {
                tracing::warn!(tenant = %tenant, error = %e, "repair failed");
            }
        }
    }
    Ok(report)
}
