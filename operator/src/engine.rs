//! The engine: merges every kind's changes into one ordered tenant plan, then carries it out,
//! recording each applied action (inventory, audit log, metrics). `openclaw plan` prints the plan.
//!
//! Owns: the order (security repairs first; then creation in rising rank; then teardown in falling
//! rank; stable within each) and the record of what was done. Must never: name a resource kind
//! (the kinds speak through `resources`), or put a secret into a log, an error or the audit log.

use crds::naming::TenantRef;

use crate::error::Result;
use crate::metrics::Metrics;
use crate::render::DesiredTenant;
use crate::resources::{self, Ctx, ObservedTenant, Planned, Recorded, Verb};
use crate::store::{self, AuditEntry};

/// A tenant's ordered plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub actions: Vec<Planned>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// Human-readable, one action per line: `update iam_role openclaw-acme-butler: reason`.
    pub fn render(&self, tenant: &TenantRef) -> String {
        let mut out = String::new();
        for p in &self.actions {
            let (kind, name) = p.action.resource(tenant);
            let sec = if p.security { " [security]" } else { "" };
            out.push_str(&format!(
                "{} {kind} {name}: {}{sec}\n",
                p.action.verb(),
                p.reason
            ));
            for f in &p.fields {
                out.push_str(&format!("    {f}\n"));
            }
        }
        out
    }

    /// How many actions add, change and destroy a resource, as `terraform plan` counts them.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for p in &self.actions {
            match effect(p.action.verb()) {
                "destroy" => s.destroy += 1,
                "add" => s.add += 1,
                _ => s.change += 1,
            }
        }
        s
    }

    /// The actions for `openclaw plan -o json`, in the order they would run (the schema is in
    /// the README and stable within `format_version`).
    pub fn to_json(&self, tenant: &TenantRef) -> serde_json::Value {
        self.actions
            .iter()
            .map(|p| {
                let (kind, name) = p.action.resource(tenant);
                serde_json::json!({
                    "verb": p.action.verb().as_str(),
                    "effect": effect(p.action.verb()),
                    "kind": kind.as_str(),
                    "resource": name,
                    "reason": p.reason,
                    "security": p.security,
                    "changes": p.fields.iter().map(crds::diff::Change::to_json).collect::<Vec<_>>(),
                })
            })
            .collect()
    }
}

/// `add`, `change` or `destroy`: how `terraform plan` would count a verb.
fn effect(v: Verb) -> &'static str {
    match v {
        v if v.removes() => "destroy",
        Verb::Create | Verb::Register => "add",
        _ => "change",
    }
}

/// A plan's count of actions by effect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

impl Summary {
    pub fn total(&self) -> usize {
        self.add + self.change + self.destroy
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"add": self.add, "change": self.change, "destroy": self.destroy})
    }
}

impl std::ops::AddAssign for Summary {
    fn add_assign(&mut self, o: Summary) {
        self.add += o.add;
        self.change += o.change;
        self.destroy += o.destroy;
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} to add, {} to change, {} to destroy",
            self.add, self.change, self.destroy
        )
    }
}

/// Where an action falls in the plan: creation in rising rank, teardown after it in falling rank.
fn position(p: &Planned) -> u8 {
    let rank = p.action.rank();
    if p.action.verb().removes() {
        u8::MAX - rank
    } else {
        rank
    }
}

/// Plans a live tenant's convergence (or, with `desired = None`, its full teardown). Pure.
pub fn plan(
    tenant: &TenantRef,
    desired: Option<&DesiredTenant>,
    observed: &ObservedTenant,
    recorded: &Recorded,
) -> Result<Plan> {
    let mut actions = resources::diff(tenant, desired, observed, recorded)?;
    actions.sort_by_key(|p| (!p.security, position(p)));
    Ok(Plan { actions })
}

/// Who acts, and where applied actions are counted.
pub struct Journal<'a> {
    pub actor: &'a str,
    pub metrics: &'a Metrics,
}

/// Carries out `actions` in order. `observed` supplies ARNs of existing resources. Returns the
/// number of actions applied; stops at the first error.
pub async fn execute(
    ctx: &Ctx<'_>,
    journal: &Journal<'_>,
    tenant: &TenantRef,
    desired: Option<&DesiredTenant>,
    observed: &ObservedTenant,
    actions: &[Planned],
    drift: bool,
) -> Result<Applied> {
    let mut links = resources::links(desired, observed);
    let mut done = 0;
    for p in actions {
        let (kind, name) = p.action.resource(tenant);
        match resources::apply(ctx, tenant, desired, observed, &links, &p.action).await {
            Ok(arn) => {
                record(ctx, journal, tenant, p, arn.as_deref(), drift).await?;
                if let Some(arn) = arn {
                    links.insert((kind, name), arn);
                }
                journal
                    .metrics
                    .actions
                    .with_label_values(&[kind.as_str(), p.action.verb().as_str()])
                    .inc();
                if drift {
                    journal.metrics.record_repair(kind, p.security);
                }
                done += 1;
            }
            Err(e) => {
                let mut conn = ctx.pool.acquire().await.map_err(store::StoreError::from)?;
                store::note_resource_error(
                    &mut conn,
                    tenant.as_str(),
                    kind.as_str(),
                    &name,
                    &e.to_string(),
                )
                .await?;
                return Err(e);
            }
        }
    }
    Ok(Applied {
        changes: done,
        links,
    })
}

/// What a carried-out plan did: how many actions, and the ARNs each kind now links to (what was
/// observed, updated with every apply's answer).
#[derive(Debug)]
pub struct Applied {
    pub changes: usize,
    pub links: resources::Links,
}

/// Inventory and audit log for one applied action, in one transaction.
async fn record(
    ctx: &Ctx<'_>,
    journal: &Journal<'_>,
    tenant: &TenantRef,
    p: &Planned,
    arn: Option<&str>,
    drift: bool,
) -> Result<()> {
    let (kind, name) = p.action.resource(tenant);
    let verb = p.action.verb();
    let mut tx = ctx.pool.begin().await.map_err(store::StoreError::from)?;
    if verb.removes() {
        store::forget_resource(&mut tx, kind.as_str(), &name).await?;
        for (k, n) in p.action.removes_also(tenant) {
            store::forget_resource(&mut tx, k.as_str(), &n).await?;
        }
    } else {
        store::remember_resource(
            &mut tx,
            tenant.as_str(),
            p.action.agent().map(|a| a.as_str()),
            kind.as_str(),
            &name,
            arn,
            p.security || verb.restores(),
        )
        .await?;
    }
    store::append_audit(
        &mut tx,
        &AuditEntry {
            tenant: Some(tenant.as_str()),
            actor: journal.actor,
            action: verb.as_str(),
            resource_kind: Some(kind.as_str()),
            resource_name: Some(&name),
            detail: {
                let mut d =
                    serde_json::json!({"reason": p.reason, "security": p.security, "drift": drift});
                let counts = p.action.counts();
                if !counts.is_empty() {
                    d["counts"] = counts
                        .into_iter()
                        .map(|(k, n)| (k.to_owned(), serde_json::Value::from(n)))
                        .collect::<serde_json::Map<_, _>>()
                        .into();
                }
                d
            },
        },
    )
    .await?;
    tx.commit().await.map_err(store::StoreError::from)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::render_tenant;
    use crate::render::tests::{agent, cell};
    use crate::resources::fixtures::{converged, desired, tenant};
    use crate::resources::{ObservedSecret, Recorded, Tags};
    use crds::api::AgentKind;

    fn verbs(plan: &Plan) -> Vec<String> {
        let t = tenant();
        plan.actions
            .iter()
            .map(|p| {
                let (k, n) = p.action.resource(&t);
                format!("{} {k} {n}", p.action.verb())
            })
            .collect()
    }

    /// The plan of a tenant of which nothing exists yet.
    fn onboarding(d: &DesiredTenant) -> Plan {
        plan(
            &tenant(),
            Some(d),
            &ObservedTenant::default(),
            &Recorded::new(),
        )
        .expect("plan")
    }

    #[test]
    fn a_new_tenant_is_created_in_dependency_order() {
        let plan = plan(
            &tenant(),
            Some(&desired()),
            &ObservedTenant::default(),
            &Recorded::new(),
        )
        .expect("plan");
        assert_eq!(
            verbs(&plan),
            vec![
                "create pg_role t0123456789abcdef0123456789abcdef",
                "create pg_schema t0123456789abcdef0123456789abcdef",
                "create pg_schema t0123456789abcdef0123456789abcdef",
                "update pg_schema t0123456789abcdef0123456789abcdef",
                "update pg_role t0123456789abcdef0123456789abcdef",
                "create secret /openclaw/acme/db",
                "create log_group /openclaw/acme/scout",
                "create iam_role openclaw-acme-scout",
                "update iam_inline_policy openclaw-acme-scout",
                "register task_definition openclaw-acme-scout",
                "create ecs_service openclaw-acme-scout",
            ]
        );
    }

    #[test]
    fn the_summary_counts_what_is_added_changed_and_destroyed() {
        let d = desired();
        let new = onboarding(&d);
        let s = new.summary();
        assert_eq!((s.add, s.change, s.destroy), (8, 3, 0));
        assert_eq!(s.to_string(), "8 to add, 3 to change, 0 to destroy");
        let gone = plan(&tenant(), None, &converged(&d), &Recorded::new()).expect("plan");
        let g = gone.summary();
        let removals = gone
            .actions
            .iter()
            .filter(|p| p.action.verb().removes())
            .count();
        assert!(removals > 0);
        assert_eq!((g.add, g.destroy), (0, removals));
        assert_eq!(g.total(), gone.actions.len());
        let mut both = s;
        both += g;
        assert_eq!(both.total(), new.actions.len() + gone.actions.len());
        assert_eq!(Plan::default().summary(), Summary::default());
    }

    #[test]
    fn the_json_plan_lists_each_action_with_its_effect_in_order() {
        let d = desired();
        let new = onboarding(&d);
        let j = new.to_json(&tenant());
        let actions = j.as_array().expect("a list");
        assert_eq!(actions.len(), new.actions.len());
        assert_eq!(actions[0]["verb"], "create");
        assert_eq!(actions[0]["effect"], "add");
        assert_eq!(actions[0]["kind"], "pg_role");
        let register = actions
            .iter()
            .find(|a| a["kind"] == "task_definition")
            .expect("task definition");
        assert_eq!(
            (register["verb"].as_str(), register["effect"].as_str()),
            (Some("register"), Some("add"))
        );
        assert_eq!(register["resource"], "openclaw-acme-scout");
        assert!(actions
            .iter()
            .all(|a| a["reason"].is_string() && a["security"].is_boolean()));
        let count = |e: &str| actions.iter().filter(|a| a["effect"] == e).count();
        let s = new.summary();
        assert_eq!(
            (count("add"), count("change"), count("destroy")),
            (s.add, s.change, s.destroy)
        );
        assert_eq!(
            s.to_json(),
            serde_json::json!({"add": 8, "change": 3, "destroy": 0})
        );
        let gone = plan(&tenant(), None, &converged(&d), &Recorded::new()).expect("plan");
        let g = gone.to_json(&tenant());
        let g = g.as_array().expect("list");
        let removals: Vec<_> = g
            .iter()
            .filter(|a| a["verb"] == "delete" || a["verb"] == "deregister")
            .collect();
        assert!(!removals.is_empty());
        assert!(removals.iter().all(|a| a["effect"] == "destroy"), "{g:?}");
    }

    #[test]
    fn a_converged_tenant_plans_nothing() {
        let d = desired();
        let plan = plan(&tenant(), Some(&d), &converged(&d), &Recorded::new()).expect("plan");
        assert!(plan.is_empty(), "{}", plan.render(&tenant()));
    }

    #[test]
    fn security_drift_comes_first() {
        let d = desired();
        let mut o = converged(&d);
        o.services
            .get_mut("openclaw-acme-scout")
            .expect("svc")
            .desired_count = 3;
        let role = o.roles.get_mut("openclaw-acme-scout").expect("role");
        role.boundary_arn = None;
        role.inline_policies.insert("backdoor".into(), None);
        role.attached_policies
            .push("arn:aws:iam::aws:policy/AdministratorAccess".into());
        o.services
            .get_mut("openclaw-acme-scout")
            .expect("svc")
            .public_ip = true;
        let plan = plan(&tenant(), Some(&d), &o, &Recorded::new()).expect("plan");
        let sec: Vec<bool> = plan.actions.iter().map(|p| p.security).collect();
        assert_eq!(
            sec,
            vec![true, true, true, true],
            "{}",
            plan.render(&tenant())
        );
        assert!(plan
            .render(&tenant())
            .contains("a public IP was enabled; desired count is 3 instead of 1"));
    }

    #[test]
    fn a_changed_spec_registers_and_rolls_the_service() {
        let d = desired();
        let o = converged(&d);
        let mut bigger = agent(AgentKind::Scout);
        bigger.cpu = 512;
        bigger.memory = 1024;
        let d2 = render_tenant(&cell(), &tenant(), crds::api::Tier::Standard, &[bigger]);
        let plan = plan(&tenant(), Some(&d2), &o, &Recorded::new()).expect("plan");
        assert_eq!(
            verbs(&plan),
            vec![
                "register task_definition openclaw-acme-scout",
                "update ecs_service openclaw-acme-scout"
            ]
        );
    }

    #[test]
    fn a_resource_that_is_not_ours_is_a_conflict() {
        let d = desired();
        let mut o = converged(&d);
        o.roles
            .get_mut("openclaw-acme-scout")
            .expect("role")
            .tags
            .clear();
        let err = plan(&tenant(), Some(&d), &o, &Recorded::new()).expect_err("conflict");
        assert_eq!(err.code(), "ResourceConflict");
        assert!(
            err.to_string().contains("iam_role openclaw-acme-scout"),
            "{err}"
        );
        // The inventory proves we created it: stripped tags are put back instead.
        let inv: Recorded = [("iam_role".to_owned(), "openclaw-acme-scout".to_owned())].into();
        let plan = plan(&tenant(), Some(&d), &o, &inv).expect("plan");
        assert_eq!(verbs(&plan), vec!["tag iam_role openclaw-acme-scout"]);
    }

    #[test]
    fn teardown_is_in_reverse_order_and_skips_what_is_not_ours() {
        let d = desired();
        let mut o = converged(&d);
        // A foreign secret under our prefix name stays.
        o.secrets.insert(
            "/openclaw/acme/manual".into(),
            ObservedSecret {
                name: "/openclaw/acme/manual".into(),
                arn: "x".into(),
                scheduled_for_deletion: false,
                tags: Tags::new(),
            },
        );
        let plan = plan(&tenant(), None, &o, &Recorded::new()).expect("plan");
        assert_eq!(
            verbs(&plan),
            vec![
                "delete ecs_service openclaw-acme-scout",
                "deregister task_definition openclaw-acme-scout",
                "delete iam_role openclaw-acme-scout",
                "delete secret /openclaw/acme/db",
                "delete log_group /openclaw/acme/scout",
                "delete pg_role t0123456789abcdef0123456789abcdef",
            ]
        );
    }

    #[test]
    fn removing_an_agent_tears_down_only_that_agent() {
        let both = render_tenant(
            &cell(),
            &tenant(),
            crds::api::Tier::Standard,
            &[agent(AgentKind::Scout), agent(AgentKind::Butler)],
        );
        let o = converged(&both);
        let plan = plan(&tenant(), Some(&desired()), &o, &Recorded::new()).expect("plan");
        assert_eq!(
            verbs(&plan),
            vec![
                "delete ecs_service openclaw-acme-butler",
                "deregister task_definition openclaw-acme-butler",
                "delete iam_role openclaw-acme-butler",
                "delete log_group /openclaw/acme/butler",
            ]
        );
    }

    #[test]
    fn scheduled_secrets_are_restored_not_recreated() {
        let d = desired();
        let mut o = converged(&d);
        o.secrets
            .get_mut("/openclaw/acme/db")
            .expect("db")
            .scheduled_for_deletion = true;
        let plan = plan(&tenant(), Some(&d), &o, &Recorded::new()).expect("plan");
        assert_eq!(verbs(&plan), vec!["restore secret /openclaw/acme/db"]);
    }
}
